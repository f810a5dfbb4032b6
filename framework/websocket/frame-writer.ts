import { Buffer } from 'node:buffer';
import { randomFillSync } from 'node:crypto';
import { ErrorCodes, PorticoError } from '../core/errors.js';
import { checkRange } from '../framing/checks.js';
import { encodeClosePayload } from './close-frame.js';
import type { WebSocketRole } from './frame-parser.js';
import { maskInto } from './masking.js';
import { MAX_CONTROL_PAYLOAD, Opcode, isControlOpcode, isDefinedOpcode } from './opcodes.js';

/** Where a client's masking keys come from: a 32-bit unsigned key per frame (inject a fixed one in tests). */
export type MaskKeySource = () => number;

/** Options of one frame header. */
export interface FrameHeaderOptions {
  /** FIN: the last frame of its message. Default true. */
  fin?: boolean;
  /** RSV1 (permessage-deflate's "compressed" bit, first data frame only). Default false. */
  rsv1?: boolean;
  /** Masking key (big-endian 32-bit) for a client frame; null or absent: unmasked. */
  maskKey?: number | null;
}

const EMPTY: Buffer = Buffer.alloc(0);
const KEY_POOL_SIZE = 2048;
let keyPool: Uint32Array | null = null;
let keyAt = KEY_POOL_SIZE;

/**
 * Random masking keys from the CSPRNG (RFC 6455 10.3: the peer must not predict them), drawn 2048 at
 * a time so a key costs no system call.
 */
export const randomMaskKey: MaskKeySource = () => {
  if (keyAt === KEY_POOL_SIZE) {
    keyPool ??= new Uint32Array(KEY_POOL_SIZE);
    randomFillSync(keyPool);
    keyAt = 0;
  }
  return keyPool![keyAt++]!;
};

/** Size of a frame header: 2 bytes, plus 2 or 8 of extended length, plus 4 of mask key. */
export function frameHeaderSize(payloadLength: number, masked: boolean): number {
  return (payloadLength < 126 ? 2 : payloadLength < 65536 ? 4 : 10) + (masked ? 4 : 0);
}

/**
 * Just the header of a frame, so a large payload goes out as it is, header and payload buffers side
 * by side in one corked write (writev), never copied together. Throws INVALID_ARGUMENT for a reserved
 * opcode, a control frame over 125 bytes, fragmented or with RSV1, or a length that is not a safe
 * non-negative integer.
 */
export function encodeFrameHeader(opcode: number, payloadLength: number, options: FrameHeaderOptions = {}): Buffer {
  const fin = options.fin ?? true;
  const rsv1 = options.rsv1 ?? false;
  const key = options.maskKey ?? null;
  checkFrame(opcode, payloadLength, fin, rsv1);
  const header = Buffer.allocUnsafe(frameHeaderSize(payloadLength, key !== null));
  writeHeader(header, opcode, payloadLength, fin, rsv1, key);
  return header;
}

function checkFrame(opcode: number, length: number, fin: boolean, rsv1: boolean): void {
  if (!Number.isInteger(opcode) || opcode < 0 || opcode > 0xf || !isDefinedOpcode(opcode)) throw invalid(`opcode ${opcode} is not defined by RFC 6455`);
  checkRange(length, 0, Number.MAX_SAFE_INTEGER, 'payload length', 'websocket');
  if (isControlOpcode(opcode)) {
    if (length > MAX_CONTROL_PAYLOAD) throw invalid(`control frame payload of ${length} bytes (at most ${MAX_CONTROL_PAYLOAD})`);
    if (!fin) throw invalid('a control frame cannot be fragmented');
  }
  if (rsv1 && (isControlOpcode(opcode) || opcode === Opcode.CONTINUATION)) throw invalid('RSV1 only on the first frame of a data message');
}

