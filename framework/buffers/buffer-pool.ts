import { ErrorCodes, PorticoError } from '../core/errors.js';
import { type BufferReturn, PooledBuffer } from './pooled-buffer.js';

export interface BufferPoolOptions {
  /** Capacity of each buffer in bytes (the size of one posted read). Default 65536, Node's read size. */
  bufferSize: number;
  /** Free buffers kept for reuse; extra ones are dropped for the GC. Default 1024. */
  maxPooled: number;
}

export interface BufferPoolStats {
  /** Buffers lent and not yet released. Zero when nothing leaks. */
  outstanding: number;
  /** Most buffers lent at once. */
  highWater: number;
  /** Free buffers waiting for reuse. */
  pooled: number;
  /** Buffers ever allocated. */
  created: number;
  /** Lends served from the free list. */
  reused: number;
}

/** A spare tail shorter than this is not worth a loan of its own. */
const MIN_SPARE = 1024;

/** Largest `bufferSize` a pool accepts, so the largest single read any connection can complete. */
export const MAX_BUFFER_SIZE = 16 * 1024 * 1024;

/** A pool of fixed-size read buffers with leak accounting. */
export class BufferPool implements BufferReturn {
  readonly bufferSize: number;
  readonly maxPooled: number;
  #free: Buffer[] = [];
  #landing: Buffer | null = null;
  /** The unused tail of the last disowned buffer (`offerSpare`), lent once by `acquireFor`. */
  #spare: Buffer | null = null;
  #stats: BufferPoolStats = { outstanding: 0, highWater: 0, pooled: 0, created: 0, reused: 0 };

  constructor(options: Partial<BufferPoolOptions> = {}) {
    const bufferSize = options.bufferSize ?? 65536;
    const maxPooled = options.maxPooled ?? 1024;
    if (!Number.isInteger(bufferSize) || bufferSize < 1 || bufferSize > MAX_BUFFER_SIZE) {
      throw new PorticoError(ErrorCodes.INVALID_ARGUMENT, 'buffers', `bufferSize must be an integer in [1, 16 MiB], got ${bufferSize}`);
    }
    if (!Number.isInteger(maxPooled) || maxPooled < 0) {
      throw new PorticoError(ErrorCodes.INVALID_ARGUMENT, 'buffers', `maxPooled must be a non-negative integer, got ${maxPooled}`);
    }
    this.bufferSize = bufferSize;
    this.maxPooled = maxPooled;
  }

  get stats(): Readonly<BufferPoolStats> {
    return { ...this.#stats, pooled: this.#free.length };
  }

  get outstanding(): number {
    return this.#stats.outstanding;
  }

  /**
   * @internal One buffer of `bufferSize` shared by every socket of this pool as the place libuv reads
   * into while a connection has no buffer of its own; never lent. Safe because a read is copied out
   * (or handed over) in its callback, before the event loop reads any other socket.
   */
  get landing(): Buffer {
    return (this.#landing ??= Buffer.allocUnsafeSlow(this.bufferSize));
  }

  /** Lend a buffer (owner count 1, length 0). */
  acquire(): PooledBuffer {
    let bytes = this.#free.pop();
    if (bytes === undefined) {
      bytes = Buffer.allocUnsafeSlow(this.bufferSize);
      this.#stats.created++;
    } else {
      this.#stats.reused++;
    }
    if (++this.#stats.outstanding > this.#stats.highWater) this.#stats.highWater = this.#stats.outstanding;
    return new PooledBuffer(bytes, this);
  }

  /**
   * @internal Lend a buffer for `n` bytes about to be copied in: the spare tail of a disowned buffer
   * when one is kept, holds them and `n` is at least an eighth of it (lent once, never pooled: a read
   * kept by the application shares one allocation with the next reads instead of costing a whole
   * buffer each), else `acquire()` (a small read is better off in warm, reused memory).
   */
  acquireFor(n: number): PooledBuffer {
    const spare = this.#spare;
    if (spare === null || spare.length < n || n * 8 < spare.length) return this.acquire();
    this.#spare = null;
    if (++this.#stats.outstanding > this.#stats.highWater) this.#stats.highWater = this.#stats.outstanding;
    return new PooledBuffer(spare, this, false);
  }

  /** @internal Keep `region` (never lent before) for `acquireFor`, in place of a smaller one. */
  offerSpare(region: Buffer): void {
    if (region.length >= MIN_SPARE && (this.#spare === null || region.length > this.#spare.length)) this.#spare = region;
  }

  /** Lend a buffer holding a copy of `data` (which must fit). */
  acquireCopy(data: Uint8Array): PooledBuffer {
    if (data.length > this.bufferSize) {
      throw new PorticoError(ErrorCodes.INVALID_ARGUMENT, 'buffers', `${data.length} bytes do not fit a ${this.bufferSize}-byte buffer`);
    }
    const buffer = this.acquire();
    buffer.bytes.set(data, 0);
    buffer.length = data.length;
    return buffer;
  }

  /** @internal */
  giveBack(bytes: Buffer, reuse: boolean): void {
    this.#stats.outstanding--;
    if (reuse && this.#free.length < this.maxPooled) this.#free.push(bytes);
  }
}
