import { Buffer, isUtf8 } from 'node:buffer';
import { PorticoError } from '../core/errors.js';
import type { PooledBuffer } from '../buffers/pooled-buffer.js';
import type { WebSocketCallbacks } from './callbacks.js';
import { decodeClosePayload } from './close-frame.js';
import { protocolFailure, tooBigFailure, utf8Failure } from './failures.js';
import { MessageBuffer } from './message-buffer.js';
import { Opcode } from './opcodes.js';
import { Utf8Validator } from './utf8-validator.js';

const EMPTY: Buffer = Buffer.alloc(0);
/**
 * A whole binary message at least 1/DISOWN_RATIO of the memory (ArrayBuffer) it was read into is
 * handed out as a view of it, not copied: it pins at most DISOWN_RATIO times its size (8 KiB of a
 * 64 KiB read buffer), about what a view of Node's own read buffer pins in ws.
 */
const DISOWN_RATIO = 8;

/** Where a compressed message goes once its last frame is in: its payloads together, still compressed. */
export type CompressedMessageSink = (compressed: Buffer, binary: boolean) => void;

/**
 * @internal Turns the frame events of a `FrameParser` into messages and control events (RFC 6455
 * section 5.4): fragmentation rules, the message size limit, UTF-8 validation of text as it arrives,
 * close frame decoding. Each method returns the failure the frame causes, or null; callbacks are
 * called with the assembler's state already updated, so a callback that throws leaves it consistent.
 */
export class MessageAssembler {
  #callbacks: WebSocketCallbacks;
  readonly #maxMessage: number;
  /**
   * The incremental validator, for text that arrives in more than one chunk (made on first need: a
   * text message that comes whole in one chunk is checked in one call, and most connections never
   * need it).
   */
  #utf8: Utf8Validator | null = null;
  /** The open text message is being validated incrementally (`#utf8` holds its state). */
  #validating = false;
  /** Payload being gathered (made on first need: a message that comes whole is never gathered). */
  #gathered: MessageBuffer | null = null;
  /** TEXT or BINARY while a message is open (between its first frame and its FIN frame), else 0. */
  #message = 0;
  /** Declared payload bytes of the open message so far (its frames' lengths added up). */
  #declared = 0;
  #opcode = 0;
  #fin = false;
  /** Payload bytes of the current data frame still to come. */
  #frameLeft = 0;
  /** A whole single-frame message that arrived in one chunk: delivered without gathering. */
  #whole: Buffer | null = null;
  /** The pooled buffer `#whole` lies in, when the receiver allows keeping it. */
  #wholeOwner: PooledBuffer | null = null;
  #control: Buffer = EMPTY;
  #closed = false;
  /** permessage-deflate: where compressed messages go; null when no extension defines RSV1. */
  readonly #compressedSink: CompressedMessageSink | null;
  /** The open message had RSV1 on its first frame: gathered as it is, for the sink. */
  #compressed = false;

  /**
   * Reports to `callbacks`; `maxMessage` bounds a message's declared bytes, all fragments together
   * (for a compressed message, the bytes on the wire). `compressedSink`: permessage-deflate was agreed.
   */
  constructor(callbacks: WebSocketCallbacks, maxMessage: number, compressedSink: CompressedMessageSink | null = null) {
    this.#callbacks = callbacks;
    this.#maxMessage = maxMessage;
    this.#compressedSink = compressedSink;
  }

  /** Report to `callbacks` from now on (the receiver was lent to another socket between messages). */
  attach(callbacks: WebSocketCallbacks): void {
    this.#callbacks = callbacks;
  }

  /** True once a valid close frame was reported: nothing after it is for us. */
  get closed(): boolean {
    return this.#closed;
  }

  /** True while a fragmented message is open. */
  get messageOpen(): boolean {
    return this.#message !== 0;
  }

