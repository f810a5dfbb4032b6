/**
 * WebSocketReceiver against the Autobahn case groups 1–7 (the case numbers are Autobahn's), fed raw
 * frames in every chunking: whole, byte by byte, seeded random cuts into separate pooled buffers or
 * coalesced, and every 1- and 2-cut layout for short input. Each case asserts the exact event list.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCodes, Opcode } from '../../framework/index.js';
import {
  type RawFrame,
  type WsEvent,
  binary,
  chunkings,
  close,
  failure,
  feed,
  ping,
  pong,
  rawFrame,
  rawFrames,
  testPool,
  text,
} from '../helpers/ws-frames.js';

const PROTOCOL = (): WsEvent => failure(1002, ErrorCodes.WS_PROTOCOL);
const UTF8 = (): WsEvent => failure(1007, ErrorCodes.WS_INVALID_UTF8);

interface Case {
  readonly name: string;
  readonly input: Buffer;
  readonly expect: readonly WsEvent[];
  readonly options?: { maxMessageBytes?: number; maxFrameBytes?: number; role?: 'server' | 'client' };
}

/** Run every case in every chunking; a failure names the case and the chunking. */
function runCases(cases: readonly Case[], exhaustive = true): number {
  let runs = 0;
  for (const c of cases) {
    for (const chunking of chunkings(c.input.length, { exhaustive })) {
      const events = feed(c.input, chunking, c.options ?? {});
      assert.deepStrictEqual(events, c.expect, `${c.name} — ${chunking.name}`);
      runs++;
    }
  }
  assert.equal(testPool.outstanding, 0, 'every pooled buffer went back');
  return runs;
}

const bytes = (n: number, seed = 1): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed * 17) & 0xff));
const ascii = (n: number): string => 'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(Math.ceil(n / 36)).slice(0, n);
const TRAILER = rawFrame({ opcode: Opcode.TEXT, payload: 'after' });

test('1.1 / 1.2: text and binary of 0, 125, 126, 127, 128, 65535, 65536 bytes, in all three length encodings', () => {
  const cases: Case[] = [];
  for (const n of [0, 125, 126, 127, 128, 65535, 65536]) {
    cases.push({ name: `text ${n}`, input: rawFrames({ opcode: Opcode.TEXT, payload: ascii(n) }, { opcode: Opcode.TEXT, payload: 'next' }), expect: [text(ascii(n)), text('next')] });
    cases.push({ name: `binary ${n}`, input: rawFrame({ opcode: Opcode.BINARY, payload: bytes(n) }), expect: [binary(bytes(n))] });
  }
  // Non-minimal encodings: RFC 6455 asks for minimal ones, but ws and most servers accept these.
  for (const [n, encoding] of [[0, 16], [125, 64], [126, 64], [5, 64]] as const) {
    cases.push({ name: `binary ${n} in a ${encoding}-bit length`, input: rawFrame({ opcode: Opcode.BINARY, payload: bytes(n), encoding }), expect: [binary(bytes(n))] });
  }
  // Big inputs get the whole, byte-by-byte and random chunkings; the exhaustive layouts are for small ones.
  runCases(cases, false);
});

test('2.x: pings (empty, 125 bytes, binary) are reported with their payload, pongs too; a 126-byte ping fails with 1002', () => {
  const all = Buffer.from(Array.from({ length: 125 }, (_, i) => (i * 2 + 1) & 0xff));
  const runs = runCases([
    { name: '2.1 empty ping', input: rawFrame({ opcode: Opcode.PING }), expect: [ping()] },
    { name: '2.2 ping with text payload', input: rawFrame({ opcode: Opcode.PING, payload: 'Hello, world!' }), expect: [ping('Hello, world!')] },
    { name: '2.3 ping with binary payload', input: rawFrame({ opcode: Opcode.PING, payload: Buffer.from([0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff]) }), expect: [ping(Buffer.from([0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff]))] },
    { name: '2.4 ping with 125 bytes', input: rawFrame({ opcode: Opcode.PING, payload: all }), expect: [ping(all)] },
    { name: '2.5 ping with 126 bytes', input: Buffer.concat([rawFrame({ opcode: Opcode.PING, payload: bytes(126) }), TRAILER]), expect: [PROTOCOL()] },
    { name: '2.5 ping declaring 126 in a 7-bit length (the 126 marker)', input: rawFrame({ opcode: Opcode.PING, payload: bytes(126), encoding: 16 }), expect: [PROTOCOL()] },
    { name: '2.7 unsolicited pong', input: rawFrames({ opcode: Opcode.PONG }, { opcode: Opcode.TEXT, payload: 'x' }), expect: [pong(), text('x')] },
    { name: '2.8 unsolicited pong with payload', input: rawFrame({ opcode: Opcode.PONG, payload: 'unsolicited' }), expect: [pong('unsolicited')] },
    { name: '2.9 pong then ping', input: rawFrames({ opcode: Opcode.PONG, payload: 'p' }, { opcode: Opcode.PING, payload: 'q' }), expect: [pong('p'), ping('q')] },
    { name: '2.10 ten pings', input: rawFrames(...Array.from({ length: 10 }, (_, i) => ({ opcode: Opcode.PING, payload: `payload-${i}` }))), expect: Array.from({ length: 10 }, (_, i) => ping(`payload-${i}`)) },
  ]);
  assert.ok(runs > 100);
});

