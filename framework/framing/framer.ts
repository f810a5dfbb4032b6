import { ErrorCodes, PorticoError, toPorticoError } from '../core/errors.js';
import type { PooledBuffer } from '../buffers/pooled-buffer.js';
import { ByteQueue } from './byte-queue.js';
import type { ByteSlice } from './byte-slice.js';
import { checkRange } from './checks.js';

/** Options every framer takes. */
export interface FramerOptions {
  /**
   * Cut frames out of this queue instead of a new one: layers hand one queue on (an HTTP head framer,
   * then a WebSocket frame framer over the bytes left after the head).
   */
  queue?: ByteQueue;
  /** `maxBytes` of the framer's own queue (ignored with `queue`). Defaults: see each framer. */
  maxBuffered?: number;
}

/**
 * A state machine over a `ByteQueue` that cuts a byte stream into frames: `push` pooled buffers in,
 * then call `next()` until it returns null (need more bytes). Each call makes at most one frame and
 * nothing recurses, so a pipelined burst is a loop in the caller.
 *
 * A frame from `next()` is a view of the pooled buffer when it lay in one (zero copy), else one copy;
 * it stays valid until the next `push`, a `next()` that returns null (that is when read-through
 * buffers go back to the pool) or `clear`. `nextSlice()` returns an owned frame instead.
 *
 * Errors are `PorticoError`s: PORTICO_ERR_INPUT_TOO_LARGE or PORTICO_ERR_BAD_FRAME from the peer's
 * bytes (whatever a length function throws counts too). A failed framer drops what it buffered and
 * stays failed: every later `next()` and `push()` throws the same error (`push` still releases).
 */
export abstract class Framer {
  /** The queue frames are cut from (unread bytes beyond the last frame are the leftover). */
  readonly queue: ByteQueue;
  #error: PorticoError | null = null;

  /** @internal */
  protected constructor(options: FramerOptions, defaultMaxBuffered: number, minBuffered: number) {
    if (options.queue !== undefined) {
      this.queue = options.queue;
    } else {
      const maxBytes = options.maxBuffered ?? defaultMaxBuffered;
      checkRange(maxBytes, minBuffered, Number.MAX_SAFE_INTEGER, 'maxBuffered', 'protocol');
      this.queue = new ByteQueue({ maxBytes });
    }
  }

  /** Bytes buffered that are not yet part of a returned frame. */
  get buffered(): number {
    return this.queue.length;
  }

  /** The error that failed this framer, or null. */
  get error(): PorticoError | null {
    return this.#error;
  }

  /** Append a buffer (ownership passes to the framer, even when this throws). */
  push(buffer: PooledBuffer): void {
    if (this.#error !== null) {
      buffer.release();
      throw this.#error;
    }
    try {
      this.queue.append(buffer);
    } catch (error) {
      if (error instanceof PorticoError && error.code === ErrorCodes.INPUT_TOO_LARGE) this.#fail(error);
      throw error;
    }
  }

  /** The next complete frame, or null when more bytes are needed. */
  next(): Buffer | null {
    const n = this.#decode();
    if (n < 0) {
      this.queue.releaseConsumed();
      return null;
    }
    const frame = this.queue.read(n);
    this.taken();
    return frame;
  }

  /** Like `next()`, but the frame is a `ByteSlice` the caller owns and must release once. */
  nextSlice(): ByteSlice | null {
    const n = this.#decode();
    if (n < 0) {
      this.queue.releaseConsumed();
      return null;
    }
    const frame = this.queue.readSlice(n);
    this.taken();
    return frame;
  }

  /** Drop everything buffered and any partial frame (an error, if any, stays). */
  clear(): void {
    this.queue.clear();
    this.reset();
  }

  /** @internal Length of the complete frame at the queue's front, or -1 when more bytes are needed. */
  protected abstract decode(): number;

  /** @internal The frame was read out of the queue: consume any trailer, start the next frame. */
  protected abstract taken(): void;

  /** @internal Forget any partial frame. */
  protected abstract reset(): void;

  #decode(): number {
    if (this.#error !== null) throw this.#error;
    try {
      return this.decode();
    } catch (error) {
      throw this.#fail(toPorticoError(error, ErrorCodes.BAD_FRAME, 'protocol'));
    }
  }

  #fail(error: PorticoError): PorticoError {
    this.#error = error;
    this.clear();
    return error;
  }
}
