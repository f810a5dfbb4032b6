import { performance } from 'node:perf_hooks';
import {
  ErrorCodes,
  PorticoError,
  type CloseReason,
  type Connection,
  type ConnectionCallbacks,
  type PooledBuffer,
  type TlsClientHandshakeOptions,
} from '../../framework/index.js';
import type { BackendAddress } from './backend-address.js';
import { type BackendContext, connectBackend } from './backend-connector.js';
import { Flow } from './flow.js';

/** Builds the bytes written to the backend before any client byte (`--send-proxy`'s PROXY header), or null. */
export type PrefixBuilder = (client: Connection<undefined>) => Uint8Array | null;

/** Why the backend connection could not be made. */
export type BackendFailure = 'refused' | 'timeout' | 'failed';

export type ChannelSide = 'client' | 'backend';

/** What the client connection gets when its backend cannot be reached. */
export type BackendErrorAction = 'reset' | 'close';

/** How every channel of a proxy connects and fails; shared, read-only. */
export interface ChannelSettings {
  readonly backend: BackendAddress;
  readonly connectTimeoutMs: number;
  readonly onBackendError: BackendErrorAction;
  readonly prefix: PrefixBuilder | null;
  /** TLS to the backend, or null. */
  readonly tls: TlsClientHandshakeOptions | null;
  readonly context: BackendContext;
}

/** A pure event sink for what happens to channels (counted and logged by the proxy). */
export interface ChannelMonitor {
  onBackendConnected?(channel: ProxyChannel): void;
  onBackendFailed?(channel: ProxyChannel, failure: BackendFailure, error: PorticoError, elapsedMs: number): void;
  /** One side was reset (or failed); the other is aborted. */
  onReset?(channel: ProxyChannel, side: ChannelSide, error: PorticoError): void;
  /** Both connections are closed (or the backend never came up): the channel is over. */
  onFinished?(channel: ProxyChannel): void;
}

type BackendState = 'none' | 'connecting' | 'open' | 'closed' | 'failed';

/**
 * One client connection, its backend connection, and the two flows between them.
 *
 * - The client is not read until the backend is connected: what it sends early waits in the kernel.
 * - Each direction is flow-controlled on its own (`Flow`).
 * - Half-close: a FIN from one side becomes `shutdownWrite()` on the other while the opposite
 *   direction keeps flowing; each connection closes once both of its directions are done.
 * - A reset (or any abnormal close) of one side aborts the other: the peer sees RST, not a FIN that
 *   would pass for a clean end of stream.
 * - When the backend cannot be reached the client is reset (or closed, per settings) and the monitor
 *   says why.
 */
export class ProxyChannel {
  readonly client: Connection<undefined>;
  /** Null until the backend connection is up (and if it never comes). */
  backend: Connection<undefined> | null = null;
  /** Client → backend. */
  readonly upstream = new Flow();
  /** Backend → client. */
  readonly downstream = new Flow();
  /** The client connection's callbacks (the server's handler factory returns them). */
  readonly clientCallbacks: ConnectionCallbacks<undefined>;
  /** The backend connection's callbacks. */
  readonly backendCallbacks: ConnectionCallbacks<undefined>;
  #settings: ChannelSettings;
  #monitor: ChannelMonitor;
  #backendState: BackendState = 'none';
  #clientClosed = false;
  #finished = false;
  #connectStarted = 0;

  constructor(client: Connection<undefined>, settings: ChannelSettings, monitor: ChannelMonitor = {}) {
    this.client = client;
    this.#settings = settings;
    this.#monitor = monitor;
    // Arrow functions closing over the channel, no `this`: the backend connector may copy them.
    this.clientCallbacks = {
      onConnectionEstablished: () => this.#connect(),
      onReadCompleted: (_conn, buffer) => this.#forward(this.upstream, buffer, client),
      onWritable: () => this.downstream.sinkWritable(),
      onClientClose: () => this.upstream.end(),
      onConnectionReset: (_conn, error) => this.#reset('client', error),
      // Nothing to decide: the proxy cannot tell a quiet channel from one waiting on a slow backend,
      // so channels finish on their own and the server's drain deadline bounds the wait.
      onDrain: () => {},
      onConnectionClosed: (_conn, reason) => this.#closed('client', reason),
    };
    this.backendCallbacks = {
      onConnectionEstablished: (conn) => this.#backendUp(conn),
      onReadCompleted: (conn, buffer) => this.#forward(this.downstream, buffer, conn),
      onWritable: () => this.upstream.sinkWritable(),
      onClientClose: () => this.downstream.end(),
      onConnectionReset: (_conn, error) => this.#reset('backend', error),
      onConnectionClosed: (_conn, reason) => this.#closed('backend', reason),
    };
  }

