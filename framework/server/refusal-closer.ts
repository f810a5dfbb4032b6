import type { PooledBuffer } from '../buffers/pooled-buffer.js';
import type { Clock } from '../core/clock.js';
import type { TimerWheel, WheelTimer } from '../core/timer-wheel.js';
import type { Transport, TransportSink } from '../transport/transport.js';

export interface RefusalCloserOptions {
  wheel: TimerWheel;
  clock: Clock;
  /** How long a refused connection may wait for the peer's FIN before it is reset. */
  lingerMs: number;
  /** Refused connections closing at once; `tryAdd` says no beyond it (the caller resets instead). */
  max: number;
}

/**
 * Closes connections refused by the connection limit gracefully (`overLimit: 'close'`): FIN, read and
 * drop until the peer's FIN, RST at the linger deadline — on the server's timer wheel, and never more
 * than `max` at once, so refusals cannot hold descriptors without bound.
 */
export class RefusalCloser {
  readonly #options: RefusalCloserOptions;
  readonly #closing = new Set<Refusal>();

  constructor(options: RefusalCloserOptions) {
    this.#options = options;
  }

  get size(): number {
    return this.#closing.size;
  }

  /** Start closing the connection `make` wraps, or return false (nothing made) when `max` are closing already. */
  tryAdd(make: () => Transport): boolean {
    if (this.#closing.size >= this.#options.max) return false;
    const refusal = new Refusal(make(), this.#closing);
    this.#closing.add(refusal);
    refusal.start(this.#options.wheel.schedule(this.#options.clock.now() + this.#options.lingerMs, () => refusal.transport.reset()));
    return true;
  }

  /** Reset every refusal still closing (the server is stopping). */
  resetAll(): void {
    for (const refusal of [...this.#closing]) refusal.transport.reset();
  }
}

class Refusal implements TransportSink {
  #timer: WheelTimer | null = null;
  constructor(
    readonly transport: Transport,
    readonly registry: Set<Refusal>,
  ) {
    transport.attach(this);
  }

  start(timer: WheelTimer): void {
    this.#timer = timer;
    this.transport.shutdownWrite();
    this.transport.resumeReading();
  }

  onData(buffer: PooledBuffer): boolean {
    buffer.release();
    return true;
  }
  onEnd(): void {}
  onWriteShut(): void {}
  onError(): void {}
  onClosed(): void {
    this.#timer?.cancel();
    this.registry.delete(this);
  }
}
