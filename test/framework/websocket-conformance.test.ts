/**
 * WebSocket conformance end to end over real TCP on 127.0.0.1: the Autobahn|Testsuite case groups
 * 1–7, 9 and 10 (shared/reference/websocket-notes.md), written as raw frames on a plain `net.Socket`
 * to a `Server` running `webSocketServer` with an echo route, under both handshake versions (13 and 8).
 *
 * Each case is a table row of steps: bytes to send (whole, chopped, frame by frame), the frames the
 * server must answer with, and how it ends. A failure is checked byte for byte: the exact close frame
 * (no reason), nothing echoed before or after it that the case does not allow, then a FIN (never an
 * RST), and the handler's onClose. A clean close is the client's close, echoed with its code, then the
 * server's FIN first (RFC 6455 7.1.1: the server closes TCP first).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Server, webSocketServer, type WebSocket, type WebSocketHandler } from '../../framework/index.js';
import { utf8Vectors } from '../helpers/utf8-vectors.js';
import { type RawFrame, rawFrame, rawFrames } from '../helpers/ws-frames.js';
import { RawClient, serverCloseBytes } from '../helpers/ws-raw-client.js';

const TEXT = 1;
const BINARY = 2;
const CONT = 0;
const CLOSE = 8;
const PING = 9;
const PONG = 10;

type Step =
  /** Write bytes: at once, in chops of `chop` bytes, or each frame on its own `pauseMs` apart. */
  | { readonly send: Buffer; readonly chop?: number; readonly pauseMs?: number }
  /** Write frames one at a time, `pauseMs` apart (Autobahn's "frame-wise"). */
  | { readonly frames: readonly Buffer[]; readonly pauseMs: number }
  /** The next server frames are this message (text or binary, reassembled). */
  | { readonly message: 1 | 2; readonly payload: Buffer; readonly ms?: number }
  /** The next server frame is a pong with this payload. */
  | { readonly pong: Buffer }
  /** The next server frame is exactly this close frame (code and no reason; null: empty payload). */
  | { readonly closeFrame: number | null }
  /** The server ends the stream with a FIN and nothing more; our FIN then closes it without an RST. */
  | { readonly fin: true };

interface Case {
  readonly id: string;
  readonly name: string;
  readonly steps: readonly Step[];
  /** What the handler's onClose must report. */
  readonly server: { readonly code: number; readonly wasClean: boolean };
  /** Whole-case time bound (the 9.x performance cases). */
  readonly withinMs?: number;
}

const frame = (opcode: number, payload: Buffer | string = '', options: Partial<RawFrame> = {}): Buffer => rawFrame({ opcode, payload, ...options });
const text = (payload: string | Buffer, options: Partial<RawFrame> = {}): Buffer => frame(TEXT, payload, options);
const bin = (payload: Buffer, options: Partial<RawFrame> = {}): Buffer => frame(BINARY, payload, options);
const cont = (payload: string | Buffer, fin: boolean): Buffer => frame(CONT, payload, { fin });
const ping = (payload: string | Buffer = ''): Buffer => frame(PING, payload);
const pong = (payload: string | Buffer = ''): Buffer => frame(PONG, payload);
const closeWith = (code: number | null, reason: string | Buffer = ''): Buffer => {
  if (code === null) return frame(CLOSE);
  const r = typeof reason === 'string' ? Buffer.from(reason, 'utf8') : reason;
  return frame(CLOSE, Buffer.concat([Buffer.from([code >> 8, code & 0xff]), r]));
};
const bytes = (...values: number[]): Buffer => Buffer.from(values);
const fill = (n: number, byte: number): Buffer => Buffer.alloc(n, byte);
const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');

const send = (...frames: Buffer[]): Step => ({ send: Buffer.concat(frames) });
const chopped = (chop: number, ...frames: Buffer[]): Step => ({ send: Buffer.concat(frames), chop });
const frameWise = (...frames: Buffer[]): Step => ({ frames, pauseMs: 10 });
const echoText = (payload: string | Buffer, ms?: number): Step => ({ message: TEXT, payload: typeof payload === 'string' ? utf8(payload) : payload, ...(ms ? { ms } : {}) });
const echoBinary = (payload: Buffer, ms?: number): Step => ({ message: BINARY, payload, ...(ms ? { ms } : {}) });
const pongOf = (payload: string | Buffer = ''): Step => ({ pong: typeof payload === 'string' ? utf8(payload) : payload });

