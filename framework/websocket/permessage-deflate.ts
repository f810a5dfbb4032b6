import { checkRange } from '../framing/checks.js';
import type { ExtensionOffer, ExtensionParam } from './extensions.js';
import { sharedZlibGate, type ZlibGate } from './zlib-gate.js';

/** The extension token of RFC 7692. */
export const PERMESSAGE_DEFLATE = 'permessage-deflate';

/**
 * Server options of permessage-deflate (RFC 7692). Every field has a default; `{}` turns compression
 * on with ws's defaults. Memory per connection that compressed something: an inflate context of about
 * 2^clientMaxWindowBits + 7 KiB, and a deflate context of about 2^(serverMaxWindowBits + 2) +
 * 2^(memLevel + 9) bytes (256 KiB at the defaults) — unless the direction has no context takeover, when
 * the context lives only while a message is being compressed or inflated.
 */
export interface PerMessageDeflateOptions {
  /** Always ask for server_no_context_takeover: every message we send is compressed on its own. Default false (accepted when a client asks). */
  serverNoContextTakeover?: boolean;
  /** Always answer client_no_context_takeover: the client compresses each message on its own. Default false (echoed when a client offers it). */
  clientNoContextTakeover?: boolean;
  /** Largest LZ77 window we compress with, 8–15 (a client's smaller server_max_window_bits wins). Default 15. */
  serverMaxWindowBits?: number;
  /**
   * Largest LZ77 window a client may compress with, 8–15. Below 15 it is a hard limit on our inflate
   * memory: an offer without client_max_window_bits cannot be held to it, so it is declined. Default 15.
   */
  clientMaxWindowBits?: number;
  /** Messages of fewer bytes are sent uncompressed (a thread-pool round trip is not worth it). Default 1024. */
  threshold?: number;
  /** zlib compression level, 0–9 (-1 is zlib's default, 6). Default -1. */
  level?: number;
  /** zlib memLevel, 1–9: deflate hash memory is 2^(memLevel + 9) bytes. Default 8. */
  memLevel?: number;
  /**
   * Most zlib jobs (one message inflated or compressed) running at once, across every server of the
   * process that asks for the same limit: zlib runs on libuv's thread pool (4 threads unless
   * UV_THREADPOOL_SIZE says otherwise) and unbounded concurrent jobs fragment memory (ws issue 1202).
   * Further jobs wait in FIFO order. Default 10, as ws.
   */
  concurrency?: number;
}

/** The options with their defaults, and the process-wide gate their `concurrency` selects. */
export interface ResolvedPerMessageDeflateOptions {
  readonly serverNoContextTakeover: boolean;
  readonly clientNoContextTakeover: boolean;
  readonly serverMaxWindowBits: number;
  readonly clientMaxWindowBits: number;
  readonly threshold: number;
  readonly level: number;
  readonly memLevel: number;
  readonly gate: ZlibGate;
}

/** What one connection agreed to (RFC 7692 §7.1), from the server's side. */
export interface PerMessageDeflateParams {
  /** We compress each message with a fresh context. */
  readonly serverNoContextTakeover: boolean;
  /** The client compresses each message with a fresh context (so we may drop ours between messages). */
  readonly clientNoContextTakeover: boolean;
  /** The window we promised not to exceed when compressing (8–15). */
  readonly serverMaxWindowBits: number;
  /** The window the client may use, and so the one we inflate with (8–15). */
  readonly clientMaxWindowBits: number;
}

/** An accepted offer: the agreed parameters and the element of the 101's Sec-WebSocket-Extensions. */
export interface DeflateAgreement {
  readonly params: PerMessageDeflateParams;
  readonly response: ExtensionOffer;
  readonly options: ResolvedPerMessageDeflateOptions;
}

/** Fill in defaults and check ranges; throws INVALID_ARGUMENT for a value out of range. */
export function resolvePerMessageDeflateOptions(options: PerMessageDeflateOptions): ResolvedPerMessageDeflateOptions {
  const serverMaxWindowBits = options.serverMaxWindowBits ?? 15;
  const clientMaxWindowBits = options.clientMaxWindowBits ?? 15;
  const threshold = options.threshold ?? 1024;
  const level = options.level ?? -1;
  const memLevel = options.memLevel ?? 8;
  const concurrency = options.concurrency ?? 10;
  checkRange(serverMaxWindowBits, 8, 15, 'perMessageDeflate.serverMaxWindowBits', 'websocket');
  checkRange(clientMaxWindowBits, 8, 15, 'perMessageDeflate.clientMaxWindowBits', 'websocket');
  checkRange(threshold, 0, Number.MAX_SAFE_INTEGER, 'perMessageDeflate.threshold', 'websocket');
  checkRange(level, -1, 9, 'perMessageDeflate.level', 'websocket');
  checkRange(memLevel, 1, 9, 'perMessageDeflate.memLevel', 'websocket');
  checkRange(concurrency, 1, 1 << 20, 'perMessageDeflate.concurrency', 'websocket');
  return Object.freeze({
    serverNoContextTakeover: options.serverNoContextTakeover === true,
    clientNoContextTakeover: options.clientNoContextTakeover === true,
    serverMaxWindowBits,
    clientMaxWindowBits,
    threshold,
    level,
    memLevel,
    gate: sharedZlibGate(concurrency),
  });
}

