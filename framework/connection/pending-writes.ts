import type { PooledBuffer } from '../buffers/pooled-buffer.js';
import { Fifo } from '../core/fifo.js';

/**
 * The writes a connection has handed to its transport and not yet seen complete, in order (a stream's
 * writes complete in order). Most connections have one at most, so the first lives in fields and only
 * a backlog allocates.
 */
export class PendingWrites {
  #count = 0;
  #headLength = 0;
  #headBuffer: PooledBuffer | null = null;
  #rest: Fifo<number | PooledBuffer | null> | null = null;

  get count(): number {
    return this.#count;
  }

  push(length: number, buffer: PooledBuffer | null): void {
    if (this.#count++ === 0) {
      this.#headLength = length;
      this.#headBuffer = buffer;
      return;
    }
    const rest = (this.#rest ??= new Fifo());
    rest.push(length);
    rest.push(buffer);
  }

  /** Complete the oldest write: releases its pooled buffer (if any) and returns its length. */
  completeOldest(): number {
    if (this.#count === 0) return 0;
    this.#count--;
    const length = this.#headLength;
    const buffer = this.#headBuffer;
    if (this.#count > 0) {
      const rest = this.#rest!;
      this.#headLength = rest.shift() as number;
      this.#headBuffer = rest.shift() as PooledBuffer | null;
    } else {
      this.#headBuffer = null;
    }
    buffer?.release();
    return length;
  }
}
