import { HEADER_SIZE, MAX_PAYLOAD } from './constants.js';
import { decodeResponseHeader, type ResponseHeader } from './header.js';

/** A complete response off the wire: header and body (`payload` bytes; empty for a ping). */
export interface ResponseMessage {
  readonly header: ResponseHeader;
  readonly body: Buffer;
}

export interface FramingError {
  readonly kind: 'payload-too-large';
  readonly payload: number;
  readonly limit: number;
}

/**
 * Client side: cuts owserver responses out of the chunks a `net.Socket` delivers (plain Buffers, not
 * pooled ones: the server side uses `RequestFramer` over the framework's framers). A state machine over
 * a chunk queue (header, then body); the payload is checked against the limit *before* anything is
 * allocated for it. A payload < 0 is a keep-alive ping, returned as a message with an empty body.
 */
export class ResponseReader {
  #chunks: Buffer[] = [];
  #buffered = 0;
  #header: ResponseHeader | null = null;
  #error: FramingError | null = null;
  readonly #limit: number;

  constructor(limit = MAX_PAYLOAD) {
    this.#limit = limit;
  }

  /** Bytes held that do not yet form a message. */
  get buffered(): number {
    return this.#buffered;
  }

  /** A message has started but is not complete. */
  get inMessage(): boolean {
    return this.#buffered > 0 || this.#header !== null;
  }

  get error(): FramingError | null {
    return this.#error;
  }

  /** Add bytes (copied if kept beyond this call). */
  push(bytes: Uint8Array): void {
    if (this.#error !== null || bytes.length === 0) return;
    this.#chunks.push(Buffer.from(bytes));
    this.#buffered += bytes.length;
  }

  /** The next complete message, or null (need more bytes, or a framing error: see `error`). */
  next(): ResponseMessage | null {
    if (this.#error !== null) return null;
    if (this.#header === null) {
      if (this.#buffered < HEADER_SIZE) return null;
      const header = decodeResponseHeader(this.#take(HEADER_SIZE));
      if (header.payload < 0) return { header, body: Buffer.alloc(0) };
      if (header.payload > this.#limit) {
        this.#error = { kind: 'payload-too-large', payload: header.payload, limit: this.#limit };
        this.#chunks = [];
        this.#buffered = 0;
        return null;
      }
      this.#header = header;
    }
    const header = this.#header;
    if (this.#buffered < header.payload) return null;
    this.#header = null;
    return { header, body: this.#take(header.payload) };
  }

  #take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.#chunks[0]!;
    if (first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
      this.#buffered -= n;
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.#chunks[0]!;
      const part = Math.min(chunk.length, n - filled);
      chunk.copy(out, filled, 0, part);
      filled += part;
      if (part === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(part);
    }
    this.#buffered -= n;
    return out;
  }
}
