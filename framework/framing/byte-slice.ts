import { ErrorCodes, PorticoError } from '../core/errors.js';
import type { PooledBuffer } from '../buffers/pooled-buffer.js';

/**
 * Bytes taken out of a `ByteQueue` that stay valid until `release()`, whatever happens to the queue:
 * either a view of one pooled buffer the slice holds an ownership of (`retain`), or, when the bytes
 * spanned buffers, a private copy. Release exactly once; a second release throws.
 */
export class ByteSlice {
  /** The bytes. Do not use them after `release()`. */
  readonly bytes: Buffer;
  #owner: PooledBuffer | null;
  #released = false;

  /** @internal `owner` has already been retained for this slice (null for a copy). */
  constructor(bytes: Buffer, owner: PooledBuffer | null) {
    this.bytes = bytes;
    this.#owner = owner;
  }

  /** True when the bytes are a view of a pooled buffer rather than a copy. */
  get zeroCopy(): boolean {
    return this.#owner !== null;
  }

  /** True once `release()` was called. */
  get released(): boolean {
    return this.#released;
  }

  /** Give the slice's ownership back (the pooled buffer returns to its pool with its last owner). */
  release(): void {
    if (this.#released) throw new PorticoError(ErrorCodes.BUFFER_RELEASED, 'buffers', 'release() on a ByteSlice that was already released');
    this.#released = true;
    const owner = this.#owner;
    this.#owner = null;
    owner?.release();
  }
}
