import * as net from 'node:net';
import type { BufferPool } from '../buffers/buffer-pool.js';
import type { PooledBuffer } from '../buffers/pooled-buffer.js';
import { ErrorCodes, PorticoError, fromSocketError } from '../core/errors.js';
import type { SocketEndpoint, Transport, TransportSink, WriteDone } from './transport.js';

/**
 * How bytes get from the socket into pooled buffers.
 * - `onread`: Node's `onread` option, the closest thing to posting an IOCP read with a buffer. A
 *   connection streaming bulk data (its last read filled the buffer) reads straight into a pooled buffer
 *   of its own, zero-copy; otherwise libuv reads into the pool's one shared landing buffer and the bytes
 *   are copied out — so an idle connection holds no buffer at all (the zero-byte-read idea of IOCP
 *   servers: memory per idle connection is what decides how many a server can hold).
 * - `copy`: plain `'data'` events copied into pooled buffers; the fallback.
 */
export type TcpReadMode = 'onread' | 'copy';

const scratch = Buffer.alloc(64); // handed to libuv only after close, never read
const EMPTY_WRITE = new Uint8Array(0);

function endpoint(address: string | undefined, port: number | undefined, family: string | undefined): SocketEndpoint {
  return { address: address ?? '', port: port ?? 0, family: family === 'IPv6' ? 'IPv6' : 'IPv4' };
}

type SocketOptionsWithHandle = net.SocketConstructorOpts & { handle?: unknown; pauseOnCreate?: boolean; onread?: net.OnReadOpts };

/** The native handle's getpeername (Node's TCPWrap): fills `out`, returns 0 or a negative errno. */
interface PeerNameSource {
  getpeername?(out: Record<string, unknown>): number;
}

class ConnectTarget {
  constructor(
    readonly host: string,
    readonly port: number,
  ) {}
}

/** A TCP connection over a `net.Socket`, reading into pooled buffers. */
export class TcpTransport implements Transport {
  readonly kind = 'tcp' as const;
  readonly socket: net.Socket;
  readonly mode: TcpReadMode;
  #pool: BufferPool;
  #sink: TransportSink | null = null;
  #toSink: WriteDone | null = null;
  /** Writes handed to the socket with a callback Node has not called yet. */
  #callbacksDue = 0;
  #next: PooledBuffer | null = null; // a buffer of our own libuv reads into next (onread mode), else the landing buffer
  #ownBufferNext = false;
  #reading = false;
  #closed = false;
  #resetWanted = false;
  #resetting = false;
  #local: SocketEndpoint | null = null;
  #remote: SocketEndpoint | null = null;
  #peerEnded = false;
  #resetFailed = false;

