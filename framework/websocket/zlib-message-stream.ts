import * as zlib from 'node:zlib';
import { ErrorCodes, PorticoError } from '../core/errors.js';
import { tooBigFailure } from './failures.js';
import type { ZlibGate } from './zlib-gate.js';

/** How a completion gets back to its connection: the connection's dispatcher, which contains a throw. */
export type PostCompletion = (fn: () => void) => void;

/** What a message job reports: the bytes, or why there are none. */
export type MessageJobDone = (error: PorticoError | null, bytes: Buffer | null) => void;

/** Options of a `ZlibMessageStream`. */
export interface ZlibMessageStreamOptions {
  /** 'inflate': a peer's compressed messages in; 'deflate': ours out. */
  mode: 'inflate' | 'deflate';
  /** The agreed LZ77 window, 8–15. */
  windowBits: number;
  /** No context takeover in this direction: the zlib context is dropped after every message. */
  noContextTakeover: boolean;
  /** The process-wide cap on running zlib jobs. */
  gate: ZlibGate;
  /** Deflate only: zlib level (-1 to 9) and memLevel (1 to 9). */
  level?: number;
  memLevel?: number;
  /** Runs each job's completion (it is called from a zlib callback, where a throw would be uncaught). */
  post: PostCompletion;
}

/** The 4 bytes a sync flush ends with: stripped from what we send, appended to what we inflate (RFC 7692 §7.2.1-2). */
export const DEFLATE_TAIL: Buffer = Buffer.from([0x00, 0x00, 0xff, 0xff]);

const live = { inflate: 0, deflate: 0 };

/** zlib contexts open right now, process-wide (each one holds its window and hash memory until closed). */
export function openZlibContexts(): { inflate: number; deflate: number } {
  return { ...live };
}

/**
 * One direction of permessage-deflate for one connection: a zlib raw stream that keeps its LZ77
 * context from message to message (context takeover) unless told not to, and one message job at a
 * time — the caller waits for a job's completion before starting the next, which keeps messages in
 * order. Each job waits for a slot of the shared `ZlibGate` and holds it until zlib answered.
 *
 * zlib runs on the thread pool (asynchronous), not with the *Sync calls: a sync inflate of a large
 * message would stop every connection of the process for its duration, and Node offers no sync call on
 * a stream that keeps its context between messages.
 *
 * Inflate is bounded: its output is counted as zlib produces it (a chunk of 16 KiB at a time), and the
 * job fails with 1009 as soon as the count passes the limit; the stream is destroyed then, so a zip
 * bomb costs at most the limit plus one chunk. `dispose()` closes the context at once, whatever is in
 * flight, and releases the job's gate slot: after it, no completion is reported.
 */
export class ZlibMessageStream {
  readonly mode: 'inflate' | 'deflate';
  readonly #windowBits: number;
  readonly #noContextTakeover: boolean;
  readonly #gate: ZlibGate;
  readonly #level: number;
  readonly #memLevel: number;
  readonly #post: PostCompletion;
  #stream: zlib.InflateRaw | zlib.DeflateRaw | null = null;
  /** Input bytes written to `#stream`: an inflate stream that consumed fewer met a final block (BFINAL). */
  #written = 0;
  // The job: input until it starts, the callback until it is reported.
  #input: Buffer | null = null;
  #limit = 0;
  #done: MessageJobDone | null = null;
  #chunks: Buffer[] = [];
  #length = 0;
  #holdsSlot = false;
  #disposed = false;

  constructor(options: ZlibMessageStreamOptions) {
    this.mode = options.mode;
    // zlib refuses an 8-bit window for raw deflate (since 1.2.9; Node quietly makes it 9). A 9-bit
    // deflate window still never reaches back further than 2^9 - 262 = 250 bytes, so what it sends
    // inflates within the 256-byte window a client agreed to with server_max_window_bits=8.
    this.#windowBits = options.mode === 'deflate' && options.windowBits === 8 ? 9 : options.windowBits;
    this.#noContextTakeover = options.noContextTakeover;
    this.#gate = options.gate;
    this.#level = options.level ?? zlib.constants.Z_DEFAULT_COMPRESSION;
    this.#memLevel = options.memLevel ?? 8;
    this.#post = options.post;
  }

  /** A job is in flight (waiting for a slot or in zlib). */
  get busy(): boolean {
    return this.#done !== null;
  }

  /** A zlib context is held now. */
  get hasContext(): boolean {
    return this.#stream !== null;
  }

