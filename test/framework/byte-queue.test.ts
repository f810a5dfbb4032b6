import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BufferPool, ByteQueue, ErrorCodes } from '../../framework/index.js';
import { layouts, pooled, randomSizes, seeded } from '../helpers/byte-chunks.js';

/** A queue holding `data` cut into buffers of `sizes`; coalescing off so the boundaries stay real. */
function queueOf(pool: BufferPool, data: Uint8Array, sizes: readonly number[], coalesce = false): ByteQueue {
  const queue = new ByteQueue({ maxBytes: 1 << 20, coalesce });
  for (const buffer of pooled(pool, data, sizes)) queue.append(buffer);
  return queue;
}

/** The first match starting at or after `from` and ending by `limit` (clamped), on one flat buffer. */
function referenceIndexOf(data: Buffer, delimiter: Uint8Array | number, from: number, limit: number): number {
  return data.subarray(0, Math.min(limit, data.length)).indexOf(delimiter, from);
}

const latin1 = (text: string): Buffer => Buffer.from(text, 'latin1');

test('peeks read the same values as Buffer at every offset, however the bytes are cut', () => {
  const pool = new BufferPool({ bufferSize: 16 });
  const data = Buffer.from([0x80, 0x01, 0xff, 0x7f, 0x00, 0xfe, 0x12, 0x34, 0xa5, 0x5a, 0xc3]);
  let checked = 0;
  for (const skipped of [0, 3]) {
    for (const sizes of layouts(data.length)) {
      const queue = queueOf(pool, data, sizes);
      queue.skip(skipped); // the first unread byte sits inside the first buffer
      const rest = data.subarray(skipped);
      assert.equal(queue.length, rest.length);
      for (let at = 0; at < rest.length; at++) {
        assert.equal(queue.peekUInt8(at), rest.readUInt8(at));
        if (at + 2 <= rest.length) {
          assert.equal(queue.peekUInt16BE(at), rest.readUInt16BE(at), `UInt16BE at ${at}, sizes ${sizes}`);
          assert.equal(queue.peekUInt16LE(at), rest.readUInt16LE(at));
        }
        if (at + 4 <= rest.length) {
          assert.equal(queue.peekUInt32BE(at), rest.readUInt32BE(at), `UInt32BE at ${at}, sizes ${sizes}`);
          assert.equal(queue.peekUInt32LE(at), rest.readUInt32LE(at));
          assert.equal(queue.peekInt32BE(at), rest.readInt32BE(at));
          assert.equal(queue.peekInt32LE(at), rest.readInt32LE(at));
        }
        for (let n = 0; at + n <= rest.length; n++) assert.deepEqual(queue.peek(at, n), rest.subarray(at, at + n));
        checked++;
      }
      assert.equal(queue.length, rest.length, 'peeks consume nothing');
      queue.clear();
    }
  }
  assert.ok(checked > 1000);
  assert.equal(pool.outstanding, 0);
});

test('readUInt16BE / readUInt32BE consume what peek would read, however the bytes are cut; too few bytes throw and consume nothing', () => {
  const pool = new BufferPool({ bufferSize: 16 });
  const data = Buffer.from([0x80, 0x01, 0xff, 0x7f, 0x00, 0xfe, 0x12, 0x34, 0xa5, 0x5a, 0xc3, 0x99]);
  // Every sequence of 2- and 4-byte reads that fits, at every cut of the data into buffers.
  const plans: (2 | 4)[][] = [[2, 2, 2, 2, 2, 2], [4, 4, 4], [2, 4, 2, 4], [4, 2, 4, 2], [2, 2, 4, 4], [4, 4, 2, 2], [2, 4, 4, 2]];
  let checked = 0;
  for (const skipped of [0, 1, 3]) {
    for (const sizes of layouts(data.length)) {
      for (const plan of plans) {
        const queue = queueOf(pool, data, sizes);
        queue.skip(skipped);
        let at = skipped;
        for (const size of plan) {
          if (at + size > data.length) {
            const before = queue.length;
            assert.throws(() => (size === 2 ? queue.readUInt16BE() : queue.readUInt32BE()), { code: ErrorCodes.INVALID_ARGUMENT });
            assert.equal(queue.length, before, 'a refused read consumes nothing');
            break;
          }
          const got = size === 2 ? queue.readUInt16BE() : queue.readUInt32BE();
          assert.equal(got, size === 2 ? data.readUInt16BE(at) : data.readUInt32BE(at), `${size} bytes at ${at}, sizes ${sizes}`);
          at += size;
          assert.equal(queue.length, data.length - at);
          assert.equal(queue.position, at);
          checked++;
        }
        if (queue.length > 0) assert.equal(queue.peekUInt8(0), data[at], 'the next byte is the one after the reads');
        queue.releaseConsumed();
        queue.clear();
      }
    }
  }
  assert.ok(checked > 1000);
  assert.equal(pool.outstanding, 0);
});

