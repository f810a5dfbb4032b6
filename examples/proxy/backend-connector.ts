import { connect, type Connection, type ConnectionCallbacks, type ConnectOptions } from '../../framework/index.js';
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
  readonly context: BackendContext;
}

/**
 * Open the backend connection of one channel. Resolves once connected; rejects with the connector's
 * PorticoError (PORTICO_ERR_CONNECT_REFUSED / _TIMEOUT / _FAILED).
 */
export function connectBackend(options: BackendConnectOptions): Promise<Connection<undefined>> {
  const { handler, prefix } = options;
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
