import { readFileSync } from 'node:fs';
import {
  ErrorCodes,
  PorticoError,
  SourceRanges,
  acceptProxy,
  healthCheck,
  tcpRules,
  tlsHandshake,
  type Connection,
  type HandshakeHandler,
  type ServerCallbacks,
} from '../../framework/index.js';
import type { FlagSpec, FlagValues } from './flags.js';

/** The connection-layer flags a server can offer (accept-proxy, rules, health check, handshake deadline, connection log). */
export const layerFlags: readonly FlagSpec[] = [
  { name: 'accept-proxy', kind: 'boolean', description: 'require a PROXY protocol header (v1 or v2) on every connection; the header names the client', default: false },
  {
    name: 'proxy-from',
    kind: 'string',
    description: 'with --accept-proxy: only these sockets (comma-separated CIDR, judged by the connecting address, before the header) may connect — your load balancers',
  },
  { name: 'allow', kind: 'string', description: "admit only these clients, comma-separated CIDR (e.g. 10.0.0.0/8,::1); with --accept-proxy, the header's client (see --proxy-from)" },
  { name: 'deny', kind: 'string', description: "refuse these clients, comma-separated CIDR; with --accept-proxy, the header's client" },
  { name: 'max-per-source', kind: 'integer', description: 'connections one source address may hold at once; 0 = no cap', default: 0, min: 0 },
  { name: 'health-from', kind: 'string', description: "answer connections from these sources (comma-separated CIDR) with 'OK' and close: a load balancer's monitor" },
  { name: 'tls-cert', kind: 'string', description: 'serve TLS with this PEM certificate (chain) file; needs --tls-key' },
  { name: 'tls-key', kind: 'string', description: 'the PEM private key file for --tls-cert' },
  { name: 'handshake-timeout', kind: 'duration', description: 'reset a connection whose layers (PROXY header, ...) are not done by then', default: '5s', min: 1 },
  { name: 'log-connections', kind: 'boolean', description: 'one JSON line per connection on stderr: accepted (client, socket peer, PROXY header) or refused by a layer (which, and why)', default: false },
];

function cidrList(value: unknown, flag: string): string[] | undefined {
  if (typeof value !== 'string') return undefined;
  const list = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (list.length === 0) throw new PorticoError(ErrorCodes.CONFIG, 'host', `${flag}: expected comma-separated CIDR ranges, got ${JSON.stringify(value)}`);
  try {
    new SourceRanges(list);
  } catch (error) {
    throw new PorticoError(ErrorCodes.CONFIG, 'host', `${flag}: ${(error as Error).message}`);
  }
  return list;
}

/** A PEM file's bytes, or PORTICO_ERR_CONFIG naming the flag and why it cannot be read. */
export function readPem(path: string, flag: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new PorticoError(ErrorCodes.CONFIG, 'host', `${flag}: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

/**
 * The handshake layers the flags ask for, in HAProxy's order: the PROXY header first (it says who the
 * client is, and is sent in clear), then the monitor answer and the rules (judging that client), then TLS.
 */
export function handshakesFromFlags(options: FlagValues): HandshakeHandler[] {
  const layers: HandshakeHandler[] = [];
  const proxyFrom = cidrList(options['proxy-from'], '--proxy-from');
  if (proxyFrom !== undefined && options['accept-proxy'] !== true) throw new PorticoError(ErrorCodes.CONFIG, 'host', '--proxy-from needs --accept-proxy');
  // Before the header is read, the peer is the socket's: only the load balancers may send one.
  if (proxyFrom !== undefined) layers.push(tcpRules({ allow: proxyFrom }));
  if (options['accept-proxy'] === true) layers.push(acceptProxy());
  const health = cidrList(options['health-from'], '--health-from');
  if (health !== undefined) layers.push(healthCheck({ sources: health }));
  const allow = cidrList(options['allow'], '--allow');
  const deny = cidrList(options['deny'], '--deny');
  const cap = (options['max-per-source'] as number | undefined) ?? 0;
  if (allow !== undefined || deny !== undefined || cap > 0) {
    layers.push(tcpRules({ ...(allow !== undefined ? { allow } : {}), ...(deny !== undefined ? { deny } : {}), maxPerSource: cap }));
  }
  const cert = options['tls-cert'];
  const key = options['tls-key'];
  if ((cert === undefined) !== (key === undefined)) throw new PorticoError(ErrorCodes.CONFIG, 'host', '--tls-cert and --tls-key go together');
  if (typeof cert === 'string' && typeof key === 'string') layers.push(tlsHandshake({ cert: readPem(cert, '--tls-cert'), key: readPem(key, '--tls-key') }));
  return layers;
}

/**
 * With `--log-connections`, connections the layers refused are logged too (one JSON line each): an
 * operator must see why clients are reset — a bad PROXY header, a rule, a deadline, a TLS failure.
 */
export function handshakeLogCallbacks(server: string, options: FlagValues): ServerCallbacks {
  if (options['log-connections'] !== true) return {};
  return {
    onHandshakeFailed(peer, outcome) {
      const error = outcome.kind === 'failed' ? { code: outcome.error.code, message: outcome.error.message } : {};
      process.stderr.write(JSON.stringify({ event: 'handshake-failed', server, socketRemote: { address: peer.address, port: peer.port }, layer: outcome.handler, outcome: outcome.kind, ...error }) + '\n');
    },
  };
}

/** The JSON line `--log-connections` prints for a connection that reached the protocol. */
export function connectionLogLine<U>(server: string, conn: Connection<U>): string {
  const endpoint = (e: { address: string; port: number }): { address: string; port: number } => ({ address: e.address, port: e.port });
  const proxied = conn.proxied;
  return JSON.stringify({
    event: 'connection',
    server,
    id: conn.id,
    remote: endpoint(conn.remote),
    local: endpoint(conn.local),
    socketRemote: endpoint(conn.socketRemote),
    transport: conn.transport.kind,
    proxied: proxied === null ? null : { version: proxied.version, command: proxied.command, kind: proxied.kind, tlvs: proxied.tlvs.length },
  });
}
