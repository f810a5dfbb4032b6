import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  BufferPool,
  ByteQueue,
  DelimiterFramer,
  ErrorCodes,
  type Framer,
  LengthPrefixedFramer,
  PorticoError,
  type ReadonlyByteQueue,
} from '../../framework/index.js';
import { layouts, pooled, randomSizes, seeded } from '../helpers/byte-chunks.js';

const latin1 = (text: string): Buffer => Buffer.from(text, 'latin1');

// --- owserver-style frames: a 24-byte header whose int32 at offset 4 is the body length ---------

const OW_HEADER = 24;
function owMessage(body: Buffer, declared = body.length): Buffer {
  const header = Buffer.alloc(OW_HEADER);
  header.writeInt32BE(0, 0);
  header.writeInt32BE(declared, 4);
  header.writeInt32BE(2, 8); // type
  return Buffer.concat([header, body]);
}
function owFramer(maxFrame = 1024, maxBuffered?: number): LengthPrefixedFramer {
  return new LengthPrefixedFramer({ headerSize: OW_HEADER, bodyLength: (q) => q.peekInt32BE(4), maxFrame, ...(maxBuffered === undefined ? {} : { maxBuffered }) });
}

// --- WebSocket-style frames: 2-byte base header, 16/64-bit extended length, optional mask key -----

function wsFrame(payload: Buffer, masked: boolean): Buffer {
  const n = payload.length;
  const len7 = n < 126 ? n : n < 65536 ? 126 : 127;
  const ext = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
  const header = Buffer.alloc(2 + ext + (masked ? 4 : 0));
  header[0] = 0x82;
  header[1] = (masked ? 0x80 : 0) | len7;
  if (len7 === 126) header.writeUInt16BE(n, 2);
  if (len7 === 127) header.writeBigUInt64BE(BigInt(n), 2);
  if (masked) header.set([1, 2, 3, 4], 2 + ext);
  return Buffer.concat([header, payload]);
}
function wsHeaderLength(q: ReadonlyByteQueue): number {
  const b1 = q.peekUInt8(1);
  const len7 = b1 & 0x7f;
  return 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (b1 & 0x80 ? 4 : 0);
}
function wsBodyLength(q: ReadonlyByteQueue): number {
  const len7 = q.peekUInt8(1) & 0x7f;
  if (len7 < 126) return len7;
  if (len7 === 126) return q.peekUInt16BE(2);
  return q.peekUInt32BE(2) * 2 ** 32 + q.peekUInt32BE(6);
}
function wsFramer(maxFrame: number): LengthPrefixedFramer {
  return new LengthPrefixedFramer({ headerSize: 2, headerLength: wsHeaderLength, bodyLength: wsBodyLength, maxFrame });
}

/** Push `data` cut into `sizes`, taking frames after every push (as a read completion would); returns copies. */
function feed(framer: Framer, pool: BufferPool, data: Buffer, sizes: readonly number[]): Buffer[] {
  const frames: Buffer[] = [];
  let at = 0;
  for (const size of sizes) {
    framer.push(pool.acquireCopy(data.subarray(at, (at += size))));
    for (let frame = framer.next(); frame !== null; frame = framer.next()) frames.push(Buffer.from(frame));
  }
  return frames;
}

/** Count Buffer allocations while `fn` runs (the framing code allocates only through these). */
function countAllocations(fn: () => void): number {
  const original = { alloc: Buffer.alloc, allocUnsafe: Buffer.allocUnsafe, allocUnsafeSlow: Buffer.allocUnsafeSlow };
  let count = 0;
  Buffer.alloc = (...args: Parameters<typeof Buffer.alloc>) => (count++, original.alloc(...args));
  Buffer.allocUnsafe = (size: number) => (count++, original.allocUnsafe(size));
  Buffer.allocUnsafeSlow = (size: number) => (count++, original.allocUnsafeSlow(size));
  try {
    fn();
  } finally {
    Object.assign(Buffer, original);
  }
  return count;
}

