import {
  BufferPool,
  type CompletionDispatcher,
  Connection,
  type ConnectionCallbacks,
  type DispatcherStats,
  MemoryTransport,
  systemClock,
  TimerWheel,
} from '../../framework/index.js';

/**
 * The FILE_SKIP_COMPLETION_PORT_ON_SUCCESS case, end to end: a handler that posts its next read from
 * onReadCompleted, over a MemoryTransport whose reads complete at once. Without the dispatcher's depth
 * limit this recursion would blow the stack long before a million reads.
 */

const CHUNK = new Uint8Array(16); // small: the cost under test is per read, not per byte
const pool = new BufferPool({ bufferSize: 64, maxPooled: 64 });
const wheel = new TimerWheel({ autoTick: false }); // idle timeouts are off; no interval to keep alive

export interface ChainOutcome {
  readonly stats: Readonly<DispatcherStats>;
  /** Pool buffers not returned after the chain: non-zero means a leak in the read path. */
  readonly leakedBuffers: number;
}

/** Run `reads` chained reads on one fresh connection; resolves after the last one completed. */
export function runChainedReads(dispatcher: CompletionDispatcher, reads: number): Promise<ChainOutcome> {
  return new Promise((resolve, reject) => {
    const transport = new MemoryTransport(pool, { name: 'bench', inlineReads: true });
    let supplied = 0;
    transport.setSource(() => (supplied++ < reads ? CHUNK : null));
    let completed = 0;
    const handler: ConnectionCallbacks = {
      onConnectionEstablished(conn) {
        conn.read();
      },
      onReadCompleted(conn, buffer) {
        buffer.release();
        if (++completed < reads) {
          conn.read();
          return;
        }
        conn.abort(); // done: the connection and its transport go away with the chain
        resolve({ stats: { ...dispatcher.stats }, leakedBuffers: pool.outstanding });
      },
    };
    const conn = new Connection(transport, handler, undefined, {
      dispatcher,
      wheel,
      clock: systemClock,
      pool,
      onCallbackError: (_conn, error) => reject(error),
    });
    conn.start();
  });
}
