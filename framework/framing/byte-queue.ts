import { ErrorCodes, PorticoError } from '../core/errors.js';
import type { PooledBuffer } from '../buffers/pooled-buffer.js';
import { ByteSlice } from './byte-slice.js';
import { checkRange, framingError, releaseAll } from './checks.js';

const EMPTY: Buffer = Buffer.alloc(0);

/** Options of a `ByteQueue`. */
export interface ByteQueueOptions {
  /** Most unread bytes the queue may hold; an `append` beyond it throws PORTICO_ERR_INPUT_TOO_LARGE. */
  maxBytes: number;
  /**
   * Copy a small appended buffer (at most half a buffer's capacity) into the free space of the last
   * buffer instead of holding one more pooled buffer for it. Default true: a peer trickling a byte per
   * read then pins one buffer, not one per byte. See the README for the memory bound.
   */
  coalesce?: boolean;
}

/** The non-consuming side of a `ByteQueue`: what a length function or a parser may look at. */
export interface ReadonlyByteQueue {
  /** Unread bytes. */
  readonly length: number;
  /** Bytes consumed since the queue was created: the stream offset of the first unread byte. */
  readonly position: number;
  /** The unread byte at `offset`. */
  peekUInt8(offset: number): number;
  /** Big-endian unsigned 16 bits at `offset` (may straddle buffers; never copies). */
  peekUInt16BE(offset: number): number;
  /** Little-endian unsigned 16 bits at `offset`. */
  peekUInt16LE(offset: number): number;
  /** Big-endian unsigned 32 bits at `offset`. */
  peekUInt32BE(offset: number): number;
  /** Little-endian unsigned 32 bits at `offset`. */
  peekUInt32LE(offset: number): number;
  /** Big-endian signed 32 bits at `offset`. */
  peekInt32BE(offset: number): number;
  /** Little-endian signed 32 bits at `offset`. */
  peekInt32LE(offset: number): number;
  /** `n` bytes at `offset` without consuming them: a view if they lie in one buffer, else a copy. Valid as `read`'s. */
  peek(offset: number, n: number): Buffer;
  /**
   * Offset of the first `delimiter` that starts at or after `from` and ends at or before `limit`
   * (clamped to `length`), or -1. A delimiter split across buffers is found.
   */
  indexOf(delimiter: Uint8Array | number, from?: number, limit?: number): number;
}

/**
 * A queue of pooled buffers read as one byte stream, without copying them together (Netty's composite
 * cumulation). `append` takes ownership of a buffer; peeks and `indexOf` work across buffer
 * boundaries; `read` returns a view when the bytes lie in one buffer, one copy otherwise.
 *
 * Lifetime rule: reading never releases anything, so every view returned by `read` / `peek` stays
 * valid until the next `append`, `releaseConsumed` or `clear` — those release the buffers whose bytes
 * were all read. Use `readSlice` for bytes that must outlive that.
 */
export class ByteQueue implements ReadonlyByteQueue {
  /** Most unread bytes the queue accepts. */
  readonly maxBytes: number;
  readonly #coalesce: boolean;
  // Buffers [0, #cur) are read through but not yet released; #cur holds the first unread byte at
  // #offset (#cur === #buffers.length when nothing is unread). #views[i] is #buffers[i]'s valid data.
  #buffers: PooledBuffer[] = [];
  #views: Buffer[] = [];
  #cur = 0;
  #offset = 0;
  #length = 0;
  #position = 0;
  // Result of #locate (fields, so the hot path allocates nothing).
  #at = 0;
  #pos = 0;

  constructor(options: ByteQueueOptions) {
    checkRange(options.maxBytes, 1, Number.MAX_SAFE_INTEGER, 'maxBytes', 'buffers');
    this.maxBytes = options.maxBytes;
    this.#coalesce = options.coalesce ?? true;
  }

  /** Unread bytes. */
  get length(): number {
    return this.#length;
  }

