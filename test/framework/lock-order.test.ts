import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { AsyncMutex, cycleNames, ErrorCodes, formatLockReport, LockOrderDetector, processLockOrderDetector } from '../../framework/index.js';

let unique = 0;
function classes(detector: LockOrderDetector, ...names: string[]): AsyncMutex[] {
  const run = ++unique;
  return names.map((n) => new AsyncMutex(`t${run}.${n}`, { detector }));
}

test('two classes taken in both orders by separate async chains: one inversion, with both stacks', async () => {
  const detector = new LockOrderDetector();
  const [a, b] = classes(detector, 'a', 'b');
  // Chain 1 takes a then b; later chain 2 takes b then a. The timing never deadlocks — the order does.
  await a!.withLock(async () => {
    await sleep(1);
    await b!.withLock(() => undefined);
  });
  await b!.withLock(async () => {
    await a!.withLock(() => undefined);
  });
  assert.equal(detector.reports.length, 1);
  const report = detector.reports[0]!;
  assert.equal(report.kind, 'inversion');
  assert.equal(report.singleTask, false);
  const names = cycleNames(report);
  assert.equal(names.length, 3);
  assert.equal(names[0], names[2]);
  assert.deepEqual(new Set(names), new Set([a!.lockClass.name, b!.lockClass.name]));
  const text = formatLockReport(report);
  assert.match(text, /lock-order inversion \(potential deadlock\)/);
  assert.equal(text.match(/first seen in task \d+:/g)?.length, 2);
  assert.match(text, /lock-order\.test\.js/, 'the stacks point at the acquisitions in this file');
  // Repeating the same orders reports nothing new.
  await b!.withLock(() => a!.withLock(() => undefined));
  assert.equal(detector.reports.length, 1);
});

test('a three-class cycle a → b → c → a is found through the graph', async () => {
  const detector = new LockOrderDetector();
  const [a, b, c] = classes(detector, 'a', 'b', 'c');
  await a!.withLock(() => b!.withLock(() => undefined));
  await b!.withLock(() => c!.withLock(() => undefined));
  assert.equal(detector.reports.length, 0, 'no cycle yet');
  await c!.withLock(() => a!.withLock(() => undefined));
  assert.equal(detector.reports.length, 1);
  assert.equal(detector.reports[0]!.cycle.length, 3);
  assert.equal(cycleNames(detector.reports[0]!).length, 4);
});

test('Promise.all forks inherit the parent\'s locks as ancestors, not as each other\'s', async () => {
  const detector = new LockOrderDetector();
  const [a, b, c] = classes(detector, 'a', 'b', 'c');
  const trace: string[] = [];
  await a!.withLock(() =>
    Promise.all([
      b!.withLock(async () => {
        trace.push('b in');
        await sleep(5);
        trace.push('b out');
      }),
      c!.withLock(async () => {
        trace.push('c in');
        await sleep(5);
        trace.push('c out');
      }),
    ]),
  );
  assert.deepEqual(trace.slice(0, 2).sort(), ['b in', 'c in'], 'siblings run concurrently: no false recursion or deadlock');
  assert.equal(detector.reports.length, 0);
  assert.equal(detector.edgeCount, 2, 'a → b and a → c');
  // Now an order that closes a cycle through one fork's edge.
  await c!.withLock(() => a!.withLock(() => undefined));
  assert.equal(detector.reports.length, 1);
  assert.deepEqual(new Set(cycleNames(detector.reports[0]!)), new Set([a!.lockClass.name, c!.lockClass.name]));
});

test('clean, consistent orders are never reported, and repeated chains are checked once', async () => {
  const detector = new LockOrderDetector();
  const [a, b, c] = classes(detector, 'a', 'b', 'c');
  for (let i = 0; i < 200; i++) {
    await a!.withLock(() => b!.withLock(() => c!.withLock(() => undefined)));
    await a!.withLock(() => c!.withLock(() => undefined));
    await b!.withLock(() => c!.withLock(() => undefined));
  }
  assert.equal(detector.reports.length, 0);
  assert.equal(detector.edgeCount, 3);
});

test('re-acquiring a held mutex is an error (PORTICO_ERR_LOCK_RECURSION), not a hang', async () => {
  const detector = new LockOrderDetector();
  const [a] = classes(detector, 'a');
  await assert.rejects(
    a!.withLock(() => a!.withLock(() => 'never')),
    { code: ErrorCodes.LOCK_RECURSION },
  );
  assert.equal(a!.isLocked, false);
  assert.equal(detector.reports[0]?.kind, 'recursive-acquire');
});

