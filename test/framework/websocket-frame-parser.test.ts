/**
 * FrameParser on its own: the event stream for every chunking, when each header check fires (after how
 * many bytes), the length limits before any payload byte, the role's MASK rule, and the RSV1 hook.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BufferPool, ByteQueue, ErrorCodes, FrameEvent, FrameParser, type FrameParserOptions, Opcode } from '../../framework/index.js';
import { type RawFrame, chunkings, rawFrame, rawFrames } from '../helpers/ws-frames.js';

const pool = new BufferPool({ bufferSize: 4096 });

/** Frames as the parser saw them: header fields, the payload glued from its chunks, and the chunk sizes. */
interface Seen {
  opcode: number;
  fin: boolean;
  rsv1: boolean;
  length: number;
  payload: Buffer;
  chunks: number[];
}

interface Run {
  frames: Seen[];
  error: { code: string; closeCode: number | undefined; at: number } | null;
  /** Bytes pushed when the parser last reported FRAME_START. */
  startsAt: number[];
}

/** Push `data` in `sizes` (each its own buffer, no coalescing), draining events after each push. */
function parse(data: Buffer, sizes: readonly number[], options: Partial<FrameParserOptions> = {}): Run {
  const queue = new ByteQueue({ maxBytes: 1 << 20, coalesce: false });
  const parser = new FrameParser(queue, { role: 'server', maxFramePayload: 1 << 20, ...options });
  const run: Run = { frames: [], error: null, startsAt: [] };
  let pushed = 0;
  let current: Seen | null = null;
  for (const size of sizes) {
    queue.append(pool.acquireCopy(data.subarray(pushed, pushed + size)));
    pushed += size;
    for (let event = parser.next(); event !== FrameEvent.NEED_MORE; event = parser.next()) {
      if (event === FrameEvent.ERROR) {
        run.error = { code: parser.error!.code, closeCode: parser.error!.closeCode, at: pushed };
        assert.equal(parser.next(), FrameEvent.ERROR, 'a failed parser stays failed');
        queue.clear();
        return run;
      }
      if (event === FrameEvent.FRAME_START) {
        assert.equal(current, null, 'FRAME_START inside a frame');
        current = { opcode: parser.opcode, fin: parser.fin, rsv1: parser.rsv1, length: parser.payloadLength, payload: Buffer.alloc(0), chunks: [] };
        run.startsAt.push(pushed);
      } else if (event === FrameEvent.PAYLOAD) {
        assert.ok(current !== null && parser.chunk.length > 0, 'PAYLOAD outside a frame, or empty');
        current.payload = Buffer.concat([current.payload, parser.chunk]);
        current.chunks.push(parser.chunk.length);
      } else {
        assert.ok(current !== null, 'FRAME_END outside a frame');
        assert.equal(current.payload.length, current.length, 'payload as declared');
        run.frames.push(current);
        current = null;
      }
    }
    queue.releaseConsumed();
  }
  queue.clear();
  return run;
}

test('frames come out with their header fields and unmasked payload, however the bytes are cut', () => {
  const payloads = [Buffer.alloc(0), Buffer.from('a'), Buffer.from('hello'), Buffer.alloc(125, 0x5a), Buffer.alloc(126, 1), Buffer.alloc(300).map((_, i) => i), Buffer.alloc(5000).map((_, i) => i * 7)];
  const frames: RawFrame[] = [];
  for (const payload of payloads) frames.push({ opcode: Opcode.BINARY, payload, fin: payload.length % 2 === 0 });
  frames.push({ opcode: Opcode.PING, payload: 'ping!' }, { opcode: Opcode.CLOSE, payload: Buffer.from([3, 0xe8, 0x61]) }, { opcode: Opcode.CONTINUATION, payload: 'c', mask: 0 });
  const data = rawFrames(...frames);
  let layouts = 0;
  for (const chunking of chunkings(data.length, { seeds: 6 })) {
    const sizes = chunking.sizes.flatMap((s) => (s > pool.bufferSize ? [...Array(Math.floor(s / pool.bufferSize)).fill(pool.bufferSize), s % pool.bufferSize].filter((x) => x > 0) : [s]));
    const run = parse(data, sizes);
    assert.equal(run.error, null, chunking.name);
    assert.equal(run.frames.length, frames.length);
    run.frames.forEach((seen, i) => {
      const f = frames[i]!;
      const payload = Buffer.from(typeof f.payload === 'string' ? Buffer.from(f.payload) : f.payload ?? []);
      assert.equal(seen.opcode, f.opcode);
      assert.equal(seen.fin, f.fin ?? true);
      assert.equal(seen.rsv1, false);
      assert.deepEqual(seen.payload, payload, `frame ${i}, ${chunking.name}`);
      // Control payloads come whole; data payloads one chunk per buffer share.
      if (f.opcode >= 8 && payload.length > 0) assert.deepEqual(seen.chunks, [payload.length]);
    });
    layouts++;
  }
  assert.ok(layouts >= 10);
  assert.equal(pool.outstanding, 0);
});