/** Write a header at offset 0 of `target` (sized by `frameHeaderSize`); returns its size. */
function writeHeader(target: Buffer, opcode: number, length: number, fin: boolean, rsv1: boolean, key: number | null): number {
  target[0] = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode;
  const maskBit = key === null ? 0 : 0x80;
  let at: number;
  if (length < 126) {
    target[1] = maskBit | length;
    at = 2;
  } else if (length < 65536) {
    target[1] = maskBit | 126;
    target.writeUInt16BE(length, 2);
    at = 4;
  } else {
    target[1] = maskBit | 127;
    target.writeUInt32BE(Math.floor(length / 0x100000000), 2);
    target.writeUInt32BE(length >>> 0, 6);
    at = 10;
  }
  if (key !== null) {
    target.writeUInt32BE(key >>> 0, at);
    at += 4;
  }
  return at;
}

/** Options of a `FrameWriter`. */
export interface FrameWriterOptions {
  /** 'server' frames go out unmasked (RFC 6455 5.1); 'client' frames masked, each with a fresh key. */
  role: WebSocketRole;
  /** Client masking keys. Default `randomMaskKey`. */
  maskKeys?: MaskKeySource;
  /**
   * Unmasked payloads up to this many bytes are copied behind their header into one buffer: one write
   * instead of two for a small message costs less than the copy. Default 1024.
   */
  mergeBelow?: number;
}

/** Options of an outgoing message. */
export interface MessageFrameOptions {
  /** Binary (opcode 2) or text (opcode 1). Default: binary for bytes, text for a string. */
  binary?: boolean;
  /** Cut the message into frames of at most this many payload bytes (first frame, continuations, FIN on the last). Default: one frame. */
  maxFramePayload?: number;
}

/**
 * A message framed once, to write to many connections (broadcast): all its frames in one contiguous,
 * never-modified buffer. Unmasked, so server to client only.
 */
export class PreparedFrame {
  /** The frames, ready to write as they are (do not modify). */
  readonly bytes: Buffer;
  /** How many frames `bytes` holds. */
  readonly frameCount: number;

  /** @internal */
  constructor(bytes: Buffer, frameCount: number) {
    this.bytes = bytes;
    this.frameCount = frameCount;
  }
}

/**
 * Builds outgoing frames for one role (ws's Sender, without the socket): each method returns the
 * buffers to write, in order, in one corked write. A server's payload is not copied (a large one is
 * its own buffer behind its header), so the caller must not modify it until written, as with
 * `Connection.write`. A client's frames are masked into new buffers and the caller's bytes are left
 * alone.
 */
export class FrameWriter {
  readonly #masked: boolean;
  readonly #maskKeys: MaskKeySource;
  readonly #mergeBelow: number;

  /** A writer for one role; it holds no per-connection state, so one writer may serve many connections. */
  constructor(options: FrameWriterOptions) {
    this.#masked = options.role === 'client';
    this.#maskKeys = options.maskKeys ?? randomMaskKey;
    const mergeBelow = options.mergeBelow ?? 1024;
    checkRange(mergeBelow, 0, Number.MAX_SAFE_INTEGER, 'mergeBelow', 'websocket');
    this.#mergeBelow = mergeBelow;
  }

  /** One frame with any opcode and bits (the building block; see `encodeFrameHeader` for what is refused). */
  frame(opcode: number, payload: Uint8Array, options: { fin?: boolean; rsv1?: boolean } = {}): Buffer[] {
    return this.#frame(opcode, payload, options.fin ?? true, options.rsv1 ?? false);
  }

