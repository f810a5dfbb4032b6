/**
 * Raw WebSocket frames for the receiver and parser tests, built byte by byte here (not with the
 * framework's FrameWriter, so the writer and the parser are checked against an independent encoder),
 * and a recorder that feeds bytes to a WebSocketReceiver in a given chunking and lists the events.
 */
import {
  BufferPool,
  ByteQueue,
  type PorticoError,
  type WebSocketCallbacks,
  WebSocketReceiver,
  type WebSocketReceiverOptions,
} from '../../framework/index.js';
import { layouts, randomSizes, seeded } from './byte-chunks.js';

/** One frame as it goes on the wire; everything a test may want to get wrong is settable. */
export interface RawFrame {
  opcode: number;
  payload?: Uint8Array | string;
  /** Default true. */
  fin?: boolean;
  rsv1?: boolean;
  rsv2?: boolean;
  rsv3?: boolean;
  /** Masking key; default a fixed non-trivial key (client frames). null: unmasked (server frames). */
  mask?: number | null;
  /** Force the length encoding (7, 16 or 64 bits), minimal or not. */
  encoding?: 7 | 16 | 64;
  /** Declare this length instead of the payload's (a lie the parser must catch, or a huge one). */
  declared?: bigint;
}

/** The key test frames are masked with unless they say otherwise: every byte different, none zero. */
export const TEST_KEY = 0x37fa213d;

export function rawFrame(frame: RawFrame): Buffer {
  const payload = typeof frame.payload === 'string' ? Buffer.from(frame.payload, 'utf8') : Buffer.from(frame.payload ?? []);
  const declared = frame.declared ?? BigInt(payload.length);
  const encoding = frame.encoding ?? (declared < 126n ? 7 : declared < 65536n ? 16 : 64);
  const key = frame.mask === undefined ? TEST_KEY : frame.mask;
  const head: number[] = [
    (frame.fin === false ? 0 : 0x80) | (frame.rsv1 ? 0x40 : 0) | (frame.rsv2 ? 0x20 : 0) | (frame.rsv3 ? 0x10 : 0) | frame.opcode,
  ];
  const maskBit = key === null ? 0 : 0x80;
  if (encoding === 7) head.push(maskBit | Number(declared));
  else if (encoding === 16) head.push(maskBit | 126, Number(declared >> 8n) & 0xff, Number(declared) & 0xff);
  else {
    head.push(maskBit | 127);
    for (let shift = 56n; shift >= 0n; shift -= 8n) head.push(Number((declared >> shift) & 0xffn));
  }
  const body = Buffer.from(payload);
  if (key !== null) {
    const k = [(key >>> 24) & 0xff, (key >>> 16) & 0xff, (key >>> 8) & 0xff, key & 0xff];
    head.push(...k);
    for (let i = 0; i < body.length; i++) body[i] = body[i]! ^ k[i & 3]!;
  }
  return Buffer.concat([Buffer.from(head), body]);
}

/** Several frames back to back. */
export function rawFrames(...frames: RawFrame[]): Buffer {
  return Buffer.concat(frames.map(rawFrame));
}

/** What a receiver reported, in order. */
export type WsEvent =
  | { type: 'message'; data: string | Buffer; binary: boolean }
  | { type: 'ping'; payload: Buffer }
  | { type: 'pong'; payload: Buffer }
  | { type: 'close'; code: number; reason: string }
  | { type: 'error'; closeCode: number; code: string };

export const text = (data: string): WsEvent => ({ type: 'message', data, binary: false });
export const binary = (data: Uint8Array): WsEvent => ({ type: 'message', data: Buffer.from(data), binary: true });
export const ping = (payload: Uint8Array | string = ''): WsEvent => ({ type: 'ping', payload: Buffer.from(payload) });
export const pong = (payload: Uint8Array | string = ''): WsEvent => ({ type: 'pong', payload: Buffer.from(payload) });
export const close = (code: number, reason = ''): WsEvent => ({ type: 'close', code, reason });
export const failure = (closeCode: number, code: string): WsEvent => ({ type: 'error', closeCode, code });

/** Callbacks that record every event. */
export function recorder(events: WsEvent[]): WebSocketCallbacks {
  return {
    onMessage: (data, isBinary) => events.push({ type: 'message', data, binary: isBinary }),
    onPing: (payload) => events.push({ type: 'ping', payload }),
    onPong: (payload) => events.push({ type: 'pong', payload }),
    onClose: (code, reason) => events.push({ type: 'close', code, reason }),
    onProtocolError: (closeCode, error: PorticoError) => {
      if (closeCode !== error.closeCode) throw new Error(`onProtocolError(${closeCode}) but error.closeCode ${error.closeCode}`);
      events.push({ type: 'error', closeCode, code: error.code });
    },
  };
}

/** One way of cutting the input into reads. */
export interface Chunking {
  readonly name: string;
  readonly sizes: readonly number[];
  /** False: every read stays its own pooled buffer in the queue (payloads straddle buffers). */
  readonly coalesce: boolean;
}

/** Whole, byte by byte, seeded random cuts (coalesced and kept apart), and for short input every 1- and 2-cut layout. */
export function chunkings(length: number, options: { exhaustive?: boolean; seeds?: number } = {}): Chunking[] {
  const out: Chunking[] = [{ name: 'whole', sizes: [length], coalesce: true }];
  if (length > 1) out.push({ name: 'byte by byte', sizes: Array.from({ length }, () => 1), coalesce: false });
  const seeds = options.seeds ?? 3;
  for (let seed = 1; seed <= seeds; seed++) {
    const random = seeded(seed * 7919 + length);
    const max = Math.max(1, Math.min(length, seed === 1 ? 7 : seed === 2 ? 300 : 20000));
    out.push({ name: `random ≤${max} (seed ${seed}), separate buffers`, sizes: randomSizes(length, max, random), coalesce: false });
    out.push({ name: `random ≤${max} (seed ${seed}), coalesced`, sizes: randomSizes(length, max, random), coalesce: true });
  }
  if (options.exhaustive === true && length <= 64) {
    for (const sizes of layouts(length, length <= 40)) out.push({ name: `cut ${sizes.join('+')}`, sizes, coalesce: false });
  }
  return out;
}

const pool = new BufferPool({ bufferSize: 128 * 1024, maxPooled: 64 });

/** The shared pool the feeders draw from (tests check it has nothing outstanding). */
export const testPool = pool;

/** A receiver over a queue with the chunking's coalescing. */
export function receiverFor(events: WsEvent[], chunking: Chunking, options: Partial<WebSocketReceiverOptions> = {}): WebSocketReceiver {
  const queue = new ByteQueue({ maxBytes: 1 << 20, coalesce: chunking.coalesce });
  return new WebSocketReceiver(recorder(events), { role: 'server', queue, ...options });
}

/** Feed `data` in the chunking's reads; returns the events. Buffers larger than the pool's go in pieces. */
export function feed(data: Uint8Array, chunking: Chunking, options: Partial<WebSocketReceiverOptions> = {}): WsEvent[] {
  const events: WsEvent[] = [];
  const receiver = receiverFor(events, chunking, options);
  let at = 0;
  for (const size of chunking.sizes) {
    for (let end = at + size; at < end; ) {
      const n = Math.min(end - at, pool.bufferSize);
      receiver.push(pool.acquireCopy(data.subarray(at, at + n)));
      at += n;
    }
  }
  receiver.queue.clear();
  return events;
}
