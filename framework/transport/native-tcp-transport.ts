import { getSystemErrorName } from 'node:util';
import type { BufferPool } from '../buffers/buffer-pool.js';
import type { PooledBuffer } from '../buffers/pooled-buffer.js';
import { ErrorCodes, PorticoError, fromSocketError } from '../core/errors.js';
import { Fifo } from '../core/fifo.js';
import { type NativeShutdownReq, type NativeStreamBinding, type NativeStreamHandle, type NativeWriteReq, UV_ECANCELED, UV_EOF, nativeStream } from './native-stream.js';
import type { SocketEndpoint, Transport, TransportSink, WriteDone } from './transport.js';

/** Stands for "the sink's `onWriteDone`" among the completions a transport holds (never called itself). */
const TO_SINK: WriteDone = () => {};

/** Writes held while corked, written together (one writev) at uncork. */
interface Corked {
  readonly chunks: Uint8Array[];
  readonly dones: WriteDone[];
  bytes: number;
}

/** A write request of ours: which transport it belongs to and whose completions it carries. */
interface WriteReq extends NativeWriteReq {
  /** Null on the spare request between writes. */
  transport: NativeTcpTransport | null;
  /** Keeps the bytes alive while libuv holds them (an async write). */
  data: Uint8Array | Uint8Array[] | null;
  /** How many queued completions (`#dones`) this request finishes. */
  count: number;
}

interface ShutdownReq extends NativeShutdownReq {
  transport: NativeTcpTransport;
}

/**
 * Where a handle keeps the transport it belongs to, so a read completion finds it without a map
 * lookup: the slot Node's TCPWrap has for its owner (its `owner_symbol` property, null on a handle
 * nobody owns: taking it adds no property, so the handle keeps the property array Node made), or, when a handle's owner
 * slot is taken (or this Node has none), a property of our own.
 */
const ownSymbol = Symbol('portico.transport');
let nodeOwnerSymbol: symbol | null | undefined;
const slots = (handle: NativeStreamHandle): Record<symbol, unknown> => handle as unknown as Record<symbol, unknown>;

function ownerKey(handle: NativeStreamHandle): symbol {
  nodeOwnerSymbol ??= Object.getOwnPropertySymbols(handle).find((s) => s.description === 'owner_symbol') ?? null;
  return nodeOwnerSymbol !== null && slots(handle)[nodeOwnerSymbol] == null ? nodeOwnerSymbol : ownSymbol;
}

/** The transport that owns `handle`, or null. */
function ownerOf(handle: NativeStreamHandle): NativeTcpTransport | null {
  const own = slots(handle);
  const transport = nodeOwnerSymbol ? own[nodeOwnerSymbol] : undefined;
  if (transport instanceof NativeTcpTransport) return transport;
  const ours = own[ownSymbol];
  return ours instanceof NativeTcpTransport ? ours : null;
}

/** Node's stream binding, once a transport was made (the same for every one: not a field of each). */
let binding: NativeStreamBinding | null = null;

const scratch = Buffer.alloc(64); // handed to libuv once the transport is closed; never read

function errnoError(status: number, syscall: string): NodeJS.ErrnoException {
  const code = getName(status) || `E${-status}`;
  const error: NodeJS.ErrnoException = new Error(`${syscall} ${code}`);
  error.errno = status;
  error.code = code;
  error.syscall = syscall;
  return error;
}

function endpointOf(out: Record<string, unknown>): SocketEndpoint {
  return {
    address: typeof out['address'] === 'string' ? out['address'] : '',
    port: typeof out['port'] === 'number' ? out['port'] : 0,
    family: out['family'] === 'IPv6' ? 'IPv6' : 'IPv4',
  };
}

/** libuv read completion, `this` the handle: Node puts the byte count (or error) in the shared state. */
function onNativeRead(this: NativeStreamHandle): Uint8Array | undefined {
  const transport = ownerOf(this);
  return transport === null ? undefined : transport.readCompleted();
}

