import { ErrorCodes, LengthPrefixedFramer, PorticoError, type PooledBuffer, type ReadonlyByteQueue } from '../../../framework/index.js';
import { HEADER_SIZE, MAX_PAYLOAD, TOKEN_SIZE } from './constants.js';
import { type OwRequest, parseRequest, tokenCount } from './request.js';

/**
 * Unread bytes a server holds before it stops reading: one request being answered may have one more
 * whole request (or the start of several) queued behind it.
 */
export const READ_AHEAD_LIMIT = 2 * MAX_PAYLOAD;

/**
 * The body a request header declares: payload plus the anti-loop tokens it announces. A negative
 * payload is refused here (announced tokens must not turn it into a valid length); the framer refuses
 * a body over its `maxFrame` before anything is buffered for it.
 */
function requestBodyLength(header: ReadonlyByteQueue): number {
  const payload = header.peekInt32BE(4);
  if (payload < 0) throw new PorticoError(ErrorCodes.BAD_FRAME, 'protocol', `request header refused: negative payload ${payload}`);
  return payload + tokenCount(header.peekInt32BE(0)) * TOKEN_SIZE;
}

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
  #discarded = 0;

  /**
   * `limit`: largest payload plus tokens (owserver's MAX_OWSERVER_PROTOCOL_PAYLOAD_SIZE).
   * `maxBuffered`: the default leaves room for one more read of up to 64 KiB past two whole requests
   * (`READ_AHEAD_LIMIT`, where the server pauses reading).
   */
  constructor(limit = MAX_PAYLOAD, maxBuffered = 2 * limit + 65536) {
    this.#framer = new LengthPrefixedFramer({ headerSize: HEADER_SIZE, maxFrame: HEADER_SIZE + limit, maxBuffered, bodyLength: requestBodyLength });
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
    const framer = this.#framer;
    if (framer.error !== null) return null;
    // The queue starts at a request boundary, so a header refused now is the first bytes held.
    const held = framer.buffered;
    let frame: Buffer | null;
    try {
      frame = framer.next();
    } catch (error) {
      if (error !== framer.error) throw error;
      this.#discarded = held - HEADER_SIZE;
      return null;
    }
    if (frame === null) return null;
    const request = parseRequest(frame);
    framer.queue.releaseConsumed();
    return request;
  }

  /** Give every buffer back (the connection is done with its input). */
  clear(): void {
    this.#framer.clear();
  }
}
