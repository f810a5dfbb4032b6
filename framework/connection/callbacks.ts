import type { PooledBuffer } from '../buffers/pooled-buffer.js';
import type { PorticoError } from '../core/errors.js';
import type { Connection } from './connection.js';

export type IdleKind = 'read' | 'write' | 'all';

/** Why a connection closed; reported exactly once by `onConnectionClosed`. */
export type CloseReason =
  | { readonly kind: 'local-close' }
  | { readonly kind: 'peer-close' }
  | { readonly kind: 'reset'; readonly error: PorticoError }
  | { readonly kind: 'aborted'; readonly error: PorticoError | null }
  | { readonly kind: 'idle'; readonly which: IdleKind }
  | { readonly kind: 'drain'; readonly error: PorticoError | null };

/**
 * The callback surface of a connection (The Server Framework's events). Every callback runs through
 * the completion dispatcher, in order per connection. Only `onReadCompleted` is required.
 */
export interface ConnectionCallbacks<U = unknown> {
  /** The connection is up: post the first read (or write) here. */
  onConnectionEstablished?(conn: Connection<U>): void;
  /** A posted read completed. The handler owns `buffer`: release it, or pass it to `write`. */
  onReadCompleted(conn: Connection<U>, buffer: PooledBuffer): void;
  /** Bytes of one `write` reached the kernel. */
  onWriteCompleted?(conn: Connection<U>, bytes: number): void;
  /** Queued output fell to the low-water mark after `write` reported 'over-high-water'. */
  onWritable?(conn: Connection<U>): void;
  /**
   * A posted read found the peer's FIN (half-close): no more data comes, writing may go on.
   * Default: `shutdownWrite()` once queued writes flush.
   */
  onClientClose?(conn: Connection<U>): void;
  /** The connection was reset or failed. `onConnectionClosed` follows. */
  onConnectionReset?(conn: Connection<U>, error: PorticoError): void;
  /** An idle timeout expired. Default: abort. */
  onIdle?(conn: Connection<U>, which: IdleKind): void;
  /** The server is draining. Default: close the connection once it is idle (read posted, nothing queued). */
  onDrain?(conn: Connection<U>): void;
  /** The connection is gone. Exactly once per connection. */
  onConnectionClosed?(conn: Connection<U>, reason: CloseReason): void;
}
