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
