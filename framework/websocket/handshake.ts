import { ErrorCodes, PorticoError } from '../core/errors.js';
import { formatErrorResponse, formatResponseHead, type HeaderPair } from '../http/head-writer.js';
import type { RequestHead } from '../http/request-head-parser.js';
import { isToken } from '../http/syntax.js';
import { isWebSocketKey, websocketAccept } from './accept-key.js';
import { type ExtensionOffer, formatExtensions, parseExtensions } from './extensions.js';

/** The WebSocket protocol versions a server accepts: 13 (RFC 6455), 8 (HyBi-08 to 12), 7 (HyBi-07). */
export type WebSocketVersion = 7 | 8 | 13;

/** What a refused client is told it may retry with (7 is still accepted, but not offered). */
export const SUPPORTED_VERSIONS = '13, 8';

/** Hooks a server plugs into `validateUpgrade`. Both run synchronously, after every syntax check passed. */
export interface HandshakeOptions {
  /**
   * May a request from `origin` upgrade? false answers 403. `origin` is the Origin field for v13 and
   * Sec-WebSocket-Origin for v7/8, null when absent (not a browser). Default: every origin may.
   */
  checkOrigin?: (origin: string | null, head: RequestHead) => boolean;
  /**
   * Pick one of `offered` (the client's order, never empty) or null for none. Returning anything else
   * throws INVALID_ARGUMENT: the hook is wrong, not the client. Default: none is selected, so the
   * application opts in to each subprotocol it speaks.
   */
  selectProtocol?: (offered: readonly string[], head: RequestHead) => string | null;
}

/** An upgrade request that passed: everything needed to answer 101 and start framing. */
export interface AcceptedHandshake {
  /** The version the client asked for; framing and close rules follow it. */
  readonly version: WebSocketVersion;
  /** Sec-WebSocket-Key as sent. */
  readonly key: string;
  /** Sec-WebSocket-Accept to answer with. */
  readonly accept: string;
  /** Origin (v13) or Sec-WebSocket-Origin (v7/8), null when absent. */
  readonly origin: string | null;
  /** The subprotocols the client offered, in its order. */
  readonly protocols: readonly string[];
  /** The one `selectProtocol` picked, or null. */
  readonly protocol: string | null;
  /** The extensions the client offered, parsed; none is negotiated here (permessage-deflate is the caller's, v13 only). */
  readonly extensions: readonly ExtensionOffer[];
  /** The path of the request-target, not percent-decoded ("/" when an absolute-form target has none). */
  readonly path: string;
  /** The query after "?", not decoded; null when there is no "?". */
  readonly query: string | null;
  /** The request head itself, for anything else (cookies, authorization). */
  readonly head: RequestHead;
}

/** The statuses a handshake is refused with. */
export type HandshakeRejectStatus = 400 | 403 | 405 | 426;

/** Why an upgrade request was refused, and the fields to send with the refusal. */
export interface HandshakeRejection {
  /** 400 bad handshake, 403 origin refused, 405 not GET, 426 not an upgrade or an unsupported version. */
  readonly status: HandshakeRejectStatus;
  /** A short reason for the body and the logs (never echoes request bytes). */
  readonly reason: string;
  /** Fields the status calls for (Allow, Upgrade, Sec-WebSocket-Version). */
  readonly headers: readonly HeaderPair[];
}

/** What `validateUpgrade` decided. */
export type HandshakeResult =
  | { readonly kind: 'accept'; readonly handshake: AcceptedHandshake }
  | { readonly kind: 'reject'; readonly rejection: HandshakeRejection };

const UPGRADE_HEADERS: readonly HeaderPair[] = Object.freeze([
  ['Upgrade', 'websocket'],
  ['Connection', 'Upgrade'],
  ['Sec-WebSocket-Version', SUPPORTED_VERSIONS],
] as const);

function reject(status: HandshakeRejectStatus, reason: string, headers: readonly HeaderPair[] = []): HandshakeResult {
  return { kind: 'reject', rejection: { status, reason, headers } };
}

/**
 * Check a parsed request head as a WebSocket opening handshake (RFC 6455 §4.2.1; HyBi-07/08 differ only
 * in the version and the origin field). Checks run from the cheapest and least specific to the hooks:
 * method (405 with `Allow: GET`: the method, not the syntax, is wrong — as ws answers), HTTP/1.1,
 * Upgrade and Connection (a request with neither is plain HTTP: 426 naming websocket), Host, version
 * (426 with `Sec-WebSocket-Version: 13, 8`; a malformed one 400), key, subprotocol and extension
 * syntax, the request-target, then `checkOrigin` (403) and `selectProtocol`.
 */
