import { ErrorCodes, PorticoError } from '../core/errors.js';
import type { ReadonlyByteQueue } from '../framing/byte-queue.js';
import { checkRange } from '../framing/checks.js';
import { DEFAULT_RESPONSE_SINGLETONS, type FieldTable, FieldsView, type HttpFields } from './head-fields.js';
import { BufferSource, HeadReader, type HeadSource, type StartLineRules } from './head-reader.js';
import { httpError } from './http-errors.js';
import { parseHttpVersion, type HttpVersion } from './request-head-parser.js';
import { BYTE_CLASS, FIELD_VALUE, SP } from './syntax.js';

/** A parsed response head (what a client reads, e.g. a server's 101 to a WebSocket upgrade). */
export interface ResponseHead extends HttpFields {
  /** The protocol version of the response. */
  readonly version: HttpVersion;
  /** The three-digit status code. */
  readonly status: number;
  /** The reason phrase as sent ("" when absent); clients should not rely on it (RFC 9112 §4). */
  readonly reason: string;
}

/** Options of a `ResponseHeadParser`. */
export interface ResponseHeadParserOptions {
  /** Most bytes one head may take. Default 8192. */
  maxHeadSize?: number;
  /** Most field lines one head may have. Default 100. */
  maxFields?: number;
  /** Field names a response may carry once. Default `DEFAULT_RESPONSE_SINGLETONS`. */
  singletonFields?: readonly string[];
}

/** What `ResponseHeadParser.parse` found; every error is PORTICO_ERR_HTTP_BAD_RESPONSE. */
export type ResponseHeadResult =
  | { readonly kind: 'more' }
  | { readonly kind: 'head'; readonly head: ResponseHead; /** Bytes of the head; what follows is the body or the next protocol. */ readonly consumed: number }
  | { readonly kind: 'error'; readonly error: PorticoError };

const MORE: ResponseHeadResult = Object.freeze({ kind: 'more' });

interface StatusLine {
  readonly version: HttpVersion;
  readonly status: number;
  readonly reason: string;
}

const defaultSingletons: ReadonlySet<string> = new Set(DEFAULT_RESPONSE_SINGLETONS.map((name) => name.toLowerCase()));

/**
 * The response-side twin of `RequestHeadParser`, on the same line engine and rules (CRLF only, no
 * obs-fold, bounded size and field count), for clients such as the harness's WebSocket flood. Same
 * calling convention: pass everything buffered since the head began; it never consumes.
 */
export class ResponseHeadParser {
  readonly #reader: HeadReader<StatusLine>;
  readonly #buffer = new BufferSource();
  #queuePosition = -1;

  constructor(options: ResponseHeadParserOptions = {}) {
    const maxHeadSize = options.maxHeadSize ?? 8192;
    const maxFields = options.maxFields ?? 100;
    checkRange(maxHeadSize, 19, 1 << 30, 'maxHeadSize', 'http');
    checkRange(maxFields, 0, 1 << 20, 'maxFields', 'http');
    const singletons = options.singletonFields === undefined ? defaultSingletons : new Set(options.singletonFields.map((name) => name.toLowerCase()));
    // A response has no empty lines to skip before its status line.
    this.#reader = new HeadReader({ maxHeadSize, maxFields, maxLeadingEmptyLines: 0, singletons }, STATUS_LINE);
  }

  /** Look at the bytes buffered since the head began (see `RequestHeadParser.parse`). */
  parse(input: ReadonlyByteQueue | Uint8Array): ResponseHeadResult {
    let src: HeadSource;
    if (input instanceof Uint8Array) {
      this.#buffer.bytes = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
      src = this.#buffer;
    } else {
      if (!this.#reader.fresh && input.position !== this.#queuePosition) this.#reader.reset();
      if (this.#reader.fresh) this.#queuePosition = input.position;
      src = input;
    }
    try {
      const consumed = this.#reader.read(src);
      if (consumed < 0) return MORE;
      const head = new ParsedResponseHead(this.#reader.start, this.#reader.fields);
      this.#reader.reset();
      return { kind: 'head', head, consumed };
    } catch (error) {
      this.#reader.reset();
      if (!(error instanceof PorticoError) || error.layer !== 'http') throw error;
      // One code on the client side: there is no status to answer with, only a server to give up on.
      const bad = error.code === ErrorCodes.HTTP_BAD_RESPONSE ? error : httpError(ErrorCodes.HTTP_BAD_RESPONSE, error.message);
      return { kind: 'error', error: bad };
    } finally {
      this.#buffer.bytes = EMPTY;
    }
  }

  /** Abandon any partial head. */
  reset(): void {
    this.#reader.reset();
    this.#queuePosition = -1;
  }
}

const EMPTY = Buffer.alloc(0);

function badResponse(message: string): PorticoError {
  return httpError(ErrorCodes.HTTP_BAD_RESPONSE, message);
}

/** `HTTP-version SP 3DIGIT SP [reason-phrase]` (RFC 9112 §4); a missing SP after the code is tolerated, as most clients do. */
const STATUS_LINE: StartLineRules<StatusLine> = {
  firstWordIsToken: false,
  parse(text: string, start: number, end: number): StatusLine {
    const length = end - start;
    if (length < 12 || text.charCodeAt(start + 8) !== SP) throw badResponse('a malformed status line');
    let minor: 0 | 1;
    try {
      minor = parseHttpVersion(text, start, start + 8, badResponse);
    } catch (error) {
      throw error instanceof PorticoError ? badResponse(error.message) : error;
    }
    let status = 0;
    for (let i = start + 9; i < start + 12; i++) {
      const d = text.charCodeAt(i) - 0x30;
      if (d < 0 || d > 9) throw badResponse('a malformed status code');
      status = status * 10 + d;
    }
    if (status < 100) throw badResponse('a status code below 100');
    if (length > 12 && text.charCodeAt(start + 12) !== SP) throw badResponse('a malformed status line');
    for (let i = start + 13; i < end; i++) if ((BYTE_CLASS[text.charCodeAt(i)]! & FIELD_VALUE) === 0) throw badResponse('a control byte in the reason phrase');
    return { version: minor === 0 ? '1.0' : '1.1', status, reason: length > 13 ? text.slice(start + 13, end) : '' };
  },
  tooLong(_spaces: number, max: number): PorticoError {
    return badResponse(`no status line within ${max} bytes (maxHeadSize)`);
  },
};

class ParsedResponseHead extends FieldsView implements ResponseHead {
  readonly version: HttpVersion;
  readonly status: number;
  readonly reason: string;

  constructor(line: StatusLine, fields: FieldTable) {
    super(fields);
    this.version = line.version;
    this.status = line.status;
    this.reason = line.reason;
  }
}
