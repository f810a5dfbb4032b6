import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  BufferPool,
  type CompletionTarget,
  CompletionDispatcher,
  idleDispatchState,
  ErrorCodes,
  ManualClock,
  type CloseReason,
  PorticoError,
} from '../../framework/index.js';
import { memoryConnection, until } from '../helpers/memory-connection.js';

function target(name: string, failures: PorticoError[] = []): CompletionTarget & { name: string } {
  return { name, ...idleDispatchState(), completionFailed: (e) => failures.push(e) };
}

test('a completion at depth 0 runs inline, synchronously', () => {
  const d = new CompletionDispatcher();
  const seen: number[] = [];
  d.complete(target('t'), (n: number) => seen.push(n), 1);
  assert.deepEqual(seen, [1]);
  assert.equal(d.stats.inline, 1);
  assert.equal(d.stats.queued, 0);
  assert.equal(d.stats.maxDepth, 1);
});

test('nesting beyond maxInlineDepth queues, and the outermost frame drains it', () => {
  const d = new CompletionDispatcher({ maxInlineDepth: 3 });
  const t = target('t');
  const order: string[] = [];
  const nest = (level: number): void => {
    order.push(`enter ${level}`);
    if (level < 6) d.complete(t, nest, level + 1);
    order.push(`leave ${level}`);
  };
  d.complete(t, nest, 1);
  // Levels 1-3 inline (depth 1..3); level 4 queued at depth 3, drained once level 1 returned.
  assert.deepEqual(order.slice(0, 6), ['enter 1', 'enter 2', 'enter 3', 'leave 3', 'leave 2', 'leave 1']);
  assert.deepEqual(order.slice(6), ['enter 4', 'enter 5', 'enter 6', 'leave 6', 'leave 5', 'leave 4']);
  assert.equal(d.stats.maxDepth, 3);
  assert.equal(d.stats.queued, 1);
});

test('per-target order holds: a new completion queues behind that target\'s queued ones', () => {
  const d = new CompletionDispatcher({ maxInlineDepth: 2 });
  const x = target('x');
  const y = target('y');
  const t = target('t');
  const order: string[] = [];
  d.complete(
    x,
    () => {
      d.complete(
        y,
        () => {
          d.complete(t, (s: string) => order.push(s), 'first'); // depth 2: queued
          d.complete(t, (s: string) => order.push(s), 'second'); // queued
        },
        undefined,
      );
      // depth 1 would allow inline, but t has queued work: must not overtake it.
      d.complete(t, (s: string) => order.push(s), 'third');
      order.push('x done');
    },
    undefined,
  );
  assert.deepEqual(order, ['x done', 'first', 'second', 'third']);
});

test('maxInlineDepth 0 queues everything and drains on the next turn (Holgate 6.6 mode)', async () => {
  const d = new CompletionDispatcher({ maxInlineDepth: 0 });
  const seen: number[] = [];
  d.complete(target('t'), (n: number) => seen.push(n), 1);
  assert.deepEqual(seen, []);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(seen, [1]);
  assert.equal(d.stats.inline, 0);
  assert.equal(d.stats.queued, 1);
});

test('a throwing completion fails only its own target; the caller never sees the exception', () => {
  const d = new CompletionDispatcher();
  const failuresA: PorticoError[] = [];
  const a = target('a', failuresA);
  const b = target('b');
  let bRan = false;
  assert.doesNotThrow(() =>
    d.complete(
      a,
      () => {
        throw new Error('boom');
      },
      undefined,
    ),
  );
  d.complete(b, () => (bRan = true), undefined);
  assert.equal(failuresA.length, 1);
  assert.equal(failuresA[0]!.code, ErrorCodes.CALLBACK_THREW);
  assert.match(failuresA[0]!.message, /boom/);
  assert.equal(bRan, true);
  assert.equal(d.stats.errors, 1);
});

test('options are validated', () => {
  assert.throws(() => new CompletionDispatcher({ maxInlineDepth: -1 }), { code: ErrorCodes.INVALID_ARGUMENT });
  assert.throws(() => new CompletionDispatcher({ maxCompletionsPerTurn: 0 }), { code: ErrorCodes.INVALID_ARGUMENT });
  assert.throws(() => new CompletionDispatcher({ turnBudgetMs: 1.5 }), { code: ErrorCodes.INVALID_ARGUMENT });
});

test('1,000,000 chained immediately-completing reads on one memory connection: no RangeError, depth <= limit', async () => {
  const d = new CompletionDispatcher();
  const total = 1_000_000;
  const chunk = Uint8Array.of(42);
  let produced = 0;
  let completed = 0;
  let bytes = 0;
  let closed: CloseReason | null = null;
  const { conn, transport, pool } = memoryConnection(
    {
      onConnectionEstablished: (c) => c.read(),
      onReadCompleted: (c, buf) => {
        completed++;
        bytes += buf.length;
        buf.release();
        c.read();
      },
      onClientClose: (c) => c.close(),
      onConnectionClosed: (_c, reason) => (closed = reason),
    },
    { dispatcher: d, pool: new BufferPool({ bufferSize: 16 }), inlineReads: true },
  );
  transport.setSource(() => (produced++ < total ? chunk : null));
  transport.pushEnd();
  conn.start();
  await until(() => closed !== null, 60_000, 'all reads to complete');
  assert.equal(completed, total);
  assert.equal(bytes, total);
  assert.ok(d.stats.maxDepth <= d.options.maxInlineDepth, `max depth ${d.stats.maxDepth}`);
  assert.ok(d.stats.queued > 0, 'the chain must have been cut into queued completions');
  assert.ok(d.stats.yields > 0, 'the drain must have yielded to the event loop');
  assert.equal(pool.outstanding, 0, 'every buffer returned to the pool');
  assert.deepEqual(closed, { kind: 'peer-close' });
});

