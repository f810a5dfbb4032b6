import { type Clock, systemClock } from './clock.js';
import { ErrorCodes, PorticoError } from './errors.js';

/** A scheduled deadline; cancel it or let it fire once. */
export interface WheelTimer {
  readonly deadline: number;
  readonly active: boolean;
  cancel(): void;
}

export interface TimerWheelOptions {
  /** Resolution in ms: deadlines fire up to one tick late. Default 100. */
  tickMs: number;
  /** Number of buckets; deadlines further than tickMs × slots wait extra rounds. Default 512. */
  slots: number;
  clock: Clock;
  /** Run the wheel from a real (unref'd) interval. Tests turn it off and call `advance`. Default true. */
  autoTick: boolean;
  /** Told when a timer callback threw (the wheel goes on with the other timers). Default: a process warning. */
  onCallbackError: (error: unknown) => void;
}

const warnCallbackError = (error: unknown): void => {
  process.emitWarning(`portico timer wheel: a timer callback threw: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
};

class Entry implements WheelTimer {
  active = true;
  constructor(
    readonly wheel: TimerWheel,
    readonly deadline: number,
    readonly callback: (now: number, arg: unknown) => void,
    readonly arg: unknown,
    readonly bucket: Set<Entry>,
  ) {}
  cancel(): void {
    if (!this.active) return;
    this.active = false;
    this.bucket.delete(this);
    this.wheel.entryRemoved();
  }
}

/**
 * A hashed timing wheel: one coarse interval drives every idle, linger and drain deadline of a server,
 * instead of a Node timer per connection re-armed on every packet (Holgate's CallbackTimerWheel,
 * Netty's HashedWheelTimer). Activity does not touch the wheel: owners keep timestamps and re-check
 * when their entry fires.
 */
export class TimerWheel {
  readonly options: Readonly<TimerWheelOptions>;
  #buckets: Set<Entry>[];
  #size = 0;
  #lastTick: number;
  #interval: NodeJS.Timeout | null = null;
  // While advance() runs, entries scheduled by the callbacks it fires land after the tick it is
  // advancing to, never in a bucket it is still iterating.
  #advancingTo: number | null = null;
  #errors = 0;

  constructor(options: Partial<TimerWheelOptions> = {}) {
    this.options = Object.freeze({ tickMs: 100, slots: 512, clock: systemClock, autoTick: true, onCallbackError: warnCallbackError, ...options });
    if (!Number.isFinite(this.options.tickMs) || this.options.tickMs <= 0 || !Number.isInteger(this.options.slots) || this.options.slots < 1) {
      throw new PorticoError(ErrorCodes.INVALID_ARGUMENT, 'dispatcher', `timer wheel needs tickMs > 0 and an integer slots >= 1, got ${this.options.tickMs} / ${this.options.slots}`);
    }
    this.#buckets = Array.from({ length: this.options.slots }, () => new Set<Entry>());
    this.#lastTick = this.#tickOf(this.options.clock.now());
  }

  /** Timer callbacks that threw. */
  get errors(): number {
    return this.#errors;
  }

  /** Timers currently scheduled. */
  get size(): number {
    return this.#size;
  }

  #tickOf(time: number): number {
    return Math.floor(time / this.options.tickMs);
  }

  /** Fire `callback(now, arg)` once at or after `deadline` (clock time, ms). */
  schedule<A = undefined>(deadline: number, callback: (now: number, arg: A) => void, arg?: A): WheelTimer {
    if (Number.isNaN(deadline)) throw new PorticoError(ErrorCodes.INVALID_ARGUMENT, 'dispatcher', 'timer deadline is NaN');
    // An idle wheel's position is stale: catch it up before placing the entry.
    if (this.#size === 0 && this.#advancingTo === null) this.#lastTick = Math.max(this.#lastTick, this.#tickOf(this.options.clock.now()) - 1);
    const floor = Math.max(this.#lastTick, this.#advancingTo ?? this.#lastTick) + 1;
    // Bucket k is processed once the clock reaches k × tickMs, so round the deadline *up*: a bucket
    // processed before its entries are due would hold them for a whole turn of the wheel. A deadline
    // at or before the last processed tick goes into the next tick's bucket.
    const tick = Math.max(Math.ceil(deadline / this.options.tickMs), floor);
    const bucket = this.#buckets[tick % this.options.slots]!;
    const entry = new Entry(this, deadline, callback as (now: number, arg: unknown) => void, arg, bucket);
    bucket.add(entry);
    if (this.#size++ === 0 && this.options.autoTick) this.#start();
    return entry;
  }

  /** @internal */
  entryRemoved(): void {
    if (--this.#size === 0) this.#stop();
  }

  /** Process every bucket up to `now`; returns how many timers fired. Re-entrant calls do nothing. */
  advance(now: number = this.options.clock.now()): number {
    if (this.#advancingTo !== null) return 0;
    const target = this.#tickOf(now);
    if (target <= this.#lastTick) return 0;
    let fired = 0;
    const steps = Math.min(target - this.#lastTick, this.options.slots);
    this.#advancingTo = target;
    try {
      for (let i = 1; i <= steps; i++) {
        const bucket = this.#buckets[(this.#lastTick + i) % this.options.slots]!;
        for (const entry of bucket) {
          if (entry.deadline > now) continue; // a later round of the wheel
          bucket.delete(entry);
          entry.active = false;
          this.entryRemoved();
          fired++;
          try {
            entry.callback(now, entry.arg);
          } catch (error) {
            this.#errors++;
            this.options.onCallbackError(error);
          }
        }
      }
    } finally {
      this.#advancingTo = null;
      this.#lastTick = target;
    }
    return fired;
  }

  /** Cancel everything and stop the interval. */
  clear(): void {
    for (const bucket of this.#buckets) {
      for (const entry of bucket) entry.active = false;
      bucket.clear();
    }
    this.#size = 0;
    this.#stop();
  }

  #start(): void {
    if (this.#interval !== null) return;
    this.#interval = setInterval(() => this.advance(), this.options.tickMs);
    this.#interval.unref();
  }

  #stop(): void {
    if (this.#interval === null) return;
    clearInterval(this.#interval);
    this.#interval = null;
  }
}
