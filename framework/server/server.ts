import * as net from 'node:net';
import { BufferPool } from '../buffers/buffer-pool.js';
import { type Clock, systemClock } from '../core/clock.js';
import { type CompletionDispatcher, sharedDispatcher } from '../core/dispatcher.js';
import { ErrorCodes, PorticoError } from '../core/errors.js';
import { TimerWheel } from '../core/timer-wheel.js';
import type { ConnectionCallbacks } from '../connection/callbacks.js';
import { Connection, type ConnectionContext, type ConnectionOptions, resolveConnectionOptions } from '../connection/connection.js';
import { TcpTransport, type TcpReadMode } from '../transport/tcp-transport.js';
import type { SocketEndpoint } from '../transport/transport.js';

/** Server-level events (The Server Framework's server callbacks). All optional. */
export interface ServerCallbacks {
  onStartAccepting?(address: SocketEndpoint): void;
  onStopAccepting?(): void;
  onAcceptError?(error: PorticoError): void;
  /** A connection arrived while `maxConnections` were open; it is then reset or closed per `overLimit`. */
  onMaximumConnections?(peer: SocketEndpoint): void;
}

export type HandlerSource<U> = ConnectionCallbacks<U> | ((conn: Connection<U>) => ConnectionCallbacks<U>);

export interface ServerOptions<U> {
  host?: string;
  /** 0 = ephemeral. */
  port?: number;
  backlog?: number;
  /** One handler for all connections, or a factory making one per connection. */
  handler: HandlerSource<U>;
  /** Initial per-connection user data. */
  createUser?: () => U;
  /** 0 = unlimited. */
  maxConnections?: number;
  /** What to do with a connection over the limit: RST (no TIME_WAIT here, default) or FIN. */
  overLimit?: 'reset' | 'close';
  connection?: Partial<ConnectionOptions>;
  /** Default 5000: after `stop()`, connections still open this long are aborted. */
  drainDeadlineMs?: number;
  /** Default true: no Nagle delay. */
  noDelay?: boolean;
  bufferSize?: number;
  pool?: BufferPool;
  dispatcher?: CompletionDispatcher;
  wheel?: TimerWheel;
  clock?: Clock;
  readMode?: TcpReadMode;
  callbacks?: ServerCallbacks;
}

export interface ServerStats {
  accepted: number;
  /** Refused by the connection limit. */
  overLimit: number;
  active: number;
  peakActive: number;
  closed: number;
  callbackErrors: number;
  acceptErrors: number;
}

export interface StopResult {
  /** Connections that closed on their own during the drain. */
  closedGracefully: number;
  /** Connections aborted at the deadline. */
  aborted: number;
}

type ServerState = 'new' | 'listening' | 'stopping' | 'stopped';

/** A listening server: accepts connections, wraps them in `Connection`s and runs their callbacks. */
export class Server<U = unknown> {
  readonly pool: BufferPool;
  readonly dispatcher: CompletionDispatcher;
  readonly wheel: TimerWheel;
  readonly clock: Clock;
  readonly stats: ServerStats = { accepted: 0, overLimit: 0, active: 0, peakActive: 0, closed: 0, callbackErrors: 0, acceptErrors: 0 };
  #options: ServerOptions<U>;
  #connectionOptions: Readonly<ConnectionOptions>;
  #net: net.Server;
  #connections = new Set<Connection<U>>();
  #refusing = new Set<net.Socket>();
  #state: ServerState = 'new';
  #address: SocketEndpoint | null = null;
  #stopping: Promise<StopResult> | null = null;
  #emptyWaiters: (() => void)[] = [];
  #ctx: ConnectionContext<U>;