test('length-prefixed: a pipelined stream cut at every single cut and every pair of cuts, and in 1-byte buffers', () => {
  const pool = new BufferPool({ bufferSize: 128 });
  const bodies = [Buffer.alloc(0), latin1('x'), latin1('hello')];
  const expected = bodies.map((b) => owMessage(b));
  const stream = Buffer.concat(expected);
  const cuts = layouts(stream.length);
  assert.ok(cuts.length > 3000);
  for (const sizes of cuts) {
    const framer = owFramer();
    assert.deepEqual(feed(framer, pool, stream, sizes), expected, `buffers of ${sizes.join('+')}`);
    assert.equal(framer.buffered, 0);
    assert.equal(pool.outstanding, 0, `every buffer back after buffers of ${sizes.join('+')}`);
  }
});

test('length-prefixed with a variable header (WebSocket): every length class, whole, pipelined and trickled', () => {
  const pool = new BufferPool({ bufferSize: 65536 });
  const random = seeded(3);
  const sizes = [0, 1, 125, 126, 300, 65535, 65536, 70000];
  const payloads = sizes.map((n) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + n) & 0xff)));
  const frames = payloads.flatMap((p) => [wsFrame(p, false), wsFrame(p, true)]);
  const stream = Buffer.concat(frames);
  const small = Buffer.concat(frames.slice(0, 10)); // up to 300-byte payloads: every single cut
  for (const cut of layouts(small.length, false)) {
    const framer = wsFramer(1 << 17);
    assert.deepEqual(feed(framer, pool, small, cut), frames.slice(0, 10), `buffers of ${cut.join('+')}`);
  }
  const plans: [string, number[]][] = [
    ['whole', frames.flatMap((f) => randomSizes(f.length, 65536, () => 0.999999))],
    ['pipelined 4 KiB', randomSizes(stream.length, 4096, random)],
    ['pipelined 16 KiB', randomSizes(stream.length, 16384, random)],
    ['trickled 1-7 bytes', randomSizes(stream.length, 7, random)],
  ];
  for (const [name, plan] of plans) {
    const framer = wsFramer(1 << 17);
    const got = feed(framer, pool, stream, plan);
    assert.equal(got.length, frames.length, name);
    got.forEach((f, i) => assert.ok(f.equals(frames[i]!), `${name}: frame ${i}`));
    assert.equal(pool.outstanding, 0, name);
  }
});

test('a frame that lies in one pooled buffer is a view of it (zero copy)', () => {
  const pool = new BufferPool({ bufferSize: 256 });
  const framer = owFramer();
  const [buffer] = pooled(pool, Buffer.concat([owMessage(latin1('abc')), owMessage(latin1('de'))]), [53]);
  framer.push(buffer!);
  const first = framer.next()!;
  const second = framer.next()!;
  assert.equal(first.buffer, buffer!.bytes.buffer);
  assert.equal(second.buffer, buffer!.bytes.buffer);
  assert.equal(second.subarray(OW_HEADER).toString(), 'de', 'the body follows the header');
  assert.equal(pool.outstanding, 1, 'frames of this pass stay valid');
  assert.equal(framer.next(), null);
  assert.equal(pool.outstanding, 0, 'next() returning null gives the read-through buffer back');
});