  /** A frame header: check it against the open message and the size limit before any payload byte. */
  frameStart(opcode: number, fin: boolean, rsv1: boolean, length: number): PorticoError | null {
    this.#opcode = opcode;
    if (opcode >= 0x8) {
      this.#control = EMPTY;
      return null;
    }
    // The parser lets RSV1 through only when an extension asked for it (and only on a message's first
    // frame); without a sink, a compressed message must not be delivered as if it were plain.
    if (rsv1 && this.#compressedSink === null) return protocolFailure('RSV1 set and no extension here decodes it');
    if (opcode === Opcode.CONTINUATION) {
      if (this.#message === 0) return protocolFailure('continuation frame with no message in progress');
    } else {
      if (this.#message !== 0) return protocolFailure(`${opcode === Opcode.TEXT ? 'text' : 'binary'} frame while a fragmented message is still open`);
      this.#message = opcode;
      this.#declared = 0;
      this.#compressed = rsv1;
      this.#validating = false;
    }
    if (length > this.#maxMessage - this.#declared) {
      return tooBigFailure(`message of at least ${this.#declared + length} bytes over the limit of ${this.#maxMessage}`);
    }
    this.#declared += length;
    this.#fin = fin;
    this.#frameLeft = length;
    return null;
  }

  /**
   * Unmasked payload bytes of the current frame (a view valid during the call). `owner`: the pooled
   * buffer the view lies in, when the caller lets a large whole message keep it (`PooledBuffer.disown`)
   * instead of copying it out.
   */
  payload(chunk: Buffer, owner: PooledBuffer | null = null): PorticoError | null {
    if (this.#opcode >= 0x8) {
      this.#control = chunk; // whole: the parser hands a control payload over in one piece
      return null;
    }
    if (this.#compressed) {
      // Compressed bytes: gathered (zlib works off the event loop, the chunk is a view), checked once inflated.
      this.#frameLeft -= chunk.length;
      this.#gather().append(chunk, this.#frameLeft);
      return null;
    }
    this.#frameLeft -= chunk.length;
    if (this.#fin && this.#frameLeft === 0 && (this.#gathered === null || this.#gathered.length === 0) && this.#whole === null && !this.#validating) {
      // The whole message in one view: no gathering copy (valid until frameEnd, next), text checked in one call.
      if (this.#message === Opcode.TEXT && !isUtf8(chunk)) return utf8Failure('text message is not valid UTF-8');
      this.#whole = chunk;
      this.#wholeOwner = owner;
      return null;
    }
    if (this.#message === Opcode.TEXT) {
      // Fail fast: the chunk holding the first bad byte fails, not the end of the message.
      if (!this.#validating) {
        this.#validating = true;
        (this.#utf8 ??= new Utf8Validator()).reset();
      }
      if (!this.#utf8!.write(chunk)) return utf8Failure('text message is not valid UTF-8');
    }
    this.#gather().append(chunk, this.#frameLeft);
    return null;
  }

  #gather(): MessageBuffer {
    return (this.#gathered ??= new MessageBuffer(this.#maxMessage));
  }

  /** The current frame is complete: deliver what it completes. */
  frameEnd(): PorticoError | null {
    const opcode = this.#opcode;
    if (opcode >= 0x8) return this.#controlEnd(opcode);
    if (!this.#fin) return null;
    const binary = this.#message === Opcode.BINARY;
    if (this.#compressed) {
      const compressed = this.#gather().take();
      this.#message = 0;
      this.#declared = 0;
      this.#compressed = false;
      this.#compressedSink!(compressed, binary);
      return null;
    }
    if (!binary && this.#validating && !this.#utf8!.end()) return utf8Failure('text message ends inside a UTF-8 sequence');
    this.#validating = false;
    const whole = this.#whole;
    let data: string | Buffer;
    if (whole !== null) {
      data = binary ? this.#own(whole) : whole.toString('utf8');
      this.#wholeOwner = null;
    } else {
      const gathered = this.#gathered;
      data = binary ? (gathered?.take() ?? Buffer.alloc(0)) : (gathered?.takeText() ?? '');
    }
    this.#whole = null;
    this.#message = 0;
    this.#declared = 0;
    this.#callbacks.onMessage(data, binary);
    return null;
  }

  /** Forget any open message (the connection failed or closed). */
  reset(): void {
    this.#gathered?.clear();
    this.#validating = false;
    this.#whole = null;
    this.#wholeOwner = null;
    this.#control = EMPTY;
    this.#message = 0;
    this.#declared = 0;
    this.#compressed = false;
  }

  /**
   * A whole binary message the application may keep: a large one keeps the pooled memory it was read
   * into (the buffer is disowned: the pool lends fresh memory in its place, the view is never written
   * again), a small one is copied (so it does not pin a much larger buffer).
   */
  #own(whole: Buffer): Buffer {
    const owner = this.#wholeOwner;
    // The capacity test first: it is the cheap one, and no smaller message gets past it.
    const n = whole.length * DISOWN_RATIO;
    if (owner !== null && n >= owner.capacity && owner.owners > 0 && whole.buffer === owner.bytes.buffer && n >= whole.buffer.byteLength) {
      owner.disown();
      return whole;
    }
    return copyOf(whole);
  }

  #controlEnd(opcode: number): PorticoError | null {
    const payload = this.#control;
    this.#control = EMPTY;
    if (opcode === Opcode.CLOSE) {
      let code: number;
      let reason: string;
      try {
        ({ code, reason } = decodeClosePayload(payload));
      } catch (error) {
        if (error instanceof PorticoError) return error;
        throw error;
      }
      this.#closed = true;
      this.reset();
      this.#callbacks.onClose(code, reason);
      return null;
    }
    // A copy: the payload is a view of a pooled buffer, and a pong is usually sent after this returns.
    const owned = copyOf(payload);
    if (opcode === Opcode.PING) this.#callbacks.onPing?.(owned);
    else this.#callbacks.onPong?.(owned);
    return null;
  }
}

/** An owned copy (Buffer.from(view) takes the generic array-like path: measurably slower per small message). */
function copyOf(view: Buffer): Buffer {
  const copy = Buffer.allocUnsafe(view.length);
  copy.set(view);
  return copy;
}
