import { listenFlags, type ServerPlugin } from '../shared/plugin.js';
import { defaultConfigJson, type FrontConfig, loadFrontConfig, parseFrontConfig } from './config.js';
import { FdFront, type FrontMode } from './front.js';

export const fdFrontPlugin: ServerPlugin = {
  name: 'fd-front',
  summary: [
    'portico-fd-front: a front that reads each request head and hands the connection itself (its descriptor) to a',
    '  back-end process chosen by path prefix (lighttpd mod_fd_transfer); the back end reads the body and answers on',
    '  the socket directly. Default routes: /ws → WebSocket echo back end, /http → HTTP back end; anything else 404.',
  ].join('\n'),
  flags: [
    ...listenFlags,
    { name: 'config', kind: 'string', description: 'JSON route table: {"routes":[{"prefix":"/ws","backend":"ws"}],"backends":{"ws":{"module":"websocket-echo"}}}' },
    { name: 'mode', kind: 'choice', choices: ['transfer', 'relay'], description: 'hand connections over, or relay their bytes through the front (for comparison)', default: 'transfer' },
    { name: 'max-head', kind: 'integer', description: 'largest request head in bytes (431 over it)', default: 8192, min: 64, max: 65536 },
    { name: 'head-timeout', kind: 'duration', description: 'the request head must arrive within this (408 after it)', default: '10s', min: 1 },
    { name: 'ack-timeout', kind: 'duration', description: 'a back end must take a connection within this, start-up included (504 after it)', default: '5s', min: 1 },
    { name: 'max-in-flight', kind: 'integer', description: 'transfers in flight per back end (503 over it)', default: 1024, min: 1 },
    { name: 'max-connections', kind: 'integer', description: 'connections the front holds at once (before handing them over); 0 = unlimited', default: 10000, min: 0 },
    { name: 'drain-timeout', kind: 'duration', description: 'on SIGTERM, back ends abort connections still open after this', default: '5s', min: 0 },
    { name: 'restart-backoff', kind: 'duration', description: 'first delay before restarting a crashed back end (doubles per crash, up to 5s)', default: '100ms', min: 1 },
    { name: 'eager', kind: 'boolean', description: 'start every back end at once instead of on its first request', default: false },
  ],
  async start(options) {
    const configPath = options['config'];
    const config: FrontConfig = typeof configPath === 'string' ? loadFrontConfig(configPath) : parseFrontConfig(defaultConfigJson, process.cwd(), 'default config');
    const minBackoff = options['restart-backoff'] as number;
    const front = new FdFront({
      host: options['host'] as string,
      port: options['port'] as number,
      backlog: options['backlog'] as number,
      config,
      mode: options['mode'] as FrontMode,
      maxHeadBytes: options['max-head'] as number,
      headTimeoutMs: options['head-timeout'] as number,
      ackTimeoutMs: options['ack-timeout'] as number,
      maxInFlight: options['max-in-flight'] as number,
      maxConnections: options['max-connections'] as number,
      drainTimeoutMs: options['drain-timeout'] as number,
      backoff: { minMs: minBackoff, maxMs: Math.max(minBackoff, 5000) },
      eager: options['eager'] === true,
    });
    const address = await front.listen();
    return {
      host: address.address,
      port: address.port,
      stop: () => front.stop(),
      stats: () => front.statsRecord(),
    };
  },
};
