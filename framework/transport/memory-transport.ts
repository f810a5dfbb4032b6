import type { BufferPool } from '../buffers/buffer-pool.js';
import { ErrorCodes, PorticoError } from '../core/errors.js';
import { Fifo } from '../core/fifo.js';
import type { SocketEndpoint, Transport, TransportSink, WriteDone } from './transport.js';

export interface MemoryTransportOptions {
  /** Names the endpoints (`<name>-local`, `<name>-remote`). */
  name: string;
  /**
   * false (default): behave like a TCP socket — data, FIN and RST are delivered in a later macrotask,
   * at most `maxReadsPerTurn` reads per turn, and `resumeReading` is idempotent.
   * true: every `resumeReading` is a posted read that completes at once when bytes are waiting,
   * nested inside the caller — the FILE_SKIP_COMPLETION_PORT_ON_SUCCESS situation the dispatcher must
   * survive, reproduced on demand (the dispatcher tests and benchmarks use it).
   */
  inlineReads: boolean;
  /** Reads delivered per macrotask in TCP mode (libuv reads a stream up to 32 times per poll). Default 32. */
  maxReadsPerTurn: number;
}

const peerReset = (): PorticoError => new PorticoError(ErrorCodes.CONNECTION_RESET, 'transport', 'connection reset by memory peer');

/**
 * An in-process transport implementing the same contract as TCP, for tests and benchmarks: two of them
 * wired back to back (`pair`) are a loopback connection; on its own, `push`, `pushEnd` and `pushError`
 * play the peer.
 */
export class MemoryTransport implements Transport {
  readonly kind = 'memory' as const;
  readonly remote: SocketEndpoint;
  readonly local: SocketEndpoint;
  peer: MemoryTransport | null = null;
  /** Every chunk written, in order (tests inspect it when there is no peer). */
  readonly written: Uint8Array[] = [];
  readonly #inline: boolean;
  readonly #maxReadsPerTurn: number;
  #pool: BufferPool;
  #sink: TransportSink | null = null;
  #toSink: WriteDone | null = null;
  #inbound = new Fifo<Uint8Array>();
  #source: (() => Uint8Array | null) | null = null;
  #reading = false;
  #scheduled = false;
  #peerFin = false;
  #finReported = false;
  #peerError: PorticoError | null = null;
  #seenError: PorticoError | null = null;
  #writeShut = false;
  #closed = false;
  #corked = false;
  #corkQueue: { data: Uint8Array; done: (error?: Error | null) => void }[] = [];

  constructor(pool: BufferPool, options: Partial<MemoryTransportOptions> | string = {}) {
    const opts = typeof options === 'string' ? { name: options } : options;
    const name = opts.name ?? 'memory';
    this.#pool = pool;
    this.#inline = opts.inlineReads ?? false;
    this.#maxReadsPerTurn = opts.maxReadsPerTurn ?? 32;
    this.remote = { address: `${name}-remote`, port: 0, family: 'memory' };
    this.local = { address: `${name}-local`, port: 0, family: 'memory' };
  }

  /** Two transports wired back to back. */
  static pair(pool: BufferPool, options: Partial<Omit<MemoryTransportOptions, 'name'>> = {}): [MemoryTransport, MemoryTransport] {
    const a = new MemoryTransport(pool, { ...options, name: 'a' });
    const b = new MemoryTransport(pool, { ...options, name: 'b' });
    a.peer = b;
    b.peer = a;
    return [a, b];
  }