/** What follows every failure: frames the server must ignore (nothing may be echoed), then its FIN. */
const PROBE = rawFrames({ opcode: TEXT, payload: 'after the failure' }, { opcode: PING, payload: 'still there?' });

/** The server fails the connection with `code`: that close frame, nothing more, FIN. */
function fails(id: string, name: string, code: number, ...before: Step[]): Case {
  return { id, name, steps: [...before, { closeFrame: code }, { send: PROBE }, { fin: true }], server: { code, wasClean: false } };
}

/** A case that ends with our close: echoed with its code, then the server's FIN. */
function clean(id: string, name: string, ...steps: Step[]): Case {
  return { id, name, steps: [...steps, send(closeWith(1000, 'bye')), { closeFrame: 1000 }, { fin: true }], server: { code: 1000, wasClean: true } };
}

// ---- the table -------------------------------------------------------------------------------------

const LENGTHS = [0, 125, 126, 127, 128, 65535, 65536];

function group1(): Case[] {
  const out: Case[] = [];
  LENGTHS.forEach((n, i) => {
    out.push(clean(`1.1.${i + 1}`, `text message of ${n} bytes`, send(text('*'.repeat(n))), echoText('*'.repeat(n))));
  });
  out.push(clean('1.1.8', 'text message of 65536 bytes in chops of 997', chopped(997, text('*'.repeat(65536))), echoText('*'.repeat(65536))));
  LENGTHS.forEach((n, i) => {
    out.push(clean(`1.2.${i + 1}`, `binary message of ${n} bytes`, send(bin(fill(n, 0xfe))), echoBinary(fill(n, 0xfe))));
  });
  out.push(clean('1.2.8', 'binary message of 65536 bytes in chops of 997', chopped(997, bin(fill(65536, 0xfe))), echoBinary(fill(65536, 0xfe))));
  return out;
}

function group2(): Case[] {
  const binaryPayload = bytes(0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff);
  const tenPings = Array.from({ length: 10 }, (_, i) => `payload-${i}`);
  return [
    clean('2.1', 'ping without payload', send(ping()), pongOf()),
    clean('2.2', 'ping with a small text payload', send(ping('Hello, world!')), pongOf('Hello, world!')),
    clean('2.3', 'ping with a small binary payload', send(ping(binaryPayload)), pongOf(binaryPayload)),
    clean('2.4', 'ping with a 125-byte binary payload', send(ping(fill(125, 0xfe))), pongOf(fill(125, 0xfe))),
    fails('2.5', 'ping with a 126-byte payload', 1002, send(ping(fill(126, 0xfe)))),
    clean('2.6', 'ping with 125 bytes sent in 1-byte chops', chopped(1, ping(fill(125, 0xfe))), pongOf(fill(125, 0xfe))),
    clean('2.7', 'unsolicited pong without payload is ignored', send(pong())),
    clean('2.8', 'unsolicited pong with payload is ignored', send(pong('unsolicited pong payload'))),
    clean('2.9', 'unsolicited pong, then a ping: only the ping is answered', send(pong('unsolicited'), ping('my ping')), pongOf('my ping')),
    clean('2.10', '10 pings get 10 pongs', send(...tenPings.map((p) => ping(p))), ...tenPings.map((p) => pongOf(p))),
    clean('2.11', '10 pings in 1-byte chops get 10 pongs', chopped(1, ...tenPings.map((p) => ping(p))), ...tenPings.map((p) => pongOf(p))),
  ];
}