const indexOfCases: readonly { name: string; data: string; delimiter: string | number; from?: number; limit?: number; expected: number }[] = [
  { name: 'CRLF', data: 'ab\r\ncd', delimiter: '\r\n', expected: 2 },
  { name: 'a lone CR before CRLF', data: 'a\r\r\nb', delimiter: '\r\n', expected: 2 },
  { name: 'a partial match, then the match', data: 'aab\r\n\r\r\n\r\n', delimiter: '\r\n\r\n', expected: 6 },
  { name: 'the delimiter is all the data', data: 'abc', delimiter: 'abc', expected: 0 },
  { name: 'absent', data: 'abcdef', delimiter: '\r\n', expected: -1 },
  { name: 'longer than the data', data: 'ab', delimiter: 'abc', expected: -1 },
  { name: 'a NUL byte', data: 'ab\0c\0', delimiter: 0, expected: 2 },
  { name: 'from skips a match', data: 'a\r\nb\r\n', delimiter: '\r\n', from: 2, expected: 4 },
  { name: 'from at the end', data: 'a\r\n', delimiter: '\r\n', from: 3, expected: -1 },
  { name: 'limit cuts a match', data: 'ab\r\n', delimiter: '\r\n', limit: 3, expected: -1 },
  { name: 'limit right after a match', data: 'ab\r\nxx', delimiter: '\r\n', limit: 4, expected: 2 },
  { name: 'limit beyond the data is clamped', data: 'ab\r\n', delimiter: '\r\n', limit: 1000, expected: 2 },
  { name: 'limit equal to from', data: '\r\n', delimiter: '\r\n', from: 1, limit: 1, expected: -1 },
];

test('indexOf: table cases at every cut, delimiters split across buffers included', () => {
  const pool = new BufferPool({ bufferSize: 16 });
  for (const c of indexOfCases) {
    const data = latin1(c.data);
    const delimiter = typeof c.delimiter === 'string' ? latin1(c.delimiter) : c.delimiter;
    assert.equal(referenceIndexOf(data, delimiter, c.from ?? 0, c.limit ?? data.length), c.expected, `reference agrees on ${c.name}`);
    for (const sizes of layouts(data.length)) {
      const queue = queueOf(pool, data, sizes);
      assert.equal(queue.indexOf(delimiter, c.from, c.limit), c.expected, `${c.name}, buffers of ${sizes.join('+')}`);
      queue.clear();
    }
  }
  assert.equal(pool.outstanding, 0);
});

test('indexOf agrees with Buffer.indexOf on 3000 seeded random streams, cuts, offsets and limits', () => {
  const pool = new BufferPool({ bufferSize: 64 });
  const random = seeded(7);
  const alphabet = latin1('ab\r\n');
  const pick = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => alphabet[Math.floor(random() * alphabet.length)]!));
  for (let round = 0; round < 3000; round++) {
    const whole = pick(1 + Math.floor(random() * 40));
    const delimiter = random() < 0.2 ? alphabet[Math.floor(random() * 4)]! : pick(1 + Math.floor(random() * 4));
    const queue = queueOf(pool, whole, randomSizes(whole.length, 1 + Math.floor(random() * 6), random));
    const skipped = Math.floor(random() * whole.length);
    queue.skip(skipped);
    const data = whole.subarray(skipped);
    const from = Math.floor(random() * (data.length + 1));
    const limit = from + Math.floor(random() * (data.length + 3 - from));
    const expected = referenceIndexOf(data, delimiter, from, limit);
    assert.equal(queue.indexOf(delimiter, from, limit), expected, `round ${round}: ${JSON.stringify(data.toString('latin1'))} find ${JSON.stringify(delimiter)} in [${from}, ${limit})`);
    queue.clear();
  }
  assert.equal(pool.outstanding, 0);
});

