import * as net from 'node:net';
import { BufferPool } from '../buffers/buffer-pool.js';
import { type Clock, systemClock } from '../core/clock.js';
import { type CompletionDispatcher, sharedDispatcher } from '../core/dispatcher.js';
import { ErrorCodes, PorticoError, toPorticoError } from '../core/errors.js';
import { TimerWheel } from '../core/timer-wheel.js';
import { Connection, type ConnectionContext, type HandlerSource } from '../connection/connection.js';
import { type ConnectionOptions, type ConnectionOptionsInput, resolveConnectionOptions } from '../connection/connection-options.js';
import { TcpTransport, type TcpReadMode } from '../transport/tcp-transport.js';
import { NativeTcpTransport } from '../transport/native-tcp-transport.js';
import { isNativeStreamHandle, nativeStream, nativeStreamUnavailable } from '../transport/native-stream.js';
import type { SocketEndpoint } from '../transport/transport.js';
import { ConnectionDrain, type DrainResult } from './connection-drain.js';
import { type AcceptMode, type NativeTcpHandle, type OnConnection, peerOf, takeOverAccepts } from './accept-handles.js';
import { RefusalCloser } from './refusal-closer.js';
import type { HandshakeHandler } from '../layers/handshake.js';
import { type HandshakeOutcome, LayerStack } from '../layers/layer-stack.js';
import type { PooledBuffer } from '../buffers/pooled-buffer.js';
import type { Transport } from '../transport/transport.js';

/** Server-level events (The Server Framework's server callbacks). All optional; a throw is counted, never fatal. */
export interface ServerCallbacks {
  onStartAccepting?(address: SocketEndpoint): void;
  onStopAccepting?(): void;
  onAcceptError?(error: PorticoError): void;
  /** A connection arrived while `maxConnections` were open; it is then reset or closed per `overLimit`. */
  onMaximumConnections?(peer: SocketEndpoint): void;
  /**
   * A connection's handshake layers did not hand it to the handler: a handler rejected it, the deadline
   * passed, it was answered (health check), or the peer left. `peer` is the socket's peer.
   */
  onHandshakeFailed?(peer: SocketEndpoint, outcome: HandshakeOutcome): void;
}

interface ServerBaseOptions<U> {
  host?: string;
  /** 0 = ephemeral. */
  port?: number;
  /** Length of the kernel's queue of completed handshakes not yet accepted. Default 511 (Node's); Linux caps it at net.core.somaxconn. */
  backlog?: number;
  /** One handler for all connections, or a factory making one per connection. */
  handler: HandlerSource<U>;
  /**
   * Handshake layers run in order on every accepted connection before its handler sees it (HAProxy's
   * connection layers): accept-proxy, TCP rules, health check, TLS. Default none.
   */
  handshakes?: readonly HandshakeHandler[];
  /** Default 5000: a connection whose handshake layers have not all finished by then is reset. */
  handshakeTimeoutMs?: number;
  /** Default 16384: most bytes the handshake layers buffer for one connection. */
  maxHandshakeBytes?: number;
  /** 0 = unlimited. */
  maxConnections?: number;
  /** What to do with a connection over the limit: RST (no TIME_WAIT here, default) or FIN. */
  overLimit?: 'reset' | 'close';
  /**
   * With `overLimit: 'close'`, refused connections closing gracefully at once (each waits up to
   * `lingerMs` for the peer's FIN); beyond this they are reset. Default 64.
   */
  maxClosingRefusals?: number;
  connection?: ConnectionOptionsInput;
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
  /**
   * How accepted connections reach us. `'handle'` (default): straight from the listening handle, one
   * `net.Socket` per connection (as Node's cluster round robin takes them); if this Node does not allow
   * it, the server says why (a process warning) and uses `'server'`: the sockets `net.Server` makes,
   * read in `copy` mode.
   */
  acceptMode?: AcceptMode;
  /**
   * Default true (false when the environment has PORTICO_NATIVE_HANDLES=0, a switch for any server
   * binary): accepted connections run on Node's native TCP handle itself (`NativeTcpTransport`),
   * with no `net.Socket`: about 3 KiB less memory per connection and less CPU per read and write. Not
   * used (a `net.Socket` is) in accept mode `'server'`, with `readMode: 'copy'`, when a handshake layer
   * needs a socket (TLS), or where this Node lacks the stream binding (a process warning says so).
   */
  nativeHandles?: boolean;
  callbacks?: ServerCallbacks;
}

