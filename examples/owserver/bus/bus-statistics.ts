import { RETURN_CODE_COUNT } from './return-code-texts.js';

/** The kinds of query owserver keeps thread statistics for. */
export type QueryKind = 'read' | 'write' | 'directory';

/**
 * Counters the bus keeps for /statistics and /bus.0/interface/statistics, named by their path below
 * those directories ("read/calls", "directory/bus/entries", ...). Counters the simulation has no
 * reason to move (cache, serial-line errors) simply read 0.
 */
export class BusStatistics {
  readonly #counters = new Map<string, number>();
  /** responses.N: how many queries ended with return code -N (0 for success). */
  readonly responses = new Array<number>(RETURN_CODE_COUNT).fill(0);
  /** Seconds spent in bus transactions, for interface/statistics/bus_time. */
  busSeconds = 0;

  get(name: string): number {
    return this.#counters.get(name) ?? 0;
  }

  add(name: string, amount = 1): void {
    this.#counters.set(name, (this.get(name) + amount) >>> 0);
  }

  /** Track a query in flight under threads/<kind> and threads/overall; call the returned function when it ends. */
  begin(kind: QueryKind): () => void {
    for (const group of [`threads/${kind}`, 'threads/overall']) {
      this.add(`${group}/num`);
      this.add(`${group}/now`);
      const now = this.get(`${group}/now`);
      this.add(`${group}/sum`, now);
      if (now > this.get(`${group}/max`)) this.#counters.set(`${group}/max`, now);
    }
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      for (const group of [`threads/${kind}`, 'threads/overall']) this.#counters.set(`${group}/now`, this.get(`${group}/now`) - 1);
    };
  }

  /** Count a query's outcome by return code. */
  recordResult(code: number): void {
    const index = Math.min(-Math.min(code, 0), RETURN_CODE_COUNT - 1);
    this.responses[index] = (this.responses[index]! + 1) >>> 0;
  }
}
