/**
 * The raw protocol, for any TCP server (tcpkali's niche): every message is the same payload
 * (`protocolOptions.send`, see raw-payload.ts), and its reply is recognised in the byte stream by
 * one of two rules:
 *
 * - `expectBytes: N` — the reply is the next N bytes. Replies are consecutive N-byte slices of the
 *   stream, in the order the messages went out (so pipelining works). A byte that arrives while no
 *   message is waiting for its reply is more than the server should have sent: UNEXPECTED_DATA.
 * - `expectRegex: RE` — the reply is complete once RE matches the bytes received since the message
 *   was sent (pipelined: since the previous reply's match ended). RE matches bytes, not decoded
 *   text: the reply is read one character per byte (latin1), so `\x00` and `\xff` match those
 *   bytes whatever the reply's encoding, and a binary reply cannot be mangled by a decoder. To match
 *   UTF-8 text, each non-ASCII character of RE stands for its UTF-8 bytes as a unit: `héllo`, what
 *   `--send héllo` sends, matches the bytes 68 c3 a9 6c 6c 6f, and `é+` repeats all of é. A class
 *   matches one byte, so a non-ASCII character inside `[...]` is refused (write `(?:é|è)`), and `.`
 *   matches one byte of a multi-byte character. Encoding RE rather than decoding the reply keeps
 *   every count in bytes (--max-reply, the error details) and needs no care for a character split
 *   across reads. Bytes after the match belong to the next outstanding message's reply; with none
 *   outstanding they are the rest of this reply (an HTTP body after a matched status line) and are
 *   dropped, counted only as bytes received. RE is a JavaScript regular expression without flags;
 *   one that matches the empty string is refused, as a reply must be at least one byte.
 *
 * A reply is held in a bounded buffer (`maxReplyBytes`, default 64 KiB): if RE has not matched
 * within that many bytes the reply is REPLY_TOO_LONG — an error at once, not a wait for the
 * connection's deadline. A server that sends too little and waits still meets that deadline
 * (REPLY_TIMEOUT), and one that closes early EARLY_CLOSE; either way the error shows what did arrive.
 */
import type { FloodOptions } from '../types.js';
import type { FloodProtocolClient, FloodProtocolSession, ReplyCheck } from './protocol-client.js';
import { parsePayload } from './raw-payload.js';

export const DEFAULT_MAX_REPLY_BYTES = 64 * 1024;
/** A reply buffer larger than this is a mistake (and a memory risk across thousands of connections). */
export const MAX_MAX_REPLY_BYTES = 16 * 1024 * 1024;

/**
 * How a raw reply ends. A regex's `pattern` runs over the reply's bytes read as latin1 (see
 * byteRegexSource); `shown` is RE as the user wrote it, for error details.
 */
export type RawExpectation = { readonly kind: 'bytes'; readonly count: number } | { readonly kind: 'regex'; readonly pattern: RegExp; readonly shown: string };

export interface RawFloodSettings {
  readonly payload: Buffer;
  readonly expect: RawExpectation;
  readonly maxReplyBytes: number;
}

const knownOptions = ['send', 'expectBytes', 'expectRegex', 'maxReplyBytes'] as const;
/** The raw protocol's keys in protocolOptions, so other protocols can refuse them by name. */
export const rawOptionKeys: readonly string[] = knownOptions;

/** Reads and checks `protocolOptions` for a raw flood; every problem names the flag to fix. */
export function rawFloodSettings(options: Pick<FloodOptions, 'protocolOptions'>, read?: (path: string) => Buffer): RawFloodSettings {
  const raw = options.protocolOptions ?? {};
  for (const key of Object.keys(raw)) {
    if (!(knownOptions as readonly string[]).includes(key)) throw new Error(`raw flood: unknown protocolOptions.${key} (known: ${knownOptions.join(', ')})`);
  }
  const send = raw['send'];
  if (typeof send !== 'string') throw new Error('raw flood: give the bytes to send: --send TEXT, --send hex:HEX or --send @file (protocolOptions.send)');
  let payload: Buffer;
  try {
    payload = parsePayload(send, read);
  } catch (error) {
    throw new Error(`raw flood: --send: ${(error as Error).message}`);
  }

  const bytes = raw['expectBytes'];
  const regex = raw['expectRegex'];
  if ((bytes === undefined) === (regex === undefined)) {
    throw new Error('raw flood: say when a reply is complete with exactly one of --expect-bytes N or --expect-regex RE (protocolOptions.expectBytes / expectRegex)');
  }
  const maxReply = raw['maxReplyBytes'] ?? DEFAULT_MAX_REPLY_BYTES;
  if (typeof maxReply !== 'number' || !Number.isSafeInteger(maxReply) || maxReply < 1 || maxReply > MAX_MAX_REPLY_BYTES) {
    throw new Error(`raw flood: --max-reply must be 1 byte to ${MAX_MAX_REPLY_BYTES / 1024 / 1024}M, got ${JSON.stringify(maxReply)}`);
  }
  let expect: RawExpectation;
  if (bytes !== undefined) {
    if (typeof bytes !== 'number' || !Number.isSafeInteger(bytes) || bytes < 1) throw new Error(`raw flood: --expect-bytes must be an integer >= 1, got ${JSON.stringify(bytes)}`);
    expect = { kind: 'bytes', count: bytes };
  } else {
    if (typeof regex !== 'string' || regex === '') throw new Error(`raw flood: --expect-regex must be a non-empty regular expression, got ${JSON.stringify(regex)}`);
    let written: RegExp;
    let pattern: RegExp;
    try {
      // As written first, so a syntax error is reported against the user's own text.
      written = new RegExp(regex);
      pattern = new RegExp(byteRegexSource(regex));
    } catch (error) {
      throw new Error(`raw flood: --expect-regex: ${(error as Error).message}`);
    }
    if (pattern.test('')) throw new Error(`raw flood: --expect-regex ${JSON.stringify(regex)} matches an empty reply; it must match at least one byte`);
    expect = { kind: 'regex', pattern, shown: String(written) };
  }
  return { payload, expect, maxReplyBytes: maxReply };
}