test('a data payload is streamed: one PAYLOAD per queued buffer it lies in, before the frame is complete', () => {
  const payload = Buffer.alloc(1000).map((_, i) => i);
  const data = rawFrame({ opcode: Opcode.BINARY, payload });
  const header = data.length - payload.length; // 2 + 2 + 4
  const run = parse(data, [header + 10, 1, 489, 500]);
  assert.deepEqual(run.frames[0]!.chunks, [10, 1, 489, 500]);
  assert.deepEqual(run.frames[0]!.payload, payload);
  // Reported at the length, before the mask key arrived.
  assert.deepEqual(parse(data, Array.from({ length: data.length }, () => 1)).startsAt, [4]);
});

test('header checks fire at the first two bytes: RSV bits, reserved opcodes, control frames fragmented or over 125, the MASK bit', () => {
  const cases: Array<[string, RawFrame, FrameParserOptions['role']]> = [
    ['RSV1', { opcode: Opcode.TEXT, rsv1: true }, 'server'],
    ['RSV2', { opcode: Opcode.TEXT, rsv2: true }, 'server'],
    ['RSV3', { opcode: Opcode.PING, rsv3: true }, 'server'],
    ['opcode 3', { opcode: 3 }, 'server'],
    ['opcode 7', { opcode: 7 }, 'server'],
    ['opcode 0xB', { opcode: 0xb }, 'server'],
    ['opcode 0xF', { opcode: 0xf }, 'server'],
    ['ping without FIN', { opcode: Opcode.PING, fin: false }, 'server'],
    ['close without FIN', { opcode: Opcode.CLOSE, fin: false }, 'server'],
    ['ping of 126', { opcode: Opcode.PING, payload: Buffer.alloc(126) }, 'server'],
    ['pong of 127 marker', { opcode: Opcode.PONG, payload: Buffer.alloc(200), encoding: 64 }, 'server'],
    ['unmasked frame to a server', { opcode: Opcode.TEXT, payload: 'hi', mask: null }, 'server'],
    ['masked frame to a client', { opcode: Opcode.TEXT, payload: 'hi' }, 'client'],
  ];
  for (const [name, frame, role] of cases) {
    const data = rawFrame({ payload: 'x', ...frame });
    const run = parse(data, Array.from({ length: data.length }, () => 1), { role });
    assert.deepEqual(run.error, { code: ErrorCodes.WS_PROTOCOL, closeCode: 1002, at: 2 }, name);
    assert.deepEqual(run.frames, []);
  }
  // The right MASK bit for each role is accepted.
  assert.equal(parse(rawFrame({ opcode: Opcode.TEXT, payload: 'hi', mask: null }), [8], { role: 'client' }).error, null);
  assert.equal(parse(rawFrame({ opcode: Opcode.TEXT, payload: 'hi' }), [8], { role: 'server' }).error, null);
});

