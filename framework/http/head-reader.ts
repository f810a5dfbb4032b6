import { ErrorCodes, type PorticoError } from '../core/errors.js';
import type { ReadonlyByteQueue } from '../framing/byte-queue.js';
import { FieldTable } from './head-fields.js';
import { badRequest, httpError } from './http-errors.js';
import { BYTE_CLASS, CR, FIELD_VALUE, HTAB, internCommon, LF, NEVER, SP, TOKEN } from './syntax.js';

/** @internal What a head is read from: the unread bytes of a queue, or a Buffer through `BufferSource`. */
export type HeadSource = Pick<ReadonlyByteQueue, 'length' | 'indexOf' | 'peek' | 'peekUInt8'>;

const EMPTY = Buffer.alloc(0);

/** @internal A Buffer seen as a `HeadSource`; one per parser, re-pointed at each call so parsing allocates none. */
export class BufferSource implements HeadSource {
  bytes: Buffer = EMPTY;

  get length(): number {
    return this.bytes.length;
  }

  indexOf(delimiter: Uint8Array | number, from = 0, limit = this.bytes.length): number {
    const end = Math.min(limit, this.bytes.length);
    return (end === this.bytes.length ? this.bytes : this.bytes.subarray(0, end)).indexOf(delimiter, from);
  }

  peek(offset: number, n: number): Buffer {
    return this.bytes.subarray(offset, offset + n);
  }

  peekUInt8(offset: number): number {
    return this.bytes[offset]!;
  }
}

/** @internal The limits a `HeadReader` enforces (already validated by the parser that owns it). */
export interface HeadLimits {
  readonly maxHeadSize: number;
  readonly maxFields: number;
  readonly maxLeadingEmptyLines: number;
  readonly singletons: ReadonlySet<string>;
}

/** @internal How the start line of one kind of head (request or response) is read. */
export interface StartLineRules<S> {
  /** Parse a complete start line, `text` from `start` to `end` (CRLF excluded); throws an http-layer PorticoError. */
  parse(text: string, start: number, end: number): S;
  /** True when the first word must be a token (a method): checked as bytes arrive, to fail fast on binary input. */
  readonly firstWordIsToken: boolean;
  /** The error when the start line alone fills `maxHeadSize`; `spaces` is how many SPs it had so far. */
  tooLong(spaces: number, maxHeadSize: number): PorticoError;
}

const START = 0;
const FIELDS = 1;

/**
 * @internal The incremental line engine under both head parsers. It never consumes: each `read` looks
 * at the source's bytes from the head's first byte, resumes at the line it had not finished, and
 * returns the head's length once the empty line that ends it has arrived. At most `maxHeadSize` bytes
 * are ever looked at, and the size error comes as soon as that many are buffered with no end in them,
 * so a caller that stops buffering on the error holds at most `maxHeadSize` plus one read.
 */
export class HeadReader<S> {
  readonly #limits: HeadLimits;
  readonly #rules: StartLineRules<S>;
  #phase = START;
  #lineStart = 0; // offset of the first byte of the line being read
  #scanFrom = 0; // offset before which no LF is left to find and every byte passed the fail-fast check
  #emptyLines = 0;
  #spaces = 0; // SPs seen so far in an open start line (tells 501 from 414 at the size limit)
  #fieldCount = 0;
  #start: S | null = null;
  #fields: FieldTable;

  constructor(limits: HeadLimits, rules: StartLineRules<S>) {
    this.#limits = limits;
    this.#rules = rules;
    this.#fields = new FieldTable(limits.singletons);
  }

  /** True before any byte of a head was looked at. */
  get fresh(): boolean {
    return this.#scanFrom === 0;
  }

  /** The start line of the head `read` just completed. */
  get start(): S {
    return this.#start!;
  }

  /** The fields of the head `read` just completed. */
  get fields(): FieldTable {
    return this.#fields;
  }

  /** Forget any partial head: the next `read` starts at the source's first byte. */
  reset(): void {
    this.#phase = START;
    this.#lineStart = 0;
    this.#scanFrom = 0;
    this.#emptyLines = 0;
    this.#spaces = 0;
    this.#fieldCount = 0;
    this.#start = null;
    this.#fields = new FieldTable(this.#limits.singletons);
  }

