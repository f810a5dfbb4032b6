import type * as net from 'node:net';
import type * as tls from 'node:tls';
import type { BufferPool } from '../buffers/buffer-pool.js';
import { ErrorCodes, PorticoError, fromSocketError } from '../core/errors.js';
import type { TcpTransport } from './tcp-transport.js';
import {
  type TlsConnectTarget,
  type TlsServerTransportOptions,
  clientCertificateError,
  clientTlsOver,
  clientTlsSocket,
  peerGone,
  serverTlsSocket,
  setTlsReading,
} from './tls-sockets.js';
import type { SocketEndpoint, Transport, TransportSink, WriteDone } from './transport.js';

export type { TlsConnectTarget, TlsServerTransportOptions } from './tls-sockets.js';

/** What the handshake settled, once it finished: null, or why it failed. */
export type TlsSecureCallback = (error: PorticoError | null) => void;

/**
 * How long a reset waits behind a shutdown in flight before it settles for a plain close. TLS's
 * close_notify is a write libuv queues ahead of the shutdown, unseen by the socket's `writableLength`:
 * to a peer that reads nothing it may never go out, and the RST would wait forever.
 */
const RESET_BEHIND_SHUTDOWN_MS = 1000;

const closedBeforeSecure = (): PorticoError => new PorticoError(ErrorCodes.TLS, 'tls', 'the connection closed before the TLS handshake finished');

function endpointOf(address: string | undefined, port: number | undefined, family: string | undefined): SocketEndpoint {
  return { address: address ?? '', port: port ?? 0, family: family === 'IPv6' ? 'IPv6' : 'IPv4' };
}

/** An OpenSSL or TLS-layer error (as opposed to a system error from the socket under it). */
function isTlsFailure(error: NodeJS.ErrnoException & { library?: string }): boolean {
  const code = error.code ?? '';
  return error.library !== undefined || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || error.syscall === undefined;
}

/**
 * TLS over a TCP socket (`node:tls`), server or client side, with the contract of every transport:
 * data in pooled buffers (copied from the TLS socket's decrypted chunks), reading started by
 * `resumeReading` and stopped by `onData` returning false, FIN reported once.
 *
 * Shutdown across the two layers: `shutdownWrite` sends close_notify and then FIN once the queued
 * records are flushed, and `onWriteShut` reports it; the peer's close_notify and/or its FIN is one
 * `onEnd`; `reset` is an RST on the TCP handle now (no close_notify), carried out after a shutdown that
 * is in flight, never losing the handle.
 *
 * The handshake: `onSecure` says when it finished (or why not); a failure is also the sink's
 * `onError` (PORTICO_ERR_TLS, layer 'tls'), then `onClosed`.
 */
export class TlsTransport implements Transport {
  readonly kind = 'tls' as const;
  /** The TLS socket (its `_handle` is Node's TLSWrap, stacked on the TCP handle of `tcpSocket`). */
  readonly socket: tls.TLSSocket;
  /** The TCP socket under TLS: resets go to its handle. */
  readonly tcpSocket: net.Socket;
  readonly isServer: boolean;
  #pool: BufferPool;
  #sink: TransportSink | null = null;
  #toSink: WriteDone | null = null;
  #remote: SocketEndpoint;
  #local: SocketEndpoint;
  #requestCert: boolean;
  #rejectUnauthorized: boolean;
  #listening = false;
  #reading = false;
  #endSeen = false; // the TLS socket ended (close_notify or FIN)
  #endReported = false;
  #endQueued = false;
  #closed = false;
  #secure = false;
  #secureError: PorticoError | null = null;
  #secureWaiters: TlsSecureCallback[] | null = [];
  #secured: Promise<void> | null = null;
  #errorReported = false;
  #resetWanted = false;
  #resetFallback: NodeJS.Timeout | null = null;
  #resetting = false;
  #authorized = false;
  #authorizationError: string | null = null;
  // What the handshake settled, kept: Node forgets it when the socket closes.
  #protocol: string | null = null;
  #alpnProtocol: string | null = null;
  #servername: string | null = null;
  #peerCertificate: tls.PeerCertificate | null = null;

