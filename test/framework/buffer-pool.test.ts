import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BufferPool, ErrorCodes } from '../../framework/index.js';

test('buffers are lent, returned and reused; accounting tracks outstanding and high water', () => {
  const pool = new BufferPool({ bufferSize: 32, maxPooled: 2 });
  const a = pool.acquire();
  const b = pool.acquire();
  const c = pool.acquire();
  assert.equal(a.capacity, 32);
  assert.equal(a.length, 0);
  assert.deepEqual({ ...pool.stats }, { outstanding: 3, highWater: 3, pooled: 0, created: 3, reused: 0 });
  a.release();
  b.release();
  c.release(); // beyond maxPooled: dropped for the GC
  assert.equal(pool.stats.pooled, 2);
  assert.equal(pool.outstanding, 0);
  const d = pool.acquire();
  assert.ok(d.bytes === b.bytes || d.bytes === a.bytes, 'pooled memory is reused');
  assert.ok(d !== a && d !== b, 'each loan is a new object');
  assert.equal(pool.stats.reused, 1);
  d.release();
});

test('retain adds an owner; the last release returns the buffer; a double release throws', () => {
  const pool = new BufferPool({ bufferSize: 8 });
  const buf = pool.acquireCopy(Buffer.from('abc'));
  assert.equal(buf.data.toString(), 'abc');
  buf.retain();
  assert.equal(buf.owners, 2);
  buf.release();
  assert.equal(pool.outstanding, 1);
  buf.release();
  assert.equal(pool.outstanding, 0);
  assert.throws(() => buf.release(), { code: ErrorCodes.BUFFER_RELEASED });
  assert.throws(() => buf.retain(), { code: ErrorCodes.BUFFER_RELEASED });
});

test('a stale release after the pool lent the memory out again throws and leaves the new owner alone', () => {
  const pool = new BufferPool({ bufferSize: 8, maxPooled: 1 });
  const first = pool.acquireCopy(Buffer.from('one'));
  first.release();
  const second = pool.acquireCopy(Buffer.from('two'));
  assert.equal(second.bytes, first.bytes, 'the same memory, lent again');
  assert.throws(() => first.release(), { code: ErrorCodes.BUFFER_RELEASED });
  assert.throws(() => first.retain(), { code: ErrorCodes.BUFFER_RELEASED });
  assert.equal(second.owners, 1);
  assert.equal(pool.outstanding, 1, 'the stale release returned nothing to the pool');
  assert.equal(second.data.toString(), 'two');
  second.release();
  assert.equal(pool.outstanding, 0);
});

test('bad sizes are refused before allocating', () => {
  assert.throws(() => new BufferPool({ bufferSize: 0 }), { code: ErrorCodes.INVALID_ARGUMENT });
  assert.throws(() => new BufferPool({ bufferSize: 2 ** 31 }), { code: ErrorCodes.INVALID_ARGUMENT });
  assert.throws(() => new BufferPool({ maxPooled: -1 }), { code: ErrorCodes.INVALID_ARGUMENT });
  const pool = new BufferPool({ bufferSize: 4 });
  assert.throws(() => pool.acquireCopy(Buffer.alloc(5)), { code: ErrorCodes.INVALID_ARGUMENT });
  assert.equal(pool.outstanding, 0);
});

test('disown: the memory never goes back to the free list; its unused tail is lent once by acquireFor (reads of 1/8 of it or more), never pooled', () => {
  const pool = new BufferPool({ bufferSize: 4096, maxPooled: 4 });
  const a = pool.acquire();
  a.bytes.fill(1, 0, 1000);
  a.length = 1000;
  a.disown();
  a.disown(); // once is enough: the same tail is not offered twice
  assert.equal(a.disowned, true);
  // The tail from the next 8-byte boundary on, lent for a read that fits it.
  const whole = pool.acquireFor(4096 - 1000 + 1);
  assert.notEqual(whole.bytes.buffer, a.bytes.buffer, 'too big for the tail: a whole buffer');
  whole.release();
  const small = pool.acquireFor(100);
  assert.notEqual(small.bytes.buffer, a.bytes.buffer, 'a read under an eighth of the tail gets pooled memory');
  small.release();
  const tail = pool.acquireFor(400);
  assert.equal(tail.bytes.buffer, a.bytes.buffer);
  assert.equal(tail.bytes.byteOffset, a.bytes.byteOffset + 1000);
  assert.equal(tail.capacity, 4096 - 1000);
  const other = pool.acquireFor(400);
  assert.notEqual(other.bytes.buffer, a.bytes.buffer, 'lent once');
  other.release();
  a.release();
  tail.release();
  assert.equal(pool.outstanding, 0);
  assert.equal(pool.stats.pooled, 1, 'only the whole buffer went back');
  assert.deepEqual(a.bytes.subarray(0, 1000), Buffer.alloc(1000, 1));
  for (let i = 0; i < 4; i++) assert.notEqual(pool.acquire().bytes.buffer, a.bytes.buffer);
  assert.equal(pool.outstanding, 4);
  // With another owner the tail is not offered (that owner may use it); a tail under 1 KiB neither.
  const b = pool.acquire().retain();
  b.length = 10;
  b.disown();
  assert.notEqual(pool.acquireFor(10).bytes.buffer, b.bytes.buffer);
  const c = pool.acquire();
  c.length = 4096 - 1000;
  c.disown();
  assert.notEqual(pool.acquireFor(10).bytes.buffer, c.bytes.buffer);
});
