import type { PorticoError } from '../core/errors.js';
import { checkRange } from '../framing/checks.js';
import type { PooledBuffer } from '../buffers/pooled-buffer.js';
import type { ByteQueue } from '../framing/byte-queue.js';
import { protocolFailure, tooBigFailure } from './failures.js';
import { unmaskInPlace } from './masking.js';
import { MAX_CONTROL_PAYLOAD, isControlOpcode, isDefinedOpcode } from './opcodes.js';

/** What `FrameParser.next()` found. */
export const FrameEvent = {
  /** Nothing more can be parsed until more bytes are appended to the queue. */
  NEED_MORE: 0,
  /** A frame header was read: `fin`, `rsv1`, `opcode` and `payloadLength` describe the frame. */
  FRAME_START: 1,
  /** Unmasked payload bytes of the current frame are in `chunk`. */
  PAYLOAD: 2,
  /** The current frame's payload is complete. */
  FRAME_END: 3,
  /** The peer broke the protocol; `error` says how. The parser stays failed. */
  ERROR: 4,
} as const;

/** One of `FrameEvent`'s values. */
export type FrameEvent = (typeof FrameEvent)[keyof typeof FrameEvent];

/** Which end of the connection the parser reads for: a server reads masked frames, a client unmasked ones. */
export type WebSocketRole = 'server' | 'client';

/** Options of a `FrameParser`. */
export interface FrameParserOptions {
  /** 'server': every frame must be masked (RFC 6455 5.1); 'client': none may be. */
  role: WebSocketRole;
  /** Largest data frame payload; a larger declared length fails with 1009 before anything is read or allocated. */
  maxFramePayload: number;
  /**
   * Hook for permessage-deflate (RFC 7692): allow RSV1 on a text or binary frame (the first frame of a
   * message). Never allowed on control or continuation frames. Default false: RSV1 fails with 1002.
   */
  rsv1Allowed?: boolean;
}

const HEADER = 0;
const LENGTH_16 = 1;
const LENGTH_64 = 2;
const MASK_KEY = 3;
const PAYLOAD = 4;
const END = 5;
const FAILED = 6;
type State = typeof HEADER | typeof LENGTH_16 | typeof LENGTH_64 | typeof MASK_KEY | typeof PAYLOAD | typeof END | typeof FAILED;

const EMPTY: Buffer = Buffer.alloc(0);
/** 2^21: a 64-bit length whose high word reaches it exceeds Number.MAX_SAFE_INTEGER (2^53 - 1). */
const SAFE_HIGH_WORD_LIMIT = 0x200000;

/**
 * The WebSocket frame layer (RFC 6455 section 5.2; HyBi-08 frames the same way) as an explicit state
 * machine over a `ByteQueue`: header, extended length, mask key, payload. `next()` runs a loop (never
 * recursion) until it has one event to report; call it until NEED_MORE.
 *
 * The payload is streamed, not gathered: each PAYLOAD event is the share of one queued buffer, unmasked
 * in place, so a frame of any size costs no copy here and a consumer can validate (UTF-8) or refuse it
 * as its bytes arrive. Control frames (at most 125 bytes) are the exception: their payload comes as one
 * chunk once it is all buffered. A chunk is valid until the queue's next `append`, `releaseConsumed` or
 * `clear`.
 *
 * Checked at the first two bytes: RSV bits, reserved opcodes, control frames fragmented or over 125
 * bytes, the MASK bit for the role (all 1002). Checked at the length, before the mask key and before any
 * payload byte: a 64-bit length with its top bit set (1002: RFC 6455 says it MUST be 0), a length beyond
 * 2^53 - 1 or `maxFramePayload` (1009, what ws reports). Frame sequencing (continuations) is the message
 * assembler's job. Non-minimal length encodings are accepted, as ws and most servers do.
 */
export class FrameParser {
  readonly #queue: ByteQueue;
  readonly #server: boolean;
  readonly #maxFramePayload: number;
  readonly #rsv1Allowed: boolean;
  #state: State = HEADER;
  #fin = false;
  #rsv1 = false;
  #opcode = 0;
  #masked = false;
  #key = 0;
  #payloadLength = 0;
  #remaining = 0;
  #chunk: Buffer = EMPTY;
  #error: PorticoError | null = null;

  /** A parser reading frames out of `queue` (which it consumes; the caller appends and releases). */
  constructor(queue: ByteQueue, options: FrameParserOptions) {
    checkRange(options.maxFramePayload, 0, Number.MAX_SAFE_INTEGER, 'maxFramePayload', 'websocket');
    this.#queue = queue;
    this.#server = options.role === 'server';
    this.#maxFramePayload = options.maxFramePayload;
    this.#rsv1Allowed = options.rsv1Allowed ?? false;
  }

  /** FIN bit of the current frame. */
  get fin(): boolean {
    return this.#fin;
  }

  /** RSV1 bit of the current frame (only ever true with `rsv1Allowed`). */
  get rsv1(): boolean {
    return this.#rsv1;
  }

  /** Opcode of the current frame. */
  get opcode(): number {
    return this.#opcode;
  }

  /** Declared payload length of the current frame. */
  get payloadLength(): number {
    return this.#payloadLength;
  }

  /** The unmasked payload bytes of the last PAYLOAD event (a view: see the class comment for how long it lives). */
  get chunk(): Buffer {
    return this.#chunk;
  }

  /**
   * @internal The pooled buffer the last PAYLOAD chunk of a data frame lies in (its view is of that
   * buffer's memory): what a consumer `disown`s to keep the chunk without a copy. Valid as `chunk`.
   */
  get chunkOwner(): PooledBuffer | null {
    return this.#queue.contiguousOwner;
  }

