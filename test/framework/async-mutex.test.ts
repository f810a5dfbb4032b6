import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { AsyncMutex, ErrorCodes } from '../../framework/index.js';

test('waiters get the lock in FIFO order and critical sections never overlap', async () => {
  const m = new AsyncMutex('test.fifo', { detector: null });
  const order: number[] = [];
  let inside = 0;
  let maxInside = 0;
  await Promise.all(
    [0, 1, 2, 3, 4].map((i) =>
      m.withLock(async () => {
        inside++;
        maxInside = Math.max(maxInside, inside);
        order.push(i);
        await sleep(5);
        inside--;
      }),
    ),
  );
  assert.deepEqual(order, [0, 1, 2, 3, 4]);
  assert.equal(maxInside, 1);
  assert.equal(m.isLocked, false);
});

test('a throwing critical section releases the lock and rethrows', async () => {
  const m = new AsyncMutex('test.throw', { detector: null });
  await assert.rejects(
    m.withLock(() => {
      throw new Error('inside');
    }),
    /inside/,
  );
  assert.equal(m.isLocked, false);
  assert.equal(await m.withLock(() => 42), 42);
});

test('timeout: a waiter gives up with PORTICO_ERR_LOCK_TIMEOUT and is skipped on release', async () => {
  const m = new AsyncMutex('test.timeout', { detector: null });
  let release!: () => void;
  const holder = m.withLock(() => new Promise<void>((r) => (release = r)));
  const started = Date.now();
  await assert.rejects(m.withLock(() => 'never', { timeoutMs: 50 }), { code: ErrorCodes.LOCK_TIMEOUT });
  // Timers count from the loop's cached clock, which may be behind Date.now() when this test began.
  assert.ok(Date.now() - started >= 30, `gave up after ${Date.now() - started} ms`);
  const next = m.withLock(() => 'next');
  release();
  await holder;
  assert.equal(await next, 'next');
  assert.equal(m.waiting, 0);
});

test('abort: a waiter gives up with PORTICO_ERR_LOCK_ABORTED; an aborted signal fails at once', async () => {
  const m = new AsyncMutex('test.abort', { detector: null });
  let release!: () => void;
  const holder = m.withLock(() => new Promise<void>((r) => (release = r)));
  const controller = new AbortController();
  const waiting = m.withLock(() => 'never', { signal: controller.signal });
  controller.abort(new Error('shutting down'));
  await assert.rejects(waiting, { code: ErrorCodes.LOCK_ABORTED });
  await assert.rejects(m.withLock(() => 'never', { signal: AbortSignal.abort() }), { code: ErrorCodes.LOCK_ABORTED });
  release();
  await holder;
  assert.equal(m.isLocked, false);
});