  /** A text or binary message, in one frame or cut into frames of `maxFramePayload`. */
  message(data: string | Uint8Array, options?: MessageFrameOptions): Buffer[] {
    const binary = options?.binary ?? typeof data !== 'string';
    const max = options?.maxFramePayload ?? Number.MAX_SAFE_INTEGER;
    checkRange(max, 1, Number.MAX_SAFE_INTEGER, 'maxFramePayload', 'websocket');
    const opcode = binary ? Opcode.BINARY : Opcode.TEXT;
    if (typeof data === 'string') {
      // A short string goes straight into its frame: no intermediate Buffer (UTF-8 is at most 3 bytes per UTF-16 unit).
      if (!this.#masked && data.length * 3 <= this.#mergeBelow) {
        const n = Buffer.byteLength(data, 'utf8');
        if (n <= max) return [this.#smallText(opcode, data, n)];
      }
      return this.#message(opcode, Buffer.from(data, 'utf8'), max);
    }
    return this.#message(opcode, data, max);
  }

  /** A ping (payload at most 125 bytes). */
  ping(payload: string | Uint8Array = EMPTY): Buffer[] {
    return this.frame(Opcode.PING, typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload);
  }

  /** A pong: pass the ping's payload to answer it. */
  pong(payload: string | Uint8Array = EMPTY): Buffer[] {
    return this.frame(Opcode.PONG, typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload);
  }

  /** A close frame: no payload without a code; 1005, 1006, 1015 and other unsendable codes are refused. */
  close(code?: number, reason?: string): Buffer[] {
    return this.frame(Opcode.CLOSE, encodeClosePayload(code, reason));
  }

  /** Frame a message once for many connections (server role only: client frames need a fresh key each). */
  prepare(data: string | Uint8Array, options: MessageFrameOptions = {}): PreparedFrame {
    if (this.#masked) throw new PorticoError(ErrorCodes.INVALID_STATE, 'websocket', 'prepared frames are unmasked: a client must mask every frame with a fresh key');
    const max = options.maxFramePayload ?? Number.MAX_SAFE_INTEGER;
    const frames = this.message(data, options);
    const payloadLength = typeof data === 'string' ? Buffer.byteLength(data, 'utf8') : data.length;
    const count = payloadLength <= max ? 1 : Math.ceil(payloadLength / max);
    return new PreparedFrame(frames.length === 1 ? frames[0]! : Buffer.concat(frames), count);
  }

  /** A message's frames: one (the common case, nothing sliced), or `max`-byte fragments, FIN on the last. */
  #message(opcode: number, payload: Uint8Array, max: number): Buffer[] {
    if (payload.length <= max) return this.#frame(opcode, payload, true, false);
    const out: Buffer[] = [];
    let at = 0;
    do {
      const end = Math.min(payload.length, at + max);
      for (const bytes of this.#frame(opcode, payload.subarray(at, end), end === payload.length, false)) out.push(bytes);
      opcode = Opcode.CONTINUATION;
      at = end;
    } while (at < payload.length);
    return out;
  }

  /** One unmasked, unfragmented text or binary frame of `n` bytes (`n` <= mergeBelow) with the string encoded in place. */
  #smallText(opcode: number, data: string, n: number): Buffer {
    const headerSize = frameHeaderSize(n, false);
    const bytes = Buffer.allocUnsafe(headerSize + n);
    writeHeader(bytes, opcode, n, true, false, null);
    bytes.write(data, headerSize, n, 'utf8');
    return bytes;
  }

  /** One frame: header and payload merged into one buffer (masked, or small), else the header and the payload as it is. */
  #frame(opcode: number, payload: Uint8Array, fin: boolean, rsv1: boolean): Buffer[] {
    const n = payload.length;
    checkFrame(opcode, n, fin, rsv1);
    const key = this.#masked ? this.#maskKeys() >>> 0 : null;
    const headerSize = frameHeaderSize(n, key !== null);
    if (key !== null || n <= this.#mergeBelow) {
      const bytes = Buffer.allocUnsafe(headerSize + n);
      writeHeader(bytes, opcode, n, fin, rsv1, key);
      if (key !== null) maskInto(payload, key, bytes, headerSize);
      else bytes.set(payload, headerSize);
      return [bytes];
    }
    const header = Buffer.allocUnsafe(headerSize);
    writeHeader(header, opcode, n, fin, rsv1, null);
    return [header, Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, n)];
  }
}

function invalid(message: string): PorticoError {
  return new PorticoError(ErrorCodes.INVALID_ARGUMENT, 'websocket', message);
}
