import { RETURN_CODE_COUNT } from './return-code-texts.js';

/** The kinds of query owserver keeps thread statistics for. */
export type QueryKind = 'read' | 'write' | 'directory';

/** owserver's counters are 32-bit unsigned and wrap. */
const wrap = (n: number): number => n >>> 0;

/** Queries of one kind in flight: threads/<kind>/num, now, sum (of `now` at each start) and max. */
export class ThreadCounters {
  num = 0;
  now = 0;
  sum = 0;
  max = 0;

  enter(): void {
    this.num = wrap(this.num + 1);
    this.now = wrap(this.now + 1);
    this.sum = wrap(this.sum + this.now);
    if (this.now > this.max) this.max = this.now;
  }

  leave(): void {
    this.now -= 1;
  }
}

/** read/… and write/…: calls, those that succeeded, and the bytes they moved. */
export class QueryCounters {
  calls = 0;
  success = 0;
  bytes = 0;

  call(): void {
    this.calls = wrap(this.calls + 1);
  }

  succeeded(bytes: number): void {
    this.success = wrap(this.success + 1);
    this.bytes = wrap(this.bytes + bytes);
  }
}

/** directory/bus/… and directory/device/…: listings and the entries they returned. */
export class ListingCounters {
  calls = 0;
  entries = 0;

  listed(entries: number): void {
    this.calls = wrap(this.calls + 1);
    this.entries = wrap(this.entries + entries);
  }
}

/** interface/locks, resets, unlocks: the adapter's per-transaction counters. */
export class TransactionCounters {
  locks = 0;
  resets = 0;
  unlocks = 0;

  opened(): void {
    this.locks = wrap(this.locks + 1);
    this.resets = wrap(this.resets + 1);
  }

  closed(): void {
    this.unlocks = wrap(this.unlocks + 1);
  }
}

/**
 * Counters the bus keeps for /statistics and /bus.0/interface/statistics. The ones that move are plain
 * number fields, bumped on every query, so counting costs next to nothing; `get` reads any counter by its
 * path below those directories ("read/calls", "directory/bus/entries", ...), which only the statistics
 * trees do. Counters the simulation has no reason to move (cache, serial-line errors) simply read 0.
 */
export class BusStatistics {
  readonly read = new QueryCounters();
  readonly write = new QueryCounters();
  readonly directoryBus = new ListingCounters();
  readonly directoryDevice = new ListingCounters();
  readonly transactions = new TransactionCounters();
  readonly threads: Readonly<Record<QueryKind | 'overall', ThreadCounters>> = {
    read: new ThreadCounters(),
    write: new ThreadCounters(),
    directory: new ThreadCounters(),
    overall: new ThreadCounters(),
  };
  /** responses.N: how many queries ended with return code -N (0 for success). */
  readonly responses = new Array<number>(RETURN_CODE_COUNT).fill(0);
  /** Seconds spent in bus transactions, for interface/statistics/bus_time. */
  busSeconds = 0;
  readonly #byName: ReadonlyMap<string, () => number>;

  constructor() {
    const named: Array<[string, () => number]> = [
      ['directory/bus/calls', () => this.directoryBus.calls],
      ['directory/bus/entries', () => this.directoryBus.entries],
      ['directory/device/calls', () => this.directoryDevice.calls],
      ['directory/device/entries', () => this.directoryDevice.entries],
      ['interface/locks', () => this.transactions.locks],
      ['interface/resets', () => this.transactions.resets],
      ['interface/unlocks', () => this.transactions.unlocks],
    ];
    for (const kind of ['read', 'write'] as const) {
      const counters = this[kind];
      named.push([`${kind}/calls`, () => counters.calls], [`${kind}/success`, () => counters.success], [`${kind}/bytes`, () => counters.bytes]);
    }
    for (const [group, counters] of Object.entries(this.threads)) {
      named.push(
        [`threads/${group}/num`, () => counters.num],
        [`threads/${group}/now`, () => counters.now],
        [`threads/${group}/sum`, () => counters.sum],
        [`threads/${group}/max`, () => counters.max],
      );
    }
    this.#byName = new Map(named);
  }

  /** A counter by its path below /statistics, or below /bus.0/interface/statistics prefixed "interface/". */
  get(name: string): number {
    return this.#byName.get(name)?.() ?? 0;
  }

  /** Track a query in flight under threads/<kind> and threads/overall; `end` it exactly once. */
  begin(kind: QueryKind): void {
    this.threads[kind].enter();
    this.threads.overall.enter();
  }

  end(kind: QueryKind): void {
    this.threads[kind].leave();
    this.threads.overall.leave();
  }

  /** Count a query's outcome by return code. */
  recordResult(code: number): void {
    const index = Math.min(-Math.min(code, 0), RETURN_CODE_COUNT - 1);
    this.responses[index] = wrap(this.responses[index]! + 1);
  }
}
