import { ErrorCodes, PorticoError } from '../core/errors.js';
import { DONE, type HandshakeContext, type HandshakeHandler, type HandshakeStep } from './handshake.js';
import { SourceRanges } from './source-ranges.js';

export interface TcpRulesOptions {
  /** Sources refused (CIDR); checked first. */
  readonly deny?: readonly string[];
  /** When given, only these sources are admitted (CIDR). */
  readonly allow?: readonly string[];
  /** Most connections open at once from one source address (0 = no cap). */
  readonly maxPerSource?: number;
  /** How a refused connection is ended: RST (default, no TIME_WAIT here) or FIN. */
  readonly refuse?: 'reset' | 'close';
}

/** What `tcpRules` counts (readable while the server runs). */
export interface TcpRulesStats {
  denied: number;
  notAllowed: number;
  overSourceCap: number;
  /** Source addresses with at least one open connection. */
  sources: number;
}

/** A TCP-rules handler with its counters. */
export interface TcpRulesHandler extends HandshakeHandler {
  readonly stats: Readonly<TcpRulesStats>;
}

/**
 * HAProxy's `tcp-request connection reject` rules: refuse sources by CIDR (IPv4 and IPv6) and cap the
 * connections one source may hold at once. The source is the peer the layers see at this point — put
 * it after accept-proxy to judge the original client rather than the proxy.
 */
export function tcpRules(options: TcpRulesOptions): TcpRulesHandler {
  const deny = new SourceRanges(options.deny ?? []);
  const allow = options.allow === undefined ? null : new SourceRanges(options.allow);
  const cap = options.maxPerSource ?? 0;
  if (!Number.isInteger(cap) || cap < 0) throw new PorticoError(ErrorCodes.CONFIG, 'layers', `maxPerSource must be a non-negative integer, got ${String(cap)}`);
  const refuse = options.refuse ?? 'reset';
  if (refuse !== 'reset' && refuse !== 'close') throw new PorticoError(ErrorCodes.CONFIG, 'layers', `refuse must be 'reset' or 'close', got ${String(refuse)}`);
  const open = new Map<string, number>();
  const stats: TcpRulesStats = { denied: 0, notAllowed: 0, overSourceCap: 0, sources: 0 };
  const reject = (message: string): HandshakeStep => ({ kind: 'reject', close: refuse, error: new PorticoError(ErrorCodes.REJECTED, 'layers', message) });
  return {
    name: 'tcp-rules',
    stats,
    start(ctx: HandshakeContext): HandshakeStep {
      const source = ctx.remote.address;
      if (deny.has(source)) {
        stats.denied++;
        return reject(`source ${source} is denied`);
      }
      if (allow !== null && !allow.has(source)) {
        stats.notAllowed++;
        return reject(`source ${source} is not in the allowed ranges`);
      }
      if (cap === 0) return DONE;
      const count = open.get(source) ?? 0;
      if (count >= cap) {
        stats.overSourceCap++;
        return reject(`source ${source} already has ${count} connections (cap ${cap})`);
      }
      open.set(source, count + 1);
      stats.sources = open.size;
      ctx.onFinished(() => {
        const left = (open.get(source) ?? 1) - 1;
        if (left <= 0) open.delete(source);
        else open.set(source, left);
        stats.sources = open.size;
      });
      return DONE;
    },
  };
}
