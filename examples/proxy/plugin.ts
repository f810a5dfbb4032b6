import { ErrorCodes, PorticoError, encodeProxyHeaderV1, encodeProxyHeaderV2, type Connection } from '../../framework/index.js';
import { connectionLogLine, handshakesFromFlags, layerFlags } from '../shared/layer-flags.js';
import { listenFlags, type ServerPlugin } from '../shared/plugin.js';
import { parseBackendAddress } from './backend-address.js';
import type { BackendErrorAction } from './channel.js';
import { TcpProxy } from './tcp-proxy.js';

export const proxyPlugin: ServerPlugin = {
  name: 'proxy',
  summary: 'portico-proxy: a TCP proxy on the portico framework (flow control both ways, half-close, connect timeout).',
  flags: [
    ...listenFlags,
    { name: 'backend', kind: 'string', description: 'HOST:PORT (or [IPv6]:PORT) every client is relayed to; required' },
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
    ...layerFlags,
  ],
  async start(options) {
    const backend = options['backend'];
    if (backend === undefined) throw new PorticoError(ErrorCodes.CONFIG, 'host', '--backend HOST:PORT is required (see --help)');
    const proxy = new TcpProxy({
      backend: parseBackendAddress(String(backend)),
      connectTimeoutMs: options['connect-timeout'] as number,
      onBackendError: options['on-backend-error'] as BackendErrorAction,
      bufferBytes: options['buffer-bytes'] as number,
      prefix: sendProxyPrefix(options['send-proxy'] as 'none' | 'v1' | 'v2'),
      ...(options['log-connections'] === true ? { onClient: (client: Connection<undefined>) => process.stderr.write(connectionLogLine('proxy', client) + '\n') } : {}),
      server: {
        handshakes: handshakesFromFlags(options),
        handshakeTimeoutMs: options['handshake-timeout'] as number,
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