const hostileHeaders: readonly { name: string; framer: () => LengthPrefixedFramer; header: Buffer; code: string }[] = [
  { name: 'owserver payload 0x7fffffff', framer: () => owFramer(), header: owMessage(Buffer.alloc(0), 0x7fffffff), code: ErrorCodes.INPUT_TOO_LARGE },
  { name: 'owserver payload 2^30', framer: () => owFramer(), header: owMessage(Buffer.alloc(0), 2 ** 30), code: ErrorCodes.INPUT_TOO_LARGE },
  { name: 'owserver payload one over maxFrame', framer: () => owFramer(1024), header: owMessage(Buffer.alloc(0), 1024 - OW_HEADER + 1), code: ErrorCodes.INPUT_TOO_LARGE },
  { name: 'owserver payload -1', framer: () => owFramer(), header: owMessage(Buffer.alloc(0), -1), code: ErrorCodes.BAD_FRAME },
  { name: 'owserver payload -2^31', framer: () => owFramer(), header: owMessage(Buffer.alloc(0), -(2 ** 31)), code: ErrorCodes.BAD_FRAME },
  { name: 'WebSocket 64-bit length 2^63', framer: () => wsFramer(1 << 20), header: Buffer.from([0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0]), code: ErrorCodes.INPUT_TOO_LARGE },
  { name: 'WebSocket 64-bit length 2^53 + 2', framer: () => wsFramer(1 << 20), header: Buffer.from([0x82, 0x7f, 0, 0x20, 0, 0, 0, 0, 0, 2]), code: ErrorCodes.INPUT_TOO_LARGE },
  {
    name: 'a fractional body length',
    framer: () => new LengthPrefixedFramer({ headerSize: 4, bodyLength: (q) => q.peekUInt32BE(0) / 2, maxFrame: 1024 }),
    header: Buffer.from([0, 0, 0, 3]),
    code: ErrorCodes.BAD_FRAME,
  },
  {
    name: 'a header length below headerSize',
    framer: () => new LengthPrefixedFramer({ headerSize: 4, headerLength: () => 3, bodyLength: () => 0, maxFrame: 1024 }),
    header: Buffer.alloc(4),
    code: ErrorCodes.BAD_FRAME,
  },
  {
    name: 'a header length over maxFrame',
    framer: () => new LengthPrefixedFramer({ headerSize: 2, headerLength: () => 2000, bodyLength: () => 0, maxFrame: 1024 }),
    header: Buffer.alloc(2),
    code: ErrorCodes.INPUT_TOO_LARGE,
  },
];

test('hostile declared lengths fail as soon as the header is in, with no allocation, and the framer stays failed', () => {
  for (const c of hostileHeaders) {
    const pool = new BufferPool({ bufferSize: 64 });
    const framer = c.framer();
    const pieces = pooled(pool, c.header, randomSizes(c.header.length, 1, Math.random));
    const created = pool.stats.created;
    const errors: unknown[] = [];
    const allocations = countAllocations(() => {
      for (const piece of pieces.slice(0, -1)) {
        framer.push(piece);
        assert.equal(framer.next(), null, `${c.name}: not before the header is complete`);
      }
      framer.push(pieces.at(-1)!);
      try {
        framer.next();
      } catch (error) {
        errors.push(error);
      }
    });
    const thrown = errors[0];
    assert.ok(thrown instanceof PorticoError, `${c.name}: throws a PorticoError`);
    assert.equal(thrown.code, c.code, c.name);
    assert.equal(thrown.layer, 'protocol');
    assert.equal(allocations, 0, `${c.name}: nothing allocated`);
    assert.equal(pool.stats.created, created, `${c.name}: no pooled buffer taken`);
    assert.equal(pool.outstanding, 0, `${c.name}: buffered bytes released on failure`);
    assert.equal(framer.error, thrown);
    assert.throws(() => framer.next(), (e) => e === thrown, `${c.name}: next() keeps failing`);
    assert.throws(() => framer.push(pool.acquireCopy(Buffer.alloc(4))), (e) => e === thrown, `${c.name}: push() keeps failing`);
    assert.equal(pool.outstanding, 0, `${c.name}: push() after failure still released its buffer`);
  }
});

test('maxFrame is inclusive: a frame of exactly maxFrame bytes passes, one more fails', () => {
  const pool = new BufferPool({ bufferSize: 256 });
  const exact = owFramer(100);
  assert.deepEqual(feed(exact, pool, owMessage(Buffer.alloc(76, 1)), [50, 50]), [owMessage(Buffer.alloc(76, 1))]);
  const over = owFramer(100);
  over.push(pool.acquireCopy(owMessage(Buffer.alloc(0), 77)));
  assert.throws(() => over.next(), { code: ErrorCodes.INPUT_TOO_LARGE });
  assert.equal(pool.outstanding, 0);
});

