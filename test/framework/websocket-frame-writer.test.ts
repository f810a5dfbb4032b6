/**
 * FrameWriter and encodeFrameHeader: bytes checked against the tests' independent encoder, round trips
 * through a WebSocketReceiver of the other role in every chunking, zero copy for large server payloads,
 * fragmentation, prepared (broadcast) frames, and what is refused.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCodes, FrameWriter, Opcode, encodeFrameHeader, frameHeaderSize, randomMaskKey } from '../../framework/index.js';
import { type WsEvent, binary, chunkings, close, feed, ping, pong, rawFrame, text } from '../helpers/ws-frames.js';

const KEY = 0x1a2b3c4d;
const fixedKeys = (): number => KEY;

function roundTrip(buffers: readonly Buffer[], role: 'server' | 'client'): WsEvent[][] {
  const data = Buffer.concat(buffers);
  return chunkings(data.length).map((c) => feed(data, c, { role: role === 'server' ? 'client' : 'server' }));
}

test('encodeFrameHeader: the bytes of every length encoding, FIN, RSV1 and the mask key', () => {
  assert.deepEqual(encodeFrameHeader(Opcode.TEXT, 0), Buffer.from([0x81, 0x00]));
  assert.deepEqual(encodeFrameHeader(Opcode.BINARY, 125, { fin: false }), Buffer.from([0x02, 125]));
  assert.deepEqual(encodeFrameHeader(Opcode.BINARY, 126), Buffer.from([0x82, 126, 0x00, 126]));
  assert.deepEqual(encodeFrameHeader(Opcode.BINARY, 65535, { rsv1: true }), Buffer.from([0xc2, 126, 0xff, 0xff]));
  assert.deepEqual(encodeFrameHeader(Opcode.BINARY, 65536), Buffer.from([0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]));
  assert.deepEqual(encodeFrameHeader(Opcode.BINARY, 2 ** 32 + 5), Buffer.from([0x82, 127, 0, 0, 0, 1, 0, 0, 0, 5]));
  assert.deepEqual(encodeFrameHeader(Opcode.BINARY, Number.MAX_SAFE_INTEGER), Buffer.from([0x82, 127, 0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
  assert.deepEqual(encodeFrameHeader(Opcode.PING, 3, { maskKey: KEY }), Buffer.from([0x89, 0x83, 0x1a, 0x2b, 0x3c, 0x4d]));
  assert.deepEqual(encodeFrameHeader(Opcode.CONTINUATION, 300, { fin: false, maskKey: 0 }), Buffer.from([0x00, 0xfe, 0x01, 0x2c, 0, 0, 0, 0]));
  for (const [n, masked, size] of [[0, false, 2], [125, true, 6], [126, false, 4], [65535, true, 8], [65536, false, 10], [2 ** 40, true, 14]] as const) {
    assert.equal(frameHeaderSize(n, masked), size);
  }
  const invalid = { code: ErrorCodes.INVALID_ARGUMENT };
  for (const opcode of [3, 7, 0xb, 0xf, 16, -1]) assert.throws(() => encodeFrameHeader(opcode, 0), invalid, `opcode ${opcode}`);
  assert.throws(() => encodeFrameHeader(Opcode.PING, 126), invalid);
  assert.throws(() => encodeFrameHeader(Opcode.CLOSE, 2, { fin: false }), invalid);
  assert.throws(() => encodeFrameHeader(Opcode.PONG, 0, { rsv1: true }), invalid);
  assert.throws(() => encodeFrameHeader(Opcode.CONTINUATION, 1, { rsv1: true }), invalid);
  assert.throws(() => encodeFrameHeader(Opcode.TEXT, -1), invalid);
  assert.throws(() => encodeFrameHeader(Opcode.TEXT, 2 ** 53), invalid);
});

test('client frames: masked with the injected key, byte for byte what the independent encoder makes; the caller\'s bytes untouched', () => {
  const writer = new FrameWriter({ role: 'client', maskKeys: fixedKeys });
  for (const n of [0, 1, 125, 126, 1000, 65535, 65536]) {
    const payload = Buffer.alloc(n).map((_, i) => i * 13);
    const before = Buffer.from(payload);
    const frames = writer.message(payload);
    assert.equal(frames.length, 1, 'header and masked payload in one buffer');
    assert.deepEqual(frames[0], rawFrame({ opcode: Opcode.BINARY, payload, mask: KEY }), `${n} bytes`);
    assert.deepEqual(payload, before);
  }
  assert.deepEqual(Buffer.concat(writer.ping('hi')), rawFrame({ opcode: Opcode.PING, payload: 'hi', mask: KEY }));
  assert.deepEqual(Buffer.concat(writer.close(1000, 'bye')), rawFrame({ opcode: Opcode.CLOSE, payload: Buffer.from([3, 0xe8, 0x62, 0x79, 0x65]), mask: KEY }));
  // The default keys are random: a fresh one per frame.
  const keys = new Set(Array.from({ length: 5000 }, () => randomMaskKey()));
  assert.ok(keys.size > 4990, `${keys.size} distinct keys of 5000`);
  for (const k of keys) assert.ok(Number.isInteger(k) && k >= 0 && k <= 0xffffffff);
  const a = new FrameWriter({ role: 'client' }).message('same')[0]!;
  const b = new FrameWriter({ role: 'client' }).message('same')[0]!;
  assert.notDeepEqual(a.subarray(2, 6), b.subarray(2, 6));
});

test('server frames: unmasked; a large payload is not copied (its own buffer behind the header), a small one is merged', () => {
  const writer = new FrameWriter({ role: 'server' });
  const large = Buffer.alloc(5000, 0x33);
  const frames = writer.message(large);
  assert.equal(frames.length, 2);
  assert.deepEqual(frames[0], Buffer.from([0x82, 126, 0x13, 0x88]));
  assert.ok(frames[1]!.buffer === large.buffer && frames[1]!.byteOffset === large.byteOffset && frames[1]!.length === large.length, 'a view of the caller\'s memory');
  const small = writer.message('hello');
  assert.deepEqual(small, [rawFrame({ opcode: Opcode.TEXT, payload: 'hello', mask: null })]);
  const u8 = new Uint8Array(2000).fill(5);
  const [, view] = new FrameWriter({ role: 'server', mergeBelow: 0 }).frame(Opcode.BINARY, u8);
  assert.equal(view!.buffer, u8.buffer, 'a Uint8Array payload is viewed, not copied');
  assert.deepEqual(new FrameWriter({ role: 'server', mergeBelow: 0 }).ping().length, 1, 'no empty payload buffer');
});

test('server text from a string: encoded straight into its frame when short, the same bytes as Buffer.from(string) framed, at every size around the cut', () => {
  const strings = ['', 'a', 'héllo wörld', '€'.repeat(100), '😀'.repeat(50), 'lone \ud800 surrogate', 'x'.repeat(125), 'x'.repeat(126), 'é'.repeat(200)];
  for (let n = 330; n <= 350; n++) strings.push('a'.repeat(n), '€'.repeat(n));
  for (const mergeBelow of [0, 10, 200, 1024]) {
    const writer = new FrameWriter({ role: 'server', mergeBelow });
    for (const value of strings) {
      const bytes = Buffer.from(value, 'utf8');
      const expected = rawFrame({ opcode: Opcode.TEXT, payload: bytes, mask: null });
      assert.deepEqual(Buffer.concat(writer.message(value)), expected, `${value.length} units, mergeBelow ${mergeBelow}`);
      assert.deepEqual(Buffer.concat(writer.message(value, { binary: true })), rawFrame({ opcode: Opcode.BINARY, payload: bytes, mask: null }));
      if (bytes.length > 3) assert.deepEqual(Buffer.concat(writer.message(value, { maxFramePayload: 3 })), Buffer.concat(writer.message(bytes, { binary: false, maxFramePayload: 3 })));
    }
  }
});

test('round trips through a receiver of the other role, in every chunking', () => {
  for (const role of ['server', 'client'] as const) {
    const writer = new FrameWriter({ role, maskKeys: fixedKeys });
    const textual = 'ascii, ελληνικά, 𝄞 and more'.repeat(40);
    const cases: Array<[Buffer[], WsEvent[]]> = [
      [writer.message(textual), [text(textual)]],
      [writer.message(Buffer.alloc(70000, 9)), [binary(Buffer.alloc(70000, 9))]],
      [writer.message(textual, { maxFramePayload: 7 }), [text(textual)]],
      [writer.message(Buffer.from('bytes as text'), { binary: false }), [text('bytes as text')]],
      [writer.message('string as binary', { binary: true, maxFramePayload: 3 }), [binary(Buffer.from('string as binary'))]],
      [writer.message(''), [text('')]],
      [[...writer.ping('p1'), ...writer.pong(Buffer.from([0, 1])), ...writer.ping()], [ping('p1'), pong(Buffer.from([0, 1])), ping()]],
      [writer.close(1000, 'bye'), [close(1000, 'bye')]],
      [writer.close(), [close(1005)]],
    ];
    for (const [buffers, expect] of cases) {
      for (const events of roundTrip(buffers, role)) assert.deepStrictEqual(events, expect, `${role}: ${JSON.stringify(expect).slice(0, 80)}`);
    }
  }
});

test('fragmentation: frames of at most maxFramePayload, the first with the opcode, FIN only on the last', () => {
  const writer = new FrameWriter({ role: 'server', mergeBelow: 1 << 20 });
  const frames = writer.message(Buffer.alloc(25, 1), { maxFramePayload: 10 });
  assert.deepEqual(frames.map((f) => [f[0], f[1]]), [[0x02, 10], [0x00, 10], [0x80, 5]]);
  assert.deepEqual(writer.message('', { maxFramePayload: 10 }).map((f) => [f[0], f[1]]), [[0x81, 0]]);
  assert.deepEqual(writer.message(Buffer.alloc(20), { maxFramePayload: 10 }).length, 2, 'no empty trailing frame');
  assert.throws(() => writer.message('x', { maxFramePayload: 0 }), { code: ErrorCodes.INVALID_ARGUMENT });
});

test('prepared frames: framed once into one buffer, the same bytes for every connection; server role only', () => {
  const writer = new FrameWriter({ role: 'server' });
  const payload = Buffer.alloc(3000, 0x44);
  const prepared = writer.prepare(payload, { maxFramePayload: 1000 });
  assert.equal(prepared.frameCount, 3);
  assert.deepEqual(prepared.bytes, Buffer.concat(writer.message(payload, { maxFramePayload: 1000 })));
  for (let connection = 0; connection < 3; connection++) {
    assert.deepStrictEqual(feed(prepared.bytes, chunkings(prepared.bytes.length)[connection]!, { role: 'client' }), [binary(payload)]);
  }
  assert.equal(writer.prepare('hi').frameCount, 1);
  assert.throws(() => new FrameWriter({ role: 'client' }).prepare('x'), { code: ErrorCodes.INVALID_STATE });
});

test('control frames and close codes are refused as the RFC says', () => {
  const writer = new FrameWriter({ role: 'server' });
  const invalid = { code: ErrorCodes.INVALID_ARGUMENT };
  assert.throws(() => writer.ping(Buffer.alloc(126)), invalid);
  assert.throws(() => writer.pong('x'.repeat(126)), invalid);
  for (const code of [1005, 1006, 1015, 999, 5000]) assert.throws(() => writer.close(code), invalid, `${code}`);
  assert.throws(() => writer.close(1000, 'x'.repeat(124)), invalid);
  assert.throws(() => writer.frame(Opcode.PING, Buffer.alloc(0), { fin: false }), invalid);
  assert.throws(() => writer.frame(4, Buffer.alloc(0)), invalid);
  assert.throws(() => new FrameWriter({ role: 'server', mergeBelow: -1 }), invalid);
  assert.deepEqual(writer.frame(Opcode.TEXT, Buffer.from('z'), { fin: false, rsv1: true })[0]!.subarray(0, 2), Buffer.from([0x41, 1]));
});
