import { Fifo } from '../core/fifo.js';
import { checkRange } from '../framing/checks.js';
import type { PorticoError } from '../core/errors.js';
import { FrameWriter, type MessageFrameOptions } from './frame-writer.js';
import { Opcode } from './opcodes.js';
import type { DeflateAgreement } from './permessage-deflate.js';
import { type PostCompletion, ZlibMessageStream } from './zlib-message-stream.js';

/** Where a `CompressingSender` writes, and how it reports; `S` is the socket's send status. */
export interface FrameSink<S> {
  /** Write these frames now, in order (one corked write). */
  writeFrames(frames: readonly Buffer[]): S;
  /** The status of a send that waits behind a compression ('queued', or over the high-water mark). */
  queued(): S;
  /** Run a zlib completion as a completion of the connection. */
  post: PostCompletion;
  /** Compressing failed (zlib out of memory): the connection cannot go on. */
  fail(error: PorticoError): void;
}

/** One queued item: plain frames, a message to compress, or an action that waits for everything before it. */
interface Entry {
  readonly frames: readonly Buffer[] | null;
  readonly payload: Buffer | null;
  readonly binary: boolean;
  readonly maxFramePayload: number | undefined;
  readonly action: (() => void) | null;
  /** Bytes the entry holds, for `pendingBytes`. */
  readonly bytes: number;
}

const writer = new FrameWriter({ role: 'server' });

/**
 * The sending half of permessage-deflate for one connection (RFC 7692 §6.1): a message of at least
 * `threshold` bytes is compressed (thread pool, one message at a time) and goes out with RSV1 on its
 * first frame; a smaller one goes out as it is. Order is kept: while a compression is in flight,
 * everything sent after it — uncompressed messages, pings, pongs, close frames, prepared frames, and
 * actions such as closing the connection — waits in a FIFO behind it and is written when its turn
 * comes. With nothing in flight, frames are written at once, as without compression.
 */
export class CompressingSender<S> {
  readonly #deflater: ZlibMessageStream;
  readonly #threshold: number;
  readonly #sink: FrameSink<S>;
  readonly #queue = new Fifo<Entry>();
  #pendingBytes = 0;
  #disposed = false;

  constructor(agreement: DeflateAgreement, sink: FrameSink<S>) {
    const { params, options } = agreement;
    this.#deflater = new ZlibMessageStream({
      mode: 'deflate',
      windowBits: params.serverMaxWindowBits,
      noContextTakeover: params.serverNoContextTakeover,
      gate: options.gate,
      level: options.level,
      memLevel: options.memLevel,
      post: sink.post,
    });
    this.#threshold = options.threshold;
    this.#sink = sink;
  }

  /** Something waits behind a compression: new frames must queue (`write` does that). */
  get busy(): boolean {
    return this.#queue.length > 0;
  }

  /** Bytes waiting here, not yet handed to the connection (uncompressed size for messages). */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /** A zlib deflate context is held now (context takeover keeps one between messages). */
  get hasContext(): boolean {
    return this.#deflater.hasContext;
  }

  /** Send a message: compressed from `threshold` bytes on, in order with everything else. */
  send(data: string | Uint8Array, options: MessageFrameOptions = {}): S {
    const binary = options.binary ?? typeof data !== 'string';
    const payload = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const maxFramePayload = options.maxFramePayload;
    if (payload.length < this.#threshold) return this.write(writer.message(payload, { binary, maxFramePayload }));
    if (maxFramePayload !== undefined) checkRange(maxFramePayload, 1, Number.MAX_SAFE_INTEGER, 'maxFramePayload', 'websocket');
    this.#push({ frames: null, payload, binary, maxFramePayload, action: null, bytes: payload.length });
    this.#pump();
    return this.#sink.queued();
  }

  /** Write frames now, or queue them behind a compression in flight. */
  write(frames: readonly Buffer[]): S {
    if (!this.busy) return this.#sink.writeFrames(frames);
    let bytes = 0;
    for (const frame of frames) bytes += frame.length;
    this.#push({ frames, payload: null, binary: false, maxFramePayload: undefined, action: null, bytes });
    return this.#sink.queued();
  }

  /** Run `action` once everything queued before it is written (at once when nothing is). */
  whenFlushed(action: () => void): void {
    if (!this.busy) action();
    else this.#push({ frames: null, payload: null, binary: false, maxFramePayload: undefined, action, bytes: 0 });
  }

  /** The connection is gone: drop what waits and close the deflate context. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#deflater.dispose();
    this.#queue.clear();
    this.#pendingBytes = 0;
  }

  #push(entry: Entry): void {
    this.#queue.push(entry);
    this.#pendingBytes += entry.bytes;
  }

  /** Write what is ready at the head of the queue, up to the next message to compress, and start that. */
  #pump(): void {
    while (!this.#disposed) {
      const entry = this.#queue.peek();
      if (entry === undefined) return;
      if (entry.payload !== null) {
        if (!this.#deflater.busy) this.#deflater.run(entry.payload, this.#compressed);
        return;
      }
      this.#queue.shift();
      this.#pendingBytes -= entry.bytes;
      if (entry.frames !== null) this.#sink.writeFrames(entry.frames);
      else entry.action!();
    }
  }

  readonly #compressed = (error: PorticoError | null, compressed: Buffer | null): void => {
    if (this.#disposed) return;
    const entry = this.#queue.shift()!;
    this.#pendingBytes -= entry.bytes;
    if (error !== null) {
      this.dispose();
      this.#sink.fail(error);
      return;
    }
    this.#sink.writeFrames(compressedFrames(compressed!, entry.binary, entry.maxFramePayload));
    this.#pump();
  };
}

/** A compressed payload as frames: RSV1 on the first only (RFC 7692 §6.1), cut at `maxFramePayload`. */
function compressedFrames(payload: Buffer, binary: boolean, maxFramePayload: number | undefined): Buffer[] {
  const max = maxFramePayload ?? Number.MAX_SAFE_INTEGER;
  const frames: Buffer[] = [];
  let opcode: number = binary ? Opcode.BINARY : Opcode.TEXT;
  let at = 0;
  do {
    const end = Math.min(payload.length, at + max);
    frames.push(...writer.frame(opcode, payload.subarray(at, end), { fin: end === payload.length, rsv1: at === 0 }));
    opcode = Opcode.CONTINUATION;
    at = end;
  } while (at < payload.length);
  return frames;
}