test('a length function may reject a header by throwing: a PorticoError keeps its code, anything else becomes BAD_FRAME', () => {
  const pool = new BufferPool({ bufferSize: 64 });
  const custom = new PorticoError(ErrorCodes.INVALID_STATE, 'protocol', 'unknown message type');
  const cases: [unknown, string][] = [
    [custom, ErrorCodes.INVALID_STATE],
    [new RangeError('bad version'), ErrorCodes.BAD_FRAME],
  ];
  for (const [thrown, code] of cases) {
    const framer = new LengthPrefixedFramer({
      headerSize: 2,
      bodyLength: () => {
        throw thrown;
      },
      maxFrame: 64,
    });
    framer.push(pool.acquireCopy(Buffer.alloc(2)));
    assert.throws(() => framer.next(), (e: unknown) => e instanceof PorticoError && e.code === code && (code !== ErrorCodes.BAD_FRAME || e.cause === thrown));
    assert.equal(pool.outstanding, 0);
  }
});

test('maxBuffered refuses a flood the reader does not take, before holding more than the limit', () => {
  const pool = new BufferPool({ bufferSize: 64 });
  const framer = owFramer(100, 200);
  const message = owMessage(latin1('0123456789'));
  let pushed = 0;
  assert.throws(() => {
    for (;;) {
      framer.push(pool.acquireCopy(message));
      pushed += message.length;
    }
  }, { code: ErrorCodes.INPUT_TOO_LARGE });
  assert.ok(pushed <= 200 && pushed + message.length > 200, `${pushed} bytes were accepted`);
  assert.equal(pool.outstanding, 0);
  assert.throws(() => framer.next(), { code: ErrorCodes.INPUT_TOO_LARGE });
});

test('nextSlice: frames the caller owns outlive later pushes and clear, and go back on release', () => {
  const pool = new BufferPool({ bufferSize: 64 });
  const framer = owFramer();
  const stream = Buffer.concat([owMessage(latin1('one')), owMessage(latin1('two'))]);
  const slices = [];
  for (const buffer of pooled(pool, stream, [20, 34])) {
    framer.push(buffer);
    for (let s = framer.nextSlice(); s !== null; s = framer.nextSlice()) slices.push(s);
  }
  framer.push(pool.acquireCopy(owMessage(latin1('three')).subarray(0, 10)));
  framer.clear();
  assert.deepEqual(slices.map((s) => s.bytes.subarray(OW_HEADER).toString()), ['one', 'two']);
  assert.deepEqual(slices.map((s) => s.zeroCopy), [false, true], 'the first spans two buffers, the second lies in one');
  assert.equal(pool.outstanding, 1, 'the zero-copy slice holds its buffer');
  for (const s of slices) s.release();
  assert.equal(pool.outstanding, 0);
});

test('framer options are checked', () => {
  const body = (): number => 0;
  const bad: [string, () => unknown][] = [
    ['headerSize 0', () => new LengthPrefixedFramer({ headerSize: 0, bodyLength: body, maxFrame: 10 })],
    ['headerSize > maxFrame', () => new LengthPrefixedFramer({ headerSize: 11, bodyLength: body, maxFrame: 10 })],
    ['maxFrame 0', () => new LengthPrefixedFramer({ headerSize: 1, bodyLength: body, maxFrame: 0 })],
    ['maxFrame -1', () => new LengthPrefixedFramer({ headerSize: 1, bodyLength: body, maxFrame: -1 })],
    ['maxBuffered < maxFrame', () => new LengthPrefixedFramer({ headerSize: 1, bodyLength: body, maxFrame: 10, maxBuffered: 9 })],
    ['empty delimiter', () => new DelimiterFramer({ delimiter: '', maxLine: 10 })],
    ['delimiter byte 256', () => new DelimiterFramer({ delimiter: 256, maxLine: 10 })],
    ['maxLine -1', () => new DelimiterFramer({ delimiter: 0, maxLine: -1 })],
    ['maxLine 1.5', () => new DelimiterFramer({ delimiter: 0, maxLine: 1.5 })],
    ['maxBuffered < maxLine + delimiter', () => new DelimiterFramer({ delimiter: '\r\n', maxLine: 10, maxBuffered: 11 })],
  ];
  for (const [name, make] of bad) assert.throws(make, { code: ErrorCodes.INVALID_ARGUMENT }, name);
});