/** `createUser` is required when the user type can't be `undefined`, so `conn.user` is never a lie. */
export type ServerOptions<U = unknown> = ServerBaseOptions<U> &
  (undefined extends U ? { /** Initial per-connection user data. */ createUser?: () => U } : { /** Initial per-connection user data. */ createUser: () => U });

export interface ServerStats {
  accepted: number;
  /** Refused by the connection limit. */
  overLimit: number;
  active: number;
  peakActive: number;
  closed: number;
  /** User code that threw: connection callbacks, handler factories, `createUser`, server callbacks. */
  callbackErrors: number;
  acceptErrors: number;
  /** Connections in their handshake layers now (counted in `maxConnections`). */
  handshaking: number;
  /** Handshakes that failed: rejected, timed out, reset, or the peer left. */
  handshakeFailed: number;
  /** Connections a handshake layer answered itself (health checks). */
  handshakeAnswered: number;
}

/** What `stop()` reports: connections closed gracefully, aborted at the deadline, and closed by force. */
export type StopResult = DrainResult;

type ServerState = 'new' | 'listening' | 'stopping' | 'stopped';

/** After the drain deadline aborted what was left, how long the transports get to report their close. */
const forceCloseAfterMs = 2000;

/** A listening server: accepts connections, wraps them in `Connection`s and runs their callbacks. */
export class Server<U = unknown> {
  readonly pool: BufferPool;
  readonly dispatcher: CompletionDispatcher;
  readonly wheel: TimerWheel;
  readonly clock: Clock;
  readonly stats: ServerStats = { accepted: 0, overLimit: 0, active: 0, peakActive: 0, closed: 0, callbackErrors: 0, acceptErrors: 0, handshaking: 0, handshakeFailed: 0, handshakeAnswered: 0 };
  #options: ServerOptions<U>;
  #connectionOptions: Readonly<ConnectionOptions>;
  #net: net.Server;
  #drainer = new ConnectionDrain<U>({ forceAfterMs: forceCloseAfterMs });
  #refusals: RefusalCloser;
  #state: ServerState = 'new';
  #acceptMode: AcceptMode | null = null;
  #address: SocketEndpoint | null = null;
  /** The listen address when it is one address (not 0.0.0.0 / ::): every accepted connection's local end. */
  #specificLocal: SocketEndpoint | null = null;
  #listening: Promise<SocketEndpoint> | null = null;
  #stopping: Promise<StopResult> | null = null;
  #ctx: ConnectionContext<U>;
  #readMode: TcpReadMode;
  /** Accepted handles become NativeTcpTransports (see `nativeHandles`). */
  #native: boolean;
  #maxConnections: number;
  #handshakes: readonly HandshakeHandler[];
  #handshakeTimeoutMs: number;
  #maxHandshakeBytes: number;
  /** Connections still in their handshake layers. */
  #stacks = new Set<LayerStack>();
  /** Hooks the handshake layers registered, run when the connection finishes. */
  #finishedHooks = new Map<Connection<U>, (() => void)[]>();

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
    this.#maxConnections = max;
    const closing = options.maxClosingRefusals ?? 64;
    if (!Number.isInteger(closing) || closing < 0) {
      throw new PorticoError(ErrorCodes.INVALID_ARGUMENT, 'server', `maxClosingRefusals must be a non-negative integer, got ${closing}`);
    }
    if (options.backlog !== undefined && (!Number.isInteger(options.backlog) || options.backlog < 1)) {
      throw new PorticoError(ErrorCodes.INVALID_ARGUMENT, 'server', `backlog must be a positive integer, got ${options.backlog}`);
    }
    if (typeof options.handler !== 'function' && (typeof options.handler !== 'object' || options.handler === null || typeof options.handler.onReadCompleted !== 'function')) {
      throw new PorticoError(ErrorCodes.INVALID_ARGUMENT, 'server', 'handler must be a ConnectionCallbacks object with onReadCompleted, or a factory function');
    }
    this.#handshakes = [...(options.handshakes ?? [])];
    for (const h of this.#handshakes) {
      if (typeof h !== 'object' || h === null || typeof h.start !== 'function' || typeof h.name !== 'string') {
        throw new PorticoError(ErrorCodes.INVALID_ARGUMENT, 'server', 'handshakes must be HandshakeHandler objects (name, start, onData)');
      }
    }
    this.#handshakeTimeoutMs = positiveInteger(options.handshakeTimeoutMs, 5000, 'handshakeTimeoutMs');
    this.#maxHandshakeBytes = positiveInteger(options.maxHandshakeBytes, 16384, 'maxHandshakeBytes');
    this.#readMode = options.readMode ?? 'onread';
    this.#native = (options.nativeHandles ?? process.env['PORTICO_NATIVE_HANDLES'] !== '0') && this.#readMode === 'onread' && !this.#handshakes.some((h) => h.needsSocket === true);
    if (this.#native && nativeStream() === null) {
      this.#native = false;
      process.emitWarning(`portico: accepted connections use net.Socket: ${nativeStreamUnavailable()}`, { code: 'PORTICO_NATIVE_FALLBACK' });
    }
    this.#refusals = new RefusalCloser({ wheel: this.wheel, clock: this.clock, lingerMs: this.#connectionOptions.lingerMs, max: closing });
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
    this.#net = net.createServer({ pauseOnConnect: true, allowHalfOpen: true, noDelay: options.noDelay ?? true }, (socket) => this.#acceptSocket(socket));
    this.#net.on('error', (error: NodeJS.ErrnoException) => {
      this.stats.acceptErrors++;
      this.#callback('onAcceptError', new PorticoError(ErrorCodes.LISTEN, 'server', `accept failed: ${error.message}`, { cause: error }));
    });
  }

  /** Where the server listens (after `listen()`). */
  get address(): SocketEndpoint {
    if (this.#address === null) throw new PorticoError(ErrorCodes.INVALID_STATE, 'server', 'server is not listening');
    return this.#address;
  }

  /** Open connections. */
  get connections(): ReadonlySet<Connection<U>> {
    return this.#drainer.connections;
  }

  get state(): ServerState {
    return this.#state;
  }

  /** How connections are accepted ('handle' or 'server'); null before `listen()`. */
  get acceptMode(): AcceptMode | null {
    return this.#acceptMode;
  }

  /** Refused connections still closing gracefully (`overLimit: 'close'`). */
  get closingRefusals(): number {
    return this.#refusals.size;
  }

  /** Start listening. Rejects with PORTICO_ERR_LISTEN (e.g. address in use), or INVALID_STATE if stopped meanwhile. */
  listen(): Promise<SocketEndpoint> {
    if (this.#listening !== null || this.#state !== 'new') return Promise.reject(new PorticoError(ErrorCodes.INVALID_STATE, 'server', `listen() in state ${this.#state}`));
    const host = this.#options.host ?? '127.0.0.1';
    const port = this.#options.port ?? 0;
    this.#listening = new Promise<SocketEndpoint>((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException): void => {
        reject(new PorticoError(ErrorCodes.LISTEN, 'server', `cannot listen on ${host}:${port}: ${error.code ?? error.message}`, { cause: error }));
      };
      this.#net.once('error', onError);
      this.#net.listen({ host, port, backlog: this.#options.backlog ?? 511 }, () => {
        this.#net.off('error', onError);
        if (this.#state !== 'new') {
          reject(new PorticoError(ErrorCodes.INVALID_STATE, 'server', 'stop() was called before listen() completed'));
          return;
        }
        const addr = this.#net.address() as net.AddressInfo;
        this.#address = { address: addr.address, port: addr.port, family: addr.family === 'IPv6' ? 'IPv6' : 'IPv4' };
        if (addr.address !== '0.0.0.0' && addr.address !== '::') this.#specificLocal = this.#address;
        this.#acceptMode = this.#chooseAcceptMode();
        this.#state = 'listening';
        this.#callback('onStartAccepting', this.#address);
        resolve(this.#address);
      });
    });
    return this.#listening;
  }

  /** @internal Connections this server takes on native handles (`nativeHandles`, where it applies and this Node allows). */
  get nativeHandles(): boolean {
    return this.#native;
  }

  #chooseAcceptMode(): AcceptMode {
    if ((this.#options.acceptMode ?? 'handle') === 'server') return 'server';
    const refused = takeOverAccepts(this.#net, (status, handle, original) => this.#acceptHandle(status, handle, original));
    if (refused === null) return 'handle';
    process.emitWarning(`portico: cannot take accepted handles from the listening socket (${refused}); using net.Server's sockets in copy mode`, {
      code: 'PORTICO_ACCEPT_FALLBACK',
    });
    return 'server';
  }

  /** A connection from the listening handle (accept mode 'handle'). */
  #acceptHandle(status: number, handle: NativeTcpHandle | undefined, original: OnConnection): void {
    if (this.#acceptMode === 'server') {
      original(status, handle); // fell back: net.Server builds the socket and calls #acceptSocket
      return;
    }
    if (status < 0 || handle === undefined) {
      this.stats.acceptErrors++;
      this.#callback('onAcceptError', new PorticoError(ErrorCodes.SOCKET, 'server', `accept failed (status ${status})`));
      return;
    }
    if (this.#state !== 'listening' || this.#overLimit(() => peerOf(handle))) {
      if (this.#state !== 'listening' || (this.#options.overLimit ?? 'reset') === 'reset') {
        resetHandle(handle);
        return;
      }
      if (!this.#refusals.tryAdd(() => TcpTransport.fromHandle(handle, this.pool, 'copy'))) resetHandle(handle);
      return;
    }
    if (this.#options.noDelay ?? true) handle.setNoDelay?.(true);
    let transport: Transport;
    try {
      transport =
        (this.#native && isNativeStreamHandle(handle) ? NativeTcpTransport.fromHandle(handle, this.pool, this.#specificLocal) : null) ??
        TcpTransport.fromHandle(handle, this.pool, this.#readMode, this.#specificLocal);
    } catch (error) {
      // This Node will not let us wrap accepted handles after all: say why, and hand this connection
      // (and every later one) to net.Server's own path instead of dropping it.
      this.#acceptMode = 'server';
      process.emitWarning(`portico: cannot wrap an accepted handle (${toPorticoError(error, ErrorCodes.SOCKET, 'server').message}); using net.Server's sockets in copy mode`, {
        code: 'PORTICO_ACCEPT_FALLBACK',
      });
      original(status, handle);
      return;
    }
    this.#admit(transport);
  }

  /** A connection net.Server made (accept mode 'server'). */
  #acceptSocket(socket: net.Socket): void {
    if (this.#state !== 'listening' || this.#overLimit(() => socketPeer(socket))) {
      if (this.#state !== 'listening' || (this.#options.overLimit ?? 'reset') === 'reset') {
        socket.resetAndDestroy();
        return;
      }
      if (!this.#refusals.tryAdd(() => TcpTransport.fromSocket(socket, this.pool))) socket.resetAndDestroy();
      return;
    }
    this.#admit(TcpTransport.fromSocket(socket, this.pool));
  }

  /**
   * Adopt a connection accepted somewhere else — a descriptor another process handed over (see
   * `HandoffReceiver` in handoff.ts) — as if this server had accepted it: counted against
   * `maxConnections` and in the stats, drained by `stop()`. `leftover`, the bytes the sender already
   * read, becomes the connection's first read completion. The handshake layers do not run (the sender
   * ran its own). Returns false when refused — stopping or over the limit: then nothing was closed (the
   * sender still owns its copy) — or when `createUser` threw (then the transport was reset, as for an
   * accepted connection); `leftover` is released either way.
   */
  adopt(transport: Transport, leftover: PooledBuffer[]): boolean {
    if (this.#state === 'stopping' || this.#state === 'stopped' || this.#overLimit(() => transport.remote)) {
      for (const buffer of leftover) buffer.release();
      return false;
    }
    return this.#open(transport, null, leftover) !== null;
  }

  /** True (and counted, and reported) when this connection is over the limit. */
  #overLimit(peer: () => SocketEndpoint): boolean {
    const max = this.#maxConnections;
    if (max === 0 || this.#drainer.connections.size + this.#stacks.size < max) return false;
    this.stats.overLimit++;
    if (this.#options.callbacks?.onMaximumConnections !== undefined) this.#callback('onMaximumConnections', peer());
    return true;
  }

  #admit(transport: Transport): void {
    if (this.#handshakes.length === 0) {
      this.#open(transport, null, []);
      return;
    }
    const stack = new LayerStack(
      transport,
      {
        handlers: this.#handshakes,
        direction: 'accepted',
        deadlineMs: this.#handshakeTimeoutMs,
        maxBufferedBytes: this.#maxHandshakeBytes,
        lingerMs: Math.min(this.#connectionOptions.lingerMs, 2000),
        wheel: this.wheel,
        clock: this.clock,
        pool: this.pool,
        local: this.#specificLocal,
      },
      this.#layerEvents,
    );
    this.#stacks.add(stack);
    this.stats.handshaking = this.#stacks.size;
    stack.start();
  }

  readonly #layerEvents = {
    ready: (stack: LayerStack, transport: Transport, leftover: PooledBuffer[]): boolean => {
      this.#stacks.delete(stack);
      this.stats.handshaking = this.#stacks.size;
      this.#settledWaiter?.();
      const conn = this.#open(transport, stack, leftover);
      return conn !== null && conn.wantsInput;
    },
    failed: (stack: LayerStack, outcome: HandshakeOutcome): void => {
      if (outcome.kind === 'answered') this.stats.handshakeAnswered++;
      else this.stats.handshakeFailed++;
      if (this.#options.callbacks?.onHandshakeFailed !== undefined) this.#callback('onHandshakeFailed', stack.socketRemote, outcome);
    },
    ended: (stack: LayerStack): void => {
      this.#stacks.delete(stack);
      this.stats.handshaking = this.#stacks.size;
      this.#settledWaiter?.();
    },
  };

  /** Build the connection on a transport whose handshake layers (if any) are done, and start it. */
  #open(transport: Transport, stack: LayerStack | null, leftover: PooledBuffer[]): Connection<U> | null {
    let user: U;
    try {
      user = this.#options.createUser ? this.#options.createUser() : (undefined as U);
    } catch (error) {
      // A throw in user code costs its own connection, never the process.
      this.stats.callbackErrors++;
      for (const buffer of leftover) buffer.release();
      if (stack !== null) for (const hook of stack.takeFinishedHooks()) hook();
      transport.reset();
      this.#warn('createUser threw', error);
      return null;
    }
    const conn = new Connection<U>(transport, this.#options.handler, user, this.#ctx, this.#connectionOptions);
    if (stack !== null) {
      conn.adoptHandshake(stack.proxied, stack.proxiedEnds);
      const hooks = stack.takeFinishedHooks();
      if (hooks.length > 0) this.#finishedHooks.set(conn, hooks);
    }
    this.#drainer.add(conn);
    this.stats.accepted++;
    this.stats.active = this.#drainer.connections.size;
    if (this.stats.active > this.stats.peakActive) this.stats.peakActive = this.stats.active;
    conn.start(leftover);
    // Finished its handshake while the server drains: drain it like the others.
    if (this.#state === 'stopping' || this.#state === 'stopped') conn.beginDrain();
    return conn;
  }

  #finished(conn: Connection<U>): void {
    const hooks = this.#finishedHooks.get(conn);
    if (hooks !== undefined) {
      this.#finishedHooks.delete(conn);
      for (const hook of hooks) hook();
    }
    if (!this.#drainer.finished(conn)) return;
    this.stats.closed++;
    this.stats.active = this.#drainer.connections.size;
  }

  /** Run a server callback; a throw is counted and reported as a warning, never thrown into the accept loop. */
  #callback<K extends keyof ServerCallbacks>(name: K, ...args: Parameters<NonNullable<ServerCallbacks[K]>>): void {
    const fn = this.#options.callbacks?.[name] as ((...a: typeof args) => void) | undefined;
    if (fn === undefined) return;
    try {
      fn.apply(this.#options.callbacks, args);
    } catch (error) {
      this.stats.callbackErrors++;
      this.#warn(`${name} threw`, error);
    }
  }

  #warn(what: string, error: unknown): void {
    const e = toPorticoError(error, ErrorCodes.CALLBACK_THREW, 'server');
    process.emitWarning(`portico server: ${what}: ${e.message}`, { code: ErrorCodes.CALLBACK_THREW });
  }

  /**
   * Graceful drain: stop accepting, let each connection finish (or its handler's `onDrain` decide),
   * close idle ones, abort what is left after the deadline. Resolves when every connection is closed;
   * bounded: a transport that does not report its close soon after the abort is closed by force.
   */
  stop(options: { deadlineMs?: number } = {}): Promise<StopResult> {
    const deadlineMs = options.deadlineMs ?? this.#options.drainDeadlineMs ?? 5000;
    if (typeof deadlineMs !== 'number' || !Number.isFinite(deadlineMs) || deadlineMs < 0) {
      return Promise.reject(new PorticoError(ErrorCodes.INVALID_ARGUMENT, 'server', `deadlineMs must be a non-negative number, got ${String(deadlineMs)}`));
    }
    if (this.#stopping !== null) {
      // Stopping already: a shorter deadline given now pulls the drain deadline in; a longer one changes nothing.
      if (options.deadlineMs !== undefined) void this.#drainer.drain(deadlineMs);
      return this.#stopping;
    }
    this.#stopping = this.#drain(deadlineMs);
    return this.#stopping;
  }

  async #drain(deadlineMs: number): Promise<StopResult> {
    const wasListening = this.#state === 'listening';
    this.#state = 'stopping';
    if (this.#listening !== null && !wasListening) await this.#listening.catch(() => undefined); // let listen() settle first
    const closed = new Promise<void>((resolve) => this.#net.close(() => resolve()));
    if (wasListening) this.#callback('onStopAccepting');
    this.#refusals.resetAll();
    // Connections still in their handshake layers may finish it (and are then drained) until the
    // deadline; then they are reset. The drain counts them as open until they settle.
    const release = this.#drainer.hold();
    const settled = this.#settleHandshakes(deadlineMs).finally(release);
    const result = await this.#drainer.drain(deadlineMs);
    const handshakesAborted = await settled;
    await closed;
    this.#state = 'stopped';
    // Connections reset in their handshake at the deadline were open too: count them as aborted.
    return handshakesAborted === 0 ? result : { ...result, aborted: result.aborted + handshakesAborted };
  }

  #settledWaiter: (() => void) | null = null;

  /**
   * Resolves once no connection is in its handshake layers; at the deadline, those still there are
   * reset. Resolves with how many were reset.
   */
  #settleHandshakes(deadlineMs: number): Promise<number> {
    if (this.#stacks.size === 0) return Promise.resolve(0);
    let aborted = 0;
    return new Promise<number>((resolve) => {
      const done = (): void => {
        if (this.#stacks.size > 0) return;
        clearTimeout(timer);
        this.#settledWaiter = null;
        resolve(aborted);
      };
      const timer = setTimeout(() => {
        const error = new PorticoError(ErrorCodes.DRAIN_DEADLINE, 'server', 'handshake not finished when the server stopped');
        for (const stack of [...this.#stacks]) {
          aborted++;
          stack.abort(error);
        }
        // Reset handles report their close shortly; if one does not, stop anyway.
        setTimeout(() => {
          this.#settledWaiter = null;
          resolve(aborted);
        }, forceCloseAfterMs).unref();
      }, deadlineMs);
      this.#settledWaiter = done;
    });
  }

}

function positiveInteger(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) throw new PorticoError(ErrorCodes.INVALID_ARGUMENT, 'server', `${name} must be a positive integer, got ${String(value)}`);
  return value;
}

function socketPeer(socket: net.Socket): SocketEndpoint {
  return { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0, family: socket.remoteFamily === 'IPv6' ? 'IPv6' : 'IPv4' };
}

/** RST a raw accepted handle without building a socket for it (no TIME_WAIT here). */
function resetHandle(handle: NativeTcpHandle): void {
  const status = typeof handle.reset === 'function' ? handle.reset(() => {}) : -1;
  if (status !== 0) handle.close();
}