function group3(): Case[] {
  // Autobahn numbers RSV as a 3-bit value: 4 = RSV1, 2 = RSV2, 1 = RSV3.
  const rsv = (value: number): Partial<RawFrame> => ({ rsv1: (value & 4) !== 0, rsv2: (value & 2) !== 0, rsv3: (value & 1) !== 0 });
  return [
    fails('3.1', 'text with RSV = 1', 1002, send(text('Hello, world!', rsv(1)))),
    fails('3.2', 'text, text with RSV = 2, ping: the first echoed, no pong', 1002, send(text('Hello, world!'), text('Hello, world!', rsv(2)), ping()), echoText('Hello, world!')),
    fails('3.3', 'the same with RSV = 3, frame by frame', 1002, frameWise(text('Hello, world!'), text('Hello, world!', rsv(3)), ping()), echoText('Hello, world!')),
    fails('3.4', 'the same with RSV = 4, in 1-byte chops', 1002, chopped(1, text('Hello, world!'), text('Hello, world!', rsv(4)), ping()), echoText('Hello, world!')),
    fails('3.5', 'binary with RSV = 5', 1002, send(bin(bytes(0, 0xff, 0xfe, 0xfd), rsv(5)))),
    fails('3.6', 'ping with RSV = 6', 1002, send(frame(PING, 'Hello, world!', rsv(6)))),
    fails('3.7', 'close with RSV = 7', 1002, send(frame(CLOSE, bytes(0x03, 0xe8), rsv(7)))),
  ];
}

function group4(): Case[] {
  const out: Case[] = [];
  const reserved = [
    ['4.1', [3, 4, 5, 6, 7]],
    ['4.2', [0xb, 0xc, 0xd, 0xe, 0xf]],
  ] as const;
  for (const [group, opcodes] of reserved) {
    const [a, b, c, d, e] = opcodes;
    const hex = (op: number): string => `0x${op.toString(16)}`;
    out.push(fails(`${group}.1`, `reserved opcode ${hex(a)}`, 1002, send(frame(a))));
    out.push(fails(`${group}.2`, `reserved opcode ${hex(b)} with payload`, 1002, send(frame(b, 'reserved opcode payload'))));
    out.push(fails(`${group}.3`, `text, reserved opcode ${hex(c)}, ping`, 1002, send(text('Hello, world!'), frame(c), ping()), echoText('Hello, world!')));
    out.push(fails(`${group}.4`, `text, reserved opcode ${hex(d)} with payload, ping`, 1002, send(text('Hello, world!'), frame(d, 'payload'), ping()), echoText('Hello, world!')));
    out.push(fails(`${group}.5`, `the same with ${hex(e)}, in 1-byte chops`, 1002, chopped(1, text('Hello, world!'), frame(e, 'payload'), ping()), echoText('Hello, world!')));
  }
  return out;
}