  /** The head's length in bytes once it is complete, else -1 (more bytes needed). Throws http-layer PorticoErrors. */
  read(src: HeadSource): number {
    const max = this.#limits.maxHeadSize;
    const limit = Math.min(src.length, max);
    if (this.#scanFrom < limit && src.indexOf(LF, this.#scanFrom, limit) >= 0) {
      // One native decode per call that brings a line end; the lines are then cut and checked in JS
      // (charCodeAt and slices of one latin1 string), not with a native call per line or per field.
      const base = this.#lineStart;
      const text = src.peek(base, limit - base).toString('latin1');
      for (;;) {
        const at = this.#lineStart - base;
        const lf = text.indexOf('\n', this.#scanFrom - base);
        if (lf < 0) break;
        // RFC 9112 §2.2 lets a recipient take a bare LF as a line end; we do not (see the parser's docs).
        if (lf === at || text.charCodeAt(lf - 1) !== CR) throw badRequest('bare LF: lines must end with CRLF');
        this.#lineStart = this.#scanFrom = base + lf + 1;
        this.#spaces = 0;
        if (lf - 1 === at) {
          if (this.#phase === FIELDS) return base + lf + 1;
          // RFC 9112 §2.2: ignore at least one empty line before the start line, but not without bound.
          if (++this.#emptyLines > this.#limits.maxLeadingEmptyLines) {
            throw badRequest(`more than ${this.#limits.maxLeadingEmptyLines} empty lines before the start line`);
          }
        } else if (this.#phase === START) {
          this.#start = this.#rules.parse(text, at, lf - 1);
          this.#phase = FIELDS;
        } else {
          this.#fieldLine(text, at, lf - 1);
        }
      }
    }
    if (this.#scanFrom < limit) {
      this.#checkTail(src, limit);
      this.#scanFrom = limit;
    }
    if (src.length >= max) {
      throw this.#phase === START ? this.#rules.tooLong(this.#spaces, max) : httpError(ErrorCodes.HTTP_HEAD_TOO_LARGE, `no end of head within ${max} bytes (maxHeadSize)`);
    }
    return -1;
  }

  /** One `field-name ":" OWS field-value OWS` line (RFC 9112 §5): `text` from `start` to `end` (CRLF excluded). */
  #fieldLine(text: string, start: number, end: number): void {
    const first = text.charCodeAt(start);
    // After the start line this is whitespace before the first field (§2.2), later an obs-fold (§5.2): both rejected.
    if (first === SP || first === HTAB) throw badRequest('a field line starting with whitespace (obs-fold or whitespace after the start line)');
    if (++this.#fieldCount > this.#limits.maxFields) {
      throw httpError(ErrorCodes.HTTP_HEAD_TOO_LARGE, `more than ${this.#limits.maxFields} field lines (maxFields)`);
    }
    const colon = text.indexOf(':', start);
    if (colon < 0 || colon >= end) throw badRequest('a field line without a colon');
    if (colon === start) throw badRequest('an empty field name');
    for (let i = start; i < colon; i++) {
      const b = text.charCodeAt(i);
      if ((BYTE_CLASS[b]! & TOKEN) === 0) {
        throw badRequest(b === SP || b === HTAB ? 'whitespace in a field name or before its colon (RFC 9112 §5.1)' : 'an invalid byte in a field name');
      }
    }
    let s = colon + 1;
    let e = end;
    while (s < e && isOws(text.charCodeAt(s))) s++;
    while (e > s && isOws(text.charCodeAt(e - 1))) e--;
    for (let i = s; i < e; i++) {
      const b = text.charCodeAt(i);
      if ((BYTE_CLASS[b]! & FIELD_VALUE) === 0) throw badRequest(b === CR ? 'a bare CR in a field value' : 'a control byte in a field value');
    }
    // Names are tokens, hence ASCII: the native toLowerCase is the ASCII one here.
    this.#fields.add(internCommon(text.slice(start, colon).toLowerCase()), internCommon(text.slice(s, e)));
  }

  /**
   * Fail fast on bytes of an unfinished line that no head may hold (a TLS hello or other binary on a
   * plain port), instead of waiting for a line end or the size limit. The complete line is checked
   * again in full when its LF arrives; this only makes the error come sooner.
   */
  #checkTail(src: HeadSource, limit: number): void {
    const from = this.#scanFrom;
    const tail = src.peek(from, limit - from);
    const checkMethod = this.#phase === START && this.#rules.firstWordIsToken;
    for (let i = 0; i < tail.length; i++) {
      const b = tail[i]!;
      if (b === CR) {
        // No LF follows in what we have: a CR with anything after it is bare (§2.2). The last byte may still get its LF.
        if (i + 1 < tail.length) throw badRequest('a bare CR (not followed by LF)');
        continue;
      }
      if ((BYTE_CLASS[b]! & NEVER) !== 0) throw badRequest('a control byte in the head');
      if (this.#phase !== START) continue;
      if (b === SP) {
        if (from + i === this.#lineStart) throw badRequest('whitespace before the start line');
        this.#spaces++;
      } else if (checkMethod && this.#spaces === 0 && (BYTE_CLASS[b]! & TOKEN) === 0) {
        throw badRequest('an invalid byte in the method');
      }
    }
  }
}

function isOws(c: number): boolean {
  return c === SP || c === HTAB;
}
