import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { ManualClock, TimerWheel } from '../../framework/index.js';

function wheel(tickMs = 100, slots = 8): { clock: ManualClock; w: TimerWheel } {
  const clock = new ManualClock(0);
  return { clock, w: new TimerWheel({ clock, tickMs, slots, autoTick: false }) };
}

test('a timer fires at or after its deadline, within one tick', () => {
  const { clock, w } = wheel();
  const fired: number[] = [];
  w.schedule(250, (now) => fired.push(now));
  for (let t = 0; t <= 400; t += 50) {
    clock.advance(t === 0 ? 0 : 50);
    w.advance();
  }
  assert.equal(fired.length, 1);
  assert.ok(fired[0]! >= 250 && fired[0]! <= 350, `fired at ${fired[0]}`);
  assert.equal(w.size, 0);
});

test('a timer re-armed from inside a callback fires on time, not a wheel turn later', () => {
  const { clock, w } = wheel(100, 512);
  const fired: number[] = [];
  clock.advance(130);
  // Re-arming mid-tick is what every idle re-check does after traffic.
  w.schedule(130, (now) => {
    fired.push(now);
    w.schedule(now + 250, (later) => fired.push(later));
  });
  for (let i = 0; i < 60; i++) {
    clock.advance(10);
    w.advance();
  }
  assert.equal(fired.length, 2);
  assert.ok(fired[1]! - fired[0]! >= 250 && fired[1]! - fired[0]! <= 350, `second fire ${fired[1]! - fired[0]!} ms after the first`);
});

test('deadlines beyond one turn of the wheel wait their rounds', () => {
  const { clock, w } = wheel(10, 4); // one turn = 40 ms
  const fired: number[] = [];
  w.schedule(95, (now) => fired.push(now));
  for (let i = 0; i < 20; i++) {
    clock.advance(10);
    w.advance();
  }
  assert.deepEqual(fired, [100]);
});

test('cancel prevents firing; order follows deadlines', () => {
  const { clock, w } = wheel(10, 64);
  const fired: string[] = [];
  const b = w.schedule(50, () => fired.push('b'));
  w.schedule(30, () => fired.push('a'));
  w.schedule(70, () => fired.push('c'));
  b.cancel();
  b.cancel(); // idempotent
  assert.equal(b.active, false);
  assert.equal(w.size, 2);
  for (let i = 0; i < 10; i++) {
    clock.advance(10);
    w.advance();
  }
  assert.deepEqual(fired, ['a', 'c']);
});

test('a long jump of the clock fires everything due, once', () => {
  const { clock, w } = wheel(10, 8);
  let count = 0;
  for (let d = 5; d <= 500; d += 5) w.schedule(d, () => count++);
  clock.advance(10_000);
  w.advance();
  assert.equal(count, 100);
  assert.equal(w.size, 0);
});

test('the real interval drives the wheel', async () => {
  const w = new TimerWheel({ tickMs: 10 });
  const keepAlive = setTimeout(() => {}, 5000); // the wheel's own interval is unref'd
  const started = performance.now();
  const firedAfter = await new Promise<number>((resolve) => w.schedule(performance.now() + 30, () => resolve(performance.now() - started)));
  clearTimeout(keepAlive);
  assert.ok(firedAfter >= 25 && firedAfter < 1000, `fired after ${firedAfter} ms`);
  assert.equal(w.size, 0);
});

test('a pending wheel timer does not keep the process alive', () => {
  const index = new URL('../../framework/index.js', import.meta.url).href;
  const script = `import { TimerWheel } from ${JSON.stringify(index)};
    new TimerWheel({ tickMs: 10 }).schedule(performance.now() + 60000, () => process.exit(3));`;
  const started = Date.now();
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { timeout: 10000 });
  assert.equal(result.status, 0, String(result.stderr));
  assert.ok(Date.now() - started < 5000);
});

test('an entry scheduled from a callback with a deadline already past fires on a later advance, once (issue 7 #3)', () => {
  const { clock, w } = wheel(100, 8);
  let fired = 0;
  const rearm = (now: number): void => {
    fired++;
    w.schedule(now - 500, rearm); // a deadline in the past, as idle re-armed from an old read did
  };
  w.schedule(100, rearm);
  clock.advance(150);
  assert.equal(w.advance(), 1, 'one advance fires the entry once, not again from the bucket it is iterating');
  assert.equal(fired, 1);
  clock.advance(100);
  assert.equal(w.advance(), 1, 'the re-armed entry fires on the next tick');
  assert.equal(fired, 2);
  assert.equal(w.advance(), 0, 'an advance with no tick passed fires nothing');
  assert.equal(fired, 2);
});

test('a throwing timer callback is counted and reported; the other timers still fire', () => {
  const errors: unknown[] = [];
  const clock = new ManualClock(0);
  const w = new TimerWheel({ clock, tickMs: 10, slots: 8, autoTick: false, onCallbackError: (e) => errors.push(e) });
  let fired = 0;
  w.schedule(10, () => {
    throw new Error('timer bug');
  });
  w.schedule(10, () => fired++);
  clock.advance(20);
  w.advance();
  assert.equal(fired, 1);
  assert.equal(w.errors, 1);
  assert.match(String(errors[0]), /timer bug/);
});
