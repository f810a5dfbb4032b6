import { BYTE_CLASS, isToken, TOKEN } from '../http/syntax.js';

/** One extension parameter: `name=value`, or `name` alone (value `true`), e.g. `client_max_window_bits`. */
export type ExtensionParam = readonly [name: string, value: string | true];

/** One element of a Sec-WebSocket-Extensions list (RFC 6455 §9.1): an extension and its parameters in order. */
export interface ExtensionOffer {
  /** The extension token, as sent (e.g. `permessage-deflate`). */
  readonly name: string;
  /** The parameters in order; repeats are kept, since RFC 7692 §7 makes a repeated one a reason to decline. */
  readonly params: readonly ExtensionParam[];
}

/**
 * Parse a Sec-WebSocket-Extensions value: `1#( token *( ";" token [ "=" ( token / quoted-string ) ] ) )`
 * with OWS around the separators and empty list elements ignored. A quoted value is unescaped and, as
 * RFC 6455 §9.1 requires, must then be a token. Returns null when the value is malformed.
 */
export function parseExtensions(value: string): ExtensionOffer[] | null {
  const offers: ExtensionOffer[] = [];
  const n = value.length;
  let i = 0;
  const skipOws = (): void => {
    while (i < n && (value[i] === ' ' || value[i] === '\t')) i++;
  };
  const token = (): string => {
    const start = i;
    while (i < n && isTokenChar(value.charCodeAt(i))) i++;
    return value.slice(start, i);
  };
  for (;;) {
    skipOws();
    if (i >= n) break;
    if (value[i] === ',') {
      i++;
      continue;
    }
    const name = token();
    if (name.length === 0) return null;
    const params: ExtensionParam[] = [];
    skipOws();
    while (value[i] === ';') {
      i++;
      skipOws();
      const param = token();
      if (param.length === 0) return null;
      skipOws();
      let paramValue: string | true = true;
      if (value[i] === '=') {
        i++;
        skipOws();
        if (value[i] === '"') {
          const end = quotedEnd(value, i);
          if (end < 0) return null;
          paramValue = value.slice(i + 1, end - 1).replace(/\\(.)/g, '$1');
          i = end;
          if (!isToken(paramValue)) return null;
        } else {
          paramValue = token();
          if (paramValue.length === 0) return null;
        }
        skipOws();
      }
      params.push([param, paramValue]);
    }
    if (i < n && value[i] !== ',') return null;
    offers.push({ name, params });
  }
  return offers;
}

/** The Sec-WebSocket-Extensions value for `offers` (token values bare, others quoted). */
export function formatExtensions(offers: readonly ExtensionOffer[]): string {
  return offers
    .map(({ name, params }) =>
      [name, ...params.map(([param, v]) => (v === true ? param : `${param}=${isToken(v) ? v : `"${v.replace(/["\\]/g, '\\$&')}"`}`))].join('; '),
    )
    .join(', ');
}

/** Offset just past the quoted-string starting at `start` (a `"`), or -1 when it does not close. */
function quotedEnd(value: string, start: number): number {
  for (let i = start + 1; i < value.length; i++) {
    const c = value[i];
    if (c === '\\') i++;
    else if (c === '"') return i + 1;
  }
  return -1;
}

function isTokenChar(c: number): boolean {
  return c < 0x80 && (BYTE_CLASS[c]! & TOKEN) !== 0;
}
