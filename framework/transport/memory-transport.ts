import type { BufferPool } from '../buffers/buffer-pool.js';
import { ErrorCodes, PorticoError } from '../core/errors.js';
import { Fifo } from '../core/fifo.js';
import type { SocketEndpoint, Transport, TransportSink } from './transport.js';

/**
 * An in-process transport whose reads complete *at once* when bytes are waiting: `resumeReading()`
 * delivers synchronously, and a sink that posts the next read from inside `onData` recurses straight
 * back in. That is the FILE_SKIP_COMPLETION_PORT_ON_SUCCESS situation the dispatcher must survive,
 * reproduced on demand (used by the dispatcher tests and the benchmarks).
 */
export class MemoryTransport implements Transport {
  readonly kind = 'memory' as const;
  readonly remote: SocketEndpoint;
  readonly local: SocketEndpoint;
  peer: MemoryTransport | null = null;
  /** Every chunk written, in order (tests inspect it when there is no peer). */
  readonly written: Uint8Array[] = [];
  #pool: BufferPool;
  #sink: TransportSink | null = null;
  #inbound = new Fifo<Uint8Array>();
  #source: (() => Uint8Array | null) | null = null;
  #reading = false;
  #eof = false;
  #eofDelivered = false;
  #writeShut = false;
  #closed = false;
  #pendingError: PorticoError | null = null;

  constructor(pool: BufferPool, name = 'memory') {
    this.#pool = pool;
    this.remote = { address: `${name}-remote`, port: 0, family: 'memory' };
    this.local = { address: `${name}-local`, port: 0, family: 'memory' };
  }

  /** Two transports wired back to back. */
  static pair(pool: BufferPool): [MemoryTransport, MemoryTransport] {
    const a = new MemoryTransport(pool, 'a');
    const b = new MemoryTransport(pool, 'b');
    a.peer = b;
    b.peer = a;
    return [a, b];
  }

  get writeQueueSize(): number {
    return 0;
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  attach(sink: TransportSink): void {
    this.#sink = sink;
  }

  /** Bytes the peer "sent"; delivered when reading. */
  push(data: Uint8Array): void {
    this.#inbound.push(data);
    if (this.#reading) this.#deliver();
  }

  /** A lazy supply of inbound chunks (`null` = no more), so a million reads need no million buffers. */
  setSource(source: () => Uint8Array | null): void {
    this.#source = source;
    if (this.#reading) this.#deliver();
  }

  /** The peer sent FIN. */
  pushEnd(): void {
    this.#eof = true;
    if (this.#reading) this.#deliver();
  }

  /** The peer reset the connection. */
  pushError(error = new PorticoError(ErrorCodes.CONNECTION_RESET, 'transport', 'connection reset by memory peer')): void {
    if (this.#closed) return;
    this.#pendingError = error;
    this.#sink?.onError(error);
    this.#close();
  }

  resumeReading(): void {
    if (this.#closed) return;
    this.#reading = true;
    this.#deliver();
  }

  #nextChunk(): Uint8Array | null {
    const queued = this.#inbound.shift();
    if (queued !== undefined) return queued;
    if (this.#source !== null) {
      const chunk = this.#source();
      if (chunk === null) this.#source = null;
      return chunk;
    }
    return null;
  }

  #deliver(): void {
    // One chunk per call: a sink that wants more posts another read, which recurses into here.
    const sink = this.#sink;
    if (sink === null || this.#closed) return;
    const chunk = this.#nextChunk();
    if (chunk !== null) {
      const buffer = this.#pool.acquireCopy(chunk);
      this.#reading = false;
      if (sink.onData(buffer)) this.#reading = true;
      return;
    }
    if (this.#eof && !this.#eofDelivered) {
      this.#eofDelivered = true;
      this.#reading = false;
      sink.onEnd();
      this.#maybeClose();
    }
  }

  write(data: Uint8Array, done: (error?: Error | null) => void): void {
    if (this.#closed || this.#writeShut) {
      queueMicrotask(() => done(new PorticoError(ErrorCodes.WRITE_AFTER_SHUTDOWN, 'transport', 'write on a closed memory transport')));
      return;
    }
    const copy = Uint8Array.from(data);
    this.written.push(copy);
    this.peer?.push(copy);
    // Completion is asynchronous, like a socket write callback.
    queueMicrotask(() => done(null));
  }

  shutdownWrite(): void {
    if (this.#writeShut) return;
    this.#writeShut = true;
    this.peer?.pushEnd();
    this.#maybeClose();
  }

  destroy(): void {
    this.#close();
    this.peer?.pushEnd();
  }

  reset(): void {
    if (this.#closed) return;
    this.#close();
    this.peer?.pushError();
  }

  #maybeClose(): void {
    if (this.#writeShut && this.#eofDelivered) this.#close();
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#reading = false;
    const sink = this.#sink;
    queueMicrotask(() => sink?.onClosed());
  }

  /** @internal for tests: the error this side saw, if any. */
  get error(): PorticoError | null {
    return this.#pendingError;
  }
}