function group5(): Case[] {
  const f1 = text('fragment1', { fin: false });
  const f2 = cont('fragment2', true);
  const withPing = [f1, ping('pongme 2!'), f2];
  const five = ['fragment1', 'fragment2', 'fragment3', 'fragment4', 'fragment5'];
  const fiveWithPings = [text(five[0]!, { fin: false }), cont(five[1]!, false), ping('pongme 1!'), cont(five[2]!, false), ping('pongme 2!'), cont(five[3]!, false), cont(five[4]!, true)];
  return [
    fails('5.1', 'ping in 2 fragments', 1002, send(frame(PING, 'fragment1', { fin: false }), cont('fragment2', true))),
    fails('5.2', 'pong in 2 fragments', 1002, send(frame(PONG, 'fragment1', { fin: false }), cont('fragment2', true))),
    clean('5.3', 'text in 2 fragments', send(f1, f2), echoText('fragment1fragment2')),
    clean('5.4', 'text in 2 fragments, frame by frame', frameWise(f1, f2), echoText('fragment1fragment2')),
    clean('5.5', 'text in 2 fragments, in 1-byte chops', chopped(1, f1, f2), echoText('fragment1fragment2')),
    clean('5.6', 'text in 2 fragments with a ping between: pong, then the echo', send(...withPing), pongOf('pongme 2!'), echoText('fragment1fragment2')),
    clean('5.7', 'the same, frame by frame', frameWise(...withPing), pongOf('pongme 2!'), echoText('fragment1fragment2')),
    clean('5.8', 'the same, in 1-byte chops', chopped(1, ...withPing), pongOf('pongme 2!'), echoText('fragment1fragment2')),
    fails('5.9', 'continuation (FIN) with nothing to continue, then text', 1002, send(cont('non-continuation payload', true), text('Hello, world!'))),
    fails('5.10', 'the same, frame by frame', 1002, frameWise(cont('non-continuation payload', true), text('Hello, world!'))),
    fails('5.11', 'the same, in 1-byte chops', 1002, chopped(1, cont('non-continuation payload', true), text('Hello, world!'))),
    fails('5.12', 'continuation (no FIN) with nothing to continue, then text', 1002, send(cont('non-continuation payload', false), text('Hello, world!'))),
    fails('5.13', 'the same, frame by frame', 1002, frameWise(cont('non-continuation payload', false), text('Hello, world!'))),
    fails('5.14', 'the same, in 1-byte chops', 1002, chopped(1, cont('non-continuation payload', false), text('Hello, world!'))),
    fails('5.15', 'a fragmented text, then a continuation with nothing open: the first echoed', 1002, send(f1, f2, cont('fragment3', false), text('fragment4')), echoText('fragment1fragment2')),
    fails('5.16', 'continuation (no FIN), text fragment, continuation: fails at the first', 1002, send(cont('fragment1', false), text('fragment2', { fin: false }), cont('fragment3', true))),
    fails('5.17', 'continuation (FIN), text fragment, continuation: fails at the first', 1002, send(cont('fragment1', true), text('fragment2', { fin: false }), cont('fragment3', true))),
    fails('5.18', 'text fragment, then a new text frame while it is open', 1002, send(text('fragment1', { fin: false }), text('fragment2'))),
    fails('5.18b', 'binary fragment, then a new binary frame while it is open', 1002, send(bin(utf8('fragment1'), { fin: false }), bin(utf8('fragment2')))),
    clean('5.19', 'text in 5 fragments with 2 pings between, frame by frame', { frames: fiveWithPings, pauseMs: 20 }, pongOf('pongme 1!'), pongOf('pongme 2!'), echoText(five.join(''))),
    clean('5.20', 'the same, in 1-byte chops', chopped(1, ...fiveWithPings), pongOf('pongme 1!'), pongOf('pongme 2!'), echoText(five.join(''))),
    clean('5.x', 'binary in 3 fragments', send(bin(bytes(1, 2), { fin: false }), cont(bytes(3), false), cont(bytes(4, 5, 6), true)), echoBinary(bytes(1, 2, 3, 4, 5, 6))),
  ];
}

