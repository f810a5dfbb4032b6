import * as net from 'node:net';
import { BufferPool, ErrorCodes, PorticoError, type RequestHead, RequestHeadParser, type SocketEndpoint, systemClock, TcpTransport, TimerWheel } from '../../framework/index.js';
import { type NativeTcpHandle, takeOverAccepts } from '../../framework/server/accept-handles.js';
import { BackendProcess, type BackendStats, type TransferRequest } from './backend-process.js';
import { type FrontConfig, matchRoute } from './config.js';
import { emptyFrontStats, FrontConnection, type FrontConnectionHost, type FrontStats } from './front-connection.js';
import { relay } from './relay.js';

/** How the front passes a routed connection on. */
export type FrontMode =
  /** Hand the descriptor to the back end (mod_fd_transfer): the front is out of the path at once. */
  | 'transfer'
  /** Connect to the back end and copy bytes both ways (the FastCGI / reverse-proxy path; for comparison). */
  | 'relay';

export interface FdFrontOptions {
  readonly host: string;
  readonly port: number;
  readonly backlog: number;
  readonly config: FrontConfig;
  readonly mode: FrontMode;
  /** Largest request head (431 over it). */
  readonly maxHeadBytes: number;
  /** The head must arrive within this (408 after it). */
  readonly headTimeoutMs: number;
  /** A back end must acknowledge a transfer within this, its start-up included (504 after it). */
  readonly ackTimeoutMs: number;
  /** Transfers in flight per back end (503 over it). */
  readonly maxInFlight: number;
  /** Connections the front holds at once (reading heads, waiting for acks, answering); over it, RST. 0 = unlimited. */
  readonly maxConnections: number;
  /** On stop, back ends get this long to drain. */
  readonly drainTimeoutMs: number;
  readonly backoff: { minMs: number; maxMs: number };
  /** Start every back end at once instead of on its first request. */
  readonly eager: boolean;
  /**
   * 'handle' (default): accepted handles straight from the listening socket. 'server': net.Server's
   * paused sockets' handles — the fallback when the take-over is refused; tests choose it to run that path.
   */
  readonly acceptMode?: 'handle' | 'server';
}

/**
 * The fd-transfer front: accepts connections, reads request heads, and hands each connection to the
 * back-end process its path routes to (see `FrontConnection`, `BackendProcess`).
 */
export class FdFront implements FrontConnectionHost {
  readonly stats: FrontStats = emptyFrontStats();
  readonly backends: ReadonlyMap<string, BackendProcess>;
  readonly wheel = new TimerWheel();
  readonly clock = systemClock;
  readonly maxHeadBytes: number;
  readonly headTimeoutMs: number;
  readonly #options: FdFrontOptions;
  readonly #pool = new BufferPool({ bufferSize: 16384 });
  readonly #net: net.Server;
  readonly #connections = new Set<FrontConnection>();
  #accepting = false;
  #stopping: Promise<{ aborted: number }> | null = null;
  #idleWaiter: (() => void) | null = null;

