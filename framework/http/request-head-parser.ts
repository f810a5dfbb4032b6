import { ErrorCodes, PorticoError } from '../core/errors.js';
import type { ReadonlyByteQueue } from '../framing/byte-queue.js';
import { checkRange } from '../framing/checks.js';
import { DEFAULT_REQUEST_SINGLETONS, type FieldTable, FieldsView, type HttpFields } from './head-fields.js';
import { BufferSource, HeadReader, type HeadSource, type StartLineRules } from './head-reader.js';
import { badRequest, httpError, httpErrorStatus, type HttpErrorStatus } from './http-errors.js';
import { BYTE_CLASS, internCommon, TARGET, TOKEN } from './syntax.js';

/** The HTTP versions a request may carry. */
export type HttpVersion = '1.0' | '1.1';

/** A parsed request head: request line, fields, and the body framing they declare. */
export interface RequestHead extends HttpFields {
  /** The method, case-sensitive as sent (RFC 9110 §9.1): `GET`, not `get`. */
  readonly method: string;
  /** The request-target as sent (any of the four forms of RFC 9112 §3.2; not decoded). */
  readonly target: string;
  /** The protocol version: only 1.0 and 1.1 get this far. */
  readonly version: HttpVersion;
  /** The body length from Content-Length, or null when absent (or when Transfer-Encoding governs). */
  readonly contentLength: number | null;
  /** True when Transfer-Encoding ends in `chunked` (the body is chunked; no Content-Length was allowed with it). */
  readonly chunked: boolean;
}

/** Options of a `RequestHeadParser`; every limit is checked before more bytes are looked at. */
export interface RequestHeadParserOptions {
  /** Most bytes one head may take, leading empty lines and the final CRLF included. Default 8192. */
  maxHeadSize?: number;
  /** Most field lines one head may have. Default 100. */
  maxFields?: number;
  /** Most empty lines skipped before the request line (RFC 9112 §2.2 says to skip at least one). Default 2. */
  maxLeadingEmptyLines?: number;
  /** Field names (any case) a request may carry once; a second line is a 400. Default `DEFAULT_REQUEST_SINGLETONS`. */
  singletonFields?: readonly string[];
}

/** What `RequestHeadParser.parse` found. */
export type RequestHeadResult =
  | { readonly kind: 'more' }
  | {
      readonly kind: 'head';
      readonly head: RequestHead;
      /** Bytes of the head from the input's first byte, through its final CRLF: skip these; the rest is the body or the next protocol. */
      readonly consumed: number;
    }
  | {
      readonly kind: 'error';
      /** A `PORTICO_ERR_HTTP_*` error in the 'http' layer. */
      readonly error: PorticoError;
      /** What to answer before closing. */
      readonly status: HttpErrorStatus;
    };

const MORE: RequestHeadResult = Object.freeze({ kind: 'more' });

interface RequestLine {
  readonly method: string;
  readonly target: string;
  readonly version: HttpVersion;
}

/** Fields a request may carry once, lower-cased; Host always (an RFC 9112 §3.2 MUST, whatever the option says). */
function singletonSet(names: readonly string[]): ReadonlySet<string> {
  return new Set([...names.map((name) => name.toLowerCase()), 'host']);
}

// Shared by every parser with the default list: each head keeps its parser's set, and a WebSocket
// keeps its head for its lifetime — one set per connection would be a few hundred bytes each.
const defaultSingletons = singletonSet(DEFAULT_REQUEST_SINGLETONS);

/**
 * A strict, bounded HTTP/1.1 request-head parser (RFC 9112, RFC 9110) that reads a growing input
 * incrementally: call `parse` with everything buffered since the head began each time more arrives; it
 * resumes at the line it had not finished, never consumes, and returns `more`, the head with the exact
 * number of bytes it took (pipelined bytes after it are left alone), or an error with the status to
 * answer. After a head or an error, it is ready for the next head (`reset` is only needed to abandon one).
 *
 * Strictness: lines must end in CRLF — a bare LF is refused, though RFC 9112 §2.2 allows accepting it,
 * because a front that splits lines differently from the server behind it is a request-smuggling
 * vector (Node's own parser refuses it too, since CVE-2023-30589) and every real client sends CRLF.
 * One SP between the request-line parts; obs-fold and whitespace before a colon are refused (400);
 * HTTP/1.x with x > 1 is refused with 505 rather than served as 1.1 (the SHOULD of RFC 9110 §2.5:
 * no such version exists, and Node answers it 400). Host is required for 1.1 and must be single.
 *
 * Time is not bounded here: a peer trickling a byte a minute stays within every limit, so the caller
 * must run a deadline over the head (the connection's read idle timer, or a handshake timer).
 */