function group6(): Case[] {
  const hello = utf8('Hello-µ@ßöäüàá-UTF-8!!');
  const kosme = bytes(0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xce, 0xbc, 0xce, 0xb5);
  const oneByteFragments = (payload: Buffer): Buffer[] =>
    Array.from({ length: payload.length }, (_, i) => (i === 0 ? text(payload.subarray(0, 1), { fin: payload.length === 1 }) : cont(payload.subarray(i, i + 1), i === payload.length - 1)));
  // Every split of the message into 2 fragments, most of them inside a code point.
  const splits: Buffer[] = [];
  for (let at = 1; at < hello.length; at++) splits.push(text(hello.subarray(0, at), { fin: false }), cont(hello.subarray(at), true));
  const invalid63 = Buffer.concat([kosme, bytes(0xed, 0xa0, 0x80), utf8('edited')]);
  // 6.4.1: 0x110000 (beyond U+10FFFF) in the middle fragment; parts 1 and 3 are valid on their own.
  const part1 = kosme;
  const part2 = bytes(0xf4, 0x90, 0x80, 0x80);
  const part3 = utf8('edited');
  const whole = Buffer.concat([part1, part2, part3]);
  const oneFrame = text(whole);
  const headerSize = oneFrame.length - whole.length;
  return [
    clean('6.1.1', 'empty text message', send(text('')), echoText('')),
    clean('6.1.2', 'text in 3 empty fragments', send(text('', { fin: false }), cont('', false), cont('', true)), echoText('')),
    clean('6.1.3', 'text in 3 fragments, first and last empty', send(text('', { fin: false }), cont('middle frame payload', false), cont('', true)), echoText('middle frame payload')),
    clean('6.2.1', 'valid UTF-8 in one frame', send(text(hello)), echoText(hello)),
    clean('6.2.2', 'valid UTF-8 split into 2 fragments at every byte position', send(...splits), ...Array.from({ length: hello.length - 1 }, () => echoText(hello))),
    clean('6.2.3', 'valid UTF-8 in 1-byte fragments', send(...oneByteFragments(hello)), echoText(hello)),
    clean('6.2.4', 'κόσμε in 1-byte fragments, in 1-byte chops', chopped(1, ...oneByteFragments(kosme)), echoText(kosme)),
    fails('6.3.1', 'invalid UTF-8 (a surrogate) in one frame', 1007, send(text(invalid63))),
    fails('6.3.2', 'the same in 1-byte fragments', 1007, send(...oneByteFragments(invalid63))),
    {
      id: '6.4.1',
      name: 'fail fast: the close comes after the bad fragment, before the last is sent',
      steps: [send(text(part1, { fin: false })), send(cont(part2, false)), { closeFrame: 1007 }, send(cont(part3, true)), { fin: true }],
      server: { code: 1007, wasClean: false },
    },
    {
      id: '6.4.2',
      name: 'fail fast: the same with the bad sequence split across fragments (the byte that dooms it)',
      steps: [send(text(Buffer.concat([part1, bytes(0xf4)]), { fin: false })), send(cont(bytes(0x90), false)), { closeFrame: 1007 }, send(cont(bytes(0x80, 0x80, ...part3), true)), { fin: true }],
      server: { code: 1007, wasClean: false },
    },
    {
      id: '6.4.3',
      name: 'fail fast inside one frame: close after the chop with the bad bytes, before the rest',
      steps: [
        send(oneFrame.subarray(0, headerSize + part1.length)),
        send(oneFrame.subarray(headerSize + part1.length, headerSize + part1.length + part2.length)),
        { closeFrame: 1007 },
        send(oneFrame.subarray(headerSize + part1.length + part2.length)),
        { fin: true },
      ],
      server: { code: 1007, wasClean: false },
    },
    {
      id: '6.4.4',
      name: 'fail fast inside one frame, the bad sequence byte by byte',
      steps: [
        send(oneFrame.subarray(0, headerSize + part1.length)),
        send(oneFrame.subarray(headerSize + part1.length, headerSize + part1.length + 1)),
        send(oneFrame.subarray(headerSize + part1.length + 1, headerSize + part1.length + 2)),
        { closeFrame: 1007 },
        send(oneFrame.subarray(headerSize + part1.length + 2)),
        { fin: true },
      ],
      server: { code: 1007, wasClean: false },
    },
  ];
}

const VALID_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999];
const INVALID_CODES = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535];

