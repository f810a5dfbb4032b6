import { ErrorCodes, LengthPrefixedFramer, PorticoError, type PooledBuffer, type ReadonlyByteQueue } from '../../../framework/index.js';
import { HEADER_SIZE, MAX_PAYLOAD, TOKEN_SIZE } from './constants.js';
import { type OwRequest, parseRequest, tokenCount } from './request.js';

/**
 * Unread bytes a server holds before it stops reading: one request being answered may have one more
 * whole request (or the start of several) queued behind it.
 */
export const READ_AHEAD_LIMIT = 2 * MAX_PAYLOAD;

/**
 * Cuts owserver requests out of a connection's pooled read buffers: a `LengthPrefixedFramer` over
 * the 24-byte header, whose payload (plus the anti-loop tokens it announces) is checked against the
 * limit before anything is buffered or allocated for it, so a hostile header costs nothing.
 *
 * A refused header fails the framer for good (see `error`): a negative payload, or payload plus
 * tokens over the limit. `discarded` then says how many bytes had arrived behind that header: owserver
 * read the header and never those, which decides how it closes (FIN or RST).
 */
export class RequestFramer {
  readonly #framer: LengthPrefixedFramer;
  readonly #limit: number;
  #discarded = 0;

  /**
   * `limit`: largest payload plus tokens (owserver's MAX_OWSERVER_PROTOCOL_PAYLOAD_SIZE).
   * `maxBuffered`: the default leaves room for one more read of up to 64 KiB past two whole requests
   * (`READ_AHEAD_LIMIT`, where the server pauses reading).
   */
  constructor(limit = MAX_PAYLOAD, maxBuffered = 2 * limit + 65536) {
    this.#limit = limit;
    this.#framer = new LengthPrefixedFramer({ headerSize: HEADER_SIZE, maxFrame: HEADER_SIZE + limit, maxBuffered, bodyLength: this.#bodyLength });
  }

  /** Bytes held that are not yet part of a returned request. */
  get buffered(): number {
    return this.#framer.buffered;
  }

  /** The error a refused header failed the framer with (PORTICO_ERR_BAD_FRAME or _INPUT_TOO_LARGE), or null. */
  get error(): PorticoError | null {
    return this.#framer.error;
  }

  /** After a refused header: the bytes that had arrived behind it, dropped unread. */
  get discarded(): number {
    return this.#discarded;
  }

  /**
   * Append a read buffer; the framer owns it from here on (even when this throws). Throws
   * PORTICO_ERR_INPUT_TOO_LARGE past `maxBuffered`, or the framer's error once it failed.
   */
  push(buffer: PooledBuffer): void {
    this.#framer.push(buffer);
  }

  /**
   * The next whole request, parsed, or null: more bytes needed, or the framer failed (see `error`).
   * The request owns copies of everything it keeps, so the read buffers it came from go back at once.
   */
  next(): OwRequest | null {
    if (this.#framer.error !== null) return null;
    let frame: Buffer | null;
    try {
      frame = this.#framer.next();
    } catch (error) {
      if (error === this.#framer.error) return null; // a refused header: see `error`
      throw error;
    }
    if (frame === null) return null;
    const request = parseRequest(frame);
    this.#framer.queue.releaseConsumed();
    return request;
  }

  /** Give every buffer back (the connection is done with its input). */
  clear(): void {
    this.#framer.clear();
  }

  readonly #bodyLength = (header: ReadonlyByteQueue): number => {
    const payload = header.peekInt32BE(4);
    if (payload < 0) throw this.#refuse(header, ErrorCodes.BAD_FRAME, `negative payload ${payload}`);
    const tokens = tokenCount(header.peekInt32BE(0));
    const body = payload + tokens * TOKEN_SIZE;
    if (body > this.#limit) throw this.#refuse(header, ErrorCodes.INPUT_TOO_LARGE, `payload ${payload} + ${tokens} tokens is over ${this.#limit} bytes`);
    return body;
  };

  #refuse(header: ReadonlyByteQueue, code: typeof ErrorCodes.BAD_FRAME | typeof ErrorCodes.INPUT_TOO_LARGE, why: string): PorticoError {
    this.#discarded = header.length - HEADER_SIZE;
    return new PorticoError(code, 'protocol', `request header refused: ${why}`);
  }
}
