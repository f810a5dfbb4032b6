import type { ConnectionCallbacks } from '../../framework/index.js';

/**
 * Echo every byte back. Zero-copy: the read buffer is handed to `write`, which releases it once
 * written. Backpressure: when output passes the high-water mark, the next read is posted only from
 * `onWritable`, so a peer that never reads costs at most the high-water mark plus one buffer.
 * The peer's FIN (half-close) gets the default treatment: FIN back once everything is echoed.
 */
export const echoHandler: ConnectionCallbacks = {
  onConnectionEstablished(conn) {
    conn.read();
  },
  onReadCompleted(conn, buffer) {
    if (conn.write(buffer) === 'queued') conn.read();
  },
  onWritable(conn) {
    conn.read();
  },
};
