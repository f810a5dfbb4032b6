import { ErrorCodes, PorticoError } from '../core/errors.js';
import { Fifo } from '../core/fifo.js';
import { checkRange } from '../framing/checks.js';

/** Counters of a `ZlibGate`. */
export interface ZlibGateStats {
  /** Jobs started so far. */
  started: number;
  /** Most jobs ever waiting at once. */
  maxWaiting: number;
}

/**
 * A cap on zlib jobs running at once (ws's Limiter): a job enters, runs when a slot is free (at once,
 * or when an earlier job releases one, in FIFO order), and must `release()` exactly once. A job whose
 * connection went away while it waited still starts and releases at once, so waiting costs a
 * reference, never a stalled slot. Releasing starts the waiters in a loop, not recursively: a mass
 * disconnect that cancels thousands of waiting jobs costs no stack depth.
 */
export class ZlibGate {
  /** Jobs allowed to run at once. */
  readonly limit: number;
  readonly stats: ZlibGateStats = { started: 0, maxWaiting: 0 };
  readonly #waiting = new Fifo<() => void>();
  #running = 0;
  #pumping = false;

  /** A gate for `limit` concurrent jobs (1 to 2^20). */
  constructor(limit: number) {
    checkRange(limit, 1, 1 << 20, 'zlib concurrency', 'websocket');
    this.limit = limit;
  }

  /** Jobs holding a slot now. */
  get running(): number {
    return this.#running;
  }

  /** Jobs waiting for a slot. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Run `start` when a slot is free (possibly before this returns); it must lead to one `release()`. */
  enter(start: () => void): void {
    this.#waiting.push(start);
    if (this.#waiting.length > this.stats.maxWaiting) this.stats.maxWaiting = this.#waiting.length;
    this.#pump();
  }

  /** A job is done with its slot. */
  release(): void {
    if (this.#running === 0) throw new PorticoError(ErrorCodes.INVALID_STATE, 'websocket', 'ZlibGate.release() without a running job');
    this.#running--;
    this.#pump();
  }

  #pump(): void {
    if (this.#pumping) return; // a start that released at once: the loop below goes on
    this.#pumping = true;
    try {
      while (this.#running < this.limit) {
        const start = this.#waiting.shift();
        if (start === undefined) break;
        this.#running++;
        this.stats.started++;
        start();
      }
    } finally {
      this.#pumping = false;
    }
  }
}

const shared = new Map<number, ZlibGate>();

/**
 * The process-wide gate for `limit`: zlib's cost is on the one thread pool of the process, so every
 * server asking for the same limit shares one gate (as ws shares one limiter).
 */
export function sharedZlibGate(limit: number): ZlibGate {
  let gate = shared.get(limit);
  if (gate === undefined) {
    gate = new ZlibGate(limit);
    shared.set(limit, gate);
  }
  return gate;
}