function group7(): Case[] {
  const reason123 = '*'.repeat(123);
  const out: Case[] = [
    clean('7.1.1', 'a message, then our close', send(text('Hello World!')), echoText('Hello World!')),
    { id: '7.1.2', name: 'close, then close again: one close echoed', steps: [send(closeWith(1000), closeWith(1000)), { closeFrame: 1000 }, { fin: true }], server: { code: 1000, wasClean: true } },
    { id: '7.1.3', name: 'close, then a ping: no pong', steps: [send(closeWith(1000), ping('Hello World!')), { closeFrame: 1000 }, { fin: true }], server: { code: 1000, wasClean: true } },
    { id: '7.1.4', name: 'close, then text: no echo', steps: [send(closeWith(1000), text('Hello World!')), { closeFrame: 1000 }, { fin: true }], server: { code: 1000, wasClean: true } },
    {
      id: '7.1.5',
      name: 'a fragment, close, the rest of the message: no echo',
      steps: [send(text('fragment1', { fin: false }), closeWith(1000), cont('fragment2', true)), { closeFrame: 1000 }, { fin: true }],
      server: { code: 1000, wasClean: true },
    },
    {
      id: '7.1.6',
      name: '256 KiB text, close, ping: the echo, the close, no pong',
      steps: [send(text('BAsd7&jh23'.repeat(26214)), closeWith(1000), ping('Hello World!')), echoText('BAsd7&jh23'.repeat(26214)), { closeFrame: 1000 }, { fin: true }],
      server: { code: 1000, wasClean: true },
    },
    { id: '7.3.1', name: 'close without payload: answered without one', steps: [send(closeWith(null)), { closeFrame: null }, { fin: true }], server: { code: 1005, wasClean: true } },
    fails('7.3.2', 'close with a 1-byte payload', 1002, send(frame(CLOSE, bytes(0x2a)))),
    { id: '7.3.3', name: 'close 1000 without reason', steps: [send(closeWith(1000)), { closeFrame: 1000 }, { fin: true }], server: { code: 1000, wasClean: true } },
    { id: '7.3.4', name: 'close 1000 with a reason: the code echoed', steps: [send(closeWith(1000, 'Hello World!')), { closeFrame: 1000 }, { fin: true }], server: { code: 1000, wasClean: true } },
    { id: '7.3.5', name: 'close with a 123-byte reason (the most allowed)', steps: [send(closeWith(1000, reason123)), { closeFrame: 1000 }, { fin: true }], server: { code: 1000, wasClean: true } },
    fails('7.3.6', 'close with a 124-byte reason (payload 126)', 1002, send(closeWith(1000, reason123 + '*'))),
    fails('7.5.1', 'close reason not UTF-8', 1007, send(closeWith(1000, Buffer.concat([utf8('κόσμε'), bytes(0xed, 0xa0, 0x80), utf8('edited')])))),
    fails('7.x', 'close reason truncated inside a code point', 1007, send(closeWith(1000, bytes(0x68, 0x69, 0xe2, 0x82)))),
  ];
  VALID_CODES.forEach((code, i) => {
    out.push({ id: `7.7.${i + 1}`, name: `valid close code ${code} is echoed`, steps: [send(closeWith(code)), { closeFrame: code }, { fin: true }], server: { code, wasClean: true } });
  });
  INVALID_CODES.forEach((code, i) => {
    out.push(fails(`7.9.${i + 1}`, `invalid close code ${code}`, 1002, send(closeWith(code))));
  });
  return out;
}

function sized(n: number, pattern: string): Buffer {
  const unit = utf8(pattern);
  const out = Buffer.allocUnsafe(n);
  for (let at = 0; at < n; at += unit.length) unit.copy(out, at, 0, Math.min(unit.length, n - at));
  return out;
}

/** A message as frames of `size` payload bytes each. */
function fragmented(opcode: 1 | 2, payload: Buffer, size: number): Buffer {
  const frames: Buffer[] = [];
  for (let at = 0; at < payload.length; at += size) {
    const end = Math.min(payload.length, at + size);
    frames.push(frame(at === 0 ? opcode : CONT, payload.subarray(at, end), { fin: end === payload.length }));
  }
  return Buffer.concat(frames);
}

const KIB = 1024;
const MIB = 1024 * 1024;

/**
 * A clean-close case whose (large) frames are built only when it runs and dropped after, so the table
 * does not hold a hundred MiB of frames from the start.
 */
function lazy(id: string, name: string, withinMs: number, steps: () => Step[]): Case {
  return {
    id,
    name,
    withinMs,
    server: { code: 1000, wasClean: true },
    get steps() {
      return clean(id, name, ...steps()).steps;
    },
  };
}

