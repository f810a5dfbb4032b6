import { HEADER_SIZE, MAX_PAYLOAD, SERVER_MESSAGE_BIT, TOKEN_SIZE } from './constants.js';
import { decodeRequestHeader, decodeResponseHeader, type RequestHeader, type ResponseHeader } from './header.js';

/** A complete message off the wire: header, body (`payload` bytes) and any anti-loop tokens. */
export interface WireMessage<H> {
  readonly header: H;
  readonly body: Buffer;
  readonly tokens: readonly Buffer[];
}

export type FramingError =
  | { readonly kind: 'negative-payload'; readonly payload: number }
  | { readonly kind: 'payload-too-large'; readonly payload: number; readonly tokens: number; readonly limit: number };

/**
 * Cuts owserver messages out of a byte stream: a state machine over a chunk queue (header, then
 * body, then tokens). Every length from the wire is checked against the limit *before* anything is
 * allocated for it, so a hostile header costs nothing.
 */
class MessageReader<H extends { payload: number; version: number }> {
  #chunks: Buffer[] = [];
  #buffered = 0;
  #header: H | null = null;
  #bodyLength = 0;
  #tokenCount = 0;
  #error: FramingError | null = null;
  #discarded = 0;
  readonly #decode: (bytes: Uint8Array) => H;
  readonly #limit: number;
  readonly #countTokens: boolean;

  constructor(decode: (bytes: Uint8Array) => H, limit: number, countTokens: boolean) {
    this.#decode = decode;
    this.#limit = limit;
    this.#countTokens = countTokens;
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

  /** Bytes dropped with a framing error: those received after the offending header, never read. */
  get discarded(): number {
    return this.#discarded;
  }

  /** Add bytes (copied if kept beyond this call). */
  push(bytes: Uint8Array): void {
    if (this.#error !== null || bytes.length === 0) return;
    this.#chunks.push(Buffer.from(bytes));
    this.#buffered += bytes.length;
  }

  /** The next complete message, or null (need more bytes, or a framing error: see `error`). */
  next(): WireMessage<H> | null {
    if (this.#error !== null) return null;
    if (this.#header === null) {
      if (this.#buffered < HEADER_SIZE) return null;
      const header = this.#decode(this.#take(HEADER_SIZE));
      const payload = header.payload;
      const tokens = this.#countTokens && (header.version & SERVER_MESSAGE_BIT) !== 0 ? header.version & 0xffff : 0;
      if (payload < 0) {
        // In a response this is a keep-alive ping (no body); in a request, a framing error.
        if (!this.#countTokens) return { header, body: Buffer.alloc(0), tokens: [] };
        this.#fail({ kind: 'negative-payload', payload });
        return null;
      }
      if (payload + tokens * TOKEN_SIZE > this.#limit) {
        this.#fail({ kind: 'payload-too-large', payload, tokens, limit: this.#limit });
        return null;
      }
      this.#header = header;
      this.#bodyLength = payload;
      this.#tokenCount = tokens;
    }
    const need = this.#bodyLength + this.#tokenCount * TOKEN_SIZE;
    if (this.#buffered < need) return null;
    const header = this.#header;
    const body = this.#take(this.#bodyLength);
    const tokens: Buffer[] = [];
    for (let i = 0; i < this.#tokenCount; i++) tokens.push(this.#take(TOKEN_SIZE));
    this.#header = null;
    return { header, body, tokens };
  }

  #fail(error: FramingError): void {
    this.#error = error;
    this.#discarded = this.#buffered;
    this.#chunks = [];
    this.#buffered = 0;
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

/** Server side: requests, with tokens, negative payload = framing error. */
export class RequestReader extends MessageReader<RequestHeader> {
  constructor(limit = MAX_PAYLOAD) {
    super((b) => decodeRequestHeader(b), limit, true);
  }
}

/** Client side: responses; payload < 0 is a ping, returned as a message with an empty body. */
export class ResponseReader extends MessageReader<ResponseHeader> {
  constructor(limit = MAX_PAYLOAD) {
    super((b) => decodeResponseHeader(b), limit, false);
  }
}
