/**
 * setTimerAt: a timer for an absolute time that never fires before it, where a plain setTimeout fires
 * up to ~1.5 ms early by performance.now() (the event loop's clock is cached, in whole ms).
 */
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import { setTimerAt } from '../../harness/flood/timer-at.js';

const now = (): number => performance.now();

test('setTimerAt never calls back before its time (fractional delays, armed mid-turn)', { timeout: 10_000 }, async () => {
  const wakes: { at: number; woke: number }[] = [];
  for (let i = 0; i < 150; i++) {
    // A little work first, so the timer is armed well after the loop turn took its cached time.
    const busyUntil = now() + 0.3;
    while (now() < busyUntil); // busy on purpose
    const at = now() + 0.37 + (i % 7) * 0.41;
    const woke = await new Promise<number>((resolve) => setTimerAt(at, now, () => resolve(now())));
    wakes.push({ at, woke });
  }
  const early = wakes.filter((w) => w.woke < w.at);
  assert.equal(early.length, 0, `${early.length} of ${wakes.length} woke early`);
  // Not a busy wait either: at most about a ms late, typically (a loaded machine can add more to a few).
  const late = wakes.map((w) => w.woke - w.at).sort((a, b) => a - b);
  assert.ok(late[Math.floor(late.length / 2)]! < 5, `median lateness ${late[Math.floor(late.length / 2)]} ms`);
});

test('setTimerAt calls back from a timer even when the time has passed, and cancel stops it', { timeout: 10_000 }, async () => {
  let called = 0;
  setTimerAt(now() - 10, now, () => called++);
  assert.equal(called, 0, 'not synchronously');
  await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal(called, 1);

  const cancelled = setTimerAt(now() + 3, now, () => called++);
  cancelled.cancel();
  cancelled.cancel();
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(called, 1, 'a cancelled timer does not call back');
});
