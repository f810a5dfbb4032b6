import type { BufferPool } from '../buffers/buffer-pool.js';
import { PooledBuffer } from '../buffers/pooled-buffer.js';
import type { Clock } from '../core/clock.js';
import { type CompletionDispatcher, type CompletionTarget, DispatchSlot } from '../core/dispatcher.js';
import { ErrorCodes, PorticoError } from '../core/errors.js';
import { Fifo } from '../core/fifo.js';
import type { TimerWheel, WheelTimer } from '../core/timer-wheel.js';
import type { SocketEndpoint, Transport, TransportSink } from '../transport/transport.js';
import type { CloseReason, ConnectionCallbacks, IdleKind } from './callbacks.js';
import { Shut, ShutdownState, type ShutdownStateView } from './shutdown-state.js';

export interface IdleTimeouts {
  /** No read completed for this long (ms, 0 = off). */
  readMs: number;
  /** No write completed (nor queued output drained) for this long (ms, 0 = off). */
  writeMs: number;
  /** Neither for this long (ms, 0 = off). */
  allMs: number;
}

export interface ConnectionOptions {
  /** `write` says 'over-high-water' once this many bytes are queued. Default 65536. */
  highWaterMark: number;
  /** `onWritable` fires when queued bytes fall to this. Default 16384. */
  lowWaterMark: number;
  idle: IdleTimeouts;
  /** After a graceful `close()`, how long to wait for the peer's FIN before aborting. Default 5000. */
  lingerMs: number;
}

export const defaultConnectionOptions: Readonly<ConnectionOptions> = Object.freeze({
  highWaterMark: 65536,
  lowWaterMark: 16384,
  idle: Object.freeze({ readMs: 0, writeMs: 0, allMs: 0 }),
  lingerMs: 5000,
});

/** What a connection needs from whoever created it (server or connector). */
export interface ConnectionContext<U = unknown> {
  readonly dispatcher: CompletionDispatcher;
  readonly wheel: TimerWheel;
  readonly clock: Clock;
  readonly pool: BufferPool;
  /** Called after `onConnectionClosed` ran (registry bookkeeping). */
  readonly onFinished?: (conn: Connection<U>) => void;
  /** Called when a completion threw (counted by the owner). */
  readonly onCallbackError?: (conn: Connection<U>, error: PorticoError) => void;
}

export type WriteStatus = 'queued' | 'over-high-water' | 'closed';

export interface ConnectionStats {
  bytesRead: number;
  bytesWritten: number;
  reads: number;
  writes: number;
  /** Most bytes ever queued for writing at once. */
  maxQueuedBytes: number;
  /** Most read buffers ever staged (received while no read was posted). */
  maxStaged: number;
}

let nextConnectionId = 1;

/**
 * A connection with posted, completion-reported I/O. Post one `read` at a time and get
 * `onReadCompleted`; `write` queues and reports `onWriteCompleted`; the peer's FIN shows up as
 * `onClientClose` on a posted read; `onConnectionClosed` comes exactly once.
 */
export class Connection<U = unknown> implements CompletionTarget, TransportSink {
  readonly id: number = nextConnectionId++;
  readonly dispatchSlot = new DispatchSlot();
  readonly transport: Transport;
  readonly options: Readonly<ConnectionOptions>;
  readonly stats: ConnectionStats = { bytesRead: 0, bytesWritten: 0, reads: 0, writes: 0, maxQueuedBytes: 0, maxStaged: 0 };
  /** Per-connection application state. */
  user: U;

  #ctx: ConnectionContext<U>;
  #handler: ConnectionCallbacks<U>;
  #shut = new ShutdownState();
  #readPosted = false;
  #staged = new Fifo<PooledBuffer>();
  #peerEnded = false;
  #clientCloseDelivered = false;
  #closing = false;
  #draining = false;
  #closedDelivered = false;
  #reason: CloseReason | null = null;
  #queuedBytes = 0;
  #pendingWrites = 0;
  #overHigh = false;
  #readSequence = 0;
  #lastRead: number;
  #lastWrite: number;
  #idleEnabled: boolean;
  #idleTimer: WheelTimer | null = null;
  #lingerTimer: WheelTimer | null = null;
  readonly #remote: SocketEndpoint;
  readonly #local: SocketEndpoint;

