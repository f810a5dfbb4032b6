import * as tls from 'node:tls';
import { ErrorCodes, PorticoError } from '../core/errors.js';
import { TcpTransport } from '../transport/tcp-transport.js';
import type { TlsConnectTarget, TlsServerTransportOptions } from '../transport/tls-sockets.js';
import { TlsTransport } from '../transport/tls-transport.js';
import { DONE, type HandshakeContext, type HandshakeHandler, type HandshakeStep } from './handshake.js';

/** Options of `tlsHandshake`: the server's certificate and key (or a ready context), client certificates, ALPN. */
export type TlsHandshakeOptions = TlsServerTransportOptions;

/**
 * TLS as a connection layer (HAProxy's `ssl` on a bind line): replaces the TCP transport by a TLS one
 * over the same socket — after accept-proxy, so the PROXY header is read in clear and the bytes after
 * it (the ClientHello, when both came in one segment) are fed to TLS first. The layer is done when the
 * handshake is; a failed handshake fails the connection with PORTICO_ERR_TLS. The certificate and key
 * are loaded here, once: a bad one is a configuration error at startup, not a failure per connection.
 */
export function tlsHandshake(options: TlsHandshakeOptions): HandshakeHandler {
  let resolved: TlsServerTransportOptions = options;
  if (options.secureContext === undefined) {
    if (options.cert === undefined || options.key === undefined) {
      throw new PorticoError(ErrorCodes.CONFIG, 'tls', 'tlsHandshake needs cert and key (PEM), or a secureContext');
    }
    try {
      const context = tls.createSecureContext({ cert: options.cert, key: options.key, ...(options.ca !== undefined ? { ca: options.ca } : {}) });
      resolved = { ...options, secureContext: context };
    } catch (error) {
      throw new PorticoError(ErrorCodes.CONFIG, 'tls', `cannot load the TLS certificate and key: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  }
  return {
    name: 'tls',
    needsSocket: true,
    start(ctx: HandshakeContext): HandshakeStep {
      return {
        kind: 'replace-transport',
        consumed: 0,
        replace(current, leftover) {
          if (!(current instanceof TcpTransport)) throw new PorticoError(ErrorCodes.INVALID_STATE, 'tls', `TLS needs a TCP transport below it, got ${current.kind}`);
          const transport = TlsTransport.server(current, resolved, leftover);
          // Failures need nothing here: the transport reports them to the layer stack (PORTICO_ERR_TLS).
          transport.onSecure((error) => {
            if (error === null) ctx.settle(DONE);
          });
          return transport;
        },
      };
    },
  };
}

/** Options of `tlsClientHandshake`: how the server is checked (SNI, CAs), a client certificate, ALPN. */
export type TlsClientHandshakeOptions = Omit<TlsConnectTarget, 'host' | 'port'> & {
  /** The name the server's certificate is checked against when there is no `servername`; default the peer's address. */
  readonly host?: string;
};

/**
 * TLS as a layer of an outgoing connection (`connect({ handshakes })`): after a send-proxy header went
 * out in clear — HAProxy's `server ... send-proxy-v2 ssl` — the TCP transport is replaced by a TLS
 * client over the same socket. Done when the handshake is; a failure (the server's certificate did not
 * verify, ...) fails the connection with PORTICO_ERR_TLS.
 */
export function tlsClientHandshake(options: TlsClientHandshakeOptions = {}): HandshakeHandler {
  return {
    name: 'tls',
    needsSocket: true,
    start(ctx: HandshakeContext): HandshakeStep {
      return {
        kind: 'replace-transport',
        consumed: 0,
        replace(current, leftover) {
          if (!(current instanceof TcpTransport)) throw new PorticoError(ErrorCodes.INVALID_STATE, 'tls', `TLS needs a TCP transport below it, got ${current.kind}`);
          const transport = TlsTransport.client(current, { ...options, host: options.host ?? ctx.socketRemote.address }, leftover);
          transport.onSecure((error) => {
            if (error === null) ctx.settle(DONE);
          });
          return transport;
        },
      };
    },
  };
}
