import type { PorticoError } from '../core/errors.js';
import type { PooledBuffer } from '../buffers/pooled-buffer.js';

/** One end of a connection, as addresses. */
export interface SocketEndpoint {
  readonly address: string;
  readonly port: number;
  readonly family: 'IPv4' | 'IPv6' | 'memory';
}

/**
 * What a transport tells the layer above it (HAProxy's xprt → upper layer wake-ups). The order is
 * TCP's: data, then at most one of FIN (`onEnd`) or failure (`onError`), then exactly one `onClosed`.
 */
export interface TransportSink {
  /** Bytes arrived; ownership of `buffer` passes to the sink. Return true to keep reading. */
  onData(buffer: PooledBuffer): boolean;
  /** The peer sent FIN: no more data will arrive. Writing may continue (half-close). */
  onEnd(): void;
  /** Our FIN went out (the shutdown asked for by `shutdownWrite` completed). */
  onWriteShut(): void;
  /** The connection failed (RST, I/O error). `onClosed` follows. */
  onError(error: PorticoError): void;
  /** The handle is closed; nothing else follows. */
  onClosed(): void;
  /**
   * A write made without its own `done` completed (in order, as writes do): one method for every write
   * of the sink, so a connection needs no completion closure of its own.
   */
  onWriteDone?(error?: Error | null): void;
}

/** How a write completes: null or undefined when the bytes were written, else why they were not. */
export type WriteDone = (error?: Error | null) => void;

/**
 * A byte transport: TCP, TLS or an in-memory pair. Reading is started by the layer above and stopped
 * by its `onData` returning false; data is delivered in pooled buffers; writes complete through their
 * callback. The contract every transport keeps (the connection's ordering suite runs on each):
 * - `resumeReading` is idempotent and never delivers synchronously from inside `onData`;
 * - FIN and failures are only noticed while reading (or writing), as with a real socket;
 * - `reset` after `shutdownWrite` still resets (or, if it cannot, closes) — the handle is never lost.
 */
export interface Transport {
  readonly kind: 'tcp' | 'tls' | 'memory';
  readonly remote: SocketEndpoint;
  readonly local: SocketEndpoint;
  /** Bytes accepted by `write` and not yet handed to the kernel. */
  readonly writeQueueSize: number;
  attach(sink: TransportSink): void;
  /** Start (or keep) delivering data to the sink. Idempotent. */
  resumeReading(): void;
  /**
   * Queue bytes; `done` (or, without one, the sink's `onWriteDone`) runs once they are written or the
   * write failed — possibly before `write` returns, when the kernel took them at once (an IOCP
   * completion on success). Do not modify `data` until then.
   */
  write(data: Uint8Array, done?: WriteDone): void;
  /** Hold writes until `uncork`, then hand them to the kernel together (one writev). */
  cork(): void;
  uncork(): void;
  /** Send FIN once queued writes are flushed; `onWriteShut` reports it. */
  shutdownWrite(): void;
  /** Close the handle now (FIN if not yet sent). */
  destroy(): void;
  /** Abortive close: RST now, queued writes dropped, no TIME_WAIT on this side. */
  reset(): void;
}
