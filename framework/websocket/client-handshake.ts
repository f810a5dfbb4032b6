import { randomBytes as cryptoRandomBytes } from 'node:crypto';
import { ErrorCodes, PorticoError } from '../core/errors.js';
import { formatRequestHead, type HeaderPair } from '../http/head-writer.js';
import type { ResponseHead } from '../http/response-head-parser.js';
import { isToken } from '../http/syntax.js';
import { websocketAccept } from './accept-key.js';
import { type ExtensionOffer, formatExtensions, parseExtensions } from './extensions.js';

/** How to build a client's upgrade request. */
export interface ClientUpgradeOptions {
  /** The Host value: `host` or `host:port`. */
  host: string;
  /** The request-target (origin-form). Default "/". */
  path?: string;
  /** 13 (RFC 6455) or 8 (HyBi-08, as ws's `protocolVersion: 8`). Default 13. */
  version?: 13 | 8;
  /** Sent as Origin for 13 and Sec-WebSocket-Origin for 8, as browsers and ws do; none when absent. */
  origin?: string;
  /** Subprotocols to offer, in preference order. */
  protocols?: readonly string[];
  /** Extensions to offer. */
  extensions?: readonly ExtensionOffer[];
  /** More fields to send after the handshake's own. */
  headers?: readonly HeaderPair[];
  /** Where the 16 key bytes come from (inject for reproducible tests). Default `crypto.randomBytes`. */
  randomBytes?: (size: number) => Uint8Array;
}

/** A built upgrade request and what the answer must match. */
export interface ClientUpgrade {
  /** The request bytes to write. */
  readonly request: Buffer;
  /** The Sec-WebSocket-Key sent. */
  readonly key: string;
  /** The Sec-WebSocket-Accept the server must answer with. */
  readonly accept: string;
  /** The version asked for. */
  readonly version: 13 | 8;
  /** The subprotocols offered. */
  readonly protocols: readonly string[];
  /** The extensions offered. */
  readonly extensions: readonly ExtensionOffer[];
}

/** What `checkUpgradeResponse` decided about the server's answer. */
export type UpgradeResponseCheck =
  | { readonly kind: 'accept'; /** The subprotocol the server chose, or null. */ readonly protocol: string | null; /** The extensions it agreed to. */ readonly extensions: readonly ExtensionOffer[] }
  | { readonly kind: 'reject'; /** PORTICO_ERR_WEBSOCKET_HANDSHAKE with the reason. */ readonly error: PorticoError };

/** Build a client's opening handshake (for load generators and tests; a browser-grade client would also do TLS and redirects). */
export function buildClientUpgrade(options: ClientUpgradeOptions): ClientUpgrade {
  const version = options.version ?? 13;
  const protocols = options.protocols ?? [];
  const extensions = options.extensions ?? [];
  for (const protocol of protocols) {
    if (!isToken(protocol)) throw new PorticoError(ErrorCodes.INVALID_ARGUMENT, 'http', `subprotocol ${JSON.stringify(protocol)} is not a token`);
  }
  const nonce = (options.randomBytes ?? cryptoRandomBytes)(16);
  if (nonce.length !== 16) throw new PorticoError(ErrorCodes.INVALID_ARGUMENT, 'http', `randomBytes(16) returned ${nonce.length} bytes`);
  const key = Buffer.from(nonce.buffer, nonce.byteOffset, 16).toString('base64');
  const headers: HeaderPair[] = [
    ['Host', options.host],
    ['Upgrade', 'websocket'],
    ['Connection', 'Upgrade'],
    ['Sec-WebSocket-Key', key],
    ['Sec-WebSocket-Version', String(version)],
  ];
  if (options.origin !== undefined) headers.push([version === 13 ? 'Origin' : 'Sec-WebSocket-Origin', options.origin]);
  if (protocols.length > 0) headers.push(['Sec-WebSocket-Protocol', protocols.join(', ')]);
  if (extensions.length > 0) headers.push(['Sec-WebSocket-Extensions', formatExtensions(extensions)]);
  if (options.headers !== undefined) headers.push(...options.headers);
  const request = formatRequestHead('GET', options.path ?? '/', headers);
  return { request, key, accept: websocketAccept(key), version, protocols, extensions };
}

function refused(reason: string): UpgradeResponseCheck {
  return { kind: 'reject', error: new PorticoError(ErrorCodes.WEBSOCKET_HANDSHAKE, 'http', reason) };
}

/**
 * Check a server's answer to `upgrade` as RFC 6455 §4.1 asks a client to: 101, Upgrade websocket,
 * Connection upgrade, the exact accept key, a subprotocol only from those offered, extensions only
 * from those offered. Parse the head with `ResponseHeadParser`; the bytes after it are frames.
 */
export function checkUpgradeResponse(upgrade: ClientUpgrade, head: ResponseHead): UpgradeResponseCheck {
  if (head.status !== 101) return refused(`the server answered ${head.status}, not 101`);
  if (!head.listHas('upgrade', 'websocket')) return refused('the 101 has no Upgrade: websocket');
  if (!head.listHas('connection', 'upgrade')) return refused('the 101 has no Connection: upgrade');
  if (head.get('sec-websocket-accept') !== upgrade.accept) return refused('Sec-WebSocket-Accept does not match the key');
  const protocol = head.get('sec-websocket-protocol');
  if (protocol !== null && !upgrade.protocols.includes(protocol)) return refused('the server chose a subprotocol that was not offered');
  const extensionsText = head.get('sec-websocket-extensions');
  const extensions = extensionsText === null ? [] : parseExtensions(extensionsText);
  if (extensions === null) return refused('Sec-WebSocket-Extensions is malformed');
  const offered = new Set(upgrade.extensions.map((offer) => offer.name));
  if (extensions.some((extension) => !offered.has(extension.name))) return refused('the server agreed to an extension that was not offered');
  return { kind: 'accept', protocol, extensions };
}