  /**
   * Inflate one compressed message (its frames' payloads together; the tail is appended here) into
   * at most `limit` bytes, or deflate one message (the tail is stripped from the result). `done` is
   * posted once, unless the stream is disposed first. Bytes given must not change until then.
   */
  run(input: Buffer, done: MessageJobDone, limit = Number.MAX_SAFE_INTEGER): void {
    if (this.#disposed || this.#done !== null) {
      throw new PorticoError(ErrorCodes.INVALID_STATE, 'websocket', this.#disposed ? `${this.mode} stream disposed` : `a ${this.mode} job is already in flight`);
    }
    this.#input = input;
    this.#limit = limit;
    this.#done = done;
    this.#chunks = [];
    this.#length = 0;
    this.#gate.enter(this.#start);
  }

  /** Close the zlib context now and forget any job (the connection is gone). Safe to repeat. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#input = null;
    this.#done = null;
    this.#chunks = [];
    this.#closeStream();
    this.#leaveGate();
  }

  readonly #start = (): void => {
    this.#holdsSlot = true;
    const input = this.#input;
    this.#input = null;
    if (input === null || this.#done === null) {
      this.#leaveGate(); // disposed while it waited
      return;
    }
    let stream: zlib.InflateRaw | zlib.DeflateRaw;
    try {
      stream = this.#stream ?? this.#openStream();
    } catch (error) {
      this.#finish(this.#failure(error), null);
      return;
    }
    stream.write(input);
    this.#written += input.length;
    if (this.mode === 'inflate') {
      stream.write(DEFLATE_TAIL);
      this.#written += DEFLATE_TAIL.length;
    }
    stream.flush(zlib.constants.Z_SYNC_FLUSH, () => this.#flushed(stream));
  };

  #openStream(): zlib.InflateRaw | zlib.DeflateRaw {
    const stream =
      this.mode === 'inflate'
        ? zlib.createInflateRaw({ windowBits: this.#windowBits })
        : zlib.createDeflateRaw({ windowBits: this.#windowBits, level: this.#level, memLevel: this.#memLevel });
    live[this.mode]++;
    const mode = this.mode;
    stream.once('close', () => live[mode]--);
    // Kept for the stream's life: a destroyed stream may still report, and must find a listener.
    stream.on('data', (chunk: Buffer) => this.#data(stream, chunk));
    stream.on('error', (error: Error) => this.#error(stream, error));
    this.#stream = stream;
    this.#written = 0;
    return stream;
  }

  #data(stream: zlib.InflateRaw | zlib.DeflateRaw, chunk: Buffer): void {
    if (stream !== this.#stream || this.#done === null) return;
    this.#length += chunk.length;
    if (this.#length > this.#limit) {
      // Stop zlib at this chunk: a small message must not be allowed to inflate into gigabytes.
      this.#closeStream();
      this.#finish(tooBigFailure(`compressed message inflates past the limit of ${this.#limit} bytes`), null);
      return;
    }
    this.#chunks.push(chunk);
  }

  #error(stream: zlib.InflateRaw | zlib.DeflateRaw, error: Error): void {
    if (stream !== this.#stream) return;
    this.#closeStream(); // zlib closed the handle already; this drops our reference and counts it
    if (this.#done !== null) this.#finish(this.#failure(error), null);
  }

  #flushed(stream: zlib.InflateRaw | zlib.DeflateRaw): void {
    if (stream !== this.#stream || this.#done === null) return;
    let bytes = this.#chunks.length === 1 ? copyOf(this.#chunks[0]!) : Buffer.concat(this.#chunks, this.#length);
    this.#chunks = [];
    if (this.mode === 'deflate') {
      if (bytes.length < 4 || !bytes.subarray(bytes.length - 4).equals(DEFLATE_TAIL)) {
        this.#closeStream();
        this.#finish(new PorticoError(ErrorCodes.WS_DEFLATE, 'websocket', 'deflate output does not end with a sync flush', { closeCode: 1011 }), null);
        return;
      }
      bytes = bytes.subarray(0, bytes.length - 4);
    }
    // A final block ended the peer's DEFLATE stream: its next message starts a new one (as ws).
    const ended = this.mode === 'inflate' && stream.bytesWritten < this.#written;
    if (ended || this.#noContextTakeover) this.#closeStream();
    this.#finish(null, bytes);
  }

  #finish(error: PorticoError | null, bytes: Buffer | null): void {
    const done = this.#done!;
    this.#done = null;
    this.#chunks = [];
    this.#leaveGate();
    this.#post(() => done(error, bytes));
  }

  #failure(error: unknown): PorticoError {
    const message = error instanceof Error ? error.message : String(error);
    return this.mode === 'inflate'
      ? new PorticoError(ErrorCodes.WS_DEFLATE, 'websocket', `compressed message does not inflate: ${message}`, { closeCode: 1007, cause: error })
      : new PorticoError(ErrorCodes.WS_DEFLATE, 'websocket', `compressing a message failed: ${message}`, { closeCode: 1011, cause: error });
  }

  #closeStream(): void {
    const stream = this.#stream;
    if (stream === null) return;
    this.#stream = null;
    stream.close(); // with a write in flight, zlib frees the context when that chunk is done
  }

  #leaveGate(): void {
    if (!this.#holdsSlot) return;
    this.#holdsSlot = false;
    this.#gate.release();
  }
}

/** An exact-size copy: a zlib chunk is a view of a 16 KiB buffer, which a small message must not pin. */
function copyOf(view: Buffer): Buffer {
  const copy = Buffer.allocUnsafe(view.length);
  copy.set(view);
  return copy;
}
