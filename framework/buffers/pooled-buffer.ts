import { ErrorCodes, PorticoError } from '../core/errors.js';

/** Whoever a pooled buffer's memory goes back to when its last owner releases it. */
export interface BufferReturn {
  /** @internal `reuse` false: the memory was handed out for good (`disown`), only the loan ends. */
  giveBack(bytes: Buffer, reuse: boolean): void;
  /** @internal A disowned buffer's unused tail: memory nobody will read or write, free to lend once. */
  offerSpare?(region: Buffer): void;
}

/**
 * One loan of a fixed-capacity buffer from a pool. Ownership is explicit (tokio-uring's rule): a buffer
 * handed to a read belongs to the framework until the completion hands it to the handler, which then
 * owns it and must `release()` it, or pass it to `write()` (which releases it once written).
 *
 * Each loan is its own object over the pooled memory, so a stale `release()` — after the last owner
 * released and the pool lent the memory out again — throws instead of freeing somebody else's buffer.
 */
export class PooledBuffer {
  /** The whole backing memory; valid data is `bytes[0, length)`. Do not keep it after `release()`. */
  readonly bytes: Buffer;
  /** Bytes of valid data. */
  length = 0;
  /** Read sequence number stamped by the connection (debug aid, Holgate's sequenced buffers). */
  sequence = 0;
  #owners = 1;
  readonly #reusable: boolean;
  #disowned = false;
  readonly #home: BufferReturn;

  /**
   * Made by a `BufferPool` when it lends: one owner, no data. `reusable` false: memory lent once (the
   * spare tail of a disowned buffer), never returned to the free list.
   */
  constructor(bytes: Buffer, home: BufferReturn, reusable = true) {
    this.bytes = bytes;
    this.#home = home;
    this.#reusable = reusable;
  }

  get capacity(): number {
    return this.bytes.length;
  }

  /** The valid bytes, as a view (no copy). Do not keep it after `release()`. */
  get data(): Buffer {
    return this.bytes.subarray(0, this.length);
  }

  /** Current owner count (0 once released). */
  get owners(): number {
    return this.#owners;
  }

  /** Add an owner; each owner releases once. */
  retain(): this {
    if (this.#owners <= 0) throw new PorticoError(ErrorCodes.BUFFER_RELEASED, 'buffers', 'retain() on a buffer that was already released');
    this.#owners++;
    return this;
  }

  /** Drop one ownership; the last one returns the memory to its pool. Releasing once too often throws. */
  release(): void {
    if (this.#owners <= 0) throw new PorticoError(ErrorCodes.BUFFER_RELEASED, 'buffers', 'release() on a buffer that was already released');
    if (--this.#owners === 0) this.#home.giveBack(this.bytes, this.#reusable && !this.#disowned);
  }

  /**
   * @internal The memory has been handed out as views that outlive the loan (a received message given
   * to the application without a copy): when the last owner releases, the pool forgets it instead of
   * lending it again, and the garbage collector frees it once no view is left. Nothing is written
   * into it any more: its unused tail may be lent once by the pool (`offerSpare`).
   */
  disown(): void {
    if (this.#disowned) return;
    this.#disowned = true;
    // What lies past the valid bytes has never been handed out: the pool may lend it once, so the
    // next read need not take a whole new buffer. Nothing is written there by this loan from now on
    // (a ByteQueue does not coalesce into a disowned buffer); with other owners it stays unused.
    const start = (this.length + 7) & ~7;
    if (this.#owners === 1 && this.#home.offerSpare !== undefined && start < this.bytes.length) this.#home.offerSpare(this.bytes.subarray(start));
  }

  /** @internal True once `disown` was called: the memory is kept by views, nothing may be appended into its free space. */
  get disowned(): boolean {
    return this.#disowned;
  }
}
