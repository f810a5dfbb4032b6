import { ErrorCodes, PorticoError } from '../core/errors.js';
import type { PooledBuffer } from '../buffers/pooled-buffer.js';
import { ByteSlice } from './byte-slice.js';
import { checkRange, framingError, releaseAll } from './checks.js';

const EMPTY: Buffer = Buffer.alloc(0);

/** One pooled buffer in the queue: its valid bytes are `bytes[0, end)`; `view` caches that range for indexOf. */
interface Chunk {
  readonly buffer: PooledBuffer;
  readonly bytes: Buffer;
  end: number;
  view: Buffer | null;
}

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
  // Chunks [0, #cur) are read through but not yet released; #cur holds the first unread byte at
  // #offset (#cur === #chunks.length when nothing is unread).
  #chunks: Chunk[] = [];
  #cur = 0;
  #offset = 0;
  #length = 0;
  #position = 0;
  // Result of #locate (fields, so the hot path allocates nothing).
  #at = 0;
  #pos = 0;
  /** See `contiguousOwner`; forgotten when buffers are released, so it never pins one. */
  #contiguousOwner: PooledBuffer | null = null;

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
    return this.#chunks.length;
  }

  /**
   * Add a buffer's valid bytes at the end. The queue takes ownership, even when this throws: a buffer
   * that would take the queue over `maxBytes` is released and PORTICO_ERR_INPUT_TOO_LARGE thrown.
   * Releases the buffers already read through first (see the lifetime rule).
   */
  append(buffer: PooledBuffer): void {
    this.releaseConsumed();
    if (buffer.owners <= 0) throw new PorticoError(ErrorCodes.BUFFER_RELEASED, 'buffers', 'append() of a buffer that was already released');
    const chunks = this.#chunks;
    for (let i = 0; i < chunks.length; i++) {
      if (chunks[i]!.buffer === buffer) throw new PorticoError(ErrorCodes.INVALID_ARGUMENT, 'buffers', 'append() of a buffer the queue already holds');
    }
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
    // Not chunks[length - 1] on an empty queue: index -1 is a named property to V8, looked up the slow way (the prototype chain, in the runtime).
    const tail = chunks.length > 0 ? chunks[chunks.length - 1] : undefined;
    // Only into a buffer nobody else owns: another owner may be using its free space (and a disowned
    // buffer's free space may have been lent out already).
    if (this.#coalesce && tail !== undefined && tail.buffer.owners === 1 && !tail.buffer.disowned && n <= tail.bytes.length - tail.end && n * 2 <= tail.bytes.length) {
      buffer.bytes.copy(tail.bytes, tail.end, 0, n);
      tail.end += n;
      tail.buffer.length = tail.end;
      tail.view = null;
      buffer.release();
      return;
    }
    chunks.push({ buffer, bytes: buffer.bytes, end: n, view: null });
  }

  /** The unread byte at `offset`. */
  peekUInt8(offset: number): number {
    this.#checkPeek(offset, 1, 'peekUInt8');
    this.#locate(offset);
    return this.#chunks[this.#at]!.bytes[this.#pos]!;
  }

  /** Big-endian unsigned 16 bits at `offset` (may straddle buffers; never copies). */
  peekUInt16BE(offset: number): number {
    this.#checkPeek(offset, 2, 'peekUInt16BE');
    this.#locate(offset);
    const { bytes: b, end } = this.#chunks[this.#at]!;
    const p = this.#pos;
    return p + 2 <= end ? (b[p]! << 8) | b[p + 1]! : this.#gatherBE(2);
  }

  /** Little-endian unsigned 16 bits at `offset`. */
  peekUInt16LE(offset: number): number {
    this.#checkPeek(offset, 2, 'peekUInt16LE');
    this.#locate(offset);
    const { bytes: b, end } = this.#chunks[this.#at]!;
    const p = this.#pos;
    return p + 2 <= end ? b[p]! | (b[p + 1]! << 8) : this.#gatherLE(2);
  }

  /** Big-endian unsigned 32 bits at `offset`. */
  peekUInt32BE(offset: number): number {
    this.#checkPeek(offset, 4, 'peekUInt32BE');
    this.#locate(offset);
    const { bytes: b, end } = this.#chunks[this.#at]!;
    const p = this.#pos;
    return p + 4 <= end ? b[p]! * 0x1000000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) : this.#gatherBE(4);
  }

  /** Little-endian unsigned 32 bits at `offset`. */
  peekUInt32LE(offset: number): number {
    this.#checkPeek(offset, 4, 'peekUInt32LE');
    this.#locate(offset);
    const { bytes: b, end } = this.#chunks[this.#at]!;
    const p = this.#pos;
    return p + 4 <= end ? b[p + 3]! * 0x1000000 + ((b[p + 2]! << 16) | (b[p + 1]! << 8) | b[p]!) : this.#gatherLE(4);
  }

  /**
   * Consume big-endian unsigned 16 bits: `peekUInt16BE(0)` then `skip(2)` in one step (a header
   * parser's common case, with no offset to check or locate when both bytes are in the first buffer).
   */
  readUInt16BE(): number {
    const chunk = this.#chunks[this.#cur];
    const p = this.#offset;
    if (chunk === undefined || p + 2 > chunk.end) {
      const value = this.peekUInt16BE(0);
      this.#advance(2);
      return value;
    }
    const b = chunk.bytes;
    this.#advance(2);
    return (b[p]! << 8) | b[p + 1]!;
  }

  /** Consume big-endian unsigned 32 bits: `peekUInt32BE(0)` then `skip(4)` in one step. */
  readUInt32BE(): number {
    const chunk = this.#chunks[this.#cur];
    const p = this.#offset;
    if (chunk === undefined || p + 4 > chunk.end) {
      const value = this.peekUInt32BE(0);
      this.#advance(4);
      return value;
    }
    const b = chunk.bytes;
    this.#advance(4);
    return b[p]! * 0x1000000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
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

  /**
   * Consume up to `max` bytes from the first unread buffer only, as a view: never a copy, and at least
   * one byte when any is unread and `max` > 0. A parser streaming a long body (a WebSocket payload)
   * hands on each buffer's share as it comes, without gathering it. Valid as `read`'s.
   */
  readContiguous(max: number): Buffer {
    checkRange(max, 0, Number.MAX_SAFE_INTEGER, 'readContiguous max', 'buffers');
    if (max === 0 || this.#length === 0) return EMPTY;
    const chunk = this.#chunks[this.#cur]!;
    const p = this.#offset;
    const n = Math.min(max, chunk.end - p);
    this.#advance(n);
    this.#contiguousOwner = chunk.buffer;
    return chunk.bytes.subarray(p, p + n);
  }

  /**
   * @internal The pooled buffer the last non-empty `readContiguous` view lies in (null before one,
   * and after `append`, `releaseConsumed` or `clear`: as long as the view is valid): a consumer that
   * keeps that view past the lifetime rule `disown`s the buffer instead of copying.
   */
  get contiguousOwner(): PooledBuffer | null {
    return this.#contiguousOwner;
  }

  /** Consume `n` bytes as a `ByteSlice` the caller owns (a retained view, or a copy when they span buffers). */
  readSlice(n: number): ByteSlice {
    checkRange(n, 0, this.#length, 'readSlice length', 'buffers');
    if (n === 0) return new ByteSlice(EMPTY, null);
    const chunk = this.#chunks[this.#cur]!;
    const p = this.#offset;
    let slice: ByteSlice;
    if (p + n <= chunk.end) {
      slice = new ByteSlice(chunk.bytes.subarray(p, p + n), chunk.buffer.retain());
    } else {
      this.#at = this.#cur;
      this.#pos = p;
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
    let chunkStart = from - p; // queue offset of the chunk's byte 0 (negative for the partly read first one)
    const chunks = this.#chunks;
    while (i < chunks.length && chunkStart + p <= lastStart) {
      const chunk = chunks[i]!;
      // Matches that fit in this buffer: native search over its valid bytes, cut at the limit if it ends here.
      const inEnd = Math.min(chunk.end, lastStart - chunkStart + d);
      if (inEnd - p >= d) {
        const view = inEnd === chunk.end ? (chunk.view ??= chunk.bytes.subarray(0, chunk.end)) : chunk.bytes.subarray(0, inEnd);
        const at = view.indexOf(delimiter, p);
        if (at >= 0) return chunkStart + at;
      }
      // Matches that start here and end in a later buffer.
      if (d > 1) {
        for (let s = Math.max(p, chunk.end - d + 1); s < chunk.end && chunkStart + s <= lastStart; s++) {
          if (this.#matchesAt(i, s, delimiter as Uint8Array)) return chunkStart + s;
        }
      }
      chunkStart += chunk.end;
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
    this.#contiguousOwner = null;
    const spent = this.#cur;
    if (spent === 0) return;
    const chunks = this.#chunks;
    this.#cur = 0;
    if (spent < chunks.length) {
      const done = chunks.slice(0, spent);
      this.#chunks = chunks.slice(spent);
      releaseAll(done);
      return;
    }
    // All read (the usual case between messages): empty the array in place — popping keeps its backing
    // store, where a fresh [] would grow again at the next append.
    try {
      releaseAll(chunks);
    } finally {
      while (chunks.length > 0) chunks.pop();
    }
  }

  /** Drop every byte, read or not, and release every buffer. The unread bytes count as consumed. */
  clear(): void {
    this.#contiguousOwner = null;
    const all = this.#chunks;
    this.#chunks = [];
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

  /** Find unread offset `offset` (< length): sets #at (chunk index) and #pos (byte index in it). */
  #locate(offset: number): void {
    let i = this.#cur;
    let p = this.#offset + offset;
    const chunks = this.#chunks;
    while (i < chunks.length && p >= chunks[i]!.end) {
      p -= chunks[i]!.end;
      i++;
    }
    this.#at = i;
    this.#pos = p;
  }

  /** `n` (> 0) bytes from the located position: a view if in one buffer, else a fresh copy. */
  #bytesAtLocation(n: number): Buffer {
    let i = this.#at;
    const first = this.#chunks[i]!;
    const p = this.#pos;
    if (p + n <= first.end) return first.bytes.subarray(p, p + n);
    const out = Buffer.allocUnsafe(n);
    let filled = first.bytes.copy(out, 0, p, first.end);
    while (filled < n) {
      const chunk = this.#chunks[++i]!;
      filled += chunk.bytes.copy(out, filled, 0, Math.min(chunk.end, n - filled));
    }
    return out;
  }

  /** Big-endian unsigned value of `size` bytes from the located position, across buffers. */
  #gatherBE(size: number): number {
    let i = this.#at;
    let p = this.#pos;
    let value = 0;
    for (let k = 0; k < size; k++) {
      while (p >= this.#chunks[i]!.end) {
        i++;
        p = 0;
      }
      value = value * 256 + this.#chunks[i]!.bytes[p++]!;
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
      while (p >= this.#chunks[i]!.end) {
        i++;
        p = 0;
      }
      value += this.#chunks[i]!.bytes[p++]! * scale;
      scale *= 256;
    }
    return value;
  }

  /** True when `delimiter` starts at byte `p` of chunk `i` (it is known to fit in the unread bytes). */
  #matchesAt(i: number, p: number, delimiter: Uint8Array): boolean {
    for (let k = 0; k < delimiter.length; k++) {
      while (p >= this.#chunks[i]!.end) {
        i++;
        p = 0;
      }
      if (this.#chunks[i]!.bytes[p++] !== delimiter[k]) return false;
    }
    return true;
  }

  #advance(n: number): void {
    this.#length -= n;
    this.#position += n;
    let i = this.#cur;
    let p = this.#offset + n;
    const chunks = this.#chunks;
    while (i < chunks.length && p >= chunks[i]!.end) {
      p -= chunks[i]!.end;
      i++;
    }
    this.#cur = i;
    this.#offset = p;
  }
}