/**
 * RE's source rewritten to run over bytes read as latin1: each non-ASCII character, literal or
 * escaped (`\é` is é), becomes its UTF-8 bytes as `\xNN` escapes in a non-capturing group, so a
 * quantifier after it applies to the whole character. ASCII and escapes (`\xNN`, `\u00NN`: one
 * byte each) are left as they are. A class matches one byte, so a non-ASCII character inside
 * `[...]` has no byte meaning and is refused.
 */
export function byteRegexSource(source: string): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < source.length; ) {
    const escape = source[i] === '\\' && i + 1 < source.length ? 1 : 0;
    const c = String.fromCodePoint(source.codePointAt(i + escape)!);
    i += escape + c.length;
    if (c.codePointAt(0)! < 0x80) {
      if (escape === 1) out += '\\';
      else if (c === '[') inClass = true;
      else if (c === ']') inClass = false;
      out += c;
      continue;
    }
    if (inClass) throw new Error(`${JSON.stringify(c)} inside [...]: a class matches one byte and this character is ${Buffer.byteLength(c)} bytes in UTF-8; write it outside the class, e.g. (?:é|è)`);
    out += `(?:${[...Buffer.from(c, 'utf8')].map((byte) => `\\x${byte.toString(16).padStart(2, '0')}`).join('')})`;
  }
  return out;
}

export class RawProtocolClient implements FloodProtocolClient {
  readonly protocol = 'raw' as const;
  readonly settings: RawFloodSettings;

  constructor(options: Pick<FloodOptions, 'protocolOptions'>, read?: (path: string) => Buffer) {
    this.settings = rawFloodSettings(options, read);
  }

  openSession(): FloodProtocolSession {
    return this.settings.expect.kind === 'bytes'
      ? new CountedReplySession(this.settings.payload, this.settings.expect.count)
      : new MatchedReplySession(this.settings.payload, this.settings.expect.pattern, this.settings.expect.shown, this.settings.maxReplyBytes);
  }
}

/** Bytes as the error details show them: printable ASCII as is, the rest escaped, cut at 80. */
export function showBytes(text: string): string {
  const shown = JSON.stringify(text.length > 80 ? text.slice(0, 80) : text)
    .replace(/\\u00([0-9a-f]{2})/g, '\\x$1')
    .replace(/[\x7f-\xff]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return text.length > 80 ? `${shown}… (${text.length} bytes)` : shown;
}

/** `--expect-bytes N`: count, never buffer. */
class CountedReplySession implements FloodProtocolSession {
  #outstanding = 0;
  /** Bytes of the oldest outstanding reply received so far. */
  #got = 0;

  constructor(
    private readonly payload: Buffer,
    private readonly count: number,
  ) {}

  frameRequest(): Uint8Array {
    this.#outstanding++;
    return this.payload;
  }

  receive(chunk: Uint8Array): ReplyCheck[] {
    const checks: ReplyCheck[] = [];
    let offset = 0;
    while (offset < chunk.length) {
      if (this.#outstanding === 0) {
        checks.push({ ok: false, code: 'UNEXPECTED_DATA', detail: `${chunk.length - offset} byte(s) more than the ${this.count} expected per reply, with no message outstanding` });
        return checks;
      }
      const take = Math.min(this.count - this.#got, chunk.length - offset);
      offset += take;
      this.#got += take;
      if (this.#got === this.count) {
        this.#got = 0;
        this.#outstanding--;
        checks.push({ ok: true });
      }
    }
    return checks;
  }

  pendingReply(): string {
    return `${this.#got} of the ${this.count} bytes expected arrived`;
  }
}

/** `--expect-regex RE`: the bytes since the send, one latin1 character per byte, at most `max` of them. */
class MatchedReplySession implements FloodProtocolSession {
  #outstanding = 0;
  #text = '';

  constructor(
    private readonly payload: Buffer,
    private readonly pattern: RegExp,
    /** RE as written, for the error details. */
    private readonly shown: string,
    private readonly max: number,
  ) {}

  frameRequest(): Uint8Array {
    this.#outstanding++;
    return this.payload;
  }

  receive(chunk: Uint8Array): ReplyCheck[] {
    // Nothing outstanding: the tail of the last reply, after its match.
    if (this.#outstanding === 0) return [];
    const checks: ReplyCheck[] = [];
    this.#text += Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('latin1');
    while (this.#outstanding > 0) {
      const window = this.#text.length > this.max ? this.#text.slice(0, this.max) : this.#text;
      const match = this.pattern.exec(window);
      if (match === null) {
        if (this.#text.length >= this.max) {
          checks.push({ ok: false, code: 'REPLY_TOO_LONG', detail: `${this.shown} did not match within the first ${this.max} bytes of the reply (--max-reply): ${showBytes(window)}` });
        }
        return checks;
      }
      const end = match.index + match[0].length;
      if (match[0].length === 0) {
        checks.push({ ok: false, code: 'EMPTY_MATCH', detail: `${this.shown} matched an empty string at byte ${match.index}; make it match at least one byte` });
        return checks;
      }
      this.#outstanding--;
      checks.push({ ok: true });
      this.#text = this.#outstanding === 0 ? '' : this.#text.slice(end);
    }
    return checks;
  }

  pendingReply(): string {
    return this.#text === '' ? 'nothing arrived' : `${this.shown} does not match what arrived: ${showBytes(this.#text)}`;
  }
}
