/**
 * @internal Byte classes and small grammar helpers of RFC 9110 §5.6 shared by the head parsers, the
 * response writer and the WebSocket handshake. Tables, not regexes, so a line is checked in one pass
 * over its bytes without building strings first.
 */

/** @internal tchar (RFC 9110 §5.6.2): method, field names, list tokens. */
export const TOKEN = 1;
/** @internal field-vchar, SP and HTAB (RFC 9110 §5.5): what a field value may hold; obs-text included. */
export const FIELD_VALUE = 2;
/** @internal VCHAR (0x21–0x7E): what the request-target may hold (finer URI syntax is the application's). */
export const TARGET = 4;
/** @internal Bytes that can appear nowhere in a head except as the CRLF line end: CTLs but HTAB, DEL. */
export const NEVER = 8;

/** @internal One byte-class bit set per byte value. */
export const BYTE_CLASS: Uint8Array = (() => {
  const table = new Uint8Array(256);
  const tchar = "!#$%&'*+-.^_`|~";
  for (let b = 0; b < 256; b++) {
    let c = 0;
    const alnum = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);
    if (alnum || tchar.includes(String.fromCharCode(b))) c |= TOKEN;
    if (b === 0x09 || (b >= 0x20 && b !== 0x7f)) c |= FIELD_VALUE;
    if (b >= 0x21 && b <= 0x7e) c |= TARGET;
    if ((b < 0x20 && b !== 0x09 && b !== 0x0d && b !== 0x0a) || b === 0x7f) c |= NEVER;
    table[b] = c;
  }
  return table;
})();

/** @internal Line feed. */
export const LF = 0x0a;
/** @internal Carriage return. */
export const CR = 0x0d;
/** @internal Space. */
export const SP = 0x20;
/** @internal Horizontal tab. */
export const HTAB = 0x09;

/** @internal True when `text` is a non-empty token (RFC 9110 §5.6.2). */
export function isToken(text: string): boolean {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff || (BYTE_CLASS[c]! & TOKEN) === 0) return false;
  }
  return true;
}

/** @internal True when `text` may be sent as a field value: no CR, LF, NUL or other CTL but HTAB (header-injection guard). */
export function isFieldValue(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff || (BYTE_CLASS[c]! & FIELD_VALUE) === 0) return false;
  }
  return true;
}

/** @internal ASCII lower case: field names and list tokens are case-insensitive, and `toLowerCase` would also fold non-ASCII. */
export function asciiLower(text: string): string {
  // The common case (already lower case) returns the same string without allocating.
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) return text.replace(/[A-Z]+/g, (m) => m.toLowerCase());
  }
  return text;
}

/**
 * @internal The elements of a comma-separated list field (RFC 9110 §5.6.1): split on commas outside
 * quoted strings, each element OWS-trimmed, empty elements dropped (the RFC says recipients must
 * accept and ignore them). Quoted strings are kept as sent, quotes included.
 */
export function splitList(value: string): string[] {
  const out: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (quoted) {
      if (c === 0x5c) i++; // quoted-pair: the next character is literal
      else if (c === 0x22) quoted = false;
    } else if (c === 0x22) {
      quoted = true;
    } else if (c === 0x2c) {
      pushElement(out, value, start, i);
      start = i + 1;
    }
  }
  pushElement(out, value, start, value.length);
  return out;
}

function pushElement(out: string[], value: string, start: number, end: number): void {
  const element = trimOws(value, start, end);
  if (element.length > 0) out.push(element);
}

/** @internal `text.slice(start, end)` without leading or trailing SP / HTAB. */
export function trimOws(text: string, start = 0, end = text.length): string {
  while (start < end && isOws(text.charCodeAt(start))) start++;
  while (end > start && isOws(text.charCodeAt(end - 1))) end--;
  return text.slice(start, end);
}

function isOws(c: number): boolean {
  return c === SP || c === HTAB;
}

// The field names, methods and values nearly every head carries, as shared strings: a parsed head can
// live as long as its connection (a WebSocket keeps its upgrade request), and a lower-cased copy of
// "sec-websocket-version" per connection is memory for nothing. Anything else is kept as parsed.
const COMMON = new Map<string, string>(
  [
    'host', 'connection', 'upgrade', 'origin', 'user-agent', 'accept', 'accept-encoding', 'accept-language',
    'cache-control', 'pragma', 'cookie', 'authorization', 'content-length', 'content-type', 'transfer-encoding',
    'expect', 'referer', 'sec-websocket-key', 'sec-websocket-version', 'sec-websocket-extensions',
    'sec-websocket-protocol', 'sec-websocket-origin', 'sec-fetch-dest', 'sec-fetch-mode', 'sec-fetch-site',
    'x-forwarded-for', 'forwarded',
    'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS',
    'websocket', 'Upgrade', 'keep-alive', 'close', 'Keep-Alive', 'Close', '13', '8', 'chunked', 'gzip, deflate',
    'permessage-deflate; client_max_window_bits', 'no-cache', '*/*',
  ].map((text) => [text, text]),
);

/** @internal The shared copy of a common header string (see COMMON), else `text` itself. */
export function internCommon(text: string): string {
  return text.length <= 48 ? (COMMON.get(text) ?? text) : text;
}
