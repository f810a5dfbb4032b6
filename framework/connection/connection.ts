import type { BufferPool } from '../buffers/buffer-pool.js';
import { PooledBuffer } from '../buffers/pooled-buffer.js';
import type { Clock } from '../core/clock.js';
import type { CompletionDispatcher, CompletionTarget, QueuedCompletion } from '../core/dispatcher.js';
import { ErrorCodes, PorticoError } from '../core/errors.js';
import { Fifo } from '../core/fifo.js';
import type { TimerWheel, WheelTimer } from '../core/timer-wheel.js';
import type { SocketEndpoint, Transport, TransportSink } from '../transport/transport.js';
import type { ProxyInfo } from '../layers/proxy-protocol/proxy-info.js';
import type { CloseReason, ConnectionCallbacks, IdleKind } from './callbacks.js';
import { type Lifecycle, connectionStateTable } from './connection-state.js';
import { resolveConnectionOptions, type ConnectionOptions, type ConnectionOptionsInput } from './connection-options.js';
import { IdleState } from './idle-state.js';
import { Shut, ShutdownState, type ShutdownStateView } from './shutdown-state.js';

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

/** A connection's counters, as `conn.stats` reads them at that moment. */
export interface ConnectionStats {
  readonly bytesRead: number;
  readonly bytesWritten: number;
  readonly reads: number;
  readonly writes: number;
  /** Most bytes ever queued for writing at once. */
  readonly maxQueuedBytes: number;
  /** Most read buffers ever staged (received while no read was posted). */
  readonly maxStaged: number;
}

/** One handler for every connection, or a factory called once per connection (inside the dispatcher). */
export type HandlerSource<U> = ConnectionCallbacks<U> | ((conn: Connection<U>) => ConnectionCallbacks<U>);

let nextConnectionId = 1;

const localClose: CloseReason = Object.freeze({ kind: 'local-close' });
const peerClose: CloseReason = Object.freeze({ kind: 'peer-close' });
const drainClose: CloseReason = Object.freeze({ kind: 'drain', error: null });

const unclaimed: ConnectionCallbacks<unknown> = {
  onReadCompleted: (_conn, buffer) => buffer.release(),
};

/**
 * The bits of `#flags` (one number instead of a field per boolean: less memory per connection), above
 * the `Shut` bits (0-7) kept in the same number.
 */
const Flag = {
  readPosted: 1 << 8,
  peerEnded: 1 << 9,
  finReported: 1 << 10,
  overHigh: 1 << 11,
  draining: 1 << 12,
  releaseOnFin: 1 << 13,
  closedDelivered: 1 << 14,
} as const;
const SHUT_BITS = 0xff;

/**
 * A connection with posted, completion-reported I/O. Post one `read` at a time and get
 * `onReadCompleted`; `write` queues and reports `onWriteCompleted`; the peer's FIN shows up as
 * `onClientClose` on a posted read; `onConnectionClosed` comes exactly once.
 *
 * What each operation, transport event and timer does is decided by `connectionStateTable`.
 */
export class Connection<U = unknown> implements CompletionTarget, TransportSink {
  readonly id: number = nextConnectionId++;
  /** The dispatcher's bookkeeping (CompletionTarget): never written here. */
  dispatchQueue: Fifo<QueuedCompletion> | null = null;
  dispatchReady = false;
  readonly transport: Transport;
  readonly options: Readonly<ConnectionOptions>;
  /** Per-connection application state. */
  user: U;