test('read returns a view when the bytes lie in one buffer, one copy across buffers; buffers go back on releaseConsumed', () => {
  const pool = new BufferPool({ bufferSize: 16 });
  const queue = new ByteQueue({ maxBytes: 64, coalesce: false });
  const [hello, world] = pooled(pool, latin1('helloworld!'), [5, 6]);
  queue.append(hello!);
  queue.append(world!);
  const hel = queue.read(3);
  assert.equal(hel.toString(), 'hel');
  assert.equal(hel.buffer, hello!.bytes.buffer, 'zero copy: same memory as the pooled buffer');
  const spanning = queue.read(4);
  assert.equal(spanning.toString(), 'lowo');
  assert.notEqual(spanning.buffer, hello!.bytes.buffer);
  assert.notEqual(spanning.buffer, world!.bytes.buffer);
  assert.equal(queue.peek(0, 4).toString(), 'rld!');
  assert.equal(queue.peek(0, 4).buffer, world!.bytes.buffer);
  assert.equal(queue.position, 7);
  assert.equal(pool.outstanding, 2, 'reading releases nothing, so views stay valid');
  queue.releaseConsumed();
  assert.equal(pool.outstanding, 1, 'the read-through buffer went back');
  assert.equal(hello!.owners, 0);
  assert.equal(queue.read(4).toString(), 'rld!');
  assert.equal(queue.length, 0);
  queue.releaseConsumed();
  assert.equal(pool.outstanding, 0);
  assert.equal(queue.bufferCount, 0);
  assert.equal(queue.read(0).length, 0);
});

test('a view stays valid until the next append: until then the pool cannot hand its memory out again', () => {
  const pool = new BufferPool({ bufferSize: 8, maxPooled: 8 });
  const queue = new ByteQueue({ maxBytes: 64, coalesce: false });
  for (const b of pooled(pool, latin1('abcdefgh12345678'), [8, 8])) queue.append(b);
  const first = queue.read(8);
  const second = queue.read(8);
  const other = pool.acquire(); // a connection posting its next read
  other.bytes.fill(0x58);
  assert.equal(first.toString() + second.toString(), 'abcdefgh12345678');
  other.length = 1;
  queue.append(other); // releases the two read-through buffers
  const reused = pool.acquire();
  assert.ok(reused.bytes.buffer === first.buffer || reused.bytes.buffer === second.buffer, 'after append the memory is the pool\'s again');
  reused.release();
  queue.clear();
  assert.equal(pool.outstanding, 0);
});

test('every length and offset is checked: negative, fractional, NaN or beyond the data throw INVALID_ARGUMENT and change nothing', () => {
  const pool = new BufferPool({ bufferSize: 8 });
  const queue = queueOf(pool, latin1('abcd'), [2, 2]);
  const calls: [string, () => unknown][] = [
    ['read(-1)', () => queue.read(-1)],
    ['read(5)', () => queue.read(5)],
    ['read(1.5)', () => queue.read(1.5)],
    ['read(NaN)', () => queue.read(Number.NaN)],
    ['read(Infinity)', () => queue.read(Number.POSITIVE_INFINITY)],
    ['readSlice(5)', () => queue.readSlice(5)],
    ['skip(-1)', () => queue.skip(-1)],
    ['skip(5)', () => queue.skip(5)],
    ['peekUInt8(4)', () => queue.peekUInt8(4)],
    ['peekUInt8(-1)', () => queue.peekUInt8(-1)],
    ['peekUInt16BE(3)', () => queue.peekUInt16BE(3)],
    ['peekUInt16LE(3)', () => queue.peekUInt16LE(3)],
    ['peekUInt32BE(1)', () => queue.peekUInt32BE(1)],
    ['peekUInt32LE(1)', () => queue.peekUInt32LE(1)],
    ['peekInt32BE(0.5)', () => queue.peekInt32BE(0.5)],
    ['peek(2, 3)', () => queue.peek(2, 3)],
    ['peek(-1, 1)', () => queue.peek(-1, 1)],
    ['peek(0, -1)', () => queue.peek(0, -1)],
    ['indexOf from -1', () => queue.indexOf(0x61, -1)],
    ['indexOf from 5', () => queue.indexOf(0x61, 5)],
    ['indexOf limit < from', () => queue.indexOf(0x61, 2, 1)],
    ['indexOf empty delimiter', () => queue.indexOf(new Uint8Array(0))],
    ['indexOf byte 256', () => queue.indexOf(256)],
    ['indexOf byte -1', () => queue.indexOf(-1)],
    ['maxBytes 0', () => new ByteQueue({ maxBytes: 0 })],
    ['maxBytes -1', () => new ByteQueue({ maxBytes: -1 })],
    ['maxBytes NaN', () => new ByteQueue({ maxBytes: Number.NaN })],
  ];
  for (const [name, call] of calls) assert.throws(call, { code: ErrorCodes.INVALID_ARGUMENT }, name);
  assert.equal(queue.length, 4);
  assert.equal(queue.read(4).toString(), 'abcd');
  queue.clear();
  assert.equal(pool.outstanding, 0);
});