// --- delimiter framer ------------------------------------------------------------------------------

const lineCases: readonly { name: string; stream: string; delimiter: string | number; keep?: boolean; lines: string[] }[] = [
  { name: 'CRLF (an HTTP head)', stream: 'GET / HTTP/1.1\r\nHost: a\r\n\r\nx\ry\r\n', delimiter: '\r\n', lines: ['GET / HTTP/1.1', 'Host: a', '', 'x\ry'] },
  { name: 'CRLF, kept', stream: 'ab\r\n\r\nc\r\n', delimiter: '\r\n', keep: true, lines: ['ab\r\n', '\r\n', 'c\r\n'] },
  { name: 'NUL', stream: 'owfs\0\0path/x\0', delimiter: 0, lines: ['owfs', '', 'path/x'] },
  { name: 'a 4-byte delimiter with near misses', stream: 'h\r\n\r\r\n\r\nb\r\n\r\n', delimiter: '\r\n\r\n', lines: ['h\r\n\r', 'b'] },
  { name: 'a partial line stays buffered', stream: 'one\ntwo', delimiter: '\n', lines: ['one'] },
];

test('delimiter: lines at every single cut and every pair of cuts, and in 1-byte buffers', () => {
  const pool = new BufferPool({ bufferSize: 64 });
  for (const c of lineCases) {
    const stream = latin1(c.stream);
    for (const sizes of layouts(stream.length)) {
      const framer = new DelimiterFramer({ delimiter: c.delimiter, maxLine: 32, keepDelimiter: c.keep ?? false });
      const lines = feed(framer, pool, stream, sizes).map((l) => l.toString('latin1'));
      assert.deepEqual(lines, c.lines, `${c.name}, buffers of ${sizes.join('+')}`);
      framer.clear();
      assert.equal(pool.outstanding, 0);
    }
  }
});

const maxLineCases: readonly { name: string; stream: string; delimiter: string | number; maxLine: number; failsAt: number | null; lines: string[] }[] = [
  { name: 'exactly maxLine', stream: 'abcdefgh\r\n', delimiter: '\r\n', maxLine: 8, failsAt: null, lines: ['abcdefgh'] },
  { name: 'maxLine + 1 fails once maxLine + 2 bytes are in', stream: 'abcdefghi\r\n', delimiter: '\r\n', maxLine: 8, failsAt: 10, lines: [] },
  { name: 'no delimiter at all', stream: 'abcdefghijklmnop', delimiter: '\r\n', maxLine: 8, failsAt: 10, lines: [] },
  { name: 'a CR at the limit, its LF late', stream: 'abcdefgh\r\nxy', delimiter: '\r\n', maxLine: 8, failsAt: null, lines: ['abcdefgh'] },
  { name: 'NUL, maxLine 0: only empty strings', stream: '\0\0a\0', delimiter: 0, maxLine: 0, failsAt: 3, lines: ['', ''] },
  { name: 'a long line after short ones', stream: 'ab\ncd\nefghijklm\n', delimiter: '\n', maxLine: 4, failsAt: 11, lines: ['ab', 'cd'] },
];