function onWriteComplete(this: WriteReq, status: number): void {
  this.transport?.writeCompleted(this, status);
}

/**
 * The request the next write goes with. Node binds a request object to a native write only when the
 * write goes to libuv's queue (the kernel did not take it all at once: StreamBase::Write tries the
 * write before it touches the request); a write the kernel takes whole leaves its request as it was.
 * So one request serves every such write, for every transport, and a new one is made only when the
 * last went to the queue (it is that write's until its completion) or failed — not a native object
 * per write.
 */
let spareReq: WriteReq | null = null;

function onShutdownComplete(this: ShutdownReq, status: number): void {
  this.transport.shutdownCompleted(status);
}

/** The bits of `#flags` (one number instead of a field per boolean: less memory per connection). */
const Flag = {
  reading: 1 << 0,
  peerEnded: 1 << 1,
  shutdownSent: 1 << 2,
  writeShut: 1 << 3,
  /** The handle is closing or closed: nothing more is reported but `onClosed`. */
  closing: 1 << 4,
  closed: 1 << 5,
  resetWanted: 1 << 6,
  failed: 1 << 7,
} as const;

/**
 * A TCP connection driven on Node's native handle (TCPWrap) directly, the way `net.Socket` drives it
 * underneath but without one: reads are posted with `readStart` into a buffer we hand libuv (the pool's
 * shared landing buffer, or one of our own while reads fill it — as `TcpTransport`'s `onread` mode), writes
 * are write requests whose completion libuv reports (at once when the kernel took every byte, the
 * IOCP completion on success), FIN is a shutdown request. No stream objects, no listeners and no
 * closures per connection: about 3 KiB less memory per connection than a `net.Socket` and a third of
 * the per-read CPU (README, "native handles"). Used for accepted connections whose layers never need a
 * `net.Socket` (TLS does); `nativeStream()` null (a Node without the binding) falls back to `TcpTransport`.
 */