  constructor(options: FdFrontOptions) {
    this.#options = options;
    this.maxHeadBytes = options.maxHeadBytes;
    this.headTimeoutMs = options.headTimeoutMs;
    const backends = new Map<string, BackendProcess>();
    for (const spec of options.config.backends.values()) {
      backends.set(spec.name, new BackendProcess(spec, { maxInFlight: options.maxInFlight, ackTimeoutMs: options.ackTimeoutMs, backoff: options.backoff, wheel: this.wheel }));
    }
    this.backends = backends;
    // pauseOnConnect: a socket net.Server builds (only if taking raw handles is refused) reads nothing.
    this.#net = net.createServer({ pauseOnConnect: true, allowHalfOpen: true }, (socket) => {
      const holder = socket as unknown as { _handle?: NativeTcpHandle | null };
      const handle = holder._handle;
      // The handle moves on; the socket goes without closing it (it has none now) — and its destroy is
      // what tells net.Server the connection is gone, or server.close() would wait for it for ever.
      holder._handle = null;
      socket.destroy();
      if (handle !== undefined && handle !== null) this.#accept(handle);
    });
  }

  /** Listen; with `eager`, start the back ends too. Rejects with PORTICO_ERR_LISTEN. */
  listen(): Promise<SocketEndpoint> {
    return new Promise((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException): void =>
        reject(new PorticoError(ErrorCodes.LISTEN, 'server', `cannot listen on ${this.#options.host}:${this.#options.port}: ${error.code ?? error.message}`, { cause: error }));
      this.#net.once('error', onError);
      this.#net.listen({ host: this.#options.host, port: this.#options.port, backlog: this.#options.backlog }, () => {
        this.#net.off('error', onError);
        this.#net.on('error', () => this.stats.acceptErrors++); // transient (EMFILE): counted, the listener goes on
        // Raw handles straight from the listening socket (as Node's cluster round robin): never read by a stream.
        const refused =
          this.#options.acceptMode === 'server'
            ? null
            : takeOverAccepts(this.#net, (status, handle) => {
                if (status < 0 || handle === undefined) this.stats.acceptErrors++;
                else this.#accept(handle);
              });
        if (refused !== null) process.emitWarning(`portico-fd-front: ${refused}; using net.Server's paused sockets' handles`);
        this.#accepting = true;
        if (this.#options.eager) for (const backend of this.backends.values()) backend.start();
        const a = this.#net.address() as net.AddressInfo;
        resolve({ address: a.address, port: a.port, family: a.family === 'IPv6' ? 'IPv6' : 'IPv4' });
      });
    });
  }

  #accept(handle: NativeTcpHandle): void {
    const max = this.#options.maxConnections;
    if (!this.#accepting || (max > 0 && this.#connections.size >= max)) {
      if (this.#accepting) this.stats.overLimit++;
      if (typeof handle.reset !== 'function' || handle.reset(() => {}) !== 0) handle.close();
      return;
    }
    handle.setNoDelay?.(true);
    const conn = new FrontConnection(TcpTransport.fromHandle(handle, this.#pool, 'onread'), this);
    this.#connections.add(conn);
    this.stats.accepted++;
    this.stats.open = this.#connections.size;
    conn.start();
  }

  route(head: RequestHead): ((request: TransferRequest, conn: FrontConnection) => void) | null {
    const route = matchRoute(this.#options.config.routes, head.target);
    if (route === null) return null;
    const backend = this.backends.get(route.backend)!;
    if (this.#options.mode === 'relay') return (request, conn) => relay(backend, request, conn, this.stats);
    return (request) => backend.transfer(request);
  }

  readonly #parsers: RequestHeadParser[] = [];

  takeParser(): RequestHeadParser {
    return this.#parsers.pop() ?? new RequestHeadParser({ maxHeadSize: this.maxHeadBytes });
  }

  giveParser(parser: RequestHeadParser): void {
    if (this.#parsers.length < 256) this.#parsers.push(parser);
  }

  finished(conn: FrontConnection): void {
    this.#connections.delete(conn);
    this.stats.open = this.#connections.size;
    if (this.#connections.size === 0) this.#idleWaiter?.();
  }

  /** Counters as one flat record: the front's, then each back end's as `<name>.<counter>`. */
  statsRecord(): Record<string, number> {
    const out: Record<string, number> = { ...this.stats };
    for (const [name, backend] of this.backends) {
      for (const [key, value] of Object.entries(backend.stats) as [keyof BackendStats, number][]) out[`${name}.${key}`] = value;
    }
    return out;
  }

  /**
   * Graceful stop: stop accepting, close connections still reading a head, let transfers in flight
   * settle (each within the ack timeout), then drain every back end (its connections get
   * `drainTimeoutMs`) and wait for the processes to exit (SIGKILL after a grace period).
   */
  stop(): Promise<{ aborted: number }> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<{ aborted: number }> {
    this.#accepting = false;
    const closed = new Promise<void>((resolve) => this.#net.close(() => resolve()));
    for (const conn of this.#connections) conn.abandon();
    if (this.#connections.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.#options.ackTimeoutMs + 2500);
        this.#idleWaiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    const results = await Promise.all([...this.backends.values()].map((b) => b.stop(this.#options.drainTimeoutMs)));
    await closed;
    this.wheel.clear();
    return { aborted: results.reduce((sum, r) => sum + r.aborted, 0) };
  }
}