test('append beyond maxBytes is refused with INPUT_TOO_LARGE, and the refused buffer is released', () => {
  const pool = new BufferPool({ bufferSize: 8 });
  const queue = new ByteQueue({ maxBytes: 10 });
  queue.append(pool.acquireCopy(latin1('123456')));
  assert.throws(() => queue.append(pool.acquireCopy(latin1('78901'))), { code: ErrorCodes.INPUT_TOO_LARGE, layer: 'protocol' });
  assert.equal(pool.outstanding, 1, 'the refused buffer went back to the pool');
  assert.equal(queue.length, 6);
  queue.append(pool.acquireCopy(latin1('7890'))); // exactly maxBytes
  assert.equal(queue.read(10).toString(), '1234567890');
  queue.clear();
  assert.equal(pool.outstanding, 0);
});

test('ownership: each buffer is released once; a buffer appended twice or already released is refused', () => {
  const pool = new BufferPool({ bufferSize: 8 });
  const queue = new ByteQueue({ maxBytes: 64, coalesce: false });
  const a = pool.acquireCopy(latin1('abc'));
  queue.append(a);
  assert.throws(() => queue.append(a), { code: ErrorCodes.INVALID_ARGUMENT });
  assert.equal(a.owners, 1, 'still owned once, by the queue');
  const gone = pool.acquireCopy(latin1('x'));
  gone.release();
  assert.throws(() => queue.append(gone), { code: ErrorCodes.BUFFER_RELEASED });
  const empty = pool.acquire();
  queue.append(empty);
  assert.equal(empty.owners, 0, 'a zero-length buffer is released at once');
  assert.equal(queue.bufferCount, 1);
  const b = pool.acquireCopy(latin1('def'));
  queue.append(b);
  queue.read(6);
  queue.releaseConsumed();
  queue.releaseConsumed();
  queue.clear();
  assert.equal(pool.outstanding, 0);
  assert.deepEqual([a.owners, b.owners], [0, 0]);
});

test('a buffer released behind the queue\'s back is reported, and the other buffers still go back', () => {
  const pool = new BufferPool({ bufferSize: 8 });
  const queue = new ByteQueue({ maxBytes: 64, coalesce: false });
  const [a, b, c] = pooled(pool, latin1('aabbcc'), [2, 2, 2]);
  for (const x of [a!, b!, c!]) queue.append(x);
  b!.release(); // a handler bug: it gave the buffer away, then released it
  assert.throws(() => queue.clear(), { code: ErrorCodes.BUFFER_RELEASED });
  assert.equal(pool.outstanding, 0);
  assert.equal(queue.length, 0);
});

test('readSlice: a view that holds its own ownership (outlives clear), or a copy; released exactly once', () => {
  const pool = new BufferPool({ bufferSize: 8 });
  const queue = new ByteQueue({ maxBytes: 64, coalesce: false });
  for (const b of pooled(pool, latin1('abcdefgh'), [4, 4])) queue.append(b);
  const inOne = queue.readSlice(3);
  const across = queue.readSlice(3);
  assert.equal(inOne.zeroCopy, true);
  assert.equal(across.zeroCopy, false);
  queue.clear();
  assert.equal(pool.outstanding, 1, 'the zero-copy slice keeps its buffer');
  assert.equal(inOne.bytes.toString(), 'abc');
  assert.equal(across.bytes.toString(), 'def');
  inOne.release();
  across.release();
  assert.equal(pool.outstanding, 0);
  assert.throws(() => inOne.release(), { code: ErrorCodes.BUFFER_RELEASED });
  assert.throws(() => across.release(), { code: ErrorCodes.BUFFER_RELEASED });
  assert.equal(queue.readSlice(0).bytes.length, 0);
});

test('coalescing: a trickle of 1-byte reads pins a few buffers, not one per byte; off, it keeps every buffer', () => {
  const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => i & 0xff));
  const results: Record<string, number> = {};
  for (const coalesce of [true, false]) {
    const pool = new BufferPool({ bufferSize: 64 });
    const queue = new ByteQueue({ maxBytes: 4096, coalesce });
    for (const b of pooled(pool, data, randomSizes(data.length, 1, Math.random))) queue.append(b);
    results[String(coalesce)] = queue.bufferCount;
    assert.equal(pool.outstanding, queue.bufferCount);
    assert.deepEqual(queue.read(1000), data);
    queue.clear();
    assert.equal(pool.outstanding, 0);
  }
  assert.deepEqual(results, { true: 16, false: 1000 });
});