test('3.x: an RSV bit with no extension fails with 1002, on data and control frames, and nothing after it is reported', () => {
  const cases: Case[] = [];
  const rsvs: Array<Pick<RawFrame, 'rsv1' | 'rsv2' | 'rsv3'>> = [{ rsv1: true }, { rsv2: true }, { rsv1: true, rsv2: true }, { rsv3: true }, { rsv1: true, rsv3: true }, { rsv2: true, rsv3: true }, { rsv1: true, rsv2: true, rsv3: true }];
  for (const rsv of rsvs) {
    for (const opcode of [Opcode.TEXT, Opcode.BINARY, Opcode.PING, Opcode.CLOSE, Opcode.CONTINUATION]) {
      const bad = rawFrame({ opcode, payload: opcode === Opcode.CLOSE ? Buffer.from([0x03, 0xe8]) : 'xy', ...rsv });
      cases.push({
        name: `RSV ${JSON.stringify(rsv)} on opcode ${opcode} after a valid text`,
        input: Buffer.concat([rawFrame({ opcode: Opcode.TEXT, payload: 'ok' }), bad, TRAILER, rawFrame({ opcode: Opcode.PING })]),
        expect: [text('ok'), PROTOCOL()],
      });
    }
  }
  runCases(cases);
});

test('4.x: reserved opcodes 3–7 and 0xB–0xF fail with 1002, with or without payload, and nothing after is reported', () => {
  const cases: Case[] = [];
  for (const opcode of [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
    cases.push({ name: `opcode ${opcode} empty`, input: Buffer.concat([rawFrame({ opcode }), TRAILER]), expect: [PROTOCOL()] });
    cases.push({
      name: `opcode ${opcode} with payload after a text, then a ping`,
      input: rawFrames({ opcode: Opcode.TEXT, payload: 'first' }, { opcode, payload: 'reserved payload' }, { opcode: Opcode.PING }),
      expect: [text('first'), PROTOCOL()],
    });
  }
  runCases(cases);
});

test('5.x: fragmentation — fragmented control frames, interleaved pings, stray continuations, new data frames mid-message, empty fragments', () => {
  const f = (opcode: number, payload: string, fin: boolean): RawFrame => ({ opcode, payload, fin });
  runCases([
    { name: '5.1 fragmented ping', input: rawFrames(f(Opcode.PING, 'frag', false), f(Opcode.CONTINUATION, 'ment', true)), expect: [PROTOCOL()] },
    { name: '5.2 fragmented pong', input: rawFrames(f(Opcode.PONG, 'frag', false), f(Opcode.CONTINUATION, 'ment', true)), expect: [PROTOCOL()] },
    { name: '5.2 fragmented close', input: rawFrames({ opcode: Opcode.CLOSE, payload: Buffer.from([3, 0xe8]), fin: false }), expect: [PROTOCOL()] },
    { name: '5.3 text in 2 fragments', input: rawFrames(f(Opcode.TEXT, 'frag', false), f(Opcode.CONTINUATION, 'ment1', true)), expect: [text('fragment1')] },
    { name: '5.6 ping between fragments', input: rawFrames(f(Opcode.TEXT, 'frag', false), { opcode: Opcode.PING, payload: 'ping' }, f(Opcode.CONTINUATION, 'ment1', true)), expect: [ping('ping'), text('fragment1')] },
    { name: '5.6 pong and ping between fragments', input: rawFrames(f(Opcode.BINARY, 'ab', false), { opcode: Opcode.PONG }, f(Opcode.CONTINUATION, 'cd', false), { opcode: Opcode.PING }, f(Opcode.CONTINUATION, 'ef', true)), expect: [pong(), ping(), binary(Buffer.from('abcdef'))] },
    { name: '5.9 continuation (FIN) with nothing to continue', input: rawFrames(f(Opcode.CONTINUATION, 'non-continuation payload', true), f(Opcode.TEXT, 'Hello, world!', true)), expect: [PROTOCOL()] },
    { name: '5.12 continuation (no FIN) with nothing to continue', input: rawFrames(f(Opcode.CONTINUATION, 'non-continuation payload', false), f(Opcode.TEXT, 'Hello, world!', true)), expect: [PROTOCOL()] },
    { name: '5.15 a message, then a stray continuation', input: rawFrames(f(Opcode.TEXT, 'fragment1', false), f(Opcode.CONTINUATION, 'fragment2', true), f(Opcode.CONTINUATION, 'fragment3', false), f(Opcode.TEXT, 'fragment4', true)), expect: [text('fragment1fragment2'), PROTOCOL()] },
    { name: '5.16 stray continuation before a fragmented message', input: rawFrames(f(Opcode.CONTINUATION, 'fragment1', false), f(Opcode.TEXT, 'fragment2', false), f(Opcode.CONTINUATION, 'fragment3', true)), expect: [PROTOCOL()] },
    { name: '5.18 both fragments with opcode text', input: rawFrames(f(Opcode.TEXT, 'fragment1', false), f(Opcode.TEXT, 'fragment2', true)), expect: [PROTOCOL()] },
    { name: 'binary frame while a text message is open', input: rawFrames(f(Opcode.TEXT, 'open', false), f(Opcode.BINARY, 'x', true)), expect: [PROTOCOL()] },
    {
      name: '5.19 text in 5 fragments with pings between',
      input: rawFrames(f(Opcode.TEXT, 'fragment1', false), f(Opcode.CONTINUATION, 'fragment2', false), { opcode: Opcode.PING, payload: 'pongme 1!' }, f(Opcode.CONTINUATION, 'fragment3', false), f(Opcode.CONTINUATION, 'fragment4', false), { opcode: Opcode.PING, payload: 'pongme 2!' }, f(Opcode.CONTINUATION, 'fragment5', true)),
      expect: [ping('pongme 1!'), ping('pongme 2!'), text('fragment1fragment2fragment3fragment4fragment5')],
    },
    { name: 'empty fragments make an empty text', input: rawFrames(f(Opcode.TEXT, '', false), f(Opcode.CONTINUATION, '', false), f(Opcode.CONTINUATION, '', true)), expect: [text('')] },
    { name: 'empty fragments around data', input: rawFrames(f(Opcode.BINARY, '', false), f(Opcode.CONTINUATION, 'xyz', false), f(Opcode.CONTINUATION, '', true), f(Opcode.BINARY, '', true)), expect: [binary(Buffer.from('xyz')), binary(Buffer.alloc(0))] },
    { name: 'close between fragments ends it all', input: rawFrames(f(Opcode.TEXT, 'half', false), { opcode: Opcode.CLOSE, payload: Buffer.from([3, 0xe8]) }, f(Opcode.CONTINUATION, 'rest', true)), expect: [close(1000)] },
  ]);
  // 10.1 / 9.x shape: 64 KiB arriving in fragments of growing sizes.
  const message = bytes(65536, 3);
  const frames: RawFrame[] = [];
  for (let at = 0, size = 1; at < message.length; at += size, size *= 2) {
    frames.push({ opcode: frames.length === 0 ? Opcode.BINARY : Opcode.CONTINUATION, payload: message.subarray(at, Math.min(message.length, at + size)), fin: at + size >= message.length });
  }
  runCases([{ name: '64 KiB in fragments of 1, 2, 4, ... bytes', input: rawFrames(...frames), expect: [binary(message)] }], false);
});

test('6.x through the receiver: invalid UTF-8 fails with 1007, valid text split inside code points across fragments is delivered', () => {
  const kosme = Buffer.from('κόσμε', 'utf8');
  const cases: Case[] = [
    { name: '6.3.1 invalid text in one frame', input: rawFrame({ opcode: Opcode.TEXT, payload: Buffer.concat([kosme, Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('edited')]) }), expect: [UTF8()] },
    { name: 'valid binary is not checked', input: rawFrame({ opcode: Opcode.BINARY, payload: Buffer.from([0xff, 0xfe]) }), expect: [binary(Buffer.from([0xff, 0xfe]))] },
    { name: 'text truncated at its FIN frame', input: rawFrames({ opcode: Opcode.TEXT, payload: Buffer.from('ab'), fin: false }, { opcode: Opcode.CONTINUATION, payload: Buffer.from([0xe2, 0x82]) }), expect: [UTF8()] },
  ];
  const mixed = Buffer.from('a€𝄞ü—\u{10ffff}z', 'utf8');
  for (let cut = 0; cut <= mixed.length; cut++) {
    cases.push({
      name: `valid text cut into two fragments at byte ${cut}`,
      input: rawFrames({ opcode: Opcode.TEXT, payload: mixed.subarray(0, cut), fin: false }, { opcode: Opcode.CONTINUATION, payload: mixed.subarray(cut) }),
      expect: [text(mixed.toString('utf8'))],
    });
  }
  runCases(cases);
});

test('7.x: close frames — codes, reasons and what follows them', () => {
  const closeFrame = (payload: Uint8Array): Buffer => rawFrame({ opcode: Opcode.CLOSE, payload });
  const coded = (code: number, reason: Uint8Array | string = ''): Buffer => Buffer.concat([Buffer.from([code >> 8, code & 0xff]), Buffer.from(reason)]);
  const cases: Case[] = [
    { name: '7.1.1 close, then a text (ignored)', input: Buffer.concat([rawFrame({ opcode: Opcode.TEXT, payload: 'Hello World!' }), closeFrame(coded(1000)), TRAILER]), expect: [text('Hello World!'), close(1000)] },
    { name: '7.1.3 close, then a ping (ignored)', input: Buffer.concat([closeFrame(coded(1000)), rawFrame({ opcode: Opcode.PING })]), expect: [close(1000)] },
    { name: '7.1.4 close, then an invalid frame (ignored, no error)', input: Buffer.concat([closeFrame(coded(1000)), rawFrame({ opcode: 5 })]), expect: [close(1000)] },
    { name: '7.3.1 empty close payload: 1005', input: closeFrame(Buffer.alloc(0)), expect: [close(1005)] },
    { name: '7.3.2 1-byte close payload', input: closeFrame(Buffer.from([0x03])), expect: [PROTOCOL()] },
    { name: '7.3.3 close with a code', input: closeFrame(coded(1000)), expect: [close(1000)] },
    { name: '7.3.4 close with a reason', input: closeFrame(coded(1000, 'Hello World!')), expect: [close(1000, 'Hello World!')] },
    { name: '7.3.5 close with a 123-byte reason', input: closeFrame(coded(1000, '*'.repeat(123))), expect: [close(1000, '*'.repeat(123))] },
    { name: '7.3.6 close with a 124-byte reason (payload 126)', input: closeFrame(coded(1000, '*'.repeat(124))), expect: [PROTOCOL()] },
    { name: '7.5.1 close reason not UTF-8', input: closeFrame(coded(1000, Buffer.from([0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xce, 0xbc, 0xce, 0xb5, 0xed, 0xa0, 0x80, 0x65, 0x64, 0x69, 0x74, 0x65, 0x64]))), expect: [UTF8()] },
    { name: 'close reason with multi-byte UTF-8', input: closeFrame(coded(4000, 'bye — 再见')), expect: [close(4000, 'bye — 再见')] },
  ];
  for (const code of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999]) {
    cases.push({ name: `7.7 valid code ${code}`, input: closeFrame(coded(code)), expect: [close(code)] });
  }
  for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]) {
    cases.push({ name: `7.9 invalid code ${code}`, input: Buffer.concat([closeFrame(coded(code)), TRAILER]), expect: [PROTOCOL()] });
  }
  runCases(cases);
});