  /** Bytes consumed since the queue was created: the stream offset of the first unread byte. */
  get position(): number {
    return this.#position;
  }

  /** Pooled buffers held: those with unread bytes plus read ones not yet released. */
  get bufferCount(): number {
    return this.#buffers.length;
  }

  /**
   * Add a buffer's valid bytes at the end. The queue takes ownership, even when this throws: a buffer
   * that would take the queue over `maxBytes` is released and PORTICO_ERR_INPUT_TOO_LARGE thrown.
   * Releases the buffers already read through first (see the lifetime rule).
   */
  append(buffer: PooledBuffer): void {
    this.releaseConsumed();
    if (buffer.owners <= 0) throw new PorticoError(ErrorCodes.BUFFER_RELEASED, 'buffers', 'append() of a buffer that was already released');
    if (this.#buffers.includes(buffer)) throw new PorticoError(ErrorCodes.INVALID_ARGUMENT, 'buffers', 'append() of a buffer the queue already holds');
    const n = buffer.length;
    if (n === 0) {
      buffer.release();
      return;
    }
    if (n > this.maxBytes - this.#length) {
      buffer.release();
      throw framingError(ErrorCodes.INPUT_TOO_LARGE, `appending ${n} bytes to ${this.#length} buffered would exceed maxBytes ${this.maxBytes}`);
    }
    this.#length += n;
    const last = this.#buffers.length - 1;
    if (this.#coalesce && last >= 0) {
      const tail = this.#buffers[last]!;
      const used = this.#views[last]!.length;
      // Only into a buffer nobody else owns: another owner may be using its free space.
      if (tail.owners === 1 && n <= tail.capacity - used && n * 2 <= tail.capacity) {
        buffer.bytes.copy(tail.bytes, used, 0, n);
        tail.length = used + n;
        this.#views[last] = tail.bytes.subarray(0, used + n);
        buffer.release();
        return;
      }
    }
    this.#buffers.push(buffer);
    this.#views.push(buffer.bytes.subarray(0, n));
  }

  /** The unread byte at `offset`. */
  peekUInt8(offset: number): number {
    this.#checkPeek(offset, 1, 'peekUInt8');
    this.#locate(offset);
    return this.#views[this.#at]![this.#pos]!;
  }

  /** Big-endian unsigned 16 bits at `offset` (may straddle buffers; never copies). */
  peekUInt16BE(offset: number): number {
    this.#checkPeek(offset, 2, 'peekUInt16BE');
    this.#locate(offset);
    const view = this.#views[this.#at]!;
    return this.#pos + 2 <= view.length ? view.readUInt16BE(this.#pos) : this.#gatherBE(2);
  }

  /** Little-endian unsigned 16 bits at `offset`. */
  peekUInt16LE(offset: number): number {
    this.#checkPeek(offset, 2, 'peekUInt16LE');
    this.#locate(offset);
    const view = this.#views[this.#at]!;
    return this.#pos + 2 <= view.length ? view.readUInt16LE(this.#pos) : this.#gatherLE(2);
  }

  /** Big-endian unsigned 32 bits at `offset`. */
  peekUInt32BE(offset: number): number {
    this.#checkPeek(offset, 4, 'peekUInt32BE');
    this.#locate(offset);
    const view = this.#views[this.#at]!;
    return this.#pos + 4 <= view.length ? view.readUInt32BE(this.#pos) : this.#gatherBE(4);
  }

  /** Little-endian unsigned 32 bits at `offset`. */
  peekUInt32LE(offset: number): number {
    this.#checkPeek(offset, 4, 'peekUInt32LE');
    this.#locate(offset);
    const view = this.#views[this.#at]!;
    return this.#pos + 4 <= view.length ? view.readUInt32LE(this.#pos) : this.#gatherLE(4);
  }

  /** Big-endian signed 32 bits at `offset`. */
  peekInt32BE(offset: number): number {
    return this.peekUInt32BE(offset) | 0;
  }

  /** Little-endian signed 32 bits at `offset`. */
  peekInt32LE(offset: number): number {
    return this.peekUInt32LE(offset) | 0;
  }

  /** `n` bytes at `offset` without consuming them: a view if they lie in one buffer, else a copy. Valid as `read`'s. */
  peek(offset: number, n: number): Buffer {
    checkRange(n, 0, this.#length, 'peek length', 'buffers');
    this.#checkPeek(offset, n, 'peek');
    if (n === 0) return EMPTY;
    this.#locate(offset);
    return this.#bytesAtLocation(n);
  }

  /**
   * Consume `n` bytes and return them: a view of the pooled buffer when they lie in one (zero copy),
   * else one copy. The view is valid until the next `append`, `releaseConsumed` or `clear`.
   */
  read(n: number): Buffer {
    checkRange(n, 0, this.#length, 'read length', 'buffers');
    if (n === 0) return EMPTY;
    this.#at = this.#cur;
    this.#pos = this.#offset;
    const bytes = this.#bytesAtLocation(n);
    this.#advance(n);
    return bytes;
  }

  /** Consume `n` bytes as a `ByteSlice` the caller owns (a retained view, or a copy when they span buffers). */
  readSlice(n: number): ByteSlice {
    checkRange(n, 0, this.#length, 'readSlice length', 'buffers');
    if (n === 0) return new ByteSlice(EMPTY, null);
    const view = this.#views[this.#cur]!;
    let slice: ByteSlice;
    if (this.#offset + n <= view.length) {
      slice = new ByteSlice(view.subarray(this.#offset, this.#offset + n), this.#buffers[this.#cur]!.retain());
    } else {
      this.#at = this.#cur;
      this.#pos = this.#offset;
      slice = new ByteSlice(this.#bytesAtLocation(n), null);
    }
    this.#advance(n);
    return slice;
  }

  /** Consume `n` bytes without looking at them. */
  skip(n: number): void {
    checkRange(n, 0, this.#length, 'skip length', 'buffers');
    this.#advance(n);
  }

  /**
   * Offset of the first `delimiter` (a byte, or a byte sequence) starting at or after `from` and
   * ending at or before `limit`, or -1. `limit` (clamped to `length`) bounds the scan, so a peer that
   * never sends the delimiter cannot make a parser scan more than it allows. A delimiter split across
   * buffers is found; within a buffer the search is Node's native `indexOf`.
   */
  indexOf(delimiter: Uint8Array | number, from = 0, limit: number = this.#length): number {
    checkRange(from, 0, this.#length, 'indexOf from', 'buffers');
    checkRange(limit, from, Number.MAX_SAFE_INTEGER, 'indexOf limit', 'buffers');
    let d: number;
    if (typeof delimiter === 'number') {
      checkRange(delimiter, 0, 255, 'delimiter byte', 'buffers');
      d = 1;
    } else {
      d = delimiter.length;
      if (d === 0) throw new PorticoError(ErrorCodes.INVALID_ARGUMENT, 'buffers', 'indexOf() of an empty delimiter');
    }
    const end = Math.min(limit, this.#length);
    if (end - from < d) return -1;
    const lastStart = end - d;
    this.#locate(from);
    let i = this.#at;
    let p = this.#pos;
    let chunkStart = from - p; // queue offset of views[i][0] (negative for the partly read first buffer)
    while (i < this.#views.length && chunkStart + p <= lastStart) {
      const view = this.#views[i]!;
      // Matches that fit in this buffer: native search, over a view cut at the limit if it ends here.
      const inEnd = Math.min(view.length, lastStart - chunkStart + d);
      if (inEnd - p >= d) {
        const at = (inEnd === view.length ? view : view.subarray(0, inEnd)).indexOf(delimiter, p);
        if (at >= 0) return chunkStart + at;
      }
      // Matches that start here and end in a later buffer.
      if (d > 1) {
        for (let s = Math.max(p, view.length - d + 1); s < view.length && chunkStart + s <= lastStart; s++) {
          if (this.#matchesAt(i, s, delimiter as Uint8Array)) return chunkStart + s;
        }
      }
      chunkStart += view.length;
      i++;
      p = 0;
    }
    return -1;
  }

  /**
   * Release every pooled buffer whose bytes have all been read. Views returned by `read` / `peek`
   * become invalid. `append` does this first; call it when a decode pass is done and no more input
   * is coming soon (framers do, whenever `next()` returns null), so an idle connection pins nothing.
   */
  releaseConsumed(): void {
    const spent = this.#cur;
    if (spent === 0) return;
    const done = this.#buffers.splice(0, spent);
    this.#views.splice(0, spent);
    this.#cur = 0;
    releaseAll(done);
  }

  /** Drop every byte, read or not, and release every buffer. The unread bytes count as consumed. */
  clear(): void {
    const all = this.#buffers;
    this.#buffers = [];
    this.#views = [];
    this.#position += this.#length;
    this.#cur = 0;
    this.#offset = 0;
    this.#length = 0;
    releaseAll(all);
  }

  #checkPeek(offset: number, size: number, what: string): void {
    if (!Number.isInteger(offset) || offset < 0 || offset > this.#length - size) {
      throw new PorticoError(ErrorCodes.INVALID_ARGUMENT, 'buffers', `${what}: ${size} bytes at offset ${offset} are outside the ${this.#length} bytes buffered`);
    }
  }

  /** Find unread offset `offset` (< length): sets #at (buffer index) and #pos (index in its view). */
  #locate(offset: number): void {
    let i = this.#cur;
    let p = this.#offset + offset;
    const views = this.#views;
    while (i < views.length && p >= views[i]!.length) {
      p -= views[i]!.length;
      i++;
    }
    this.#at = i;
    this.#pos = p;
  }

  /** `n` (> 0) bytes from the located position: a view if in one buffer, else a fresh copy. */
  #bytesAtLocation(n: number): Buffer {
    let i = this.#at;
    const first = this.#views[i]!;
    const p = this.#pos;
    if (p + n <= first.length) return first.subarray(p, p + n);
    const out = Buffer.allocUnsafe(n);
    let filled = first.copy(out, 0, p);
    while (filled < n) {
      const view = this.#views[++i]!;
      filled += view.copy(out, filled, 0, Math.min(view.length, n - filled));
    }
    return out;
  }

  /** Big-endian unsigned value of `size` bytes from the located position, across buffers. */
  #gatherBE(size: number): number {
    let i = this.#at;
    let p = this.#pos;
    let value = 0;
    for (let k = 0; k < size; k++) {
      while (p >= this.#views[i]!.length) {
        i++;
        p = 0;
      }
      value = value * 256 + this.#views[i]![p++]!;
    }
    return value;
  }

  /** Little-endian unsigned value of `size` bytes from the located position, across buffers. */
  #gatherLE(size: number): number {
    let i = this.#at;
    let p = this.#pos;
    let value = 0;
    let scale = 1;
    for (let k = 0; k < size; k++) {
      while (p >= this.#views[i]!.length) {
        i++;
        p = 0;
      }
      value += this.#views[i]![p++]! * scale;
      scale *= 256;
    }
    return value;
  }

  /** True when `delimiter` starts at index `p` of buffer `i` (it is known to fit in the unread bytes). */
  #matchesAt(i: number, p: number, delimiter: Uint8Array): boolean {
    for (let k = 0; k < delimiter.length; k++) {
      while (p >= this.#views[i]!.length) {
        i++;
        p = 0;
      }
      if (this.#views[i]![p++] !== delimiter[k]) return false;
    }
    return true;
  }

  #advance(n: number): void {
    this.#length -= n;
    this.#position += n;
    let i = this.#cur;
    let p = this.#offset + n;
    const views = this.#views;
    while (i < views.length && p >= views[i]!.length) {
      p -= views[i]!.length;
      i++;
    }
    this.#cur = i;
    this.#offset = p;
  }
}
