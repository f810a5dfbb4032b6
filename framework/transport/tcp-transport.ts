import * as net from 'node:net';
import type { BufferPool } from '../buffers/buffer-pool.js';
import type { PooledBuffer } from '../buffers/pooled-buffer.js';
import { fromSocketError } from '../core/errors.js';
import type { SocketEndpoint, Transport, TransportSink } from './transport.js';

/**
 * How bytes get from the socket into pooled buffers.
 * - `onread`: libuv reads straight into the pooled buffer (Node's `onread` option, the closest thing
 *   to posting an IOCP read with a buffer). Accepted sockets need their handle re-wrapped for it
 *   (design-notes §5.5), which relies on the internal `_handle` property.
 * - `copy`: plain `'data'` events copied into pooled buffers; the fallback if the re-wrap breaks.
 */
export type TcpReadMode = 'onread' | 'copy';

const scratch = Buffer.alloc(64); // handed to libuv only after close, never read

function endpoint(address: string | undefined, port: number | undefined, family: string | undefined): SocketEndpoint {
  return { address: address ?? '', port: port ?? 0, family: family === 'IPv6' ? 'IPv6' : 'IPv4' };
}

interface HandleOwner {
  _handle: unknown;
}

/** True when this Node lets us take over an accepted socket's handle (checked once). */
export function canRewrapHandles(): boolean {
  return typeof (net.Socket.prototype as unknown as { resetAndDestroy?: unknown }).resetAndDestroy === 'function';
}

/** A TCP connection over a `net.Socket`, reading into pooled buffers. */
export class TcpTransport implements Transport {
  readonly kind = 'tcp' as const;
  readonly socket: net.Socket;
  readonly mode: TcpReadMode;
  #pool: BufferPool;
  #sink: TransportSink | null = null;
  #next: PooledBuffer | null = null; // the buffer libuv will read into next (onread mode)
  #reading = false;
  #closed = false;

  private constructor(pool: BufferPool, mode: TcpReadMode, make: (onread: net.OnReadOpts | undefined) => net.Socket) {
    this.#pool = pool;
    this.mode = mode;
    const onread: net.OnReadOpts | undefined =
      mode === 'onread'
        ? {
            buffer: () => {
              if (this.#closed) return scratch;
              this.#next = this.#pool.acquire();
              return this.#next.bytes;
            },
            callback: (nread: number) => this.#onRead(nread),
          }
        : undefined;
    this.socket = make(onread);
    const socket = this.socket;
    if (mode === 'copy') socket.on('data', (chunk: Buffer) => this.#onChunk(chunk));
    socket.on('end', () => this.#sink?.onEnd());
    socket.on('error', (error: NodeJS.ErrnoException) => this.#sink?.onError(fromSocketError(error, 'transport')));
    socket.on('close', () => this.#onClose());
  }

  /** Take over a socket accepted by a server created with `pauseOnConnect: true`. */
  static fromAccepted(accepted: net.Socket, pool: BufferPool, mode: TcpReadMode = 'onread'): TcpTransport {
    if (mode === 'copy') {
      return new TcpTransport(pool, mode, () => accepted);
    }
    return new TcpTransport(pool, mode, (onread) => {
      const owner = accepted as unknown as HandleOwner;
      const handle = owner._handle;
      // Detach the handle from the wrapper net.Server gave us, then destroy that wrapper: with no
      // handle it closes nothing, and the server's own connection count is released.
      owner._handle = null;
      accepted.destroy();
      // `pauseOnCreate` keeps libuv from reading before the layer above posts its first read.
      return new net.Socket({ handle, allowHalfOpen: true, pauseOnCreate: true, onread } as net.SocketConstructorOpts & {
        handle: unknown;
        pauseOnCreate: boolean;
      });
    });
  }

  /** Open an outgoing connection (the connector). */
  static connect(options: { host: string; port: number }, pool: BufferPool, mode: TcpReadMode = 'onread'): TcpTransport {
    return new TcpTransport(pool, mode, (onread) => {
      const socket = new net.Socket({ allowHalfOpen: true, ...(onread ? { onread } : {}) });
      socket.connect({ host: options.host, port: options.port });
      return socket;
    });
  }

  get remote(): SocketEndpoint {
    const s = this.socket;
    return endpoint(s.remoteAddress, s.remotePort, s.remoteFamily);
  }

  get local(): SocketEndpoint {
    const s = this.socket;
    return endpoint(s.localAddress, s.localPort, s.remoteFamily);
  }

  get writeQueueSize(): number {
    return this.socket.writableLength;
  }

  attach(sink: TransportSink): void {
    this.#sink = sink;
  }

  resumeReading(): void {
    if (this.#reading || this.#closed) return;
    this.#reading = true;
    this.socket.resume();
  }

  #onRead(nread: number): boolean {
    const buffer = this.#next!;
    this.#next = null;
    buffer.length = nread;
    const sink = this.#sink;
    if (sink === null || this.#closed) {
      buffer.release();
      return false;
    }
    this.#reading = sink.onData(buffer);
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
      keep = sink.onData(buffer) && keep;
    }
    if (!keep) {
      this.#reading = false;
      this.socket.pause();
    }
  }

  write(data: Uint8Array, done: (error?: Error | null) => void): void {
    this.socket.write(data, done);
  }

  shutdownWrite(): void {
    if (!this.socket.writableEnded) this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  reset(): void {
    if (this.socket.destroyed) return;
    this.socket.resetAndDestroy();
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