  /** Why the parser failed, or null. */
  get error(): PorticoError | null {
    return this.#error;
  }

  /** True between a frame's header and its end: bytes of a frame have been consumed. */
  get inFrame(): boolean {
    return this.#state !== HEADER && this.#state !== FAILED;
  }

  /** Parse until there is one event to report. */
  next(): FrameEvent {
    const queue = this.#queue;
    for (;;) {
      switch (this.#state) {
        case HEADER: {
          if (queue.length < 2) return FrameEvent.NEED_MORE;
          const bits = queue.readUInt16BE();
          const failure = this.#header(bits >>> 8, bits & 0xff);
          if (failure !== null) return this.#fail(failure);
          const length7 = bits & 0x7f;
          if (length7 === 126) this.#state = LENGTH_16;
          else if (length7 === 127) this.#state = LENGTH_64;
          else {
            // A control frame's 125 bytes are always allowed: the limit is for data.
            const failure = this.#opcode >= 0x8 ? null : this.#checkLength(length7);
            if (failure !== null) return this.#fail(failure);
            return this.#started(length7);
          }
          break;
        }
        case LENGTH_16: {
          if (queue.length < 2) return FrameEvent.NEED_MORE;
          const length = queue.readUInt16BE();
          const failure = this.#checkLength(length);
          if (failure !== null) return this.#fail(failure);
          return this.#started(length);
        }
        case LENGTH_64: {
          if (queue.length < 8) return FrameEvent.NEED_MORE;
          const high = queue.readUInt32BE();
          const low = queue.readUInt32BE();
          if (high >= 0x80000000) return this.#fail(protocolFailure('64-bit payload length with the most significant bit set'));
          if (high >= SAFE_HIGH_WORD_LIMIT) {
            return this.#fail(tooBigFailure(`payload length ${BigInt(high) * 2n ** 32n + BigInt(low)} beyond 2^53 - 1 (limit ${this.#maxFramePayload})`));
          }
          const length = high * 0x100000000 + low;
          const failure = this.#checkLength(length);
          if (failure !== null) return this.#fail(failure);
          return this.#started(length);
        }
        case MASK_KEY:
          if (queue.length < 4) return FrameEvent.NEED_MORE;
          this.#key = queue.readUInt32BE();
          this.#state = this.#remaining > 0 ? PAYLOAD : END;
          break;
        case PAYLOAD: {
          const available = queue.length;
          if (available === 0) return FrameEvent.NEED_MORE;
          let chunk: Buffer;
          if (this.#opcode >= 0x8) {
            // Control payloads are delivered whole (at most 125 bytes: a view, or one small copy).
            if (available < this.#remaining) return FrameEvent.NEED_MORE;
            chunk = queue.read(this.#remaining);
          } else {
            chunk = queue.readContiguous(this.#remaining);
          }
          if (this.#masked && this.#key !== 0) unmaskInPlace(chunk, this.#key, this.#payloadLength - this.#remaining);
          this.#remaining -= chunk.length;
          if (this.#remaining === 0) this.#state = END;
          this.#chunk = chunk;
          return FrameEvent.PAYLOAD;
        }
        case END:
          this.#state = HEADER;
          this.#chunk = EMPTY;
          return FrameEvent.FRAME_END;
        case FAILED:
          return FrameEvent.ERROR;
      }
    }
  }

  /** Validate the first two header bytes; records the frame's bits. */
  #header(b0: number, b1: number): PorticoError | null {
    const opcode = b0 & 0x0f;
    const control = isControlOpcode(opcode);
    if ((b0 & 0x30) !== 0) return protocolFailure(`RSV2/RSV3 set (first byte 0x${b0.toString(16)}) and no extension defines them`);
    if (!isDefinedOpcode(opcode)) return protocolFailure(`reserved opcode 0x${opcode.toString(16)}`);
    const rsv1 = (b0 & 0x40) !== 0;
    if (rsv1 && (!this.#rsv1Allowed || control || opcode === 0)) {
      return protocolFailure(this.#rsv1Allowed ? `RSV1 set on a ${control ? 'control' : 'continuation'} frame` : 'RSV1 set and no extension defines it');
    }
    const fin = (b0 & 0x80) !== 0;
    if (control && !fin) return protocolFailure(`fragmented control frame (opcode 0x${opcode.toString(16)})`);
    if (control && (b1 & 0x7f) > MAX_CONTROL_PAYLOAD) return protocolFailure(`control frame payload over ${MAX_CONTROL_PAYLOAD} bytes`);
    const masked = (b1 & 0x80) !== 0;
    if (masked !== this.#server) return protocolFailure(this.#server ? 'unmasked frame from a client' : 'masked frame from a server');
    this.#fin = fin;
    this.#rsv1 = rsv1;
    this.#opcode = opcode;
    this.#masked = masked;
    return null;
  }

  #checkLength(length: number): PorticoError | null {
    return length > this.#maxFramePayload ? tooBigFailure(`frame payload of ${length} bytes over the limit of ${this.#maxFramePayload}`) : null;
  }

  /** The length is known and accepted: report the frame before reading its mask key. */
  #started(length: number): FrameEvent {
    this.#payloadLength = length;
    this.#remaining = length;
    this.#key = 0;
    this.#state = this.#masked ? MASK_KEY : length > 0 ? PAYLOAD : END;
    return FrameEvent.FRAME_START;
  }

  #fail(error: PorticoError): FrameEvent {
    this.#error = error;
    this.#state = FAILED;
    this.#chunk = EMPTY;
    return FrameEvent.ERROR;
  }
}
