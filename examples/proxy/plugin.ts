import * as tls from 'node:tls';
import { ErrorCodes, PorticoError, encodeProxyHeaderV1, encodeProxyHeaderV2, type Connection, type TlsClientHandshakeOptions } from '../../framework/index.js';
import { connectionLogLine, handshakeLogCallbacks, handshakesFromFlags, layerFlags, readPem } from '../shared/layer-flags.js';
import type { FlagValues } from '../shared/flags.js';
import { listenFlags, type ServerPlugin } from '../shared/plugin.js';
import { checkBackendAddress, parseBackendAddress } from './backend-address.js';
import type { BackendErrorAction } from './channel.js';
import { TcpProxy } from './tcp-proxy.js';

export const proxyPlugin: ServerPlugin = {
  name: 'proxy',
  summary: 'portico-proxy: a TCP proxy on the portico framework (flow control both ways, half-close, connect timeout).',
  flags: [
    ...listenFlags,
    { name: 'backend', kind: 'string', placeholder: 'HOST:PORT', required: true, description: 'where every client is relayed to (or [IPv6]:PORT); required', check: checkBackendAddress },
    { name: 'connect-timeout', kind: 'duration', description: 'give up on the backend after this; the client is then reset', default: '5s', min: 1 },
    { name: 'on-backend-error', kind: 'choice', choices: ['reset', 'close'], description: 'what a client gets when the backend is down or too slow: RST or FIN', default: 'reset' },
    { name: 'buffer-bytes', kind: 'integer', description: 'bytes queued per connection before the proxy stops reading the other side', default: 65536, min: 1 },
    { name: 'read-buffer-size', kind: 'integer', description: 'bytes per read (one pooled buffer)', default: 65536, min: 64, max: 16777216 },
    { name: 'max-connections', kind: 'integer', description: 'clients at once; more are reset; 0 = unlimited', default: 0, min: 0 },
    { name: 'drain-timeout', kind: 'duration', description: 'on SIGTERM, abort channels still open after this', default: '5s', min: 0 },
    {
      name: 'send-proxy',
      kind: 'choice',
      choices: ['none', 'v1', 'v2'],
      description: "open each backend connection with a PROXY protocol header naming the client (with --accept-proxy: the header's client)",
      default: 'none',
    },
    { name: 'backend-tls', kind: 'boolean', description: 'speak TLS to the backend (after the --send-proxy header, which goes in clear)', default: false },
    { name: 'backend-ca', kind: 'string', description: "with --backend-tls: PEM file of the CA the backend's certificate must chain to (default: Node's roots)" },
    { name: 'backend-servername', kind: 'string', description: "with --backend-tls: the name (SNI) the backend's certificate must carry (default: the backend host)" },
    ...layerFlags,
  ],
  async start(options) {
    const proxy = new TcpProxy({
      backend: parseBackendAddress(String(options['backend'])),
      connectTimeoutMs: options['connect-timeout'] as number,
      onBackendError: options['on-backend-error'] as BackendErrorAction,
      bufferBytes: options['buffer-bytes'] as number,
      prefix: sendProxyPrefix(options['send-proxy'] as 'none' | 'v1' | 'v2'),
      backendTls: backendTls(options),
      ...(options['log-connections'] === true ? { onClient: (client: Connection<undefined>) => process.stderr.write(connectionLogLine('proxy', client) + '\n') } : {}),
      server: {
        handshakes: handshakesFromFlags(options),
        handshakeTimeoutMs: options['handshake-timeout'] as number,
        callbacks: handshakeLogCallbacks('proxy', options),
        host: options['host'] as string,
        port: options['port'] as number,
        backlog: options['backlog'] as number,
        maxConnections: options['max-connections'] as number,
        drainDeadlineMs: options['drain-timeout'] as number,
        bufferSize: options['read-buffer-size'] as number,
      },
    });
    const address = await proxy.listen();
    return {
      host: address.address,
      port: address.port,
      stop: async () => ({ aborted: (await proxy.stop()).aborted }),
      stats: () => ({ ...proxy.stats }),
    };
  },
};

/** `--send-proxy`: the PROXY header each backend connection opens with, naming the client and the address it reached. */
function sendProxyPrefix(version: 'none' | 'v1' | 'v2'): ((client: Connection<undefined>) => Uint8Array) | null {
  if (version === 'none') return null;
  const encode = version === 'v1' ? encodeProxyHeaderV1 : encodeProxyHeaderV2;
  return (client) => encode({ source: client.remote, destination: client.local });
}

/** `--backend-tls` (`--backend-ca`, `--backend-servername`): how the proxy checks the backend's certificate. */
function backendTls(options: FlagValues): TlsClientHandshakeOptions | null {
  const ca = options['backend-ca'];
  const servername = options['backend-servername'];
  if (options['backend-tls'] !== true) {
    if (ca !== undefined || servername !== undefined) throw new PorticoError(ErrorCodes.CONFIG, 'host', '--backend-ca and --backend-servername need --backend-tls');
    return null;
  }
  const caPem = typeof ca === 'string' ? readPem(ca, '--backend-ca') : undefined;
  if (caPem !== undefined) {
    // Loaded now: a file that holds no certificate would otherwise fail every connection later, as
    // "self-signed certificate".
    try {
      tls.createSecureContext({ ca: caPem });
    } catch (error) {
      throw new PorticoError(ErrorCodes.CONFIG, 'host', `--backend-ca: ${String(ca)} holds no usable certificate (${(error as Error).message})`);
    }
    if (!caPem.toString('latin1').includes('-----BEGIN CERTIFICATE-----')) {
      throw new PorticoError(ErrorCodes.CONFIG, 'host', `--backend-ca: ${String(ca)} holds no PEM certificate`);
    }
  }
  return { ...(caPem !== undefined ? { ca: caPem } : {}), ...(typeof servername === 'string' ? { servername } : {}) };
}
