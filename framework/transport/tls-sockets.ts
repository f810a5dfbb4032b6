import * as net from 'node:net';
import * as tls from 'node:tls';

/**
 * The node:tls side of `TlsTransport`: its options, how its TLS sockets are made, and the one place
 * that knows the Node internals it needs (each checked for before use, and each one Node's own
 * tls.Server or net.Socket relies on the same way — the TLS tests run on Node 20, 22 and 24).
 */

type Pem = string | Buffer;

/** How the server side of a TLS connection is set up. The handshake deadline is the layer stack's. */
export interface TlsServerTransportOptions {
  /** A context made once (`tls.createSecureContext`) and shared by every connection; or `cert` + `key`. */
  secureContext?: tls.SecureContext;
  /** PEM certificate chain (used when there is no `secureContext`). */
  cert?: Pem | Pem[];
  /** PEM private key (used when there is no `secureContext`). */
  key?: Pem | Pem[];
  /** CAs a client certificate must chain to (with `requestCert`). */
  ca?: Pem | Pem[];
  /** Ask the client for a certificate. Default false. */
  requestCert?: boolean;
  /** With `requestCert`: fail the handshake when the client's certificate does not verify. Default true. */
  rejectUnauthorized?: boolean;
  /** Protocols offered for ALPN, most preferred first. */
  ALPNProtocols?: string[];
}

/** Where an outgoing TLS connection goes and how the server is checked. */
export interface TlsConnectTarget {
  host: string;
  port: number;
  /** SNI and the name the certificate must carry; default `host` (no SNI when `host` is an IP address). */
  servername?: string;
  /** CAs the server's certificate must chain to; default Node's bundled roots. */
  ca?: Pem | Pem[];
  /** A client certificate and key, for servers that ask for one. */
  cert?: Pem | Pem[];
  key?: Pem | Pem[];
  /** Fail the handshake when the server's certificate does not verify. Default true. */
  rejectUnauthorized?: boolean;
  ALPNProtocols?: string[];
  /** Used instead of `ca`/`cert`/`key` when given. */
  secureContext?: tls.SecureContext;
}

/** The Node internals used, as far as they are used. */
interface TlsSocketInternals {
  /** Until called, a TLSSocket made outside tls.Server / tls.connect emits TLS errors only as '_tlsError'. */
  _releaseControl?(): boolean;
  /** TLSWrap: the certificate check tls.Server does after the handshake (OpenSSL's verify callback accepts all). */
  ssl?: { verifyError?(): Error | null } | null;
  /** TLSWrap: reading it reads the TCP handle under it. */
  _handle?: StreamHandle | null;
}

/** A native stream handle as net.Socket drives it (stream_base_commons: `reading`, readStart/readStop). */
interface StreamHandle {
  reading?: boolean;
  readStart?(): number;
  readStop?(): number;
}

/** The TCP handle's getpeername (Node's TCPWrap): fills `out`, returns 0 or a negative errno. */
interface PeerNameSource {
  getpeername?(out: Record<string, unknown>): number;
}

// A context from cert + key is made once per options object, not per connection (it parses the key).
const contexts = new WeakMap<TlsServerTransportOptions, tls.SecureContext>();

function contextFor(options: TlsServerTransportOptions): tls.SecureContext {
  if (options.secureContext !== undefined) return options.secureContext;
  let context = contexts.get(options);
  if (context === undefined) {
    context = tls.createSecureContext({
      ...(options.cert !== undefined ? { cert: options.cert } : {}),
      ...(options.key !== undefined ? { key: options.key } : {}),
      ...(options.ca !== undefined ? { ca: options.ca } : {}),
    });
    contexts.set(options, context);
  }
  return context;
}

/**
 * The server side over an accepted socket. `leftover` goes back into the socket first: Node's TLS wrap
 * feeds data already buffered in a socket to TLS before it reads (initRead in _tls_wrap.js), so those
 * bytes reach TLS before anything more from the socket.
 */