function group9(): Case[] {
  const out: Case[] = [];
  const ascii = (n: number): Buffer => sized(n, '*');
  const mixed = (n: number): Buffer => sized(n, 'Å*'); // 3 bytes: 2-byte code points straddle the cuts
  for (const [id, n, ms] of [
    ['9.1.1', 64 * KIB, 2000],
    ['9.1.3', 1 * MIB, 3000],
    ['9.1.6', 16 * MIB, 15_000],
  ] as const) {
    out.push(lazy(id, `text message of ${n} bytes`, ms, () => [send(text(ascii(n))), echoText(ascii(n), ms)]));
  }
  out.push(lazy('9.1.x', 'text message of 3 MiB of 2-byte code points', 6000, () => [send(text(mixed(3 * MIB))), echoText(mixed(3 * MIB), 6000)]));
  for (const [id, n, ms] of [
    ['9.2.1', 64 * KIB, 2000],
    ['9.2.3', 1 * MIB, 3000],
    ['9.2.6', 16 * MIB, 15_000],
  ] as const) {
    out.push(lazy(id, `binary message of ${n} bytes`, ms, () => [send(bin(fill(n, 0xfe))), echoBinary(fill(n, 0xfe), ms)]));
  }
  const fourMiBText = (): Buffer => mixed(4 * MIB - 1); // whole code points; fragments cut through them
  [64, 4 * KIB, 64 * KIB, 1 * MIB, 4 * MIB].forEach((size, i) => {
    out.push(lazy(`9.3.${i + 1}`, `4 MiB text in fragments of ${size}`, 8000, () => [send(fragmented(TEXT, fourMiBText(), size)), echoText(fourMiBText(), 8000)]));
  });
  [256, 64 * KIB, 4 * MIB].forEach((size, i) => {
    out.push(lazy(`9.4.${i + 1}`, `4 MiB binary in fragments of ${size}`, 8000, () => [send(fragmented(BINARY, fill(4 * MIB, 0xfe), size)), echoBinary(fill(4 * MIB, 0xfe), 8000)]));
  });
  [1 * KIB, 64 * KIB].forEach((chop, i) => {
    out.push(lazy(`9.5.${i + 1}`, `1 MiB text in chops of ${chop}`, 8000, () => [chopped(chop, text(ascii(MIB))), echoText(ascii(MIB), 8000)]));
  });
  const small = Array.from({ length: 1000 }, (_, i) => `message ${i}`.padEnd(16, '.'));
  out.push(lazy('9.7', '1000 small text messages in one write, echoed in order', 3000, () => [send(...small.map((m) => text(m))), ...small.map((m) => echoText(m))]));
  out.push(lazy('9.8', '1000 small binary messages in one write, echoed in order', 3000, () => [send(...small.map((m) => bin(utf8(m)))), ...small.map((m) => echoBinary(utf8(m)))]));
  return out;
}

function group10(): Case[] {
  const payload = sized(64 * KIB, 'auto-fragmentation ');
  return [clean('10.1.1', '64 KiB text in fragments of 1300', send(fragmented(TEXT, payload, 1300)), echoText(payload))];
}

function masking(): Case[] {
  return [
    fails('mask.1', 'unmasked text frame', 1002, send(text('Hello, world!', { mask: null }))),
    fails('mask.2', 'unmasked ping after a good message: the message echoed, no pong', 1002, send(text('ok'), frame(PING, 'x', { mask: null })), echoText('ok')),
    fails('mask.3', 'unmasked close frame', 1002, send(frame(CLOSE, bytes(0x03, 0xe8), { mask: null }))),
    fails('mask.4', 'unmasked continuation in a fragmented message', 1002, send(text('frag', { fin: false }), frame(CONT, 'ment', { mask: null }))),
    clean('mask.5', 'a zero masking key is still a masked frame', send(text('zero key', { mask: 0 })), echoText('zero key')),
  ];
}

const CASES: readonly Case[] = [...group1(), ...group2(), ...group3(), ...group4(), ...group5(), ...group6(), ...group7(), ...group9(), ...group10(), ...masking()];

// ---- the server ------------------------------------------------------------------------------------

interface Closed {
  code: number;
  reason: string;
  wasClean: boolean;
}

interface Rig {
  server: Server;
  port: number;
  /** onClose per client port. */
  closes: Map<number, Closed>;
  errors: Error[];
}

async function startRig(): Promise<Rig> {
  const closes = new Map<number, Closed>();
  const ports = new WeakMap<WebSocket, number>();
  const errors: Error[] = [];
  const echo: WebSocketHandler = {
    onOpen(ws) {
      ports.set(ws, ws.connection.remote.port); // asked while open: after an RST the address is gone
    },
    onMessage(ws, data, isBinary) {
      ws.send(data, { binary: isBinary });
    },
    onClose(ws, code, reason, wasClean) {
      const port = ports.get(ws);
      if (port === undefined) errors.push(new Error('onClose for a socket that never opened'));
      else if (closes.has(port)) errors.push(new Error(`onClose twice for port ${port}`));
      else closes.set(port, { code, reason, wasClean });
    },
  };
  const server = new Server({
    host: '127.0.0.1',
    port: 0,
    handler: webSocketServer({ route: (head) => (head.target === '/echo' ? { kind: 'websocket', handler: echo } : null) }),
  });
  const address = await server.listen();
  return { server, port: address.port, closes, errors };
}