test('lengths: over the limit fails with 1009 right after the length bytes; a 64-bit length with the top bit set fails with 1002', () => {
  const at = (frame: Partial<RawFrame>, max: number): Run['error'] => {
    const data = rawFrame({ ...frame, opcode: Opcode.BINARY });
    return parse(data, Array.from({ length: Math.min(data.length, 40) }, () => 1), { maxFramePayload: max }).error;
  };
  const tooBig = (n: number) => ({ code: ErrorCodes.WS_MESSAGE_TOO_BIG, closeCode: 1009, at: n });
  // 2^62 declared: refused after 10 bytes (2 + 8), nothing of the mask key or payload read.
  assert.deepEqual(at({ declared: 2n ** 62n }, 1 << 20), tooBig(10));
  assert.deepEqual(at({ declared: 2n ** 53n }, 1 << 20), tooBig(10));
  assert.deepEqual(at({ declared: 2n ** 53n - 1n }, Number.MAX_SAFE_INTEGER - 1), tooBig(10));
  assert.deepEqual(at({ declared: 2n ** 63n }, 1 << 20), { code: ErrorCodes.WS_PROTOCOL, closeCode: 1002, at: 10 });
  assert.deepEqual(at({ declared: 2n ** 64n - 1n }, 1 << 20), { code: ErrorCodes.WS_PROTOCOL, closeCode: 1002, at: 10 });
  assert.deepEqual(at({ declared: 65536n }, 65535), tooBig(10));
  assert.deepEqual(at({ declared: 1000n }, 999), tooBig(4));
  assert.deepEqual(at({ declared: 101n }, 100), tooBig(2));
  // At the limit is fine (the payload is not sent here, so no error and no frame end).
  assert.equal(at({ declared: 1000n }, 1000), null);
  assert.equal(at({ declared: 2n ** 53n - 1n }, Number.MAX_SAFE_INTEGER), null);
  // Control frames are bounded by 125 whatever the data limit.
  assert.equal(parse(rawFrame({ opcode: Opcode.PING, payload: Buffer.alloc(125) }), [200], { maxFramePayload: 0 }).error, null);
});

test('rsv1Allowed (the permessage-deflate hook): RSV1 passes on text and binary frames only', () => {
  const allowed = { rsv1Allowed: true };
  for (const opcode of [Opcode.TEXT, Opcode.BINARY]) {
    const run = parse(rawFrame({ opcode, payload: 'z', rsv1: true }), [20], allowed);
    assert.equal(run.error, null);
    assert.equal(run.frames[0]!.rsv1, true);
  }
  for (const opcode of [Opcode.CONTINUATION, Opcode.PING, Opcode.PONG, Opcode.CLOSE]) {
    assert.equal(parse(rawFrame({ opcode, rsv1: true }), [20], allowed).error?.closeCode, 1002, `opcode ${opcode}`);
  }
  assert.equal(parse(rawFrame({ opcode: Opcode.TEXT, rsv2: true }), [20], allowed).error?.closeCode, 1002, 'RSV2 is never allowed');
});

test('a zero masking key and unmasked frames pass through; options are checked', () => {
  const run = parse(rawFrame({ opcode: Opcode.TEXT, payload: 'same', mask: 0 }), [10]);
  assert.deepEqual(run.frames[0]!.payload, Buffer.from('same'));
  const queue = new ByteQueue({ maxBytes: 100 });
  assert.throws(() => new FrameParser(queue, { role: 'server', maxFramePayload: -1 }), { code: ErrorCodes.INVALID_ARGUMENT });
  assert.throws(() => new FrameParser(queue, { role: 'server', maxFramePayload: 2 ** 53 }), { code: ErrorCodes.INVALID_ARGUMENT });
  assert.equal(pool.outstanding, 0);
});

test('the parser never recurses: 100,000 empty frames in one buffer parse in one loop', () => {
  const one = rawFrame({ opcode: Opcode.PONG, mask: null });
  const data = Buffer.concat(Array.from({ length: 100_000 }, () => one));
  const queue = new ByteQueue({ maxBytes: 1 << 20 });
  queue.append(new BufferPool({ bufferSize: data.length }).acquireCopy(data));
  const parser = new FrameParser(queue, { role: 'client', maxFramePayload: 0 });
  let ends = 0;
  for (let e = parser.next(); e !== FrameEvent.NEED_MORE; e = parser.next()) if (e === FrameEvent.FRAME_END) ends++;
  assert.equal(ends, 100_000);
  queue.clear();
});