export class RequestHeadParser {
  /** Most bytes one head may take. */
  readonly maxHeadSize: number;
  /** Most field lines one head may have. */
  readonly maxFields: number;
  readonly #reader: HeadReader<RequestLine>;
  readonly #buffer = new BufferSource();
  #queuePosition = -1;

  constructor(options: RequestHeadParserOptions = {}) {
    this.maxHeadSize = options.maxHeadSize ?? 8192;
    this.maxFields = options.maxFields ?? 100;
    const maxLeadingEmptyLines = options.maxLeadingEmptyLines ?? 2;
    // The smallest valid head, "GET / HTTP/1.0\r\n\r\n", is 18 bytes.
    checkRange(this.maxHeadSize, 18, 1 << 30, 'maxHeadSize', 'http');
    checkRange(this.maxFields, 0, 1 << 20, 'maxFields', 'http');
    checkRange(maxLeadingEmptyLines, 0, 1024, 'maxLeadingEmptyLines', 'http');
    const singletons = options.singletonFields === undefined ? defaultSingletons : singletonSet(options.singletonFields);
    this.#reader = new HeadReader({ maxHeadSize: this.maxHeadSize, maxFields: this.maxFields, maxLeadingEmptyLines, singletons }, REQUEST_LINE);
  }

  /**
   * Look at the bytes buffered since the head began: a queue's unread bytes (the parser never consumes
   * them: `skip(consumed)` once a head is returned), or a Buffer holding all of them (pass the grown
   * bytes each time). A queue whose position moved since the last call makes the parser start over.
   */
  parse(input: ReadonlyByteQueue | Uint8Array): RequestHeadResult {
    let src: HeadSource;
    if (input instanceof Uint8Array) {
      this.#buffer.bytes = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
      src = this.#buffer;
    } else {
      if (this.#reader.fresh) this.#queuePosition = input.position;
      else if (input.position !== this.#queuePosition) this.#restart(input.position);
      src = input;
    }
    try {
      const consumed = this.#reader.read(src);
      if (consumed < 0) return MORE;
      const head = finishRequest(this.#reader.start, this.#reader.fields);
      this.#reader.reset();
      return { kind: 'head', head, consumed };
    } catch (error) {
      this.#reader.reset();
      if (!(error instanceof PorticoError)) throw error;
      const status = httpErrorStatus(error.code);
      if (status === null) throw error;
      return { kind: 'error', error, status };
    } finally {
      this.#buffer.bytes = EMPTY;
    }
  }

  /** Abandon any partial head: the next `parse` starts at its input's first byte. */
  reset(): void {
    this.#reader.reset();
    this.#queuePosition = -1;
  }

  #restart(position: number): void {
    this.#reader.reset();
    this.#queuePosition = position;
  }
}

const EMPTY = Buffer.alloc(0);

/** The request line: `method SP request-target SP HTTP-version` (RFC 9112 §3), single SPs only. */
const REQUEST_LINE: StartLineRules<RequestLine> = {
  firstWordIsToken: true,
  parse(text: string, start: number, end: number): RequestLine {
    const sp1 = text.indexOf(' ', start);
    if (sp1 < 0 || sp1 >= end) throw badRequest('a request line without spaces');
    if (sp1 === start) throw badRequest('whitespace before the request line');
    for (let i = start; i < sp1; i++) if ((BYTE_CLASS[text.charCodeAt(i)]! & TOKEN) === 0) throw badRequest('an invalid byte in the method');
    const sp2 = text.indexOf(' ', sp1 + 1);
    if (sp2 < 0 || sp2 >= end) throw badRequest('a request line without an HTTP-version');
    if (sp2 === sp1 + 1) throw badRequest('an empty request-target (two spaces)');
    for (let i = sp1 + 1; i < sp2; i++) if ((BYTE_CLASS[text.charCodeAt(i)]! & TARGET) === 0) throw badRequest('an invalid byte in the request-target');
    const minor = parseHttpVersion(text, sp2 + 1, end, badRequest);
    return { method: internCommon(text.slice(start, sp1)), target: text.slice(sp1 + 1, sp2), version: minor === 0 ? '1.0' : '1.1' };
  },
  tooLong(spaces: number, max: number): PorticoError {
    // RFC 9112 §3: a method longer than any implemented is a 501, a request-target too long a 414.
    if (spaces === 0) return httpError(ErrorCodes.HTTP_NOT_IMPLEMENTED, `no method within ${max} bytes (maxHeadSize)`);
    if (spaces === 1) return httpError(ErrorCodes.HTTP_URI_TOO_LONG, `a request-target filling maxHeadSize ${max}`);
    return badRequest(`a request line filling maxHeadSize ${max}`);
  },
};

/**
 * @internal `HTTP/D.D` filling `text` from `at` to `end` (RFC 9112 §2.3, case-sensitive): returns the
 * minor version of HTTP/1.0 or 1.1; another well-formed version is a 505, anything else `malformed`.
 */
export function parseHttpVersion(text: string, at: number, end: number, malformed: (message: string) => PorticoError): 0 | 1 {
  const major = text.charCodeAt(at + 5);
  const minor = text.charCodeAt(at + 7);
  const ok = end - at === 8 && text.startsWith('HTTP/', at) && isDigit(major) && text.charCodeAt(at + 6) === 0x2e && isDigit(minor);
  if (!ok) throw malformed('a malformed HTTP-version');
  if (major === 0x31 && minor <= 0x31) return (minor - 0x30) as 0 | 1;
  throw httpError(ErrorCodes.HTTP_VERSION, `HTTP/${major - 0x30}.${minor - 0x30} is not supported (HTTP/1.0 and HTTP/1.1 are)`);
}

function isDigit(b: number): boolean {
  return b >= 0x30 && b <= 0x39;
}

// host = IP-literal / IPv4address / reg-name, then an optional port (RFC 9110 §7.2, RFC 3986 §3.2.2).
const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|\[v[0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*)(?::[0-9]*)?$/;
const DIGITS = /^[0-9]{1,15}$/;

/** Checks that need the whole head: Host (RFC 9112 §3.2) and body framing (RFC 9112 §6). */
function finishRequest(line: RequestLine, fields: FieldTable): RequestHead {
  const host = fields.get('host');
  if (host === null) {
    if (line.version === '1.1') throw badRequest('an HTTP/1.1 request without Host');
  } else if (!HOST.test(host)) {
    throw badRequest('an invalid Host value');
  }
  let contentLength: number | null = null;
  if (fields.has('content-length')) {
    // Repeated lines or a list are accepted only when every value is the same (RFC 9110 §8.6).
    const values = fields.list('content-length');
    if (values.length === 0 || !values.every((v) => v === values[0] && DIGITS.test(v))) throw badRequest('an invalid Content-Length');
    contentLength = Number(values[0]);
  }
  let chunked = false;
  if (fields.has('transfer-encoding')) {
    // RFC 9112 §6.1: HTTP/1.0 framing with it is faulty; with Content-Length it is refused (the MAY
    // that closes the smuggling hole); the body length is only known when chunked is last, and once.
    if (line.version === '1.0') throw badRequest('Transfer-Encoding in an HTTP/1.0 request');
    if (contentLength !== null) throw badRequest('both Transfer-Encoding and Content-Length');
    const codings = fields.list('transfer-encoding').map((c) => c.split(';')[0]!.trim().toLowerCase());
    const last = codings.length - 1;
    if (last < 0 || codings[last] !== 'chunked' || codings.indexOf('chunked') !== last) {
      throw badRequest('Transfer-Encoding must end with chunked, applied once');
    }
    chunked = true;
  }
  return new ParsedRequestHead(line, fields, contentLength, chunked);
}

class ParsedRequestHead extends FieldsView implements RequestHead {
  readonly method: string;
  readonly target: string;
  readonly version: HttpVersion;
  readonly contentLength: number | null;
  readonly chunked: boolean;

  constructor(line: RequestLine, fields: FieldTable, contentLength: number | null, chunked: boolean) {
    super(fields);
    this.method = line.method;
    this.target = line.target;
    this.version = line.version;
    this.contentLength = contentLength;
    this.chunked = chunked;
  }
}