export class NativeTcpTransport implements Transport {
  get kind(): 'tcp' {
    return 'tcp';
  }
  readonly #handle: NativeStreamHandle;
  readonly #pool: BufferPool;
  #sink: TransportSink | null = null;
  /** A buffer of our own libuv reads into next, while reads fill what they are given. */
  #next: PooledBuffer | null = null;
  /** What libuv reads into now (the landing buffer, `#next`'s bytes, or scratch once closed). */
  #into: Buffer;
  /** Booleans as `Flag` bits, read and written with `#is` and `#set`. */
  #flags = 0;
  /** Whether `Flag` bit `bit` is set. */
  #is(bit: number): boolean {
    return (this.#flags & bit) !== 0;
  }
  /** Set or clear `Flag` bit `bit`. */
  #set(bit: number, on: boolean): void {
    this.#flags = on ? this.#flags | bit : this.#flags & ~bit;
  }
  #corks = 0;
  /** Writes held by cork (made on the first one: most connections never cork). */
  #corked: Corked | null = null;
  /** Completions of async writes, oldest first (libuv completes a stream's writes in order); made on the first. */
  #dones: Fifo<WriteDone> | null = null;
  /**
   * Completions of writes the kernel took at once, held for a microtask: an uncork completes its writes
   * after it returns, as net.Socket's do (a handler that saw 'over-high-water' from a corked write
   * must get its onWritable after uncork, not inside it). Later sync completions queue behind them.
   */
  #deferred: WriteDone[] | null = null;
  #local: SocketEndpoint | null;
  #remote: SocketEndpoint | null = null;

  private constructor(handle: NativeStreamHandle, pool: BufferPool, local: SocketEndpoint | null) {
    this.#handle = handle;
    this.#pool = pool;
    this.#local = local;
    this.#into = pool.landing;
    slots(handle)[ownerKey(handle)] = this;
    handle.onread = onNativeRead;
    handle.useUserBuffer(this.#into);
  }

  /**
   * Drive an accepted native handle; null when this Node has no usable stream binding (use
   * `TcpTransport.fromHandle` then). `local`: the listener's address, so no getsockname per connection.
   */
  static fromHandle(handle: NativeStreamHandle, pool: BufferPool, local: SocketEndpoint | null = null): NativeTcpTransport | null {
    if (binding === null) binding = nativeStream();
    return binding === null ? null : new NativeTcpTransport(handle, pool, local);
  }

  get remote(): SocketEndpoint {
    if (this.#remote !== null) return this.#remote;
    if (this.#is(Flag.closing)) return { address: '', port: 0, family: 'IPv4' };
    const out: Record<string, unknown> = {};
    return this.#handle.getpeername(out) === 0 ? (this.#remote = endpointOf(out)) : { address: '', port: 0, family: 'IPv4' };
  }

  get local(): SocketEndpoint {
    if (this.#local !== null) return this.#local;
    if (this.#is(Flag.closing)) return { address: '', port: 0, family: 'IPv4' };
    const out: Record<string, unknown> = {};
    return this.#handle.getsockname(out) === 0 ? (this.#local = endpointOf(out)) : { address: '', port: 0, family: 'IPv4' };
  }

  get writeQueueSize(): number {
    return this.#is(Flag.closed) ? 0 : this.#handle.writeQueueSize + (this.#corked?.bytes ?? 0);
  }

  /** True once the handle is closed (its close callback ran). */
  get closed(): boolean {
    return this.#is(Flag.closed);
  }

  /** @internal The pool this transport reads into. */
  get pool(): BufferPool {
    return this.#pool;
  }

  attach(sink: TransportSink): void {
    this.#sink = sink;
  }

  resumeReading(): void {
    if (this.#is(Flag.reading) || this.#is(Flag.closing) || this.#is(Flag.peerEnded)) return;
    this.#set(Flag.reading, true);
    const err = this.#handle.readStart();
    if (err !== 0) {
      this.#set(Flag.reading, false);
      this.#fail(errnoError(err, 'read'));
    }
  }

  /** @internal Called by the handle's onread: a read completed (bytes, end of stream or an error). */
  readCompleted(): Uint8Array | undefined {
    const b = binding!;
    const nread = b.streamBaseState[b.kReadBytesOrError]!;
    if (nread > 0) return this.#onBytes(nread);
    if (nread === 0) return undefined;
    this.#set(Flag.reading, false); // libuv stopped reading at the end of stream or the error
    if (nread === UV_EOF) this.#onEnd();
    else this.#fail(errnoError(nread, 'read'));
    return this.#retarget();
  }

  #onBytes(nread: number): Uint8Array | undefined {
    const into = this.#into;
    const next = this.#next;
    let buffer: PooledBuffer;
    if (next !== null && into === next.bytes) {
      buffer = next; // zero-copy: the read went into a buffer of our own
      this.#next = null;
    } else {
      buffer = this.#pool.acquireFor(nread);
      into.copy(buffer.bytes, 0, 0, nread); // Node 20.20's Buffer#copy makes a view of the range and set()s it: a typed array per read
    }
    buffer.length = nread;
    const sink = this.#sink;
    if (sink === null || this.#is(Flag.closing)) {
      buffer.release();
      return this.#retarget();
    }
    const keep = sink.onData(buffer);
    if (!keep && this.#is(Flag.reading) && !this.#is(Flag.closing)) {
      this.#set(Flag.reading, false);
      this.#handle.readStop();
    }
    // Our own buffer next only while reads fill what they get (bulk transfer); else the shared landing buffer.
    if (this.#is(Flag.reading) && !this.#is(Flag.closing) && nread === into.length) {
      this.#next ??= this.#pool.acquire();
      this.#into = this.#next.bytes;
      return this.#into;
    }
    return this.#retarget();
  }

  /** The buffer the next read goes into, when it is not the current one: the landing buffer, or scratch once closing. */
  #retarget(): Uint8Array | undefined {
    const want = this.#is(Flag.closing) ? scratch : this.#pool.landing;
    if (this.#next !== null) {
      this.#next.release();
      this.#next = null;
    }
    if (this.#into === want) return undefined;
    this.#into = want;
    return want;
  }

  /**
   * End of stream. libuv reports it without reading when the socket hangs up right after a partial
   * read, which an RST does too: the kernel tells them apart (getpeername fails with ENOTCONN after an
   * RST, not after a FIN) while our side is still open (see TcpTransport's #onEnd).
   */
  #onEnd(): void {
    if (this.#is(Flag.closing)) return;
    if (!this.#is(Flag.shutdownSent)) {
      const out: Record<string, unknown> = {};
      if (this.#handle.getpeername(out) !== 0) {
        this.#set(Flag.failed, true);
        this.#sink?.onError(new PorticoError(ErrorCodes.CONNECTION_RESET, 'transport', 'connection reset by peer (at end of stream)'));
        this.#close();
        return;
      }
      this.#remote ??= endpointOf(out);
    }
    this.#set(Flag.peerEnded, true);
    this.#sink?.onEnd();
    // Both directions are done (as net.Socket's autoDestroy does): release the descriptor.
    if (this.#is(Flag.writeShut) && !this.#is(Flag.closing)) this.#close();
  }

  write(data: Uint8Array, done: WriteDone = TO_SINK): void {
    if (this.#is(Flag.closing)) {
      this.#cancel([done]);
      return;
    }
    if (this.#corks > 0) {
      const corked = (this.#corked ??= { chunks: [], dones: [], bytes: 0 });
      corked.chunks.push(data);
      corked.dones.push(done);
      corked.bytes += data.length;
      return;
    }
    const req = this.#newReq(data, 1);
    this.#dispatch(req, this.#handle.writeBuffer(req, data), done, null);
  }

  cork(): void {
    this.#corks++;
  }

  uncork(): void {
    if (this.#corks === 0 || --this.#corks > 0) return;
    this.#flushCorked();
  }

  #flushCorked(): void {
    const corked = this.#corked;
    if (corked === null) return;
    this.#corked = null;
    const { chunks, dones } = corked;
    if (this.#is(Flag.closing)) {
      this.#cancel(dones);
      return;
    }
    this.#deferred ??= [];
    if (chunks.length === 1) {
      const req = this.#newReq(chunks[0]!, 1);
      this.#dispatch(req, this.#handle.writeBuffer(req, chunks[0]!), dones[0]!, null);
    } else {
      const req = this.#newReq(chunks, chunks.length);
      this.#dispatch(req, this.#handle.writev(req, chunks, true), null, dones);
    }
    if (this.#deferred.length > 0) queueMicrotask(() => this.#completeDeferred());
    else this.#deferred = null;
  }

  #completeDeferred(): void {
    const dones = this.#deferred;
    this.#deferred = null;
    if (dones !== null) for (const done of dones) this.#finish(done, null);
  }

  /** Report one write's completion: to its own callback, or to the sink. */
  #finish(done: WriteDone, error: Error | null): void {
    if (done === TO_SINK) this.#sink?.onWriteDone?.(error);
    else done(error);
  }

  #newReq(data: Uint8Array | Uint8Array[], count: number): WriteReq {
    let req = spareReq;
    if (req === null) {
      req = new binding!.WriteWrap() as WriteReq;
      req.oncomplete = onWriteComplete;
      req.async = false;
      spareReq = req;
    }
    req.handle = this.#handle;
    req.transport = this;
    req.data = data;
    req.count = count;
    return req;
  }

  /** After writeBuffer/writev: complete now (the kernel took it all), later (libuv queued it), or fail. */
  #dispatch(req: WriteReq, err: number, done: WriteDone | null, dones: WriteDone[] | null): void {
    if (err !== 0) {
      spareReq = null; // Node may have bound it before the write failed
      const error = errnoError(err, 'write');
      // Reported after the caller's write() returns, as net.Socket does.
      queueMicrotask(() => {
        if (done !== null) this.#finish(done, error);
        else for (const d of dones!) this.#finish(d, error);
        this.#fail(error);
      });
      return;
    }
    const b = binding!;
    if (b.streamBaseState[b.kLastWriteWasAsync] !== 0) {
      spareReq = null; // the request is this write's until it completes
      req.async = true;
      const queue = (this.#dones ??= new Fifo<WriteDone>());
      if (done !== null) queue.push(done);
      else for (const d of dones!) queue.push(d);
      return;
    }
    // Written whole: the request stays the spare, holding nothing of this transport.
    req.handle = null;
    req.transport = null;
    req.data = null;
    const deferred = this.#deferred;
    if (deferred !== null) {
      if (done !== null) deferred.push(done);
      else for (const d of dones!) deferred.push(d);
      return;
    }
    if (done !== null) this.#finish(done, null);
    else for (const d of dones!) this.#finish(d, null);
  }

  /** @internal An async write finished (or was cancelled by the close). */
  writeCompleted(req: WriteReq, status: number): void {
    req.data = null;
    const error = status < 0 ? errnoError(status, 'write') : null;
    for (let i = 0; i < req.count; i++) {
      const done = this.#dones?.shift();
      if (done === undefined) break; // flushed by the close already
      this.#finish(done, error);
    }
    if (error !== null && status !== UV_ECANCELED) this.#fail(error);
  }

  shutdownWrite(): void {
    if (this.#is(Flag.shutdownSent) || this.#is(Flag.closing)) return;
    this.#corks = 0;
    this.#flushCorked();
    if (this.#is(Flag.closing)) return;
    this.#set(Flag.shutdownSent, true);
    if (this.#is(Flag.peerEnded) && this.#handle.writeQueueSize === 0 && (this.#dones?.length ?? 0) === 0) {
      // The peer's FIN is in and nothing of ours is queued: close(2) sends our FIN by itself.
      this.#set(Flag.writeShut, true);
      this.#sink?.onWriteShut();
      this.#close();
      return;
    }
    const req = new binding!.ShutdownWrap() as ShutdownReq;
    req.handle = this.#handle;
    req.oncomplete = onShutdownComplete;
    req.transport = this;
    const err = this.#handle.shutdown(req);
    if (err === 1) queueMicrotask(() => this.shutdownCompleted(0)); // done synchronously (Node's convention)
    else if (err !== 0) queueMicrotask(() => this.shutdownCompleted(err));
  }

  /** @internal Our FIN went out (status 0) or the shutdown failed. */
  shutdownCompleted(status: number): void {
    if (this.#is(Flag.closed)) return;
    // ENOTCONN: the peer is gone already (an RST raced the shutdown); nothing more to send.
    const failed = status < 0 && status !== UV_ECANCELED && getName(status) !== 'ENOTCONN';
    if (this.#is(Flag.resetWanted)) {
      // reset() waited for this shutdown (libuv refuses an RST while one is in flight): whatever its
      // outcome it is over, so the RST can go now — and must, or the handle would never be closed.
      this.#set(Flag.resetWanted, false);
      this.#set(Flag.writeShut, true);
      this.#set(Flag.closing, false);
      if (!failed) this.#sink?.onWriteShut();
      this.#resetNow();
      return;
    }
    if (failed) {
      this.#fail(errnoError(status, 'shutdown'));
      return;
    }
    if (this.#is(Flag.closing)) return;
    this.#set(Flag.writeShut, true);
    this.#sink?.onWriteShut();
    if (this.#is(Flag.peerEnded)) this.#close();
  }

  destroy(): void {
    this.#close();
  }

  reset(): void {
    if (this.#is(Flag.closing)) return;
    if (this.#is(Flag.shutdownSent) && !this.#is(Flag.writeShut) && this.#handle.writeQueueSize === 0) {
      // libuv refuses uv_tcp_close_reset (EINVAL) while a shutdown is in flight, and with nothing left
      // to write it completes at the next poll: reset then. (With writes still queued the shutdown may
      // wait on the peer forever: #resetNow closes instead, as the Transport contract allows.)
      this.#set(Flag.resetWanted, true);
      this.#set(Flag.closing, true);
      this.#stopReading();
      return;
    }
    this.#resetNow();
  }

  #resetNow(): void {
    if (this.#is(Flag.closing)) return;
    this.#set(Flag.closing, true);
    this.#stopReading();
    this.#dropCorked();
    if (this.#is(Flag.shutdownSent) && !this.#is(Flag.writeShut)) {
      // A shutdown still waits behind queued writes: libuv refuses the RST (EINVAL) and Node then marks
      // the handle closing without closing it, so it could never be closed. Close it (FIN) instead.
      this.#handle.close(() => this.#onClosed());
      return;
    }
    this.#handle.reset(() => this.#onClosed());
  }

  /**
   * Writes that will never be written (held by cork at the close, or made after it): their completions
   * say so after the caller returns, and in order — behind the async writes libuv has yet to cancel,
   * when there are any (the close callback reports those first, then these).
   */
  #cancel(dones: readonly WriteDone[]): void {
    const queue = this.#dones;
    if (queue !== null && queue.length > 0 && !this.#is(Flag.closed)) for (const done of dones) queue.push(done);
    else if (dones.length > 0) queueMicrotask(() => dones.forEach((done) => this.#finish(done, errnoError(UV_ECANCELED, 'write'))));
  }

  /** Closing: writes still held by cork are never written; their completions say so, after the caller returns. */
  #dropCorked(): void {
    if (this.#corked === null) return;
    this.#cancel(this.#corked.dones);
    this.#corked = null;
  }

  #fail(error: NodeJS.ErrnoException): void {
    if (this.#is(Flag.closing) || this.#is(Flag.failed)) return;
    this.#set(Flag.failed, true);
    this.#sink?.onError(fromSocketError(error, 'transport'));
    this.#close();
  }

  #stopReading(): void {
    if (this.#is(Flag.reading)) {
      this.#set(Flag.reading, false);
      this.#handle.readStop();
    }
  }

  #close(): void {
    if (this.#is(Flag.closing)) {
      if (this.#is(Flag.resetWanted)) {
        // A reset was waiting for a shutdown: give up waiting and just close.
        this.#set(Flag.resetWanted, false);
        this.#handle.close(() => this.#onClosed());
      }
      return;
    }
    this.#set(Flag.closing, true);
    this.#stopReading();
    this.#dropCorked();
    this.#handle.close(() => this.#onClosed());
  }

  #onClosed(): void {
    if (this.#is(Flag.closed)) return;
    this.#set(Flag.closed, true);
    this.#set(Flag.reading, false);
    if (this.#next !== null) {
      this.#next.release();
      this.#next = null;
    }
    this.#into = scratch;
    // Writes libuv never reported (it cancels them before the close callback; this is the safety net).
    const cancelled = errnoError(UV_ECANCELED, 'write');
    const queue = this.#dones;
    if (queue !== null) for (let done = queue.shift(); done !== undefined; done = queue.shift()) this.#finish(done, cancelled);
    const own = slots(this.#handle);
    if (nodeOwnerSymbol && own[nodeOwnerSymbol] === this) own[nodeOwnerSymbol] = null; // as Node leaves a handle nobody owns
    else if (own[ownSymbol] === this) own[ownSymbol] = null;
    this.#sink?.onClosed();
  }
}

/** libuv's name for a negative status ('ECONNRESET'), or '' when it has none. */
function getName(status: number): string {
  try {
    return getSystemErrorName(status);
  } catch {
    return '';
  }
}