  #ctx: ConnectionContext<U>;
  #source: HandlerSource<U>;
  #handler: ConnectionCallbacks<U> = unclaimed as ConnectionCallbacks<U>;
  #life: Lifecycle = 'open';
  /** `Shut` bits (0-7), and booleans as `Flag` bits read and written with `#is` and `#set`. */
  #flags = 0;
  /** Whether `Flag` bit `bit` is set. */
  #is(bit: number): boolean {
    return (this.#flags & bit) !== 0;
  }
  /** Set or clear `Flag` bit `bit`. */
  #set(bit: number, on: boolean): void {
    this.#flags = on ? this.#flags | bit : this.#flags & ~bit;
  }
  #staged: Fifo<PooledBuffer> | null = null; // bytes a lower layer read ahead; most connections never have any
  // write side
  #queuedBytes = 0;
  // Writes handed to the transport and not yet completed, oldest first (a stream's writes complete in
  // order, so one method per connection pops them: no closure per write). Most connections have one at
  // most: it lives in fields, and only a backlog allocates (length, buffer pairs).
  #pendingCount = 0;
  #pendingLength = 0;
  #pendingBuffer: PooledBuffer | null = null;
  #pendingBacklog: Fifo<number | PooledBuffer | null> | null = null;
  #corks = 0;
  #reason: CloseReason | null = null;
  /** Idle-timeout bookkeeping; null when no idle timeout is configured. */
  #idle: IdleState | null = null;
  // counters (conn.stats)
  #bytesRead = 0;
  #bytesWritten = 0;
  #reads = 0;
  #writes = 0;
  #maxQueuedBytes = 0;
  #maxStaged = 0;
  #lingerTimer: WheelTimer | null = null;
  /** Both ends as a PROXY header named them, else null (the transport's own, which it keeps once asked). */
  #ends: { readonly remote: SocketEndpoint; readonly local: SocketEndpoint } | null = null;
  #proxied: ProxyInfo | null = null;

  constructor(transport: Transport, handler: HandlerSource<U>, user: U, ctx: ConnectionContext<U>, options: ConnectionOptionsInput = {}) {
    this.transport = transport;
    this.#source = handler;
    if (typeof handler !== 'function') this.#handler = handler;
    this.user = user;
    this.#ctx = ctx;
    this.options = resolveConnectionOptions(options);
    const idle = this.options.idle;
    if (idle.readMs > 0 || idle.writeMs > 0 || idle.allMs > 0) this.#idle = new IdleState(ctx.clock.now());
    transport.attach(this);
  }

  /**
   * The peer's address, read from the socket when first asked (or at the peer's FIN) and kept. Ask while
   * the connection is open (e.g. in `onConnectionEstablished`) to have it after an RST: Node drops the
   * socket before reporting the error, and then this says `{ address: '', port: 0 }`. Not asking saves
   * a getpeername per connection.
   */
  get remote(): SocketEndpoint {
    return this.#ends !== null ? this.#ends.remote : this.transport.remote;
  }
  /** Our end's address; for accepted connections, the listening address unless that is a wildcard. */
  get local(): SocketEndpoint {
    return this.#ends !== null ? this.#ends.local : this.transport.local;
  }
  /**
   * What a PROXY protocol header said about this connection (accept-proxy layer), else null. When it
   * carried addresses, `remote` and `local` are its client and destination; `socketRemote` is the proxy.
   */
  get proxied(): ProxyInfo | null {
    return this.#proxied;
  }
  /** The peer as the socket sees it: the same as `remote` unless a PROXY header named another client. */
  get socketRemote(): SocketEndpoint {
    return this.transport.remote;
  }
  /** @internal What the handshake layers established: the PROXY header, and its view of both ends if it named them. */
  adoptHandshake(proxied: ProxyInfo | null, ends: { readonly remote: SocketEndpoint; readonly local: SocketEndpoint } | null): void {
    this.#proxied = proxied;
    if (ends !== null) this.#ends = ends;
  }
  /** @internal Whether the transport should go on reading (the answer to a read in progress). */
  get wantsInput(): boolean {
    return this.#wantsReading();
  }
  /** The timer wheel this connection's timers run on: a protocol layer schedules its own timers here. */
  get wheel(): TimerWheel {
    return this.#ctx.wheel;
  }
  /** The clock of this connection's timers (injectable in tests). */
  get clock(): Clock {
    return this.#ctx.clock;
  }
  /** Lifecycle state: open, closing (graceful), aborting (RST asked for) or closed. */
  get lifecycle(): Lifecycle {
    return this.#life;
  }
  /** Shutdown flags per direction, wanted vs done (a snapshot). */
  get shutdown(): ShutdownStateView {
    return new ShutdownState(this.#flags & SHUT_BITS);
  }
  /** The counters now (a snapshot). */
  get stats(): ConnectionStats {
    return {
      bytesRead: this.#bytesRead,
      bytesWritten: this.#bytesWritten,
      reads: this.#reads,
      writes: this.#writes,
      maxQueuedBytes: this.#maxQueuedBytes,
      maxStaged: this.#maxStaged,
    };
  }
  /** Bytes written and not yet completed. */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }
  /** Read buffers received while no read was posted. */
  get stagedCount(): number {
    return this.#staged === null ? 0 : this.#staged.length;
  }
  get readPosted(): boolean {
    return this.#is(Flag.readPosted);
  }
  get isClosed(): boolean {
    return this.#life === 'closed';
  }
  /** Waiting for the peer with nothing of ours in flight: a read posted, nothing staged or queued. */
  get isIdle(): boolean {
    return this.#is(Flag.readPosted) && this.stagedCount === 0 && this.#pendingCount === 0;
  }
  /** The server is draining this connection. */
  get isDraining(): boolean {
    return this.#is(Flag.draining);
  }
  get closeReason(): CloseReason | null {
    return this.#reason;
  }

  /**
   * Hand the connection to `handler` from the next completion on: a protocol upgrade, where the layer
   * that read the request (an HTTP head) gives the connection to the protocol it became (WebSocket
   * frames) and drops out. Call from inside a completion of the current handler.
   */
  switchHandler(handler: ConnectionCallbacks<U>): void {
    this.#handler = handler;
    this.#source = handler;
  }

  /** Start the connection (the server or connector does): stage bytes a lower layer already read, then report establishment. */
  start(leftover: readonly PooledBuffer[] = []): void {
    for (const buffer of leftover) this.#stage(buffer);
    this.#armIdle();
    this.#ctx.dispatcher.complete(this, Connection.#deliverEstablished, undefined);
  }

  // ---- operations -------------------------------------------------------------------------------

  /**
   * Post one read. Exactly one `onReadCompleted` (or `onClientClose` at end of input) follows.
   * Completes at once when bytes are already staged — the dispatcher keeps that from recursing.
   * Does nothing once the connection is closing; after `onClientClose` nothing more completes.
   */
  read(): void {
    if (connectionStateTable[this.#life].read === 'ignore') return;
    if (this.#is(Flag.readPosted)) throw new PorticoError(ErrorCodes.INVALID_STATE, 'connection', `connection ${this.id}: a read is already posted`);
    this.#postRead();
  }

  /** Post a read unless one is posted already (or the connection is closing). True if one is posted now. */
  keepReading(): boolean {
    if (connectionStateTable[this.#life].read === 'ignore' || this.#is(Flag.finReported)) return false;
    if (!this.#is(Flag.readPosted)) this.#postRead();
    return this.#is(Flag.readPosted);
  }

  /**
   * Queue bytes for writing. A `PooledBuffer` is owned by the connection from here on and released
   * once written; a plain `Uint8Array` must not be modified until its `onWriteCompleted`; a string is
   * written as UTF-8. Returns 'over-high-water' when the caller should wait for `onWritable`, 'closed'
   * if the bytes were dropped (closing, aborted, or the write side was shut).
   */
  write(data: Uint8Array | PooledBuffer | string): WriteStatus {
    const pooled = data instanceof PooledBuffer ? data : null;
    if (connectionStateTable[this.#life].write === 'refuse-write' || this.#flags & (Shut.WriteWanted | Shut.Error)) {
      pooled?.release();
      return 'closed';
    }
    const bytes = pooled !== null ? pooled.data : typeof data === 'string' ? Buffer.from(data, 'utf8') : (data as Uint8Array);
    const length = bytes.length;
    if (length === 0) {
      pooled?.release();
      return this.#is(Flag.overHigh) ? 'over-high-water' : 'queued';
    }
    this.#queuedBytes += length;
    if (this.#queuedBytes > this.#maxQueuedBytes) this.#maxQueuedBytes = this.#queuedBytes;
    this.#pushPending(length, pooled);
    this.transport.write(bytes); // completes through onWriteDone
    if (this.#queuedBytes > this.options.highWaterMark) {
      this.#set(Flag.overHigh, true);
      return 'over-high-water';
    }
    return 'queued';
  }

  /**
   * Run `fn(arg, conn)` as a completion of this connection: through the dispatcher, in order with the
   * connection's other completions, and a throw fails only this connection. For a protocol layer whose
   * work completes off the connection's own I/O (zlib on the thread pool), so its callbacks reach the
   * handler the way reads do. It runs even after the close: `fn` checks what it still may do.
   */
  post<A>(fn: (arg: A, conn: Connection<U>) => void, arg: A): void {
    this.#ctx.dispatcher.complete(this, fn, arg);
  }

  /**
   * Hold writes until the matching `uncork`, then hand them to the kernel together (one `writev`):
   * many small replies, one system call. Calls nest.
   */
  cork(): void {
    if (this.#corks++ === 0) this.transport.cork();
  }

  uncork(): void {
    if (this.#corks === 0) return;
    if (--this.#corks === 0) this.transport.uncork();
  }

  /** Send FIN once queued writes are flushed; reading may continue (half-close). */
  shutdownWrite(): void {
    if (connectionStateTable[this.#life].shutdownWrite === 'ignore') return;
    this.#shutWrite();
  }

  /**
   * Graceful close: flush, FIN, discard further input, wait up to `lingerMs` for the peer's FIN, then
   * abort. With `waitForPeer: false`, the socket is released as soon as our FIN is out (what close(2)
   * does): nothing more is read, and the kernel answers anything the peer still sends with RST (as it
   * does at once if input was left unread). `lingerMs` still bounds the flush.
   */
  close(options: { waitForPeer?: boolean } = {}): void {
    if (connectionStateTable[this.#life].close === 'ignore') return;
    this.#set(Flag.releaseOnFin, options.waitForPeer === false);
    this.#beginClose(localClose);
  }

  /** Abortive close: RST now, queued writes and staged input dropped, no TIME_WAIT on this side. */
  abort(error: PorticoError | null = null): void {
    if (connectionStateTable[this.#life].abort === 'ignore') return;
    this.#beginAbort({ kind: 'aborted', error });
  }

  /** @internal Server drain: let the handler's `onDrain` decide, or close once nothing is in flight. */
  beginDrain(): void {
    if (this.#is(Flag.draining) || connectionStateTable[this.#life].drain === 'ignore') return;
    this.#set(Flag.draining, true);
    if (this.#handler.onDrain !== undefined) this.#ctx.dispatcher.complete(this, Connection.#deliverDrain, undefined);
    else this.#closeIfDrained();
  }

  /** @internal Server drain deadline passed. */
  abortForDrain(error: PorticoError): void {
    // Overrides a graceful 'drain' reason recorded earlier: this connection did not finish in time.
    if (this.#reason === null || this.#reason.kind === 'drain') this.#reason = { kind: 'drain', error };
    if (connectionStateTable[this.#life].abort === 'ignore') return;
    this.#beginAbort({ kind: 'drain', error });
  }

  /**
   * @internal The last resort of a bounded stop: the transport did not report its close in time.
   * Destroys the handle and reports the close now; a late report from the transport is ignored.
   */
  forceClosed(error: PorticoError): void {
    if (this.#life === 'closed') return;
    this.#setReason({ kind: 'aborted', error });
    this.transport.destroy();
    this.onClosed();
  }

  // ---- CompletionTarget -----------------------------------------------------------------------

  /** The transport's or the dispatcher's side of the connection; not for handlers. */
  completionFailed(error: PorticoError): void {
    this.#ctx.onCallbackError?.(this, error);
    if (this.#is(Flag.closedDelivered)) return;
    this.abort(error);
  }

  // ---- TransportSink ----------------------------------------------------------------------------

  /** The transport's or the dispatcher's side of the connection; not for handlers. */
  onData(buffer: PooledBuffer): boolean {
    if (connectionStateTable[this.#life].data === 'discard') {
      buffer.release(); // closing: input is dropped while we wait for the peer's FIN
      return this.#wantsReading();
    }
    buffer.sequence = ++this.#reads;
    if (this.#idle !== null) this.#idle.lastRead = this.#ctx.clock.now();
    this.#bytesRead += buffer.length;
    if (this.#is(Flag.readPosted)) {
      this.#set(Flag.readPosted, false);
      this.#ctx.dispatcher.complete(this, Connection.#deliverRead, buffer);
    } else {
      this.#stage(buffer);
    }
    // Decided after the handler ran: it may have posted the next read, or closed (then we must read
    // on, to see the peer's FIN).
    return this.#wantsReading();
  }

  /** The transport's or the dispatcher's side of the connection; not for handlers. */
  onEnd(): void {
    this.#set(Flag.peerEnded, true);
    this.#setShut(Shut.ReadDone);
    if (connectionStateTable[this.#life].fin !== 'report-fin') return; // closing: the transport closes once our FIN is out
    if (this.#is(Flag.readPosted)) {
      this.#set(Flag.readPosted, false);
      this.#reportFin();
    }
  }

  /** The transport's or the dispatcher's side of the connection; not for handlers. */
  onWriteShut(): void {
    this.#setShut(Shut.WriteDone);
    if (this.#is(Flag.releaseOnFin) && this.#life === 'closing') this.transport.destroy();
  }

  /** The transport's or the dispatcher's side of the connection; not for handlers. */
  onError(error: PorticoError): void {
    if (connectionStateTable[this.#life].rst !== 'report-reset') return;
    if (!this.#setShut(Shut.Error)) return;
    this.#setReason({ kind: 'reset', error });
    this.#set(Flag.readPosted, false);
    this.#releaseStaged();
    this.#ctx.dispatcher.complete(this, Connection.#deliverReset, error);
  }

  /** The transport's or the dispatcher's side of the connection; not for handlers. */
  onClosed(): void {
    if (connectionStateTable[this.#life].handleClosed !== 'report-closed') return;
    this.#life = 'closed';
    this.#setShut(Shut.Closed);
    this.#set(Flag.readPosted, false);
    this.#releaseStaged();
    this.#cancelTimers();
    this.#setReason(this.#is(Flag.peerEnded) ? peerClose : localClose);
    this.#ctx.dispatcher.complete(this, Connection.#deliverClosed, undefined);
  }

  // ---- actions ------------------------------------------------------------------------------------

  #wantsReading(): boolean {
    if (this.#life === 'open') return this.#is(Flag.readPosted);
    return this.#life === 'closing' && !this.#is(Flag.peerEnded) && !this.#is(Flag.releaseOnFin);
  }

  #postRead(): void {
    const staged = this.#staged?.shift();
    if (staged !== undefined) {
      this.#ctx.dispatcher.complete(this, Connection.#deliverRead, staged);
      return;
    }
    if (this.#is(Flag.peerEnded)) {
      this.#reportFin();
      return;
    }
    this.#set(Flag.readPosted, true);
    if (this.#is(Flag.draining) && this.#handler.onDrain === undefined && this.isIdle) {
      this.#closeForDrain();
      return;
    }
    this.transport.resumeReading();
  }

  #reportFin(): void {
    if (this.#is(Flag.finReported)) return;
    this.#set(Flag.finReported, true);
    this.#ctx.dispatcher.complete(this, Connection.#deliverClientClose, undefined);
  }

  #shutWrite(): void {
    if (!this.#setShut(Shut.WriteWanted)) return;
    while (this.#corks > 0) this.uncork();
    this.transport.shutdownWrite();
  }

  #beginClose(reason: CloseReason): void {
    this.#life = 'closing';
    // Closing in answer to the peer's FIN: the peer initiated it.
    this.#setReason(this.#is(Flag.peerEnded) && reason.kind === 'local-close' ? peerClose : reason);
    this.#set(Flag.readPosted, false);
    this.#releaseStaged();
    this.#cancelIdle();
    this.#shutWrite();
    // One bound for the whole graceful close: our FIN must get out and the peer's come back.
    this.#lingerTimer = this.#ctx.wheel.schedule(this.#ctx.clock.now() + this.options.lingerMs, Connection.#lingerExpired, this as Connection<unknown>);
    if (this.#is(Flag.releaseOnFin)) {
      if ((this.#flags & Shut.WriteDone) !== 0) this.transport.destroy(); // our FIN is out already
      return;
    }
    if (!this.#is(Flag.peerEnded)) this.transport.resumeReading(); // read (and discard) until the peer's FIN
  }

  #beginAbort(reason: CloseReason): void {
    this.#life = 'aborting';
    this.#setShut(Shut.AbortWanted);
    this.#setReason(reason);
    this.#set(Flag.readPosted, false);
    this.#releaseStaged();
    this.#cancelTimers();
    this.transport.reset();
  }

  /**
   * The default drain closes a connection with nothing in flight as close(2) would: our FIN, then the
   * socket is released — the server is going away, and a peer that never answers (gone, or its
   * packets lost) must not hold the drain for lingerMs.
   */
  #closeForDrain(): void {
    this.#set(Flag.releaseOnFin, true);
    this.#beginClose(drainClose);
  }

  #closeIfDrained(): void {
    if (this.#life === 'open' && this.isIdle) this.#closeForDrain();
  }

  static #lingerExpired(_now: number, conn: Connection<unknown>): void {
    conn.#lingerTimer = null;
    if (connectionStateTable[conn.#life].linger !== 'begin-abort') return;
    const error = new PorticoError(ErrorCodes.LINGER_TIMEOUT, 'connection', `peer did not close within ${conn.options.lingerMs} ms`);
    conn.#beginAbort({ kind: 'aborted', error });
  }

  #stage(buffer: PooledBuffer): void {
    const staged = (this.#staged ??= new Fifo<PooledBuffer>());
    staged.push(buffer);
    if (staged.length > this.#maxStaged) this.#maxStaged = staged.length;
  }

  #releaseStaged(): void {
    if (this.#staged === null || this.#staged.length === 0) return;
    for (const buffer of this.#staged.clear()) buffer.release();
  }

  #setReason(reason: CloseReason): void {
    if (this.#reason === null) this.#reason = reason;
  }

  #pushPending(length: number, buffer: PooledBuffer | null): void {
    if (this.#pendingCount++ === 0) {
      this.#pendingLength = length;
      this.#pendingBuffer = buffer;
      return;
    }
    const backlog = (this.#pendingBacklog ??= new Fifo());
    backlog.push(length);
    backlog.push(buffer);
  }

  /** Complete the oldest pending write: releases its pooled buffer (if any) and returns its length. */
  #completeOldest(): number {
    if (this.#pendingCount === 0) return 0;
    this.#pendingCount--;
    const length = this.#pendingLength;
    const buffer = this.#pendingBuffer;
    if (this.#pendingCount > 0) {
      const backlog = this.#pendingBacklog!;
      this.#pendingLength = backlog.shift() as number;
      this.#pendingBuffer = backlog.shift() as PooledBuffer | null;
    } else {
      this.#pendingBuffer = null;
    }
    buffer?.release();
    return length;
  }

  /** Set a `Shut` flag; false if it was set already. */
  #setShut(flag: number): boolean {
    if ((this.#flags & flag) !== 0) return false;
    this.#flags |= flag;
    return true;
  }

  #cancelIdle(): void {
    const idle = this.#idle;
    if (idle === null) return;
    idle.timer?.cancel();
    idle.timer = null;
  }

  #cancelTimers(): void {
    this.#cancelIdle();
    this.#lingerTimer?.cancel();
    this.#lingerTimer = null;
  }

  /** The transport's side of the connection (the oldest write completed); not for handlers. */
  onWriteDone(error?: Error | null): void {
    const length = this.#completeOldest();
    this.#queuedBytes -= length;
    if (error) return; // the transport reports the failure through onError / onClosed
    this.#bytesWritten += length;
    this.#writes++;
    if (this.#idle !== null) this.#idle.lastWrite = this.#ctx.clock.now();
    if (this.#handler.onWriteCompleted !== undefined) this.#ctx.dispatcher.complete(this, Connection.#deliverWriteCompleted, length);
    if (this.#is(Flag.overHigh) && this.#queuedBytes <= this.options.lowWaterMark) {
      this.#set(Flag.overHigh, false);
      this.#ctx.dispatcher.complete(this, Connection.#deliverWritable, undefined);
    }
    if (this.#is(Flag.draining) && this.#pendingCount === 0 && this.#handler.onDrain === undefined) this.#closeIfDrained();
  }

  // ---- idle ---------------------------------------------------------------------------------------

  #armIdle(): void {
    const idle = this.#idle;
    if (idle === null || this.#life !== 'open') return;
    const { readMs, writeMs, allMs } = this.options.idle;
    const read = Math.max(idle.lastRead, idle.markRead);
    const write = Math.max(idle.lastWrite, idle.markWrite);
    let deadline = Infinity;
    if (readMs > 0) deadline = Math.min(deadline, read + readMs);
    if (writeMs > 0) deadline = Math.min(deadline, write + writeMs);
    if (allMs > 0) deadline = Math.min(deadline, Math.max(idle.lastRead, idle.lastWrite, idle.markAll) + allMs);
    idle.timer = this.#ctx.wheel.schedule(deadline, Connection.#checkIdle, this as Connection<unknown>);
  }

  static #checkIdle(now: number, conn: Connection<unknown>): void {
    const idle = conn.#idle!;
    idle.timer = null;
    if (connectionStateTable[conn.#life].idle !== 'report-idle') return;
    const { readMs, writeMs, allMs } = conn.options.idle;
    let which: IdleKind | null = null;
    if (allMs > 0 && now - Math.max(idle.lastRead, idle.lastWrite, idle.markAll) >= allMs) which = 'all';
    else if (readMs > 0 && now - Math.max(idle.lastRead, idle.markRead) >= readMs) which = 'read';
    else if (writeMs > 0 && now - Math.max(idle.lastWrite, idle.markWrite) >= writeMs) which = 'write';
    if (which === null) {
      conn.#armIdle(); // activity since: check again at the new deadline
      return;
    }
    conn.#ctx.dispatcher.complete(conn, Connection.#deliverIdle, which);
  }

  // ---- completion bodies: shared by every connection (no closure per connection) -----------------

  static #deliverEstablished<V>(_: undefined, conn: Connection<V>): void {
    if (typeof conn.#source === 'function') conn.#handler = conn.#source(conn); // a throw aborts this connection
    if (conn.#life !== 'open') return;
    conn.#handler.onConnectionEstablished?.(conn);
  }

  static #deliverRead<V>(buffer: PooledBuffer, conn: Connection<V>): void {
    if (conn.#life !== 'open' && conn.#life !== 'closing') {
      buffer.release();
      return;
    }
    conn.#handler.onReadCompleted(conn, buffer);
  }

  static #deliverWriteCompleted<V>(length: number, conn: Connection<V>): void {
    if (conn.#is(Flag.closedDelivered)) return;
    conn.#handler.onWriteCompleted!(conn, length);
  }

  static #deliverWritable<V>(_: undefined, conn: Connection<V>): void {
    if (conn.#life !== 'open') return;
    conn.#handler.onWritable?.(conn);
  }

  static #deliverClientClose<V>(_: undefined, conn: Connection<V>): void {
    if (conn.#life !== 'open') return;
    if (conn.#handler.onClientClose !== undefined) conn.#handler.onClientClose(conn);
    else conn.shutdownWrite();
  }

  static #deliverReset<V>(error: PorticoError, conn: Connection<V>): void {
    if (conn.#is(Flag.closedDelivered)) return;
    conn.#handler.onConnectionReset?.(conn, error);
  }

  static #deliverIdle<V>(which: IdleKind, conn: Connection<V>): void {
    if (conn.#life !== 'open') return;
    if (conn.#handler.onIdle === undefined) {
      conn.#setReason({ kind: 'idle', which });
      conn.abort(new PorticoError(ErrorCodes.IDLE_TIMEOUT, 'connection', `${which} idle timeout`));
      return;
    }
    const idle = conn.#idle!;
    const now = conn.#ctx.clock.now();
    if (which === 'read') idle.markRead = now;
    else if (which === 'write') idle.markWrite = now;
    else idle.markAll = now;
    try {
      conn.#handler.onIdle(conn, which);
    } finally {
      if (idle.timer === null) conn.#armIdle();
    }
  }

  static #deliverDrain<V>(_: undefined, conn: Connection<V>): void {
    if (conn.#life !== 'open') return;
    conn.#handler.onDrain!(conn);
  }

  static #deliverClosed<V>(_: undefined, conn: Connection<V>): void {
    if (conn.#is(Flag.closedDelivered)) return;
    conn.#set(Flag.closedDelivered, true);
    try {
      conn.#handler.onConnectionClosed?.(conn, conn.#reason ?? localClose);
    } finally {
      conn.#ctx.onFinished?.(conn);
    }
  }
}