  constructor(
    transport: Transport,
    handler: ConnectionCallbacks<U> | ((conn: Connection<U>) => ConnectionCallbacks<U>),
    user: U,
    ctx: ConnectionContext<U>,
    options: Partial<ConnectionOptions> = {},
  ) {
    this.transport = transport;
    this.#handler = typeof handler === 'function' ? { onReadCompleted: releaseUnclaimed } : handler;
    this.user = user;
    this.#ctx = ctx;
    this.options = resolveConnectionOptions(options);
    // Read now: after an RST Node has already dropped the handle when it reports the error.
    this.#remote = transport.remote;
    this.#local = transport.local;
    this.#lastRead = this.#lastWrite = ctx.clock.now();
    const idle = this.options.idle;
    this.#idleEnabled = idle.readMs > 0 || idle.writeMs > 0 || idle.allMs > 0;
    transport.attach(this);
    if (typeof handler === 'function') this.#handler = handler(this);
  }

  get remote(): SocketEndpoint {
    return this.#remote;
  }
  get local(): SocketEndpoint {
    return this.#local;
  }
  get shutdown(): ShutdownStateView {
    return this.#shut;
  }
  /** Bytes written and not yet completed. */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }
  /** Read buffers received while no read was posted. */
  get stagedCount(): number {
    return this.#staged.length;
  }
  get readPosted(): boolean {
    return this.#readPosted;
  }
  get isClosed(): boolean {
    return this.#shut.has(Shut.Closed);
  }
  /** Waiting for the peer with nothing of ours in flight: safe to close on drain. */
  get isIdle(): boolean {
    return this.#readPosted && this.#staged.length === 0 && this.#pendingWrites === 0;
  }
  get closeReason(): CloseReason | null {
    return this.#reason;
  }

  /** @internal Start the connection: stage bytes a lower layer already read, then report establishment. */
  start(leftover: readonly PooledBuffer[] = []): void {
    for (const buffer of leftover) this.#stage(buffer);
    this.#armIdle();
    this.#ctx.dispatcher.complete(this, this.#deliverEstablished, undefined);
  }

  // ---- operations -------------------------------------------------------------------------------

  /**
   * Post one read. Exactly one `onReadCompleted` (or `onClientClose` at end of input) follows.
   * Completes at once when bytes are already staged — the dispatcher keeps that from recursing.
   */
  read(): void {
    if (this.#shut.has(Shut.Closed) || this.#shut.has(Shut.AbortWanted) || this.#closing) return;
    if (this.#readPosted) throw new PorticoError(ErrorCodes.INVALID_STATE, 'connection', `connection ${this.id}: a read is already posted`);
    const staged = this.#staged.shift();
    if (staged !== undefined) {
      this.#ctx.dispatcher.complete(this, this.#deliverRead, staged);
      return;
    }
    if (this.#peerEnded) {
      this.#deliverEndOnce();
      return;
    }
    this.#readPosted = true;
    if (this.#draining) this.#drainIfIdle();
    else this.transport.resumeReading();
  }

  /**
   * Queue bytes for writing. A `PooledBuffer` is owned by the connection from here on and released
   * once written; a plain `Uint8Array` must not be modified until its `onWriteCompleted`.
   * Returns 'over-high-water' when the caller should wait for `onWritable`, 'closed' if the bytes were dropped.
   */
  write(data: Uint8Array | PooledBuffer): WriteStatus {
    const pooled = data instanceof PooledBuffer ? data : null;
    if (this.#shut.flags & (Shut.Closed | Shut.AbortWanted | Shut.WriteWanted | Shut.Error)) {
      pooled?.release();
      return 'closed';
    }
    const bytes = pooled !== null ? pooled.data : (data as Uint8Array);
    const length = bytes.length;
    if (length === 0) {
      pooled?.release();
      return this.#overHigh ? 'over-high-water' : 'queued';
    }
    this.#queuedBytes += length;
    this.#pendingWrites++;
    if (this.#queuedBytes > this.stats.maxQueuedBytes) this.stats.maxQueuedBytes = this.#queuedBytes;
    this.transport.write(bytes, (error) => this.#writeDone(length, pooled, error));
    if (this.#queuedBytes > this.options.highWaterMark) {
      this.#overHigh = true;
      return 'over-high-water';
    }
    return 'queued';
  }

  /** Send FIN once queued writes are flushed; reading may continue (half-close). */
  shutdownWrite(): void {
    if (this.#shut.flags & (Shut.Closed | Shut.AbortWanted)) return;
    if (!this.#shut.set(Shut.WriteWanted)) return;
    this.transport.shutdownWrite();
    this.#shut.set(Shut.WriteDone);
  }

  /** Graceful close: flush, FIN, discard further input, wait up to `lingerMs` for the peer's FIN, then abort. */
  close(): void {
    this.#beginClose({ kind: 'local-close' });
  }

  /** Abortive close: RST now, queued writes and staged input dropped, no TIME_WAIT on this side. */
  abort(error: PorticoError | null = null): void {
    if (this.#shut.has(Shut.Closed) || !this.#shut.set(Shut.AbortWanted)) return;
    this.#setReason({ kind: 'aborted', error });
    this.#readPosted = false;
    this.#releaseStaged();
    this.transport.reset();
  }

  /** @internal Server drain: let the handler decide, or close once idle. */
  beginDrain(): void {
    if (this.#draining || this.#shut.has(Shut.Closed)) return;
    this.#draining = true;
    if (this.#handler.onDrain !== undefined) this.#ctx.dispatcher.complete(this, this.#deliverDrain, undefined);
    else this.#drainIfIdle();
  }

  /** @internal Server drain deadline passed. */
  abortForDrain(error: PorticoError): void {
    // Overrides a graceful 'drain' reason recorded earlier: this connection did not finish in time.
    if (this.#reason === null || this.#reason.kind === 'drain') this.#reason = { kind: 'drain', error };
    this.abort(error);
  }

  // ---- CompletionTarget -----------------------------------------------------------------------

  completionFailed(error: PorticoError): void {
    this.#ctx.onCallbackError?.(this, error);
    if (this.#closedDelivered) return;
    this.abort(error);
  }

  // ---- TransportSink ----------------------------------------------------------------------------

  onData(buffer: PooledBuffer): boolean {
    if (this.#closing || this.#shut.has(Shut.AbortWanted)) {
      buffer.release(); // closing: input is discarded while we wait for the peer's FIN
      return true;
    }
    buffer.sequence = ++this.#readSequence;
    if (this.#idleEnabled) this.#lastRead = this.#ctx.clock.now();
    this.stats.bytesRead += buffer.length;
    this.stats.reads++;
    if (this.#readPosted && this.#staged.length === 0) {
      this.#readPosted = false;
      this.#ctx.dispatcher.complete(this, this.#deliverRead, buffer);
      return this.#readPosted; // true when the handler re-posted inline: keep the socket reading
    }
    this.#stage(buffer);
    return false;
  }

  onEnd(): void {
    this.#peerEnded = true;
    this.#shut.set(Shut.ReadDone);
    if (this.#closing) return;
    if (this.#readPosted && this.#staged.length === 0) {
      this.#readPosted = false;
      this.#deliverEndOnce();
    }
  }

  onError(error: PorticoError): void {
    if (this.#shut.has(Shut.Closed) || this.#shut.has(Shut.AbortWanted)) return;
    this.#shut.set(Shut.Error);
    this.#setReason({ kind: 'reset', error });
    this.#readPosted = false;
    this.#releaseStaged();
    this.#ctx.dispatcher.complete(this, this.#deliverReset, error);
  }

  onClosed(): void {
    if (!this.#shut.set(Shut.Closed)) return;
    this.#readPosted = false;
    this.#releaseStaged();
    this.#idleTimer?.cancel();
    this.#lingerTimer?.cancel();
    this.#setReason({ kind: this.#peerEnded ? 'peer-close' : 'local-close' });
    this.#ctx.dispatcher.complete(this, this.#deliverClosed, undefined);
  }

  // ---- internals --------------------------------------------------------------------------------

  #stage(buffer: PooledBuffer): void {
    this.#staged.push(buffer);
    if (this.#staged.length > this.stats.maxStaged) this.stats.maxStaged = this.#staged.length;
  }

  #releaseStaged(): void {
    for (const buffer of this.#staged.clear()) buffer.release();
  }

  #setReason(reason: CloseReason): void {
    if (this.#reason === null) this.#reason = reason;
  }

  #deliverEndOnce(): void {
    if (this.#clientCloseDelivered) return;
    this.#clientCloseDelivered = true;
    this.#ctx.dispatcher.complete(this, this.#deliverClientClose, undefined);
  }

  #writeDone(length: number, pooled: PooledBuffer | null, error: Error | null | undefined): void {
    pooled?.release();
    this.#queuedBytes -= length;
    this.#pendingWrites--;
    if (error) return; // the transport reports the failure through onError / onClosed
    this.stats.bytesWritten += length;
    this.stats.writes++;
    if (this.#idleEnabled) this.#lastWrite = this.#ctx.clock.now();
    if (this.#handler.onWriteCompleted !== undefined) this.#ctx.dispatcher.complete(this, this.#deliverWriteCompleted, length);
    if (this.#overHigh && this.#queuedBytes <= this.options.lowWaterMark) {
      this.#overHigh = false;
      this.#ctx.dispatcher.complete(this, this.#deliverWritable, undefined);
    }
    if (this.#draining && this.#pendingWrites === 0) this.#drainIfIdle();
  }

  #drainIfIdle(): void {
    if (this.isIdle) this.#beginClose({ kind: 'drain', error: null });
  }

  #beginClose(reason: CloseReason): void {
    if (this.#closing || this.#shut.flags & (Shut.Closed | Shut.AbortWanted)) return;
    this.#closing = true;
    // Closing in answer to the peer's FIN: the peer initiated it.
    this.#setReason(this.#peerEnded && reason.kind === 'local-close' ? { kind: 'peer-close' } : reason);
    this.#readPosted = false;
    this.#releaseStaged();
    this.shutdownWrite();
    if (!this.#peerEnded) {
      const deadline = this.#ctx.clock.now() + this.options.lingerMs;
      this.#lingerTimer = this.#ctx.wheel.schedule(deadline, () => {
        this.abort(new PorticoError(ErrorCodes.LINGER_TIMEOUT, 'connection', `peer did not close within ${this.options.lingerMs} ms`));
      });
      this.transport.resumeReading(); // read (and discard) until the peer's FIN
    }
  }

  #armIdle(): void {
    if (!this.#idleEnabled) return;
    const { readMs, writeMs, allMs } = this.options.idle;
    const read = this.#lastRead;
    let deadline = Infinity;
    if (readMs > 0) deadline = Math.min(deadline, read + readMs);
    if (writeMs > 0) deadline = Math.min(deadline, this.#lastWrite + writeMs);
    if (allMs > 0) deadline = Math.min(deadline, Math.max(read, this.#lastWrite) + allMs);
    this.#idleTimer = this.#ctx.wheel.schedule(deadline, this.#checkIdle);
  }

  readonly #checkIdle = (now: number): void => {
    this.#idleTimer = null;
    if (this.#shut.has(Shut.Closed)) return;
    const { readMs, writeMs, allMs } = this.options.idle;
    let which: IdleKind | null = null;
    if (allMs > 0 && now - Math.max(this.#lastRead, this.#lastWrite) >= allMs) which = 'all';
    else if (readMs > 0 && now - this.#lastRead >= readMs) which = 'read';
    else if (writeMs > 0 && now - this.#lastWrite >= writeMs) which = 'write';
    if (which === null) {
      this.#armIdle();
      return;
    }
    this.#ctx.dispatcher.complete(this, this.#deliverIdle, which);
  };

  // Completion bodies: created once per connection so dispatching allocates no closures.
  readonly #deliverEstablished = (): void => {
    if (this.#shut.has(Shut.AbortWanted)) return;
    this.#handler.onConnectionEstablished?.(this);
  };

  readonly #deliverRead = (buffer: PooledBuffer): void => {
    if (this.#shut.has(Shut.AbortWanted)) {
      buffer.release();
      return;
    }
    this.#handler.onReadCompleted(this, buffer);
  };

  readonly #deliverWriteCompleted = (length: number): void => {
    this.#handler.onWriteCompleted!(this, length);
  };

  readonly #deliverWritable = (): void => {
    if (this.#shut.flags & (Shut.Closed | Shut.AbortWanted)) return;
    this.#handler.onWritable?.(this);
  };

  readonly #deliverClientClose = (): void => {
    if (this.#shut.flags & (Shut.Closed | Shut.AbortWanted)) return;
    if (this.#handler.onClientClose !== undefined) this.#handler.onClientClose(this);
    else this.shutdownWrite();
  };

  readonly #deliverReset = (error: PorticoError): void => {
    this.#handler.onConnectionReset?.(this, error);
  };

  readonly #deliverIdle = (which: IdleKind): void => {
    if (this.#shut.flags & (Shut.Closed | Shut.AbortWanted)) return;
    if (this.#handler.onIdle !== undefined) {
      this.#handler.onIdle(this, which);
      if (!this.#shut.has(Shut.Closed) && !this.#closing) this.#armIdle();
      return;
    }
    this.#setReason({ kind: 'idle', which });
    this.abort(new PorticoError(ErrorCodes.IDLE_TIMEOUT, 'connection', `${which} idle timeout`));
  };

  readonly #deliverDrain = (): void => {
    if (this.#shut.flags & (Shut.Closed | Shut.AbortWanted)) return;
    this.#handler.onDrain!(this);
  };

  readonly #deliverClosed = (): void => {
    if (this.#closedDelivered) return;
    this.#closedDelivered = true;
    try {
      this.#handler.onConnectionClosed?.(this, this.#reason ?? { kind: 'local-close' });
    } finally {
      this.#ctx.onFinished?.(this);
    }
  };
}

function releaseUnclaimed(_conn: unknown, buffer: PooledBuffer): void {
  buffer.release();
}

const resolved = new WeakSet<object>();

export function resolveConnectionOptions(options: Partial<ConnectionOptions>): Readonly<ConnectionOptions> {
  // A server resolves once and hands the same frozen object to every connection.
  if (resolved.has(options)) return options as Readonly<ConnectionOptions>;
  const merged: ConnectionOptions = {
    ...defaultConnectionOptions,
    ...options,
    idle: { ...defaultConnectionOptions.idle, ...options.idle },
  };
  const check = (name: string, value: number, min: number): void => {
    if (!Number.isFinite(value) || value < min) {
      throw new PorticoError(ErrorCodes.INVALID_ARGUMENT, 'connection', `${name} must be a number >= ${min}, got ${value}`);
    }
  };
  check('highWaterMark', merged.highWaterMark, 1);
  check('lowWaterMark', merged.lowWaterMark, 0);
  check('lingerMs', merged.lingerMs, 0);
  check('idle.readMs', merged.idle.readMs, 0);
  check('idle.writeMs', merged.idle.writeMs, 0);
  check('idle.allMs', merged.idle.allMs, 0);
  if (merged.lowWaterMark > merged.highWaterMark) {
    throw new PorticoError(ErrorCodes.INVALID_ARGUMENT, 'connection', `lowWaterMark (${merged.lowWaterMark}) must not exceed highWaterMark (${merged.highWaterMark})`);
  }
  const frozen = Object.freeze(merged);
  resolved.add(frozen);
  return frozen;
}