export function serverTlsSocket(socket: net.Socket, options: TlsServerTransportOptions, leftover: readonly Uint8Array[]): tls.TLSSocket {
  socket.allowHalfOpen = true; // the TLS socket takes it from its socket: half-close as TCP does
  const bytes = leftover.filter((b) => b.length > 0);
  if (bytes.length > 0) socket.unshift(bytes.length === 1 ? bytes[0]! : Buffer.concat(bytes));
  const requestCert = options.requestCert ?? false;
  const tlsSocket = new tls.TLSSocket(socket, {
    isServer: true,
    secureContext: contextFor(options),
    requestCert,
    rejectUnauthorized: requestCert && (options.rejectUnauthorized ?? true),
    ...(options.ALPNProtocols !== undefined ? { ALPNProtocols: options.ALPNProtocols } : {}),
  });
  // Made outside a tls.Server, the socket keeps TLS errors to itself until "control is released";
  // tls.Server releases it after the handshake, tls.connect at once. So do we: every failure then
  // reaches 'error'.
  (tlsSocket as tls.TLSSocket & TlsSocketInternals)._releaseControl?.();
  return tlsSocket;
}

/** An outgoing TCP connection with TLS over it (the TCP socket kept: resets go to its handle). */
export function clientTlsSocket(target: TlsConnectTarget): { tcpSocket: net.Socket; tlsSocket: tls.TLSSocket } {
  const tcpSocket = new net.Socket({ allowHalfOpen: true });
  tcpSocket.connect({ host: target.host, port: target.port });
  return { tcpSocket, tlsSocket: clientTlsOver(tcpSocket, target) };
}

/**
 * The client side over a TCP socket already connected (after a send-proxy header went out in clear).
 * `leftover`: bytes the layers below read from the server before TLS started, fed to TLS first.
 */
export function clientTlsOver(tcpSocket: net.Socket, target: Omit<TlsConnectTarget, 'port'>, leftover: readonly Uint8Array[] = []): tls.TLSSocket {
  tcpSocket.allowHalfOpen = true;
  const bytes = leftover.filter((b) => b.length > 0);
  if (bytes.length > 0) tcpSocket.unshift(bytes.length === 1 ? bytes[0]! : Buffer.concat(bytes));
  const servername = target.servername ?? (net.isIP(target.host) === 0 ? target.host : undefined);
  const tlsSocket = tls.connect({
    socket: tcpSocket,
    host: target.host, // the name the certificate is checked against when there is no servername
    ...(servername !== undefined ? { servername } : {}),
    ...(target.secureContext !== undefined ? { secureContext: target.secureContext } : {}),
    ...(target.ca !== undefined ? { ca: target.ca } : {}),
    ...(target.cert !== undefined ? { cert: target.cert } : {}),
    ...(target.key !== undefined ? { key: target.key } : {}),
    ...(target.ALPNProtocols !== undefined ? { ALPNProtocols: target.ALPNProtocols } : {}),
    rejectUnauthorized: target.rejectUnauthorized ?? true,
  });
  return tlsSocket;
}

/** Why the client's certificate did not verify (server side, after the handshake), or null. */
export function clientCertificateError(tlsSocket: tls.TLSSocket): Error | null {
  return (tlsSocket as tls.TLSSocket & TlsSocketInternals).ssl?.verifyError?.() ?? null;
}

/**
 * Start or stop reading the TLS handle, and so the TCP socket under it, as net.Socket does it for
 * backpressure (`reading = false; readStop()`) and in `_read` (`reading = true; readStart()`). A paused
 * TLS socket alone reads on up to its high-water mark.
 */
export function setTlsReading(tlsSocket: tls.TLSSocket, on: boolean): void {
  const handle = (tlsSocket as tls.TLSSocket & TlsSocketInternals)._handle;
  if (handle === undefined || handle === null || tlsSocket.destroyed || handle.reading === on) return;
  handle.reading = on;
  if (on) handle.readStart?.();
  else handle.readStop?.();
}

/** The TCP socket has no peer any more (getpeername fails): it was reset. False when it cannot tell. */
export function peerGone(tcpSocket: net.Socket): boolean {
  const handle = (tcpSocket as unknown as { _handle?: PeerNameSource | null })._handle;
  if (handle === undefined || handle === null || typeof handle.getpeername !== 'function') return false;
  return handle.getpeername({}) !== 0;
}