test('coalescing keeps the memory bound (held capacity <= 4 x unread + 2 buffers) under random traffic, and never writes into a shared buffer', () => {
  const pool = new BufferPool({ bufferSize: 64 });
  const queue = new ByteQueue({ maxBytes: 1 << 16 });
  const random = seeded(11);
  const expected: number[] = [];
  let next = 0;
  for (let round = 0; round < 5000; round++) {
    const n = random() < 0.7 ? 1 + Math.floor(random() * 8) : 1 + Math.floor(random() * 64);
    const chunk = Buffer.from(Array.from({ length: n }, () => next++ & 0xff));
    queue.append(pool.acquireCopy(chunk));
    expected.push(...chunk);
    assert.ok(queue.bufferCount * 64 <= 4 * queue.length + 2 * 64, `round ${round}: ${queue.bufferCount} buffers for ${queue.length} bytes`);
    if (random() < 0.3) {
      const take = Math.floor(random() * queue.length);
      assert.deepEqual([...queue.read(take)], expected.splice(0, take));
    }
  }
  // A slice shares the tail buffer: the next small append must not be copied into it.
  queue.clear();
  queue.append(pool.acquireCopy(latin1('ab')));
  const slice = queue.readSlice(1);
  queue.append(pool.acquireCopy(latin1('c')));
  assert.equal(queue.bufferCount, 2);
  assert.equal(queue.read(2).toString(), 'bc');
  slice.release();
  queue.clear();
  assert.equal(pool.outstanding, 0);
});

test('clear drops unread bytes (counted as consumed) and the queue stays usable', () => {
  const pool = new BufferPool({ bufferSize: 8 });
  const queue = new ByteQueue({ maxBytes: 64 });
  queue.append(pool.acquireCopy(latin1('abcdef')));
  queue.skip(2);
  queue.clear();
  assert.equal(queue.position, 6);
  assert.equal(queue.length, 0);
  assert.equal(pool.outstanding, 0);
  queue.append(pool.acquireCopy(latin1('xy')));
  assert.equal(queue.peekUInt16BE(0), 0x7879);
  queue.clear();
  assert.equal(pool.outstanding, 0);
});

test('readContiguous: a view of at most the first buffer\'s unread bytes, never a copy, consumed in order', () => {
  const pool = new BufferPool({ bufferSize: 32 });
  const data = Buffer.from(Array.from({ length: 23 }, (_, i) => i));
  for (const sizes of layouts(data.length, false)) {
    for (const max of [1, 2, 5, 16, 1000]) {
      const queue = new ByteQueue({ maxBytes: 1 << 20, coalesce: false });
      const held = pooled(pool, data, sizes);
      for (const buffer of held) queue.append(buffer);
      const memories = new Set(held.map((b) => b.bytes.buffer));
      const boundaries = new Set(sizes.map((_, i) => sizes.slice(0, i + 1).reduce((a, b) => a + b, 0)));
      const got: Buffer[] = [];
      let at = 0;
      while (queue.length > 0) {
        const piece = queue.readContiguous(max);
        assert.ok(piece.length >= 1 && piece.length <= max, `piece of ${piece.length} with max ${max}`);
        // A piece never crosses a buffer boundary: it ends at one, or because max ran out.
        assert.ok(boundaries.has(at + piece.length) || piece.length === max, `piece [${at}, ${at + piece.length}) crosses a boundary of ${sizes}`);
        for (const b of boundaries) assert.ok(!(b > at && b < at + piece.length), `piece [${at}, ${at + piece.length}) spans boundary ${b}`);
        assert.ok(memories.has(piece.buffer), 'a view of a pooled buffer, not a copy');
        got.push(Buffer.from(piece));
        at += piece.length;
        assert.equal(queue.position, at);
      }
      assert.deepEqual(Buffer.concat(got), data);
      assert.equal(queue.readContiguous(4).length, 0);
      assert.equal(queue.readContiguous(0).length, 0);
      queue.clear();
    }
  }
  assert.equal(pool.outstanding, 0);
  const queue = queueOf(pool, data, [23]);
  assert.throws(() => queue.readContiguous(-1), { code: ErrorCodes.INVALID_ARGUMENT });
  assert.throws(() => queue.readContiguous(1.5), { code: ErrorCodes.INVALID_ARGUMENT });
  queue.clear();
});
