import {
  ErrorCodes,
  PorticoError,
  Server,
  type Connection,
  type HandlerSource,
  type ServerOptions,
  type SocketEndpoint,
  type StopResult,
  type TlsClientHandshakeOptions,
} from '../../framework/index.js';
import { type BackendAddress, formatAddress } from './backend-address.js';
import { type BackendErrorAction, type BackendFailure, type ChannelMonitor, type ChannelSettings, type PrefixBuilder, ProxyChannel } from './channel.js';

/**
 * Options of the listening server, passed through as they are: whatever `ServerOptions` gains (the
 * connection layers, `--accept-proxy`) reaches the proxy's server without a change here. Only the
 * handler is the proxy's own.
 */
export type ProxyServerOptions = Omit<ServerOptions<undefined>, 'handler' | 'createUser'>;

export interface TcpProxyOptions {
  /** Where every client is relayed to. */
  backend: BackendAddress;
  /** Give up on the backend after this long: the client is reset (or closed). Default 5000. */
  connectTimeoutMs?: number;
  /**
   * Bytes queued per connection before the proxy stops reading the other side (the high-water mark;
   * reading resumes at a quarter of it). Memory per channel stays within twice this plus two read
   * buffers. Default: `server.connection.highWaterMark`, else 65536.
   */
  bufferBytes?: number;
  /** What a client gets when its backend cannot be reached: RST (default) or FIN. */
  onBackendError?: BackendErrorAction;
  /**
   * Bytes to write to the backend before any client byte, per client (the `--send-proxy` hook: a
   * PROXY protocol header). Called once per client, when it is accepted. Default: none.
   */
  prefix?: PrefixBuilder | null;
  /** Speak TLS to the backend (after the prefix, in clear). Default: plain TCP. */
  backendTls?: TlsClientHandshakeOptions | null;
  /** Told of each client as its channel opens (after the connection layers, so `remote` is the PROXY header's client). */
  onClient?: (client: Connection<undefined>) => void;
  /** The listening server's options (host, port, maxConnections, drainDeadlineMs, bufferSize, …). */
  server?: ProxyServerOptions;
  /** Name in log lines. Default "proxy". */
  name?: string;
  /** Where the one-line JSON reports go (backend unreachable). Default: stderr. */
  log?: (line: string) => void;
}

export interface TcpProxyStats {
  /** Channels started (clients accepted). */
  channels: number;
  /** Channels not finished yet. */
  active: number;
  /** Channels over: both connections closed, or the backend never came. */
  finished: number;
  backendConnected: number;
  /** Backend connections refused (nothing listening). */
  backendRefused: number;
  /** Backend connections that timed out (`connectTimeoutMs`). */
  backendTimedOut: number;
  /** Backend connections that failed otherwise (host not found, unreachable, …). */
  backendFailed: number;
  /** Client resets (or failures) that aborted their backend. */
  clientResets: number;
  /** Backend resets (or failures) that aborted their client. */
  backendResets: number;
  /** Bytes relayed client → backend (prefixes not counted). */
  bytesUpstream: number;
  /** Bytes relayed backend → client. */
  bytesDownstream: number;
}

/** After the server's drain, how long backend connections get to finish closing. */
const backendCloseMs = 2000;

/** The one place the proxy's listening `Server` is built: server options in, the proxy's handler added. */
export function createProxyServer(options: ProxyServerOptions, handler: HandlerSource<undefined>): Server<undefined> {
  return new Server<undefined>({ ...options, handler });
}

/**
 * A TCP proxy on the framework's public API: each accepted client gets a backend connection and a
 * `ProxyChannel` relaying between them with flow control and half-close.
 */
export class TcpProxy {
  readonly server: Server<undefined>;
  readonly backend: BackendAddress;
  readonly stats: TcpProxyStats = {
    channels: 0,
    active: 0,
    finished: 0,
    backendConnected: 0,
    backendRefused: 0,
    backendTimedOut: 0,
    backendFailed: 0,
    clientResets: 0,
    backendResets: 0,
    bytesUpstream: 0,
    bytesDownstream: 0,
  };
  #channels = new Set<ProxyChannel>();
  #emptyWaiters: (() => void)[] = [];
  #peakFinished = 0;
  #name: string;
  #log: (line: string) => void;
  #monitor: ChannelMonitor;