  /** Where the channel is: connecting to the backend, open (relaying), failed (no backend; the client is being closed), or finished. */
  get state(): 'connecting' | 'open' | 'failed' | 'finished' {
    if (this.#finished) return 'finished';
    if (this.#backendState === 'failed') return 'failed';
    return this.#backendState === 'open' || this.#backendState === 'closed' ? 'open' : 'connecting';
  }

  /** Most bytes ever queued for writing on either connection of this channel. */
  get peakQueuedBytes(): number {
    return Math.max(this.client.stats.maxQueuedBytes, this.backend?.stats.maxQueuedBytes ?? 0);
  }

  #connect(): void {
    const client = this.client;
    void client.remote; // read the peer's address now: after an RST it is gone, and the logs want it
    const prefix = this.#settings.prefix?.(client) ?? null;
    this.#backendState = 'connecting';
    this.#connectStarted = performance.now();
    connectBackend({
      address: this.#settings.backend,
      timeoutMs: this.#settings.connectTimeoutMs,
      handler: this.backendCallbacks,
      prefix,
      tls: this.#settings.tls,
      context: this.#settings.context,
    }).then(
      () => {}, // onConnectionEstablished takes it from here, in the dispatcher's order
      (error: unknown) => client.post(ProxyChannel.#deliverBackendFailed, { channel: this, error }),
    );
  }

  #backendUp(backend: Connection<undefined>): void {
    this.backend = backend;
    this.#backendState = 'open';
    if (this.client.lifecycle !== 'open') {
      // The client went away (reset, drain deadline) while we connected.
      backend.abort(new PorticoError(ErrorCodes.CONNECTION_RESET, 'protocol', 'client closed while the backend connection was being made'));
      return;
    }
    this.#monitor.onBackendConnected?.(this);
    this.upstream.start(this.client, backend);
    this.downstream.start(backend, this.client);
  }

  static #deliverBackendFailed(arg: { channel: ProxyChannel; error: unknown }): void {
    arg.channel.#backendFailed(arg.error);
  }

  #backendFailed(thrown: unknown): void {
    this.#backendState = 'failed';
    const error =
      thrown instanceof PorticoError ? thrown : new PorticoError(ErrorCodes.CONNECT_FAILED, 'connector', thrown instanceof Error ? thrown.message : String(thrown), { cause: thrown });
    const failure: BackendFailure =
      error.code === ErrorCodes.CONNECT_REFUSED ? 'refused' : error.code === ErrorCodes.CONNECT_TIMEOUT || error.code === ErrorCodes.HANDSHAKE_TIMEOUT ? 'timeout' : 'failed';
    this.#monitor.onBackendFailed?.(this, failure, error, performance.now() - this.#connectStarted);
    if (this.#settings.onBackendError === 'close') this.client.close();
    else this.client.abort(error);
    this.#maybeFinish();
  }

  #forward(flow: Flow, buffer: PooledBuffer, source: Connection<undefined>): void {
    // The other side is closing or aborted: its own close aborts this side too; stop reading now.
    if (!flow.forward(buffer)) source.abort(new PorticoError(ErrorCodes.CONNECTION_RESET, 'protocol', 'the other side of the channel is gone'));
  }

  #reset(side: ChannelSide, error: PorticoError): void {
    this.#monitor.onReset?.(this, side, error);
    this.#other(side)?.abort(error);
  }

  #closed(side: ChannelSide, reason: CloseReason): void {
    if (side === 'client') this.#clientClosed = true;
    else this.#backendState = 'closed';
    const other = this.#other(side);
    if (other !== null && !other.isClosed) {
      if (reason.kind === 'local-close' || reason.kind === 'peer-close') {
        // Both directions of this side ended, so both of the other's did: it is closing by itself.
        // close() is the bound on that (linger), not a change of course.
        other.close();
      } else {
        const cause = 'error' in reason ? reason.error : null;
        other.abort(cause ?? new PorticoError(ErrorCodes.CONNECTION_RESET, 'protocol', `${side} side closed abnormally (${reason.kind})`));
      }
    }
    this.#maybeFinish();
  }

  #other(side: ChannelSide): Connection<undefined> | null {
    return side === 'client' ? this.backend : this.client;
  }

  #maybeFinish(): void {
    if (this.#finished || !this.#clientClosed) return;
    if (this.#backendState === 'connecting' || this.#backendState === 'open') return;
    this.#finished = true;
    this.#monitor.onFinished?.(this);
  }
}