test('two instances of one class nested: reported as same class twice unless subclasses say the order', async () => {
  const detector = new LockOrderDetector();
  const name = `t${++unique}.node`;
  const first = new AsyncMutex(name, { detector });
  const second = new AsyncMutex(name, { detector });
  assert.equal(await first.withLock(() => second.withLock(() => 'proceeds')), 'proceeds');
  assert.equal(detector.reports.length, 1);
  assert.equal(detector.reports[0]!.kind, 'inversion');
  const clean = new LockOrderDetector();
  const parent = new AsyncMutex(name, { detector: clean, subclass: 1 });
  const child = new AsyncMutex(name, { detector: clean, subclass: 2 });
  await parent.withLock(() => child.withLock(() => undefined));
  assert.equal(clean.reports.length, 0);
});

test('an inversion inside one async chain is flagged single-task (LID\'s -skipSingleThread case)', async () => {
  const detector = new LockOrderDetector();
  const [outer, a, b] = classes(detector, 'outer', 'a', 'b');
  await outer!.withLock(async () => {
    await a!.withLock(() => b!.withLock(() => undefined));
    await b!.withLock(() => a!.withLock(() => undefined));
  });
  const inversion = detector.reports.find((r) => r.kind === 'inversion');
  assert.ok(inversion);
  assert.equal(inversion.singleTask, true);
});

test('live check: an acquisition that would wait forever is refused with PORTICO_ERR_DEADLOCK', async () => {
  const detector = new LockOrderDetector();
  const [a, b] = classes(detector, 'a', 'b');
  let bHeld!: () => void;
  const bIsHeld = new Promise<void>((r) => (bHeld = r));
  let aHeld!: () => void;
  const aIsHeld = new Promise<void>((r) => (aHeld = r));
  const chain1 = a!.withLock(async () => {
    aHeld();
    await bIsHeld;
    return b!.withLock(() => 'chain 1 got b'); // waits: chain 2 holds b
  });
  const chain2 = b!.withLock(async () => {
    bHeld();
    await aIsHeld;
    await sleep(5); // let chain 1 start waiting for b
    return a!.withLock(() => 'never'); // a is held by chain 1, which waits for b, which we hold
  });
  await assert.rejects(chain2, { code: ErrorCodes.DEADLOCK });
  assert.equal(await chain1, 'chain 1 got b', 'the refused side released b, so the other side finished');
  assert.ok(detector.reports.some((r) => r.kind === 'deadlock'));
  assert.ok(detector.reports.some((r) => r.kind === 'inversion'));
});

test('PORTICO_LOCKDEP=1 turns on the process detector: text on stderr, JSON lines in PORTICO_LOCKDEP_REPORT', () => {
  assert.equal(processLockOrderDetector(), null, 'off by default');
  const dir = mkdtempSync(join(tmpdir(), 'portico-lockdep-'));
  try {
    const report = join(dir, 'locks.jsonl');
    const index = new URL('../../framework/index.js', import.meta.url).href;
    const script = `import { AsyncMutex } from ${JSON.stringify(index)};
      const a = new AsyncMutex('proc.a'); const b = new AsyncMutex('proc.b');
      await a.withLock(() => b.withLock(() => {}));
      await b.withLock(() => a.withLock(() => {}));`;
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, PORTICO_LOCKDEP: '1', PORTICO_LOCKDEP_REPORT: report },
      timeout: 10_000,
      encoding: 'utf8',
    });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stderr, /portico lockdep: lock-order inversion/);
    const lines = readFileSync(report, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string; cycle: string[]; singleTask: boolean; text: string });
    assert.equal(lines.length, 2);
    // First the hello, written when the first mutex made the detector: proof someone was watching.
    assert.deepEqual(lines[0], { kind: 'hello', detector: 'portico AsyncMutex', pid: result.pid });
    assert.equal(lines[1]!.kind, 'inversion');
    assert.deepEqual(new Set(lines[1]!.cycle), new Set(['proc.a', 'proc.b']));
    assert.match(lines[1]!.text, /cycle: proc\.[ab] => proc\.[ab] => proc\.[ab]/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
