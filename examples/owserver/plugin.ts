import { ErrorCodes, PorticoError, Server, TimerWheel } from '../../framework/index.js';
import { listenFlags, type ServerPlugin } from '../shared/plugin.js';
import type { FlagValues } from '../shared/flags.js';
import type { OwBus } from './bus/bus.js';
import { buildRoster, splitFakeSpec } from './bus/device-roster.js';
import { SimulatedBus } from './bus/simulated-bus.js';
import { DEFAULT_PORT } from './protocol/constants.js';
import { OwserverConnection, type OwserverContext, type OwserverStats } from './server/owserver-connection.js';
import { PersistenceLedger } from './server/persistence.js';
import { UpstreamForwarder } from './server/upstream.js';

/** What is wrong with an owserver `-p`/`-s` value ("PORT", "HOST:PORT" or "[IPv6]:PORT"), or its parts. */
function readListenSpec(spec: string): { host: string | null; port: number } | string {
  const match = /^(?:\[([^\]]+)\]:|([^:]+):)?(\d+)$/.exec(spec.trim());
  if (match === null) return `expected PORT or HOST:PORT, got "${spec}"`;
  const port = Number(match[3]);
  if (port > 65535) return `port ${port} out of range`;
  return { host: match[1] ?? match[2] ?? null, port };
}

/** owserver's `-p` value: "PORT", "HOST:PORT" or "[IPv6]:PORT"; a CONFIG error naming `flag` otherwise. */
export function parseListenSpec(spec: string, flag = '--listen'): { host: string | null; port: number } {
  const parsed = readListenSpec(spec);
  if (typeof parsed === 'string') throw new PorticoError(ErrorCodes.CONFIG, 'host', `${flag}: ${parsed}`);
  return parsed;
}

const checkListenSpec = (value: unknown): void => {
  const parsed = readListenSpec(String(value));
  if (typeof parsed === 'string') throw new Error(parsed);
};

/** owserver's defaults for the low bounds (the high ones are in the flag specs). */
const DEFAULT_CLIENTS_LOW = 10;
const DEFAULT_TIMEOUT_LOW_S = 600;

/** owserver's persistence limits, checked: each low bound at most its high one. */
export interface PersistenceLimits {
  readonly clientsLow: number;
  readonly clientsHigh: number;
  readonly timeoutLowS: number;
  readonly timeoutHighS: number;
}

/**
 * A low bound left unset follows its high one down (`--timeout_persistent_high 60` alone means at
 * most 60 s idle, not owserver's 600 s short wait); a low bound set above its high one is refused.
 */
export function persistenceLimits(options: FlagValues): PersistenceLimits {
  const pair = (low: string, high: string, lowDefault: number): [number, number] => {
    const highValue = options[high] as number;
    const given = options[low] as number | undefined;
    if (given === undefined) return [Math.min(lowDefault, highValue), highValue];
    if (given > highValue) throw new PorticoError(ErrorCodes.CONFIG, 'host', `--${low} ${given} is above --${high} ${highValue}: the low bound must not exceed the high one`);
    return [given, highValue];
  };
  const [clientsLow, clientsHigh] = pair('clients_persistent_low', 'clients_persistent_high', DEFAULT_CLIENTS_LOW);
  const [timeoutLowS, timeoutHighS] = pair('timeout_persistent_low', 'timeout_persistent_high', DEFAULT_TIMEOUT_LOW_S);
  return { clientsLow, clientsHigh, timeoutLowS, timeoutHighS };
}

export interface OwserverHandle {
  readonly server: Server;
  readonly stats: OwserverStats;
  readonly ledger: PersistenceLedger;
  readonly bus: OwBus;
  readonly upstream: UpstreamForwarder | null;
}