export function validateUpgrade(head: RequestHead, options: HandshakeOptions = {}): HandshakeResult {
  if (head.method !== 'GET') return reject(405, 'a WebSocket handshake must be a GET', [['Allow', 'GET']]);
  if (head.version !== '1.1') return reject(400, 'a WebSocket handshake needs HTTP/1.1');
  const upgrade = head.has('upgrade');
  const connectionUpgrade = head.listHas('connection', 'upgrade');
  if (!upgrade && !connectionUpgrade) return reject(426, 'this resource speaks WebSocket only', UPGRADE_HEADERS);
  if (!head.listHas('upgrade', 'websocket')) return reject(400, 'Upgrade must name websocket');
  if (!connectionUpgrade) return reject(400, 'Connection must include upgrade');
  if (!head.has('host')) return reject(400, 'a WebSocket handshake needs Host');

  const versionText = head.get('sec-websocket-version');
  if (versionText === null) return reject(426, 'Sec-WebSocket-Version is missing', UPGRADE_HEADERS);
  // version = 0-255 without leading zeros (RFC 6455 §4.1 / §11.3.5).
  if (!/^(?:0|[1-9][0-9]{0,2})$/.test(versionText) || Number(versionText) > 255) {
    return reject(400, 'Sec-WebSocket-Version is malformed', [['Sec-WebSocket-Version', SUPPORTED_VERSIONS]]);
  }
  const version = Number(versionText);
  if (version !== 13 && version !== 8 && version !== 7) return reject(426, `WebSocket version ${version} is not supported`, UPGRADE_HEADERS);

  const key = head.get('sec-websocket-key');
  if (key === null) return reject(400, 'Sec-WebSocket-Key is missing');
  if (!isWebSocketKey(key)) return reject(400, 'Sec-WebSocket-Key must be base64 of 16 bytes');

  const protocols = head.list('sec-websocket-protocol');
  if (head.has('sec-websocket-protocol') && (protocols.length === 0 || !protocols.every(isToken) || new Set(protocols).size !== protocols.length)) {
    return reject(400, 'Sec-WebSocket-Protocol must be distinct tokens');
  }
  const extensionsText = head.get('sec-websocket-extensions');
  const extensions = extensionsText === null ? [] : parseExtensions(extensionsText);
  if (extensions === null) return reject(400, 'Sec-WebSocket-Extensions is malformed');

  const target = splitTarget(head.target);
  if (target === null) return reject(400, 'the request-target must be a path (origin-form or absolute-form)');

  const origin = head.get(version === 13 ? 'origin' : 'sec-websocket-origin');
  if (options.checkOrigin !== undefined && !options.checkOrigin(origin, head)) return reject(403, 'origin not allowed');

  let protocol: string | null = null;
  if (protocols.length > 0 && options.selectProtocol !== undefined) {
    protocol = options.selectProtocol(protocols, head);
    if (protocol !== null && !protocols.includes(protocol)) {
      throw new PorticoError(ErrorCodes.INVALID_ARGUMENT, 'http', `selectProtocol returned ${JSON.stringify(protocol)}, which the client did not offer`);
    }
  }
  return {
    kind: 'accept',
    handshake: { version, key, accept: websocketAccept(key), origin, protocols, protocol, extensions, path: target.path, query: target.query, head },
  };
}

/** What the 101 answer carries beyond the accept key. */
export interface AcceptResponseOptions {
  /** The negotiated extensions (with the server's parameters), as offers or an already formatted value. */
  extensions?: readonly ExtensionOffer[] | string;
  /** More fields (Set-Cookie, ...); checked against header injection. */
  headers?: readonly HeaderPair[];
}

/** The exact bytes of the 101 Switching Protocols answer to an accepted handshake. */
export function formatAcceptResponse(handshake: Pick<AcceptedHandshake, 'accept' | 'protocol'>, options: AcceptResponseOptions = {}): Buffer {
  const headers: HeaderPair[] = [
    ['Upgrade', 'websocket'],
    ['Connection', 'Upgrade'],
    ['Sec-WebSocket-Accept', handshake.accept],
  ];
  if (handshake.protocol !== null) headers.push(['Sec-WebSocket-Protocol', handshake.protocol]);
  const extensions = options.extensions;
  const extensionsText = extensions === undefined ? '' : typeof extensions === 'string' ? extensions : formatExtensions(extensions);
  if (extensionsText.length > 0) headers.push(['Sec-WebSocket-Extensions', extensionsText]);
  if (options.headers !== undefined) headers.push(...options.headers);
  return formatResponseHead(101, headers);
}

/** The exact bytes of a refusal: its status, `Connection: close`, its fields, and the reason as a text body. */
export function formatRejectResponse(rejection: HandshakeRejection): Buffer {
  return formatErrorResponse(rejection.status, rejection.reason, rejection.headers);
}

/**
 * @internal Path and query of an origin-form (`/p?q`) or absolute-form (`ws://h/p?q`) target; null for
 * the asterisk and authority forms, and for a fragment, which a request-target cannot hold (RFC 9112 §3.2).
 */
export function splitTarget(target: string): { path: string; query: string | null } | null {
  if (target.includes('#')) return null;
  let rest = target;
  if (!target.startsWith('/')) {
    const authority = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?]*/.exec(target);
    if (authority === null) return null;
    rest = target.slice(authority[0].length);
  }
  const q = rest.indexOf('?');
  const path = q < 0 ? rest : rest.slice(0, q);
  return { path: path.length === 0 ? '/' : path, query: q < 0 ? null : rest.slice(q + 1) };
}
