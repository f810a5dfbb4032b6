import { type Clock, systemClock } from './clock.js';

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
}

class Entry implements WheelTimer {
  active = true;
  constructor(
    readonly wheel: TimerWheel,
    readonly deadline: number,
    readonly callback: (now: number) => void,
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

  constructor(options: Partial<TimerWheelOptions> = {}) {
    this.options = Object.freeze({ tickMs: 100, slots: 512, clock: systemClock, autoTick: true, ...options });
    this.#buckets = Array.from({ length: this.options.slots }, () => new Set<Entry>());
    this.#lastTick = this.#tickOf(this.options.clock.now());
  }

  /** Timers currently scheduled. */
  get size(): number {
    return this.#size;
  }

  #tickOf(time: number): number {
    return Math.floor(time / this.options.tickMs);
  }

  /** Fire `callback` once at or after `deadline` (clock time, ms). */
  schedule(deadline: number, callback: (now: number) => void): WheelTimer {
    // An idle wheel's position is stale: catch it up before placing the entry.
    if (this.#size === 0) this.#lastTick = Math.max(this.#lastTick, this.#tickOf(this.options.clock.now()) - 1);
    // Bucket k is processed once the clock reaches k × tickMs, so round the deadline *up*: a bucket
    // processed before its entries are due would hold them for a whole turn of the wheel. A deadline
    // at or before the last processed tick goes into the next tick's bucket.
    const tick = Math.max(Math.ceil(deadline / this.options.tickMs), this.#lastTick + 1);
    const bucket = this.#buckets[tick % this.options.slots]!;
    const entry = new Entry(this, deadline, callback, bucket);
    bucket.add(entry);
    if (this.#size++ === 0 && this.options.autoTick) this.#start();
    return entry;
  }

  /** @internal */
  entryRemoved(): void {
    if (--this.#size === 0) this.#stop();
  }

  /** Process every bucket up to `now`; returns how many timers fired. */
  advance(now: number = this.options.clock.now()): number {
    const target = this.#tickOf(now);
    let fired = 0;
    const steps = Math.min(target - this.#lastTick, this.options.slots);
    for (let i = 1; i <= steps; i++) {
      const bucket = this.#buckets[(this.#lastTick + i) % this.options.slots]!;
      for (const entry of bucket) {
        if (entry.deadline > now) continue; // a later round of the wheel
        bucket.delete(entry);
        entry.active = false;
        this.entryRemoved();
        fired++;
        entry.callback(now);
      }
    }
    if (target > this.#lastTick) this.#lastTick = target;
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
