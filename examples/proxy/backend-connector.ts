import {
  connect,
  DONE,
  tlsClientHandshake,
  type Connection,
  type ConnectionCallbacks,
  type ConnectOptions,
  type HandshakeHandler,
  type TlsClientHandshakeOptions,
} from '../../framework/index.js';
import type { BackendAddress } from './backend-address.js';

/**
 * The shared machinery a backend connection runs on (the listening server's, so buffers go back to one
 * pool and completions keep one order).
 */
export type BackendContext = Pick<ConnectOptions<undefined>, 'pool' | 'dispatcher' | 'wheel' | 'clock' | 'connection' | 'noDelay'>;

export interface BackendConnectOptions {
  readonly address: BackendAddress;
  readonly timeoutMs: number;
  readonly handler: ConnectionCallbacks<undefined>;
  /**
   * Bytes written to the backend before anything else, before the handler's `onConnectionEstablished`
   * runs, so before any client byte: the hook for `--send-proxy` (a PROXY protocol header). Null: none.
   */
  readonly prefix: Uint8Array | null;
  /** Speak TLS to the backend (after the prefix, which goes in clear: HAProxy's `send-proxy-v2 ssl`). Null: plain TCP. */
  readonly tls?: TlsClientHandshakeOptions | null;
  readonly context: BackendContext;
}

/** A layer that writes `bytes` first and is done (the PROXY header, before TLS starts). */
function writeFirst(bytes: Uint8Array): HandshakeHandler {
  return {
    name: 'send-proxy',
    start(ctx) {
      ctx.write(bytes);
      return DONE;
    },
  };
}

/**
 * Open the backend connection of one channel. Resolves once connected; rejects with the connector's
 * PorticoError (PORTICO_ERR_CONNECT_REFUSED / _TIMEOUT / _FAILED).
 */
export function connectBackend(options: BackendConnectOptions): Promise<Connection<undefined>> {
  const { handler, prefix } = options;
  if (options.tls !== undefined && options.tls !== null) {
    // Under TLS the prefix is a layer of its own: it must go out in clear, before the ClientHello.
    return connect<undefined>({
      ...options.context,
      host: options.address.host,
      port: options.address.port,
      timeoutMs: options.timeoutMs,
      handshakeTimeoutMs: options.timeoutMs,
      handler,
      handshakes: [...(prefix !== null && prefix.length > 0 ? [writeFirst(prefix)] : []), tlsClientHandshake({ ...options.tls, host: options.address.host })],
    });
  }
  const withPrefix: ConnectionCallbacks<undefined> =
    prefix === null || prefix.length === 0
      ? handler
      : {
          ...handler,
          // The channel's callbacks close over their channel and use no `this`: spreading keeps them whole.
          onConnectionEstablished(conn) {
            conn.write(prefix);
            handler.onConnectionEstablished?.(conn);
          },
        };
  return connect<undefined>({
    ...options.context,
    host: options.address.host,
    port: options.address.port,
    timeoutMs: options.timeoutMs,
    handler: withPrefix,
  });
}