test('maxLine is checked while scanning: a line without a delimiter fails at maxLine + delimiter bytes, not later', () => {
  const pool = new BufferPool({ bufferSize: 64 });
  for (const c of maxLineCases) {
    const stream = latin1(c.stream);
    const framer = new DelimiterFramer({ delimiter: c.delimiter, maxLine: c.maxLine });
    const lines: string[] = [];
    let failedAt: number | null = null;
    for (let i = 0; i < stream.length && failedAt === null; i++) {
      framer.push(pool.acquireCopy(stream.subarray(i, i + 1)));
      try {
        for (let line = framer.next(); line !== null; line = framer.next()) lines.push(line.toString('latin1'));
      } catch (error) {
        assert.equal((error as PorticoError).code, ErrorCodes.INPUT_TOO_LARGE, c.name);
        failedAt = i + 1;
      }
    }
    assert.equal(failedAt, c.failsAt, `${c.name}: failed after ${failedAt} bytes`);
    assert.deepEqual(lines, c.lines, c.name);
    framer.clear();
    assert.equal(pool.outstanding, 0, c.name);
  }
  // All at once: the first next() fails; nothing waits for more input.
  const framer = new DelimiterFramer({ delimiter: '\r\n', maxLine: 8 });
  framer.push(pool.acquireCopy(Buffer.alloc(64, 0x61)));
  assert.throws(() => framer.next(), { code: ErrorCodes.INPUT_TOO_LARGE });
  assert.equal(pool.outstanding, 0);
});

test('a trickled line is scanned about once, not once per byte received', () => {
  const pool = new BufferPool({ bufferSize: 64 });
  const framer = new DelimiterFramer({ delimiter: '\r\n', maxLine: 4000 });
  const queue = framer.queue;
  const indexOf = queue.indexOf.bind(queue);
  let scanned = 0;
  queue.indexOf = (delimiter, from = 0, limit = queue.length) => {
    scanned += Math.min(limit, queue.length) - from;
    return indexOf(delimiter, from, limit);
  };
  const line = Buffer.concat([Buffer.alloc(3000, 0x61), latin1('\r\n')]);
  assert.deepEqual(feed(framer, pool, line, randomSizes(line.length, 1, Math.random)).map((l) => l.length), [3000]);
  assert.ok(scanned <= 3 * line.length, `${scanned} bytes scanned for a ${line.length}-byte line`);
  assert.equal(pool.outstanding, 0);
});

test('layers hand one queue on: an HTTP head cut by lines, then WebSocket frames from the bytes left after it', () => {
  const head = latin1('GET /chat HTTP/1.1\r\nUpgrade: websocket\r\n\r\n');
  const frames = [wsFrame(latin1('hi'), true), wsFrame(Buffer.alloc(200, 7), true)];
  const stream = Buffer.concat([head, ...frames]);
  const random = seeded(5);
  for (const plan of [[stream.length], randomSizes(stream.length, 5, random), randomSizes(stream.length, 1, random)]) {
    const pool = new BufferPool({ bufferSize: 512 });
    const queue = new ByteQueue({ maxBytes: 4096 });
    const lines = new DelimiterFramer({ delimiter: '\r\n', maxLine: 256, queue });
    const wsOnQueue = new LengthPrefixedFramer({ headerSize: 2, headerLength: wsHeaderLength, bodyLength: wsBodyLength, maxFrame: 1024, queue });
    let inHead = true;
    const gotLines: string[] = [];
    const gotFrames: Buffer[] = [];
    for (const buffer of pooled(pool, stream, plan)) {
      queue.append(buffer);
      while (inHead) {
        const line = lines.next();
        if (line === null) break;
        if (line.length === 0) inHead = false;
        else gotLines.push(line.toString('latin1'));
      }
      if (!inHead) for (let f = wsOnQueue.next(); f !== null; f = wsOnQueue.next()) gotFrames.push(Buffer.from(f));
    }
    assert.deepEqual(gotLines, ['GET /chat HTTP/1.1', 'Upgrade: websocket']);
    assert.deepEqual(gotFrames, frames);
    assert.equal(pool.outstanding, 0);
  }
});
