import { type ConnectionCallbacks, Server } from '../../framework/index.js';
import { connectionLogLine, handshakeLogCallbacks, handshakesFromFlags, layerFlags } from '../shared/layer-flags.js';
import { listenFlags, type ServerPlugin } from '../shared/plugin.js';
import { echoHandler } from './echo-handler.js';

/** The echo handler, announcing each connection on stderr first. */
const loggedEchoHandler: ConnectionCallbacks = {
  ...echoHandler,
  onConnectionEstablished(conn) {
    process.stderr.write(connectionLogLine('echo', conn) + '\n');
    echoHandler.onConnectionEstablished?.(conn);
  },
};

export const echoPlugin: ServerPlugin = {
  name: 'echo',
  summary: 'portico-echo: a TCP echo server on the portico framework.',
  flags: [
    ...listenFlags,
    { name: 'max-connections', kind: 'integer', description: 'open connections allowed; 0 = unlimited', default: 0, min: 0 },
    { name: 'over-limit', kind: 'choice', choices: ['reset', 'close'], description: 'what a connection over the limit gets', default: 'reset' },
    { name: 'idle-timeout', kind: 'duration', description: 'abort a connection idle this long (e.g. 30s); 0 = never', default: 0, min: 0 },
    { name: 'drain-timeout', kind: 'duration', description: 'on SIGTERM, abort connections still open after this', default: '5s', min: 0 },
    { name: 'high-water', kind: 'integer', description: 'bytes queued per connection before reading pauses', default: 65536, min: 1 },
    { name: 'buffer-size', kind: 'integer', description: 'read buffer size in bytes', default: 65536, min: 64, max: 16777216 },
    ...layerFlags,
  ],
  async start(options) {
    const highWater = options['high-water'] as number;
    const server = new Server({
      host: options['host'] as string,
      port: options['port'] as number,
      backlog: options['backlog'] as number,
      handler: options['log-connections'] === true ? loggedEchoHandler : echoHandler,
      handshakes: handshakesFromFlags(options),
      handshakeTimeoutMs: options['handshake-timeout'] as number,
      callbacks: handshakeLogCallbacks('echo', options),
      maxConnections: options['max-connections'] as number,
      overLimit: options['over-limit'] as 'reset' | 'close',
      drainDeadlineMs: options['drain-timeout'] as number,
      bufferSize: options['buffer-size'] as number,
      connection: {
        highWaterMark: highWater,
        lowWaterMark: Math.floor(highWater / 4),
        idle: { readMs: 0, writeMs: 0, allMs: options['idle-timeout'] as number },
      },
    });
    const address = await server.listen();
    return {
      host: address.address,
      port: address.port,
      stop: async () => ({ aborted: (await server.stop()).aborted }),
      stats: () => {
        const { accepted, active, closed, overLimit, callbackErrors, handshakeFailed, handshakeAnswered } = server.stats;
        return { accepted, active, closed, overLimit, callbackErrors, handshakeFailed, handshakeAnswered };
      },
    };
  },
};