/** The parameters of one permessage-deflate offer (each parameter appears at most once). */
export interface DeflateOffer {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | null;
  /** null: not offered; true: offered without a value; a number: offered with one. */
  clientMaxWindowBits: number | true | null;
}

/** RFC 7692 §7.1.2: a window size is 1*DIGIT without leading zeros, 8 to 15. */
const WINDOW_BITS = /^(?:8|9|1[0-5])$/;

/**
 * The parameters of a permessage-deflate offer, or null when the server must decline it (RFC 7692 §7):
 * a parameter not defined for an offer, an invalid value, or the same parameter twice.
 */
export function parseDeflateOffer(params: readonly ExtensionParam[]): DeflateOffer | null {
  const offer: DeflateOffer = { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: null, clientMaxWindowBits: null };
  const seen = new Set<string>();
  for (const [name, value] of params) {
    if (seen.has(name)) return null;
    seen.add(name);
    switch (name) {
      case 'server_no_context_takeover':
        if (value !== true) return null;
        offer.serverNoContextTakeover = true;
        break;
      case 'client_no_context_takeover':
        if (value !== true) return null;
        offer.clientNoContextTakeover = true;
        break;
      case 'server_max_window_bits':
        if (value === true || !WINDOW_BITS.test(value)) return null;
        offer.serverMaxWindowBits = Number(value);
        break;
      case 'client_max_window_bits':
        if (value !== true && !WINDOW_BITS.test(value)) return null;
        offer.clientMaxWindowBits = value === true ? true : Number(value);
        break;
      default:
        return null;
    }
  }
  return offer;
}

/**
 * Server side negotiation (RFC 7692 §5 and §7.1): accept the first permessage-deflate offer in the
 * client's order that can be accepted, or null for none — then the connection simply goes on without
 * compression. A server never fails the handshake over an offer: the failure rules of §7 are the
 * client's, for a bad response. Other extensions in the list are ignored (none is supported).
 *
 * - server_no_context_takeover: in the response when offered or configured.
 * - client_no_context_takeover: in the response when configured, and echoed when offered (a client
 *   that offers it will not use context takeover anyway; saying so lets us drop the inflate context
 *   between messages).
 * - server_max_window_bits: min(offered, configured) when offered; the configured value when it is
 *   below 15 and nothing was offered (a server MAY send it unasked).
 * - client_max_window_bits: only when offered (RFC 7692 §7.1.2.2), min(offered value, configured);
 *   omitted when that is 15. An offer without it is declined when `clientMaxWindowBits` < 15.
 */
export function negotiatePerMessageDeflate(offers: readonly ExtensionOffer[], options: ResolvedPerMessageDeflateOptions): DeflateAgreement | null {
  for (const element of offers) {
    if (element.name !== PERMESSAGE_DEFLATE) continue;
    const offer = parseDeflateOffer(element.params);
    if (offer === null) continue;
    if (offer.clientMaxWindowBits === null && options.clientMaxWindowBits < 15) continue;
    const serverNoContextTakeover = offer.serverNoContextTakeover || options.serverNoContextTakeover;
    const clientNoContextTakeover = offer.clientNoContextTakeover || options.clientNoContextTakeover;
    const serverMaxWindowBits = Math.min(offer.serverMaxWindowBits ?? 15, options.serverMaxWindowBits);
    const clientMaxWindowBits =
      offer.clientMaxWindowBits === null ? 15 : Math.min(offer.clientMaxWindowBits === true ? 15 : offer.clientMaxWindowBits, options.clientMaxWindowBits);
    const response: ExtensionParam[] = [];
    if (serverNoContextTakeover) response.push(['server_no_context_takeover', true]);
    if (clientNoContextTakeover) response.push(['client_no_context_takeover', true]);
    if (offer.serverMaxWindowBits !== null || serverMaxWindowBits < 15) response.push(['server_max_window_bits', String(serverMaxWindowBits)]);
    if (offer.clientMaxWindowBits !== null && clientMaxWindowBits < 15) response.push(['client_max_window_bits', String(clientMaxWindowBits)]);
    return {
      params: Object.freeze({ serverNoContextTakeover, clientNoContextTakeover, serverMaxWindowBits, clientMaxWindowBits }),
      response: Object.freeze({ name: PERMESSAGE_DEFLATE, params: Object.freeze(response) }),
      options,
    };
  }
  return null;
}