  constructor(options: ServerOptions<U>) {
    this.#options = options;
    this.clock = options.clock ?? systemClock;
    this.pool = options.pool ?? new BufferPool(options.bufferSize !== undefined ? { bufferSize: options.bufferSize } : {});
    this.dispatcher = options.dispatcher ?? sharedDispatcher();
    this.wheel = options.wheel ?? new TimerWheel({ clock: this.clock });
    this.#connectionOptions = resolveConnectionOptions(options.connection ?? {});
    const drain = options.drainDeadlineMs ?? 5000;
    if (typeof drain !== 'number' || !Number.isFinite(drain) || drain < 0) {
      throw new PorticoError(ErrorCodes.INVALID_ARGUMENT, 'server', `drainDeadlineMs must be a non-negative number, got ${String(drain)}`);
    }
    const max = options.maxConnections ?? 0;
    if (!Number.isInteger(max) || max < 0) {
      throw new PorticoError(ErrorCodes.INVALID_ARGUMENT, 'server', `maxConnections must be a non-negative integer, got ${max}`);
    }
    this.#ctx = {
      dispatcher: this.dispatcher,
      wheel: this.wheel,
      clock: this.clock,
      pool: this.pool,
      onFinished: (conn) => this.#finished(conn),
      onCallbackError: () => {
        this.stats.callbackErrors++;
      },
    };
    this.#net = net.createServer({ pauseOnConnect: true, allowHalfOpen: true, noDelay: options.noDelay ?? true }, (socket) => this.#accept(socket));
    this.#net.on('error', (error: NodeJS.ErrnoException) => {
      this.stats.acceptErrors++;
      this.#options.callbacks?.onAcceptError?.(new PorticoError(ErrorCodes.LISTEN, 'server', `accept failed: ${error.message}`, { cause: error }));
    });
  }

  /** Where the server listens (after `listen()`). */
  get address(): SocketEndpoint {
    if (this.#address === null) throw new PorticoError(ErrorCodes.INVALID_STATE, 'server', 'server is not listening');
    return this.#address;
  }

  /** Open connections. */
  get connections(): ReadonlySet<Connection<U>> {
    return this.#connections;
  }

  get state(): ServerState {
    return this.#state;
  }

  /** Start listening. Rejects with PORTICO_ERR_LISTEN (e.g. address in use). */
  listen(): Promise<SocketEndpoint> {
    if (this.#state !== 'new') return Promise.reject(new PorticoError(ErrorCodes.INVALID_STATE, 'server', `listen() in state ${this.#state}`));
    const host = this.#options.host ?? '127.0.0.1';
    const port = this.#options.port ?? 0;
    return new Promise((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException): void => {
        reject(new PorticoError(ErrorCodes.LISTEN, 'server', `cannot listen on ${host}:${port}: ${error.code ?? error.message}`, { cause: error }));
      };
      this.#net.once('error', onError);
      this.#net.listen({ host, port, ...(this.#options.backlog !== undefined ? { backlog: this.#options.backlog } : {}) }, () => {
        this.#net.off('error', onError);
        const addr = this.#net.address() as net.AddressInfo;
        this.#address = { address: addr.address, port: addr.port, family: addr.family === 'IPv6' ? 'IPv6' : 'IPv4' };
        this.#state = 'listening';
        this.#options.callbacks?.onStartAccepting?.(this.#address);
        resolve(this.#address);
      });
    });
  }

  #accept(socket: net.Socket): void {
    if (this.#state !== 'listening') {
      socket.resetAndDestroy();
      return;
    }
    const max = this.#options.maxConnections ?? 0;
    if (max > 0 && this.#connections.size >= max) {
      this.stats.overLimit++;
      const peer: SocketEndpoint = { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0, family: socket.remoteFamily === 'IPv6' ? 'IPv6' : 'IPv4' };
      this.#options.callbacks?.onMaximumConnections?.(peer);
      if ((this.#options.overLimit ?? 'reset') === 'reset') {
        socket.resetAndDestroy();
        return;
      }
      // FIN, then read (and drop) until the peer's FIN so the socket can close; RST if it lingers.
      this.#refusing.add(socket);
      const linger = setTimeout(() => socket.resetAndDestroy(), this.#connectionOptions.lingerMs);
      socket.on('data', () => {});
      socket.on('error', () => {});
      socket.once('close', () => {
        clearTimeout(linger);
        this.#refusing.delete(socket);
      });
      socket.end();
      socket.resume();
      return;
    }
    let transport: TcpTransport;
    try {
      transport = TcpTransport.fromAccepted(socket, this.pool, this.#options.readMode ?? 'onread');
    } catch (error) {
      this.stats.acceptErrors++;
      socket.destroy();
      this.#options.callbacks?.onAcceptError?.(new PorticoError(ErrorCodes.SOCKET, 'server', 'cannot take over accepted socket', { cause: error }));
      return;
    }
    // TCP_NODELAY was already set on this fd by net.Server's `noDelay` at accept: no second setsockopt.
    const user = this.#options.createUser ? this.#options.createUser() : (undefined as U);
    const conn = new Connection<U>(transport, this.#options.handler, user, this.#ctx, this.#connectionOptions);
    this.#connections.add(conn);
    this.stats.accepted++;
    this.stats.active = this.#connections.size;
    if (this.stats.active > this.stats.peakActive) this.stats.peakActive = this.stats.active;
    conn.start();
  }

  #finished(conn: Connection<U>): void {
    if (!this.#connections.delete(conn)) return;
    this.stats.closed++;
    this.stats.active = this.#connections.size;
    if (this.#connections.size === 0) {
      const waiters = this.#emptyWaiters;
      this.#emptyWaiters = [];
      for (const w of waiters) w();
    }
  }

  /**
   * Graceful drain: stop accepting, let each connection finish (or its handler's `onDrain` decide),
   * close idle ones, abort what is left after the deadline. Resolves when every connection is closed.
   */
  stop(options: { deadlineMs?: number } = {}): Promise<StopResult> {
    if (this.#stopping !== null) return this.#stopping;
    const deadlineMs = options.deadlineMs ?? this.#options.drainDeadlineMs ?? 5000;
    this.#stopping = this.#drain(deadlineMs);
    return this.#stopping;
  }

  async #drain(deadlineMs: number): Promise<StopResult> {
    const wasListening = this.#state === 'listening';
    this.#state = 'stopping';
    const closed = new Promise<void>((resolve) => this.#net.close(() => resolve()));
    if (wasListening) this.#options.callbacks?.onStopAccepting?.();
    for (const socket of this.#refusing) socket.resetAndDestroy();
    const before = this.#connections.size;
    for (const conn of [...this.#connections]) conn.beginDrain();
    let aborted = 0;
    if (this.#connections.size > 0) {
      const empty = new Promise<void>((resolve) => this.#emptyWaiters.push(resolve));
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'deadline'>((resolve) => {
        timer = setTimeout(() => resolve('deadline'), deadlineMs);
      });
      const outcome = await Promise.race([empty.then(() => 'empty' as const), deadline]);
      clearTimeout(timer);
      if (outcome === 'deadline') {
        const error = new PorticoError(ErrorCodes.DRAIN_DEADLINE, 'server', `still open ${deadlineMs} ms after stop()`);
        for (const conn of [...this.#connections]) {
          aborted++;
          conn.abortForDrain(error);
        }
        await empty;
      }
    }
    await closed;
    this.#state = 'stopped';
    return { closedGracefully: before - aborted, aborted };
  }
}