  /** `source`: a native handle to wrap, an existing socket to use, or a connect target. */
  private constructor(pool: BufferPool, mode: TcpReadMode, source: unknown) {
    this.#pool = pool;
    this.mode = mode;
    const onread: net.OnReadOpts | undefined =
      mode === 'onread'
        ? {
            buffer: () => {
              if (this.#closed) return scratch;
              if (!this.#ownBufferNext) return this.#pool.landing;
              this.#next ??= this.#pool.acquire();
              return this.#next.bytes;
            },
            callback: (nread: number, buf: Uint8Array) => this.#onRead(nread, buf),
          }
        : undefined;
    const socket = (this.socket = TcpTransport.#socketFor(source, onread));
    if (mode === 'copy') socket.on('data', (this.#socketData = (chunk: Buffer) => this.#onChunk(chunk)));
    socket.on('end', this.#socketEnd);
    socket.on('error', this.#socketError);
    socket.on('close', this.#socketClose);
  }

  // This transport's socket listeners, kept so that detachSocket removes exactly these (net.Socket has
  // 'end' listeners of its own).
  #socketData: ((chunk: Buffer) => void) | null = null;
  readonly #socketEnd = (): void => this.#onEnd();
  readonly #socketError = (error: NodeJS.ErrnoException): void => this.#onError(error);
  readonly #socketClose = (): void => this.#onClose();

  /**
   * Wrap a native handle accepted from a listening handle (or received from another process): one
   * `net.Socket` per connection, created paused so libuv reads nothing before the first posted read.
   */
  static fromHandle(handle: unknown, pool: BufferPool, mode: TcpReadMode = 'onread', local: SocketEndpoint | null = null): TcpTransport {
    const transport = new TcpTransport(pool, mode, handle);
    // Accepted on a specific address, the local end is the listener's: no getsockname per connection.
    transport.#local = local;
    return transport;
  }

  /** Use a socket `net.Server` accepted (created with `pauseOnConnect`), copying from `'data'` events. */
  static fromSocket(socket: net.Socket, pool: BufferPool): TcpTransport {
    return new TcpTransport(pool, 'copy', socket);
  }

  /** Open an outgoing connection (the connector). */
  static connect(options: { host: string; port: number }, pool: BufferPool, mode: TcpReadMode = 'onread'): TcpTransport {
    return new TcpTransport(pool, mode, new ConnectTarget(options.host, options.port));
  }

  static #socketFor(source: unknown, onread: net.OnReadOpts | undefined): net.Socket {
    if (source instanceof net.Socket) return source;
    if (source instanceof ConnectTarget) {
      const options: SocketOptionsWithHandle = onread !== undefined ? { allowHalfOpen: true, onread } : { allowHalfOpen: true };
      const socket = new net.Socket(options);
      socket.connect({ host: source.host, port: source.port });
      return socket;
    }
    // An accepted handle: paused, so libuv reads nothing before the first posted read.
    const options: SocketOptionsWithHandle =
      onread !== undefined ? { handle: source, allowHalfOpen: true, pauseOnCreate: true, onread } : { handle: source, allowHalfOpen: true, pauseOnCreate: true };
    return new net.Socket(options);
  }

  get remote(): SocketEndpoint {
    if (this.#remote !== null) return this.#remote;
    const s = this.socket;
    return (this.#remote = endpoint(s.remoteAddress, s.remotePort, s.remoteFamily));
  }

  get local(): SocketEndpoint {
    if (this.#local !== null) return this.#local;
    const s = this.socket;
    if (s.localAddress === undefined) return endpoint(s.localAddress, s.localPort, s.remoteFamily); // gone: not kept
    return (this.#local = endpoint(s.localAddress, s.localPort, s.remoteFamily));
  }

  get writeQueueSize(): number {
    return this.socket.writableLength;
  }

  /** @internal The pool this transport reads into (a transport stacked on it reads into the same). */
  get pool(): BufferPool {
    return this.#pool;
  }

  /**
   * @internal Hand the socket to a transport stacked on this one (TLS after a PROXY header): stop
   * reading, remove this transport's listeners and forget the sink, so nothing more is reported from
   * here; the socket stays open. Bytes already read past the layer's own header are the caller's to
   * pass on (they are not in the socket any more). The socket is the new owner's: do not use this
   * transport afterwards (its `destroy` would still close it).
   */
  detachSocket(): net.Socket {
    const s = this.socket;
    s.pause();
    this.#reading = false;
    this.#ownBufferNext = false;
    this.#closed = true; // from here on the onread callbacks only hand libuv the scratch buffer
    this.#sink = null;
    if (this.#next !== null) {
      this.#next.release();
      this.#next = null;
    }
    if (this.#socketData !== null) s.off('data', this.#socketData);
    s.off('end', this.#socketEnd);
    s.off('error', this.#socketError);
    s.off('close', this.#socketClose);
    // A 'finish' listener (shutdownWrite before the hand-over) may stay: with no sink it reports nothing.
    return s;
  }

  attach(sink: TransportSink): void {
    this.#sink = sink;
  }

  resumeReading(): void {
    if (this.#reading || this.#closed) return;
    this.#reading = true;
    this.socket.resume();
  }

  #onRead(nread: number, into: Uint8Array): boolean {
    let buffer: PooledBuffer;
    if (this.#next !== null && into === this.#next.bytes) {
      buffer = this.#next; // zero-copy: the read went into a buffer of our own
      this.#next = null;
    } else {
      buffer = this.#pool.acquireFor(nread);
      (into as Buffer).copy(buffer.bytes, 0, 0, nread); // the landing buffer is a Buffer: a native copy, no view
    }
    buffer.length = nread;
    const sink = this.#sink;
    if (sink === null || this.#closed) {
      buffer.release();
      return false;
    }
    // A resumeReading() from inside onData is a no-op (we are reading); the answer decides.
    this.#reading = sink.onData(buffer);
    // Node asks for the next buffer right after this returns: our own only while reads fill it.
    this.#ownBufferNext = this.#reading && nread === into.length;
    if (!this.#ownBufferNext && this.#next !== null) {
      this.#next.release();
      this.#next = null;
    }
    return this.#reading; // false makes Node stop reading until resume()
  }

  #onChunk(chunk: Buffer): void {
    const sink = this.#sink;
    if (sink === null) return;
    const size = this.#pool.bufferSize;
    let keep = true;
    for (let offset = 0; offset < chunk.length; offset += size) {
      const buffer = this.#pool.acquire();
      const n = chunk.copy(buffer.bytes, 0, offset, Math.min(chunk.length, offset + size));
      buffer.length = n;
      keep = sink.onData(buffer);
    }
    this.#reading = keep;
    if (!keep) this.socket.pause();
  }

  write(data: Uint8Array, done: WriteDone = this.#sinkDone()): void {
    const s = this.socket;
    if (s.writableLength !== 0 || s.writableCorked !== 0 || s.destroyed || this.#callbacksDue !== 0) {
      // Node calls these back later (a corked writev's even when the kernel took it at once): until it
      // has, a later write must not complete first, so it waits its turn here too.
      this.#callbacksDue++;
      s.write(data, (error) => {
        this.#callbacksDue--;
        done(error);
      });
      return;
    }
    // Nothing queued: most writes go to the kernel at once. Without a callback Node takes its fast
    // path (no per-write callback object, no tick): if the stream is empty again the bytes are written
    // and the completion is reported now; if not, an empty write queued behind them reports it (a
    // stream's writes complete in order).
    s.write(data);
    if (s.writableLength === 0 && !s.destroyed) done(null);
    else s.write(EMPTY_WRITE, done);
  }

  /** Completes a write made without `done` on the sink (made once, on the first such write). */
  #sinkDone(): WriteDone {
    return (this.#toSink ??= (error) => this.#sink?.onWriteDone?.(error));
  }

  cork(): void {
    this.socket.cork();
  }

  uncork(): void {
    this.socket.uncork();
  }

  shutdownWrite(): void {
    const s = this.socket;
    if (s.writableEnded || s.destroyed) return;
    if (this.#peerEnded && s.writableLength === 0) {
      // The peer's FIN is in, all its bytes are read and nothing of ours is queued: close(2) sends our
      // FIN by itself, so skip shutdown(2) and the stream's finish machinery (a close in answer to FIN).
      this.#sink?.onWriteShut();
      s.destroy();
      return;
    }
    s.on('finish', () => this.#onFinish()); // only connections that shut down pay for the listener
    s.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  reset(): void {
    if (this.#closed || this.#resetWanted || this.socket.destroyed) return;
    const s = this.socket;
    if (s.writableEnded && !s.writableFinished && s.writableLength === 0) {
      // The shutdown may be in flight in libuv, which refuses uv_tcp_close_reset with EINVAL until it
      // completes — and Node then drops the handle without closing it. Reset once it is done.
      this.#resetWanted = true;
      return;
    }
    if (s.writableEnded && !s.writableFinished) {
      // The shutdown waits behind writes the peer may never read: libuv would refuse the RST and Node
      // then drops the handle unclosed. Close it (FIN) instead, as the Transport contract allows.
      s.destroy();
      return;
    }
    this.#resetNow();
  }

  #resetNow(): void {
    const s = this.socket;
    if (s.destroyed) return;
    this.#resetting = true;
    try {
      s.resetAndDestroy();
    } finally {
      this.#resetting = false;
    }
    if (!this.#resetFailed) return;
    // Node has dropped the handle and cannot close it any more (its state is already "closing"): the
    // descriptor is lost. reset() waits out pending shutdowns so this never happens; if it does, the
    // connection still finishes, and the error says what leaked.
    this.#resetFailed = false;
    queueMicrotask(() => this.#onClose());
  }

  /**
   * End of stream. libuv reports it without reading when the socket hangs up right after a partial
   * read (uv__stream_io), which an RST does too: an RST that came with the peer's last bytes would look
   * like a FIN. The kernel knows: after an RST the socket has no peer any more (getpeername fails with
   * ENOTCONN), after a FIN it still has one — whose address is then kept, so `remote` costs nothing more.
   * Only asked while our side is open: once our FIN is out, the peer's FIN also ends the socket (the
   * kernel hands it to TIME_WAIT) and getpeername fails for a graceful close too.
   */
  #onEnd(): void {
    const handle = (this.socket as unknown as { _handle?: PeerNameSource | null })._handle;
    if (!this.socket.writableEnded && handle !== undefined && handle !== null && typeof handle.getpeername === 'function') {
      const out: Record<string, unknown> = {};
      if (handle.getpeername(out) !== 0) {
        this.#sink?.onError(new PorticoError(ErrorCodes.CONNECTION_RESET, 'transport', 'connection reset by peer (at end of stream)'));
        this.socket.destroy();
        return;
      }
      this.#remote ??= {
        address: typeof out['address'] === 'string' ? out['address'] : '',
        port: typeof out['port'] === 'number' ? out['port'] : 0,
        family: out['family'] === 'IPv6' ? 'IPv6' : 'IPv4',
      };
    }
    this.#peerEnded = true;
    this.#sink?.onEnd();
  }

  #onFinish(): void {
    this.#sink?.onWriteShut();
    if (this.#resetWanted) {
      this.#resetWanted = false;
      this.#resetNow();
    }
  }

  #onError(error: NodeJS.ErrnoException): void {
    if (this.#resetting && error.syscall === 'reset') {
      this.#resetFailed = true;
      this.#sink?.onError(
        new PorticoError(ErrorCodes.SOCKET, 'transport', `RST refused (${error.code ?? error.message}); Node dropped the socket handle unclosed`, { cause: error }),
      );
      return;
    }
    this.#sink?.onError(fromSocketError(error, 'transport'));
  }

  #onClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#reading = false;
    if (this.#next !== null) {
      this.#next.release();
      this.#next = null;
    }
    this.#sink?.onClosed();
  }
}