  get writeQueueSize(): number {
    return this.#corkQueue.reduce((n, w) => n + w.data.length, 0);
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** True while the layer above wants data (as a socket that is reading). */
  get isReading(): boolean {
    return this.#reading;
  }

  /** Inbound chunks not yet delivered. */
  get unread(): number {
    return this.#inbound.length;
  }

  /** The failure this side reported to its sink, if any. */
  get error(): PorticoError | null {
    return this.#seenError;
  }

  /**
   * The peer reset the connection, whether or not the sink was told: what the kernel's socket state
   * shows of a TCP socket that got an RST after the FIN it already reported (tests use it as TCP tests
   * use /proc/net/tcp).
   */
  get resetByPeer(): boolean {
    return this.#peerError !== null;
  }

  /** The peer's FIN arrived, whether or not the sink was told (an RST right behind it is reported instead). */
  get finByPeer(): boolean {
    return this.#peerFin;
  }

  attach(sink: TransportSink): void {
    this.#sink = sink;
  }

  // ---- the peer's side ----------------------------------------------------------------------------

  /** Bytes the peer sent; delivered while reading. */
  push(data: Uint8Array): void {
    if (this.#closed) {
      // As the kernel answers bytes for a socket that was closed (close(2) after our FIN): RST.
      this.peer?.pushError();
      return;
    }
    if (this.#peerFin || this.#peerError !== null) return;
    this.#inbound.push(data);
    this.#wake();
  }

  /** A lazy supply of inbound chunks (`null` = no more), so a million reads need no million buffers. */
  setSource(source: () => Uint8Array | null): void {
    this.#source = source;
    this.#wake();
  }

  /** The peer sent FIN (noticed after the data before it, while reading). */
  pushEnd(): void {
    if (this.#closed || this.#peerFin || this.#peerError !== null) return;
    this.#peerFin = true;
    this.#wake();
  }

  /**
   * The peer reset the connection. As with a TCP socket (Linux keeps the receive queue), bytes that
   * arrived before the RST are still read first; then a reader gets the error — also when the peer's
   * FIN came first but was not reported yet (TcpTransport asks the kernel at end of stream). After a FIN
   * was reported, only a write sees the failure.
   */
  pushError(error: PorticoError = peerReset()): void {
    if (this.#closed || this.#peerError !== null) return;
    this.#peerError = error;
    this.#source = null; // what the peer had not sent yet is gone
    this.#wake();
  }

  // ---- Transport ----------------------------------------------------------------------------------

  resumeReading(): void {
    if (this.#closed) return;
    if (this.#inline) {
      this.#reading = true;
      this.#run(Infinity);
      return;
    }
    if (this.#reading) return;
    this.#reading = true;
    this.#wake();
  }

  write(data: Uint8Array, done: WriteDone = this.#sinkDone()): void {
    if (this.#closed || this.#writeShut) {
      const error = new PorticoError(ErrorCodes.WRITE_AFTER_SHUTDOWN, 'transport', 'write on a closed memory transport');
      queueMicrotask(() => done(error));
      return;
    }
    if (this.#peerError !== null) {
      // As a socket write after an RST: the failure comes from the event loop, never inside write().
      const error = this.#peerError;
      setImmediate(() => {
        done(error);
        this.#fail(error);
      });
      return;
    }
    const copy = Uint8Array.from(data);
    if (this.#corked) this.#corkQueue.push({ data: copy, done });
    else this.#send(copy, [done]);
  }
  /** Completes a write made without `done` on the sink (made once, on the first such write). */
  #sinkDone(): WriteDone {
    return (this.#toSink ??= (error) => this.#sink?.onWriteDone?.(error));
  }


  cork(): void {
    this.#corked = true;
  }

  uncork(): void {
    if (!this.#corked) return;
    this.#corked = false;
    const queued = this.#corkQueue.splice(0);
    if (queued.length === 0) return;
    // One writev: the peer may see the writes as one chunk.
    const total = queued.reduce((n, w) => n + w.data.length, 0);
    const joined = new Uint8Array(total);
    let at = 0;
    for (const w of queued) {
      joined.set(w.data, at);
      at += w.data.length;
    }
    this.#send(
      joined,
      queued.map((w) => w.done),
    );
  }

  shutdownWrite(): void {
    if (this.#writeShut || this.#closed) return;
    this.uncork();
    this.#writeShut = true;
    this.peer?.pushEnd();
    queueMicrotask(() => {
      if (this.#closed) return;
      this.#sink?.onWriteShut();
      this.#maybeClose();
    });
  }

  destroy(): void {
    if (this.#closed) return;
    // As the kernel does: closing with unread input sends RST, otherwise FIN.
    const unread = this.#inbound.length > 0 || this.#source !== null;
    const finSent = this.#writeShut;
    this.#closeNow();
    if (unread) this.peer?.pushError();
    else if (!finSent) this.peer?.pushEnd();
  }

  reset(): void {
    if (this.#closed) return;
    this.#closeNow();
    this.peer?.pushError();
  }

  // ---- internals ----------------------------------------------------------------------------------

  #send(data: Uint8Array, dones: ((error?: Error | null) => void)[]): void {
    this.written.push(data);
    this.peer?.push(data);
    // Completion is asynchronous, like a socket write callback.
    queueMicrotask(() => {
      for (const done of dones) done(null);
    });
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

  #hasInput(): boolean {
    return this.#inbound.length > 0 || this.#source !== null || (!this.#finReported && (this.#peerFin || this.#peerError !== null));
  }

  #wake(): void {
    if (!this.#reading || this.#closed || !this.#hasInput()) return;
    if (this.#inline) {
      this.#run(Infinity);
      return;
    }
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#run(this.#maxReadsPerTurn);
      this.#wake();
    });
  }

  /** Deliver while the sink wants data: bytes first, then the FIN or RST, as a socket reports them. */
  #run(maxReads: number): void {
    let reads = 0;
    while (this.#reading && !this.#closed && reads < maxReads) {
      const sink = this.#sink;
      if (sink === null) return;
      const chunk = this.#nextChunk();
      if (chunk !== null) {
        reads++;
        const buffer = this.#pool.acquireCopy(chunk);
        // Inline mode: a read posted from inside onData completes nested, right there.
        if (this.#inline) this.#reading = false;
        this.#reading = sink.onData(buffer);
        continue;
      }
      // End of stream: an RST already here is reported instead of the FIN; one after a reported FIN is
      // not reported to a reader.
      if (this.#finReported) return;
      if (this.#peerError !== null) {
        this.#fail(this.#peerError);
      } else if (this.#peerFin) {
        this.#finReported = true;
        sink.onEnd();
        this.#maybeClose();
      }
      return;
    }
  }

  #fail(error: PorticoError): void {
    if (this.#closed) return;
    this.#seenError = error;
    this.#sink?.onError(error);
    this.#closeNow();
  }

  #maybeClose(): void {
    // A socket with both directions shut closes itself (Node's autoDestroy).
    if (this.#writeShut && this.#finReported) this.#closeNow();
  }

  #closeNow(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#reading = false;
    for (const w of this.#corkQueue.splice(0)) {
      const error = new PorticoError(ErrorCodes.WRITE_AFTER_SHUTDOWN, 'transport', 'memory transport closed before a corked write went out');
      queueMicrotask(() => w.done(error));
    }
    const sink = this.#sink;
    queueMicrotask(() => sink?.onClosed());
  }
}
