import * as net from 'node:net';
import type { PooledBuffer } from '../../framework/index.js';
import type { BackendProcess, TransferRequest } from './backend-process.js';
import type { FrontConnection, FrontStats } from './front-connection.js';

/** Above this many bytes queued towards the client, stop reading from the back end. */
const highWater = 256 * 1024;

/**
 * The comparison path (FastCGI, or any reverse proxy): instead of handing the descriptor over, the
 * front connects to the back end's own port, sends the bytes it read, and copies every byte both ways
 * for the rest of the connection — the request body in, the whole response out, through this process.
 */
export function relay(backend: BackendProcess, request: TransferRequest, conn: FrontConnection, stats: FrontStats): void {
  backend.whenReady((port) => {
    if (port === null) {
      request.done('failed');
      return;
    }
    const upstream = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true, noDelay: true });
    upstream.on('error', () => {
      if (!conn.relaying) request.done('failed'); // never connected: the front answers 502
      else conn.transport.reset(); // mid-stream: the client sees the failure as a reset, not a clean end
    });
    upstream.once('connect', () => {
      upstream.write(request.leftover);
      conn.startRelay(new RelayPipe(conn, upstream, stats));
    });
  });
}

/** The two directions of one relayed connection, with backpressure each way. */
export class RelayPipe {
  readonly #upstream: net.Socket;
  readonly #stats: FrontStats;

  constructor(conn: FrontConnection, upstream: net.Socket, stats: FrontStats) {
    this.#upstream = upstream;
    this.#stats = stats;
    const transport = conn.transport;
    upstream.on('data', (chunk: Buffer) => {
      stats.bytesWritten += chunk.length;
      transport.write(chunk, () => {
        if (upstream.isPaused() && transport.writeQueueSize < highWater / 4) upstream.resume();
      });
      if (transport.writeQueueSize > highWater) upstream.pause();
    });
    upstream.on('end', () => transport.shutdownWrite());
    upstream.on('drain', () => transport.resumeReading());
    upstream.on('close', () => {
      if (!upstream.readableEnded) transport.reset();
    });
  }

  /** Client → back end. */
  onData(buffer: PooledBuffer): boolean {
    this.#stats.bytesRead += buffer.length;
    const more = this.#upstream.write(Buffer.from(buffer.data));
    buffer.release();
    return more;
  }

  onEnd(): void {
    this.#upstream.end();
  }

  onError(): void {
    this.#upstream.destroy();
  }

  onClosed(): void {
    this.#upstream.destroy();
  }
}