  constructor(options: TcpProxyOptions) {
    const connectTimeoutMs = options.connectTimeoutMs ?? 5000;
    if (!Number.isFinite(connectTimeoutMs) || connectTimeoutMs <= 0) {
      throw new PorticoError(ErrorCodes.INVALID_ARGUMENT, 'protocol', `connectTimeoutMs must be a positive number, got ${connectTimeoutMs}`);
    }
    const serverOptions = options.server ?? {};
    const highWaterMark = options.bufferBytes ?? serverOptions.connection?.highWaterMark ?? 65536;
    if (!Number.isInteger(highWaterMark) || highWaterMark < 1) {
      throw new PorticoError(ErrorCodes.INVALID_ARGUMENT, 'protocol', `bufferBytes must be a positive integer, got ${highWaterMark}`);
    }
    const connection = { ...serverOptions.connection, highWaterMark, lowWaterMark: Math.floor(highWaterMark / 4) };
    this.backend = options.backend;
    this.#name = options.name ?? 'proxy';
    this.#log = options.log ?? ((line) => process.stderr.write(line + '\n'));
    this.#monitor = this.#makeMonitor();
    // Filled in below, once the server (whose pool, dispatcher and timers the backends share) exists.
    let settings: ChannelSettings | null = null;
    this.server = createProxyServer({ ...serverOptions, connection }, (client) => {
      options.onClient?.(client);
      const channel = new ProxyChannel(client, settings!, this.#monitor);
      this.#channels.add(channel);
      this.stats.channels++;
      this.stats.active = this.#channels.size;
      return channel.clientCallbacks;
    });
    settings = {
      backend: options.backend,
      connectTimeoutMs,
      onBackendError: options.onBackendError ?? 'reset',
      prefix: options.prefix ?? null,
      tls: options.backendTls ?? null,
      context: {
        pool: this.server.pool,
        dispatcher: this.server.dispatcher,
        wheel: this.server.wheel,
        clock: this.server.clock,
        connection,
        noDelay: serverOptions.noDelay ?? true,
      },
    };
  }

  /** Channels not finished yet. */
  get channels(): ReadonlySet<ProxyChannel> {
    return this.#channels;
  }

  /** Most bytes ever queued for writing on any one connection of any channel (the flow-control bound). */
  get peakQueuedBytes(): number {
    let peak = this.#peakFinished;
    for (const channel of this.#channels) peak = Math.max(peak, channel.peakQueuedBytes);
    return peak;
  }

  listen(): Promise<SocketEndpoint> {
    return this.server.listen();
  }

  /**
   * Stop accepting and let channels finish; clients still connected at the deadline are aborted, and
   * with them their backends. Resolves once every channel is over (bounded).
   */
  async stop(options: { deadlineMs?: number } = {}): Promise<StopResult> {
    const result = await this.server.stop(options);
    // Every client is closed now; their backends were aborted with them and close in a moment. A
    // backend connect still in flight ends at its timeout, and its channel then.
    await this.#emptyWithin(backendCloseMs);
    return result;
  }

  #emptyWithin(ms: number): Promise<boolean> {
    if (this.#channels.size === 0) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      this.#emptyWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  #makeMonitor(): ChannelMonitor {
    const stats = this.stats;
    const counter: Record<BackendFailure, 'backendRefused' | 'backendTimedOut' | 'backendFailed'> = {
      refused: 'backendRefused',
      timeout: 'backendTimedOut',
      failed: 'backendFailed',
    };
    return {
      onBackendConnected: () => {
        stats.backendConnected++;
      },
      onBackendFailed: (channel, failure, error, elapsedMs) => {
        stats[counter[failure]]++;
        const client = channel.client.remote;
        this.#log(
          JSON.stringify({
            event: 'backend-error',
            server: this.#name,
            reason: failure,
            backend: formatAddress(this.backend.host, this.backend.port),
            client: formatAddress(client.address, client.port),
            ms: Math.round(elapsedMs),
            code: error.code,
            message: error.message,
          }),
        );
      },
      onReset: (_channel, side) => {
        if (side === 'client') stats.clientResets++;
        else stats.backendResets++;
      },
      onFinished: (channel) => {
        stats.bytesUpstream += channel.upstream.bytes;
        stats.bytesDownstream += channel.downstream.bytes;
        this.#peakFinished = Math.max(this.#peakFinished, channel.peakQueuedBytes);
        this.#channels.delete(channel);
        stats.finished++;
        stats.active = this.#channels.size;
        if (this.#channels.size === 0) for (const wake of this.#emptyWaiters.splice(0)) wake();
      },
    };
  }
}