test('a flooding connection cannot starve another: bounded by the per-turn budget, in completions', async () => {
  const d = new CompletionDispatcher({ maxCompletionsPerTurn: 256, maxPerTargetPerTurn: 16, maxInlineDepth: 8 });
  const chunk = Uint8Array.of(1);
  let floodCount = 0;
  let floodProduced = 0;
  let atVictimArrival = -1;
  let atVictimCompletion = -1;
  const flood = memoryConnection(
    {
      onConnectionEstablished: (c) => c.read(),
      onReadCompleted: (c, buf) => {
        buf.release();
        floodCount++;
        if (floodCount === 5000) {
          // Another connection's bytes arrive from the event loop while the flood is in full swing.
          setImmediate(() => {
            atVictimArrival = floodCount;
            victim.transport.push(Uint8Array.of(7));
          });
        }
        c.read();
      },
    },
    { dispatcher: d, inlineReads: true },
  );
  const victim = memoryConnection(
    {
      onConnectionEstablished: (c) => c.read(),
      onReadCompleted: (_c, buf) => {
        buf.release();
        atVictimCompletion = floodCount;
      },
    },
    { dispatcher: d, pool: flood.pool, inlineReads: true },
  );
  flood.transport.setSource(() => (floodProduced++ < 200_000 ? chunk : null));
  victim.conn.start();
  flood.conn.start();
  await until(() => atVictimCompletion >= 0, 20_000, 'victim completion');
  // The victim's bytes arrived in their own macrotask and completed at once...
  assert.equal(atVictimCompletion, atVictimArrival);
  // ...and that macrotask ran after at most one drain turn of the flood since it was scheduled.
  const bound = d.options.maxCompletionsPerTurn + d.options.maxPerTargetPerTurn * d.options.maxInlineDepth;
  assert.ok(atVictimArrival - 5000 <= bound, `flood ran ${atVictimArrival - 5000} completions before the victim's turn (bound ${bound})`);
  assert.ok(d.stats.yields > 0);
  await until(() => floodCount === 200_000, 30_000, 'flood to finish');
});

test('the time budget ends a drain turn even when the count budget is not reached', async () => {
  const clock = new ManualClock();
  const d = new CompletionDispatcher({ maxInlineDepth: 0, maxCompletionsPerTurn: 1_000_000, turnBudgetMs: 4, clock });
  const t = target('t');
  let ran = 0;
  for (let i = 0; i < 100; i++) {
    d.complete(
      t,
      () => {
        ran++;
        clock.advance(1); // each completion "takes" 1 ms
      },
      undefined,
    );
  }
  await new Promise((r) => setImmediate(r));
  // The turn checks time after each target visit (up to maxPerTargetPerTurn = 16 completions).
  assert.ok(ran >= 4 && ran <= 16, `first turn ran ${ran}`);
  await until(() => ran === 100, 5000, 'all completions');
  assert.ok(d.stats.yields >= 5, `yields ${d.stats.yields}`);
});

test('round robin: queued targets share a drain turn', async () => {
  const d = new CompletionDispatcher({ maxInlineDepth: 0, maxPerTargetPerTurn: 2, maxCompletionsPerTurn: 1000 });
  const order: string[] = [];
  const a = target('a');
  const b = target('b');
  for (let i = 0; i < 4; i++) d.complete(a, (s: string) => order.push(s), `a${i}`);
  for (let i = 0; i < 4; i++) d.complete(b, (s: string) => order.push(s), `b${i}`);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(order, ['a0', 'a1', 'b0', 'b1', 'a2', 'a3', 'b2', 'b3']);
});

test('the budget is per event-loop turn: 50 I/O completions in one macrotask do not each get a drain budget (issue 7 #7)', async () => {
  const d = new CompletionDispatcher({ maxCompletionsPerTurn: 256, maxPerTargetPerTurn: 16, maxInlineDepth: 8 });
  const busy = target('busy');
  let busyRan = 0;
  let stop = false;
  const spin = (): void => {
    busyRan++;
    if (!stop) d.complete(busy, spin, undefined); // always more work: one connection that never lets up
  };
  d.complete(busy, spin, undefined);
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setTimeout(r, 5));
  // One macrotask in which 50 other connections' reads complete, as one poll phase delivers them.
  const counts = await new Promise<{ before: number; after: number; others: number }>((resolve) =>
    setTimeout(() => {
      const before = busyRan;
      let others = 0;
      for (let i = 0; i < 50; i++) d.complete(target(`io${i}`), () => others++, undefined);
      resolve({ before, after: busyRan, others });
    }, 0),
  );
  stop = true;
  assert.equal(counts.others, 50, 'the I/O completions themselves ran at once');
  const ran = counts.after - counts.before;
  const bound = d.options.maxCompletionsPerTurn + d.options.maxPerTargetPerTurn * d.options.maxInlineDepth;
  assert.ok(ran <= bound, `the busy connection ran ${ran} completions in that one macrotask (bound ${bound}; 50 drain budgets would be ${50 * 256})`);
  await until(() => d.queuedNow === 0, 5000, 'busy chain to stop');
});