/** Build an owserver on the framework (used by the plugin and by tests). */
export function createOwserver(options: FlagValues, bus?: OwBus): OwserverHandle {
  let host = options['host'] as string;
  let port = options['port'] as number;
  const listen = options['listen'] as string | undefined;
  if (listen !== undefined) {
    const parsed = parseListenSpec(listen, '--listen');
    if (parsed.host !== null) host = parsed.host;
    port = parsed.port;
  }
  const seconds = (name: string): number => (options[name] as number) * 1000;
  const limits = persistenceLimits(options);
  const ledger = new PersistenceLedger({
    enabled: !(options['no_persistence'] as boolean),
    clientsLow: limits.clientsLow,
    clientsHigh: limits.clientsHigh,
    timeoutLowMs: limits.timeoutLowS * 1000,
    timeoutHighMs: limits.timeoutHighS * 1000,
  });
  const theBus =
    bus ??
    SimulatedBus.fake(options['fake'] as string, {
      ...(options['seed'] !== undefined ? { seed: options['seed'] as number } : {}),
      latencyMs: options['latency'] as number,
    });
  const wheel = new TimerWheel({ tickMs: 50 });
  const stats: OwserverStats = { requests: 0, framingErrors: 0, receiveTimeouts: 0, persistentTimeouts: 0, pings: 0, loopsDropped: 0 };
  const upstreamSpec = options['upstream'] as string | undefined;
  let upstream: UpstreamForwarder | null = null;
  if (upstreamSpec !== undefined) {
    const parsed = parseListenSpec(upstreamSpec, '--upstream');
    upstream = new UpstreamForwarder({ host: parsed.host ?? '127.0.0.1', port: parsed.port });
  }
  const ctx: OwserverContext = {
    bus: theBus,
    upstream,
    ledger,
    wheel,
    clock: wheel.options.clock,
    timeouts: {
      receiveIdleMs: seconds('timeout_server'),
      messageDeadlineMs: options['message-deadline'] as number,
      pingMs: 1000,
      closeGraceMs: options['close-grace'] as number,
    },
    stats,
  };
  const server = new Server({
    host,
    port,
    backlog: options['backlog'] as number,
    wheel,
    handler: () => new OwserverConnection(ctx),
    maxConnections: options['max-connections'] as number,
    drainDeadlineMs: options['drain-timeout'] as number,
    bufferSize: 16384,
    connection: { lingerMs: 2000 },
  });
  return { server, stats, ledger, bus: theBus, upstream };
}

export const owserverPlugin: ServerPlugin = {
  name: 'owserver',
  summary: 'portico-owserver: an owserver (OWFS 1-Wire protocol) server with persistent connections, on a simulated bus.',
  flags: [
    ...listenFlags.map((f) => (f.name === 'port' ? { ...f, description: `TCP port; 0 picks a free one (owserver's is ${DEFAULT_PORT})` } : f)),
    { name: 'listen', alias: '-p', kind: 'string', placeholder: '[HOST:]PORT', description: "where to listen, as owserver's -p (overrides --host/--port)", check: checkListenSpec },
    { name: 'upstream', alias: '-s', kind: 'string', placeholder: '[HOST:]PORT', description: "proxy mode: answer from this owserver, as owserver's -s", check: checkListenSpec },
    {
      name: 'fake',
      kind: 'string',
      description: 'simulated devices, as owserver --fake: family codes or ids',
      default: '10.67C6697351FF,28.4AEC29CDBAAB,05.F2FBE3467CC2',
      // The roster is built again at start; a bad list must be a usage error, not a failure to start.
      check: (value) => void buildRoster(splitFakeSpec(String(value))),
    },
    { name: 'seed', kind: 'integer', description: 'seed for simulated values (deterministic runs); default random', min: 0 },
    { name: 'latency', kind: 'duration', description: 'simulated time per bus transaction', default: 0, min: 0 },
    { name: 'no_persistence', kind: 'boolean', description: 'never grant persistent connections', default: false },
    {
      name: 'clients_persistent_low',
      kind: 'integer',
      description: `below this many persistent clients, idle ones get the long timeout; at most --clients_persistent_high (default: ${DEFAULT_CLIENTS_LOW}, or --clients_persistent_high if lower)`,
      min: 0,
    },
    { name: 'clients_persistent_high', kind: 'integer', description: 'at most this many persistent clients', default: 20, min: 0 },
    {
      name: 'timeout_persistent_low',
      kind: 'integer',
      description: `seconds a persistent connection may idle (short); at most --timeout_persistent_high (default: ${DEFAULT_TIMEOUT_LOW_S}, or --timeout_persistent_high if lower)`,
      min: 0,
    },
    { name: 'timeout_persistent_high', kind: 'integer', description: 'seconds a persistent connection may idle (long)', default: 3600, min: 0 },
    { name: 'timeout_server', kind: 'integer', description: 'seconds of silence allowed while a message is being received', default: 10, min: 1 },
    { name: 'message-deadline', kind: 'duration', description: 'a whole request must arrive within this (drops trickling peers); 0 = off', default: '30s', min: 0 },
    { name: 'close-grace', kind: 'duration', description: 'after a non-persistent answer, wait this long for the client to close first (TIME_WAIT then lands on the client); 0 = close at once like owserver', default: '100ms', min: 0 },
    { name: 'max-connections', kind: 'integer', description: 'open connections allowed; 0 = unlimited', default: 0, min: 0 },
    { name: 'drain-timeout', kind: 'duration', description: 'on SIGTERM, abort connections still open after this', default: '5s', min: 0 },
  ],
  validate(options) {
    persistenceLimits(options);
  },
  async start(options) {
    const { server, upstream } = createOwserver(options);
    const address = await server.listen();
    return {
      host: address.address,
      port: address.port,
      stop: async () => {
        const { aborted } = await server.stop();
        upstream?.close();
        return { aborted };
      },
    };
  },
};
