import type { Connection, PooledBuffer } from '../../framework/index.js';

/**
 * One direction of a channel: what `source` reads is written to `sink`, zero-copy (the read buffer
 * itself is queued). One read is posted on the source at a time, and the next only once the sink took
 * the last one under its high-water mark — otherwise after the sink's `onWritable`. So the bytes
 * queued on the sink stay at most its high-water mark plus one read buffer, however fast the source
 * sends and however slowly the sink's peer reads: the rest waits in the kernel, and TCP's window
 * slows the sender down.
 */
export class Flow {
  /** Bytes forwarded (handed to the sink). */
  bytes = 0;
  #source: Connection<undefined> | null = null;
  #sink: Connection<undefined> | null = null;
  #waiting = false;
  #ended = false;

  /** A write went over the sink's high-water mark: no read is posted on the source until `sinkWritable`. */
  get waitingForSink(): boolean {
    return this.#waiting;
  }

  /** The source's FIN was passed on to the sink. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Both ends are up: post the first read on the source. */
  start(source: Connection<undefined>, sink: Connection<undefined>): void {
    this.#source = source;
    this.#sink = sink;
    source.read();
  }

  /**
   * A read completed on the source: queue the buffer on the sink, then read on unless the sink is
   * over its high-water mark. False if the sink refused the bytes (it is closing or aborted; the
   * buffer is released).
   */
  forward(buffer: PooledBuffer): boolean {
    const source = this.#source;
    const sink = this.#sink;
    if (source === null || sink === null) {
      buffer.release(); // cannot happen: no read is posted before start()
      return false;
    }
    const length = buffer.length;
    const status = sink.write(buffer);
    if (status === 'closed') return false;
    this.bytes += length;
    if (status === 'queued') source.keepReading();
    else this.#waiting = true;
    return true;
  }

  /** The sink's queue fell to its low-water mark: read on. */
  sinkWritable(): void {
    if (!this.#waiting) return;
    this.#waiting = false;
    this.#source?.keepReading();
  }

  /** The source's FIN (half-close): FIN the sink once what is queued there is written; the other direction goes on. */
  end(): void {
    this.#ended = true;
    this.#sink?.shutdownWrite();
  }
}