  private constructor(
    pool: BufferPool,
    tcpSocket: net.Socket,
    socket: tls.TLSSocket,
    ends: { remote: SocketEndpoint; local: SocketEndpoint },
    isServer: boolean,
    requestCert: boolean,
    rejectUnauthorized: boolean,
  ) {
    this.#pool = pool;
    this.tcpSocket = tcpSocket;
    this.socket = socket;
    this.#remote = ends.remote;
    this.#local = ends.local;
    this.isServer = isServer;
    this.#requestCert = requestCert;
    this.#rejectUnauthorized = rejectUnauthorized;
    socket.on(isServer ? 'secure' : 'secureConnect', () => this.#onSecure());
    socket.on('end', () => this.#onEnd());
    socket.on('error', (error: NodeJS.ErrnoException) => this.#onError(error));
    socket.on('close', () => this.#onClose());
  }

  /**
   * The server side: take over `tcp`'s socket (the TCP transport reports nothing more) and run TLS on
   * it. `leftover`: bytes the layer below read past its own header (a ClientHello in the same segment
   * as a PROXY header), fed to TLS before anything more from the socket.
   */
  static server(tcp: TcpTransport, options: TlsServerTransportOptions, leftover: readonly Uint8Array[] = []): TlsTransport {
    // Both ends now, while the TCP socket has its handle (after an RST Node drops it).
    const ends = { remote: tcp.remote, local: tcp.local };
    const pool = tcp.pool;
    const socket = tcp.detachSocket();
    const requestCert = options.requestCert ?? false;
    return new TlsTransport(pool, socket, serverTlsSocket(socket, options, leftover), ends, true, requestCert, requestCert && (options.rejectUnauthorized ?? true));
  }

  /**
   * The client side over an outgoing TCP transport already connected (TLS as a layer of `connect()`,
   * after a send-proxy header went out in clear): takes over its socket; `onSecure` says when it is
   * usable.
   */
  static client(tcp: TcpTransport, target: Omit<TlsConnectTarget, 'port'>, leftover: readonly Uint8Array[] = []): TlsTransport {
    const ends = { remote: tcp.remote, local: tcp.local };
    const pool = tcp.pool;
    const socket = tcp.detachSocket();
    return new TlsTransport(pool, socket, clientTlsOver(socket, target, leftover), ends, false, false, target.rejectUnauthorized ?? true);
  }

  /** Open an outgoing TLS connection (the connector with `tls`); `onSecure` says when it is usable. */
  static connect(target: TlsConnectTarget, pool: BufferPool): TlsTransport {
    const { tcpSocket, tlsSocket } = clientTlsSocket(target);
    const unknown = endpointOf(undefined, undefined, undefined);
    const transport = new TlsTransport(pool, tcpSocket, tlsSocket, { remote: unknown, local: unknown }, false, false, target.rejectUnauthorized ?? true);
    // Both ends are known once connected; kept, since after an RST Node drops the handle.
    tcpSocket.once('connect', () => {
      transport.#remote = endpointOf(tcpSocket.remoteAddress, tcpSocket.remotePort, tcpSocket.remoteFamily);
      transport.#local = endpointOf(tcpSocket.localAddress, tcpSocket.localPort, tcpSocket.remoteFamily);
    });
    return transport;
  }

  get remote(): SocketEndpoint {
    return this.#remote;
  }

  get local(): SocketEndpoint {
    return this.#local;
  }

  get writeQueueSize(): number {
    return this.socket.writableLength;
  }

  /** The handshake finished (and the peer's certificate, if checked, verified). */
  get isSecure(): boolean {
    return this.#secure;
  }

  /** The negotiated TLS version ('TLSv1.3', ...); null until the handshake finished. */
  get protocol(): string | null {
    return this.#protocol;
  }

  /** The protocol ALPN chose; null if none (or before the handshake). */
  get alpnProtocol(): string | null {
    return this.#alpnProtocol;
  }

  /** The SNI name: the one the client sent (server side) or asked for (client side); null if none. */
  get servername(): string | null {
    return this.#servername;
  }

  /** The peer's certificate: null before the handshake, an empty object when the peer sent none. */
  get peerCertificate(): tls.PeerCertificate | null {
    return this.#peerCertificate;
  }

  /** The peer's certificate verified (always false on a server that does not request one). */
  get authorized(): boolean {
    return this.#authorized;
  }

  /** Why the peer's certificate did not verify, or null. */
  get authorizationError(): string | null {
    return this.#authorizationError;
  }

  /**
   * Run `callback` once the handshake finished (`null`) or failed (the error) — never synchronously,
   * also when that happened already.
   */
  onSecure(callback: TlsSecureCallback): void {
    if (this.#secureWaiters !== null) {
      this.#secureWaiters.push(callback);
      return;
    }
    const error = this.#secureError;
    queueMicrotask(() => callback(error));
  }

  /** Resolves once the handshake finished, rejects with its PORTICO_ERR_TLS failure. */
  get secured(): Promise<void> {
    if (this.#secured === null) {
      this.#secured = new Promise<void>((resolve, reject) => this.onSecure((error) => (error === null ? resolve() : reject(error))));
      this.#secured.catch(() => {}); // the failure also goes to the sink; an unawaited promise must not crash
    }
    return this.#secured;
  }

  attach(sink: TransportSink): void {
    this.#sink = sink;
  }

  resumeReading(): void {
    if (this.#reading || this.#closed) return;
    this.#reading = true;
    if (this.#endSeen && !this.#endReported) {
      this.#queueEnd();
      return;
    }
    if (!this.#listening) {
      // Only now: a 'data' listener makes the stream flow.
      this.#listening = true;
      this.socket.on('data', (chunk: Buffer) => this.#onChunk(chunk));
    } else {
      this.socket.resume();
    }
    // A paused TLS socket reads on up to its high-water mark and would notice the peer's FIN or RST
    // while the layer above reads nothing, which TCP does not (the transport contract): the TLS handle
    // reads only while this transport does.
    setTlsReading(this.socket, true);
  }

  #onChunk(chunk: Buffer): void {
    const sink = this.#sink;
    if (sink === null || this.#closed) return;
    const size = this.#pool.bufferSize;
    let keep = true;
    for (let offset = 0; offset < chunk.length; offset += size) {
      const buffer = this.#pool.acquire();
      buffer.length = chunk.copy(buffer.bytes, 0, offset, Math.min(chunk.length, offset + size));
      keep = sink.onData(buffer);
    }
    // A resumeReading() from inside onData was a no-op (we were reading); the answer decides.
    this.#reading = keep;
    if (!keep) {
      this.socket.pause();
      setTlsReading(this.socket, false);
    }
  }

  write(data: Uint8Array, done: WriteDone = this.#sinkDone()): void {
    this.socket.write(data, done);
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
    // end() runs after the queued writes: TLSWrap sends close_notify, then shuts the TCP handle (FIN);
    // 'finish' comes when that shutdown completed.
    s.once('finish', () => this.#onFinish());
    s.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  reset(): void {
    if (this.#closed || this.#resetWanted || this.tcpSocket.destroyed) return;
    const s = this.socket;
    if (s.writableEnded && !s.writableFinished && s.writableLength === 0) {
      // The shutdown (close_notify, then FIN) may be in flight in libuv, which refuses
      // uv_tcp_close_reset with EINVAL until it completes — and Node then drops the handle unclosed.
      // Reset once it is done; if it is not done soon, close (the handle is never lost either way).
      this.#resetWanted = true;
      this.#resetFallback = setTimeout(() => {
        this.#resetFallback = null;
        if (this.#resetWanted) this.socket.destroy();
      }, RESET_BEHIND_SHUTDOWN_MS);
      this.#resetFallback.unref();
      return;
    }
    this.#resetNow();
  }

  #resetNow(): void {
    const tcp = this.tcpSocket;
    if (tcp.destroyed) return;
    this.#resetting = true;
    try {
      // The TCP socket's own handle (TLSWrap only sits on it): an RST, no close_notify. Its close, a
      // turn later, destroys the TLS socket (never close_notify: TLS has no handle left to write to).
      // Not destroyed here: with the TCP handle gone that would report the close from inside reset().
      tcp.resetAndDestroy();
    } finally {
      this.#resetting = false;
    }
  }

  #onSecure(): void {
    if (this.#secure || this.#closed) return;
    if (this.isServer) {
      // A TLSSocket made outside tls.Server does not check the client's certificate itself.
      if (this.#requestCert) {
        const verifyError = clientCertificateError(this.socket);
        if (verifyError !== null) {
          this.#authorizationError = (verifyError as NodeJS.ErrnoException).code ?? verifyError.message;
          if (this.#rejectUnauthorized) {
            this.#fail(new PorticoError(ErrorCodes.TLS, 'tls', `client certificate rejected: ${this.#authorizationError}`, { cause: verifyError }));
            this.socket.destroy();
            return;
          }
        } else {
          this.#authorized = true;
        }
      }
    } else {
      this.#authorized = this.socket.authorized;
      const why = this.socket.authorizationError as Error | string | null | undefined;
      this.#authorizationError = why === null || why === undefined ? null : typeof why === 'string' ? why : why.message;
    }
    const s = this.socket;
    this.#protocol = s.getProtocol();
    this.#alpnProtocol = typeof s.alpnProtocol === 'string' ? s.alpnProtocol : null;
    const name = (s as tls.TLSSocket & { servername?: string | false | null }).servername;
    this.#servername = typeof name === 'string' && name !== '' ? name : null;
    this.#peerCertificate = s.getPeerCertificate();
    this.#secure = true;
    // The handshake needed reading; from now on only a layer above that reads does.
    if (!this.#reading) setTlsReading(this.socket, false);
    this.#settleSecure(null);
  }

  #settleSecure(error: PorticoError | null): void {
    const waiters = this.#secureWaiters;
    if (waiters === null) return;
    this.#secureWaiters = null;
    this.#secureError = error;
    for (const callback of waiters) callback(error);
  }

  #onEnd(): void {
    if (this.#endSeen) return;
    this.#endSeen = true;
    if (!this.#secure) {
      // The peer gave up in the middle of the handshake: a failed handshake, not a FIN to report.
      this.#fail(new PorticoError(ErrorCodes.TLS, 'tls', 'the peer closed the connection during the TLS handshake'));
      this.socket.destroy();
      return;
    }
    if (!this.socket.writableEnded && peerGone(this.tcpSocket)) {
      // As TcpTransport: libuv reports end of stream for an RST that came right behind the peer's last
      // bytes (POLLHUP after a partial read). After an RST the socket has no peer any more; after a FIN
      // (with or without close_notify) it still has one. Asked only while our side is open: once our
      // FIN is out, a graceful close also ends the socket.
      this.#fail(new PorticoError(ErrorCodes.CONNECTION_RESET, 'transport', 'connection reset by peer (at end of stream)'));
      this.socket.destroy();
      return;
    }
    // Noticed while reading, as TCP does: otherwise when the layer above reads again.
    if (this.#reading) this.#reportEnd();
  }

  #queueEnd(): void {
    if (this.#endQueued) return;
    this.#endQueued = true;
    setImmediate(() => {
      this.#endQueued = false;
      if (!this.#closed) this.#reportEnd();
    });
  }

  #reportEnd(): void {
    if (this.#endReported) return;
    this.#endReported = true;
    this.#sink?.onEnd();
  }

  #onFinish(): void {
    this.#sink?.onWriteShut();
    if (this.#resetWanted) {
      this.#resetWanted = false;
      this.#clearResetFallback();
      this.#resetNow();
    }
  }

  #clearResetFallback(): void {
    if (this.#resetFallback === null) return;
    clearTimeout(this.#resetFallback);
    this.#resetFallback = null;
  }

  #onError(error: NodeJS.ErrnoException): void {
    const inReset = this.#resetting;
    this.#report(error);
    // Node leaves a TLS socket open after an alert that came once the handshake was done (and after a
    // refused RST): the failure ends the connection, and onClosed must follow — never from inside reset().
    if (inReset) queueMicrotask(() => this.socket.destroy());
    else this.socket.destroy();
  }

  #report(error: NodeJS.ErrnoException): void {
    if (this.#resetting && error.syscall === 'reset') {
      // Node has dropped the TCP handle and cannot close it any more; reset() waits out pending
      // shutdowns so this never happens — if it does, the connection still finishes and says what leaked.
      this.#fail(new PorticoError(ErrorCodes.SOCKET, 'transport', `RST refused (${error.code ?? error.message}); Node dropped the socket handle unclosed`, { cause: error }));
      return;
    }
    if (!this.#secure) {
      // Before the handshake finished: a connect failure is the socket's, anything else failed TLS.
      const failure =
        error.syscall === 'connect'
          ? fromSocketError(error, 'transport')
          : new PorticoError(ErrorCodes.TLS, 'tls', `TLS handshake failed: ${error.code !== undefined ? `${error.code}: ` : ''}${error.message}`, { cause: error });
      this.#fail(failure);
      return;
    }
    this.#fail(isTlsFailure(error) ? new PorticoError(ErrorCodes.TLS, 'tls', `TLS failed: ${error.message}`, { cause: error }) : fromSocketError(error, 'transport'));
  }

  /** Report a failure once: to the handshake's waiters if it had not finished, and to the sink. */
  #fail(error: PorticoError): void {
    this.#settleSecure(error);
    if (this.#errorReported) return;
    this.#errorReported = true;
    this.#sink?.onError(error);
  }

  #onClose(): void {
    if (this.#closed) return;
    // Closed before the handshake finished without a failure of its own (destroy() by the layer above):
    // its waiters hear why; the sink only gets onClosed.
    if (!this.#secure) this.#settleSecure(closedBeforeSecure());
    else if (this.#endSeen && !this.#endReported && !this.#errorReported) this.#reportEnd(); // the FIN came before the close
    this.#closed = true;
    this.#reading = false;
    this.#resetWanted = false;
    this.#clearResetFallback();
    this.#sink?.onClosed();
  }
}