async function waitFor(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

async function runSteps(client: RawClient, steps: readonly Step[]): Promise<void> {
  for (const [i, step] of steps.entries()) {
    const where = `step ${i + 1}`;
    if ('send' in step) {
      if (step.chop !== undefined) await client.writeChopped(step.send, step.chop, step.pauseMs ?? 0);
      else await client.writeAll(step.send);
    } else if ('frames' in step) {
      for (const f of step.frames) {
        client.write(f);
        await new Promise((r) => setTimeout(r, step.pauseMs));
      }
    } else if ('message' in step) {
      const got = await client.expectMessage(step.message, step.ms ?? 2000);
      assert.equal(got.length, step.payload.length, `${where}: echoed length`);
      assert.ok(got.equals(step.payload), `${where}: echoed payload`);
    } else if ('pong' in step) {
      const got = await client.expectFrame(PONG);
      assert.ok(got.fin, `${where}: a pong is one frame`);
      assert.deepEqual(got.payload, step.pong, `${where}: the pong carries the ping's payload`);
    } else if ('closeFrame' in step) {
      const got = await client.nextFrame(2000);
      assert.ok(got !== null, `${where}: a close frame ${step.closeFrame} expected, but the stream ended (${client.end})`);
      assert.deepEqual(got.raw, serverCloseBytes(step.closeFrame), `${where}: the exact close frame (got opcode ${got.opcode}, ${got.raw.toString('hex').slice(0, 40)})`);
    } else {
      await client.expectFin();
    }
  }
}

for (const version of [13, 8] as const) {
  describe(`WebSocket conformance over TCP, version ${version}`, () => {
    let rig: Rig;
    before(async () => {
      rig = await startRig();
    });
    after(async () => {
      const result = await rig.server.stop({ deadlineMs: 2000 });
      assert.deepEqual(result, { closedGracefully: 0, aborted: 0, forced: 0 }, 'every case closed its connection');
      assert.deepEqual(rig.errors, []);
      assert.equal(rig.server.pool.outstanding, 0, 'every pooled read buffer released');
    });

    for (const c of CASES) {
      test(`${c.id} ${c.name}`, { timeout: 30_000 }, async () => {
        const started = performance.now();
        const client = await RawClient.open(rig.port, { version });
        try {
          await runSteps(client, c.steps);
          await waitFor(() => rig.closes.has(client.port), 3000, 'the handler to see the close');
          const seen = rig.closes.get(client.port)!;
          rig.closes.delete(client.port); // the kernel may hand the port to a later case's client
          assert.deepEqual({ code: seen.code, wasClean: seen.wasClean }, c.server, 'what onClose reported');
          const elapsed = performance.now() - started;
          if (c.withinMs !== undefined) assert.ok(elapsed < c.withinMs, `done in ${Math.round(elapsed)} ms, bound ${c.withinMs} ms`);
        } finally {
          client.destroy();
        }
      });
    }

    test('6.5–6.23 UTF-8 vectors: valid text is echoed, invalid fails with 1007', { timeout: 60_000 }, async () => {
      const vectors = utf8Vectors();
      for (const v of vectors) {
        const client = await RawClient.open(rig.port, { version });
        try {
          const steps: Step[] = v.valid ? [send(text(v.bytes)), echoText(v.bytes), send(closeWith(1000)), { closeFrame: 1000 }, { fin: true }] : [send(text(v.bytes)), { closeFrame: 1007 }, { send: PROBE }, { fin: true }];
          await runSteps(client, steps).catch((error: Error) => {
            throw new Error(`${v.group} ${v.bytes.toString('hex')}: ${error.message}`);
          });
          await waitFor(() => rig.closes.has(client.port), 3000, 'onClose');
          assert.equal(rig.closes.get(client.port)!.code, v.valid ? 1000 : 1007, `${v.group} ${v.bytes.toString('hex')}`);
          rig.closes.delete(client.port);
        } finally {
          client.destroy();
        }
      }
    });
  });
}
