/**
 * The harness end to end, as a child process over real sockets on 127.0.0.1, against servers that
 * are not the shipped examples: a plain node:net echo (not portico, no SIGTERM handler) and a portico
 * server with switchable faults. Each fault must fail exactly the check meant to catch it, and the
 * same server without faults must pass. Loads are small: a few dozen connections per run.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { readLockFindings } from '../../harness/lock-report-reader.js';
import type { CheckResult, RunReport } from '../../harness/types.js';
import { type RunResult, repoRoot, runToExit } from '../helpers/spawn-server.js';

const harness = join(repoRoot, 'dist/harness/main.js');
const plainEcho = 'node test/fixtures/plain-echo.mjs';
const broken = 'node dist/test/fixtures/broken-server.js';
const small = ['--connections', '30', '--concurrency', '5', '--messages', '3', '--size', '64', '--quiet'];
const T = { timeout: 60_000 };

interface HarnessRun extends RunResult {
  readonly report: RunReport | null;
  readonly elapsedMs: number;
}

async function runHarness(t: TestContext, args: readonly string[], timeoutMs = 40_000): Promise<HarnessRun> {
  const dir = await mkdtemp(join(tmpdir(), 'portico-harness-test-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const started = performance.now();
  const result = await runToExit(process.execPath, [harness, 'run', ...args, '--report', dir], { timeoutMs, t });
  const elapsedMs = performance.now() - started;
  let report: RunReport | null = null;
  try {
    report = JSON.parse(await readFile(join(dir, 'report.json'), 'utf8')) as RunReport;
  } catch {
    // No report: asserted by the tests that expect one.
  }
  return { ...result, report, elapsedMs };
}

function checkOf(report: RunReport | null, name: string): CheckResult {
  assert.ok(report !== null, 'report.json was written');
  const found = report.checks.find((c) => c.name === name);
  assert.ok(found !== undefined, `check "${name}" in ${report.checks.map((c) => c.name).join(', ')}`);
  return found;
}

/** Exactly these checks failed, all others passed. */
function assertFailedChecks(run: HarnessRun, expected: readonly string[]): void {
  assert.ok(run.report !== null, `report.json was written; stderr: ${run.stderr}`);
  const failed = run.report.checks.filter((c) => !c.pass).map((c) => c.name);
  assert.deepEqual(failed.sort(), [...expected].sort(), run.report.checks.map((c) => `${c.pass ? 'PASS' : 'FAIL'} ${c.name}: ${c.detail}`).join('\n'));
  assert.equal(run.report.pass, expected.length === 0);
  assert.equal(run.code, expected.length === 0 ? 0 : 1, run.stderr);
}

// ---- a server that is not ours ---------------------------------------------------------------------

test('plain node:net echo (no SIGTERM handler): the preload lets SIGTERM kill it, and that is not a clean exit by default', T, async (t) => {
  const run = await runHarness(t, ['--server', plainEcho, ...small]);
  assertFailedChecks(run, ['clean exit']);
  const exit = run.report!.exit!;
  // Died of the signal itself, promptly: the preload re-raised it instead of swallowing it.
  assert.equal(exit.signal, 'SIGTERM');
  assert.equal(exit.killed, false);
  assert.ok(exit.stopMs < 2000, `stopped in ${exit.stopMs} ms`);
  assert.match(checkOf(run.report, 'clean exit').detail, /--accept-signal-exit/);
  assert.equal(checkOf(run.report, 'leaks').pass, true);
  assert.equal(run.report!.flood!.messagesReceived, 90);
});

test('plain node:net echo passes with --accept-signal-exit', T, async (t) => {
  const run = await runHarness(t, ['--server', plainEcho, '--accept-signal-exit', ...small]);
  assertFailedChecks(run, []);
  assert.match(checkOf(run.report, 'clean exit').detail, /terminated by SIGTERM/);
  assert.equal(run.report!.exit!.clean, false, 'ServerExit.clean still records what happened');
});

// ---- faults, each caught by its check -----------------------------------------------------------

test('control: the broken-server fixture without faults passes every check, lock order and memory cap on', T, async (t) => {
  const run = await runHarness(t, ['--server', broken, '--lock-order', '--memory-cap', '256M', ...small]);
  assertFailedChecks(run, []);
  assert.equal(run.report!.exit!.clean, true);
});

test('--leak-handle: the leak check names the interval, and the exit is not clean (SIGKILL at the deadline)', T, async (t) => {
  const run = await runHarness(t, ['--server', `${broken} --leak-handle`, '--stop-deadline', '2500', ...small]);
  assertFailedChecks(run, ['leaks', 'clean exit']);
  const [leak] = run.report!.leaks;
  assert.ok(leak !== undefined);
  assert.ok(leak.resources.includes('Timeout'), leak.resources.join(', '));
  assert.match(leak.detail, /broken-server\.js:\d+ - setInterval/);
  assert.equal(run.report!.exit!.killed, true);
  assert.match(run.report!.exit!.stderrTail, /portico leak-report: still running/);
});

test('--grow-memory: killed by the memory cap, and the memory check says so', T, async (t) => {
  const run = await runHarness(t, [
    '--server', `${broken} --grow-memory`,
    '--memory-cap', '128M',
    '--connections', '300', '--concurrency', '5', '--connect-rate', '200', '--messages', '1', '--size', '64', '--quiet',
  ]);
  assert.equal(run.code, 1);
  const memory = run.report!.memory!;
  assert.equal(memory.killedByCap, true, JSON.stringify(memory.note));
  assert.equal(checkOf(run.report, 'memory cap').pass, false);
  assert.equal(checkOf(run.report, 'clean exit').pass, false);
  assert.match(checkOf(run.report, 'clean exit').detail, /memory cap/);
  // The flood is cut short once the server is gone, not left to time out 300 connections.
  assert.match(checkOf(run.report, 'flood errors').detail, /stopped early/);
});

test('--invert-locks: the lock-order check fails with the cycle; everything else passes', T, async (t) => {
  const run = await runHarness(t, ['--server', `${broken} --invert-locks`, '--lock-order', ...small]);
  assertFailedChecks(run, ['lock order']);
  const [finding] = run.report!.locks;
  assert.ok(finding !== undefined);
  assert.equal(finding.kind, 'inversion');
  assert.equal(finding.singleTask, false);
  assert.deepEqual([...new Set(finding.cycle)].sort(), ['fixture.a', 'fixture.b']);
  assert.match(finding.text, /lock-order inversion/);
});

test('--invert-locks without --lock-order: nothing is detected, nothing fails', T, async (t) => {
  const run = await runHarness(t, ['--server', `${broken} --invert-locks`, ...small]);
  assertFailedChecks(run, []);
  assert.deepEqual(run.report!.locks, []);
});

test('a server that never prints its ready line: clear error with its stderr, within the timeout', T, async (t) => {
  const run = await runHarness(t, ['--server', `${broken} --never-ready`, '--ready-timeout', '1500', '--quiet']);
  assert.equal(run.code, 1);
  assert.match(run.stderr, /server printed no ready line within 1500 ms/);
  assert.match(run.stderr, /broken-server: stuck before listening \(on purpose\)/);
  assert.equal(run.report!.ready, null);
  assert.match(run.report!.error ?? '', /no ready line within 1500 ms[\s\S]*stuck before listening/);
  assert.equal(checkOf(run.report, 'server ready').pass, false);
  // 1.5 s ready timeout + a prompt SIGTERM death; far below the 5 s stop deadline on top.
  assert.ok(run.elapsedMs < 8000, `took ${Math.round(run.elapsedMs)} ms`);
});

// ---- the command line ------------------------------------------------------------------------------

test('--help documents every flag and the exit codes', T, async (t) => {
  const run = await runToExit(process.execPath, [harness, 'run', '--help'], { t });
  assert.equal(run.code, 0, run.stderr);
  for (const flag of ['--server', '--protocol', '--connections', '--concurrency', '--messages', '--size', '--memory-cap', '--lock-order', '--netns', '--report', '--accept-signal-exit', '--stop-deadline']) {
    assert.match(run.stdout, new RegExp(`^\\s+${flag}\\b`, 'm'), `help lists ${flag}`);
  }
  assert.match(run.stdout, /Exit status: 0/);
});

test('bad flags and bad scenario fields exit 2 naming the field, and run nothing', T, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'portico-harness-test-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const badFile = join(dir, 'bad.json');
  await writeFile(badFile, JSON.stringify({ server: ['node', 'x.js'], flood: { conections: 5 } }));
  const cases: [string[], RegExp][] = [
    [['--server', plainEcho, '--connections', 'many'], /--connections: expected a non-negative integer/],
    [['--server', plainEcho, '--protocol', 'smtp'], /flood\.protocol: expected one of echo, owserver, websocket/],
    [['--server', plainEcho, '--bogus'], /unknown option --bogus/],
    [['--connections', '5'], /nothing to run/],
    [[badFile], /bad\.json: flood\.conections: unknown field/],
    [[join(dir, 'missing.json')], /cannot read scenario file .*missing\.json: ENOENT/],
  ];
  for (const [args, message] of cases) {
    const run = await runToExit(process.execPath, [harness, 'run', ...args, '--report', join(dir, 'r')], { t });
    assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, message);
  }
});

test('lock report reader: malformed lines come back as problems, not silently dropped', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'portico-harness-test-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'lockdep.jsonl');
  const good = { kind: 'inversion', cycle: ['a', 'b', 'a'], singleTask: true, text: 'portico lockdep: …' };
  await writeFile(path, [JSON.stringify(good), '{not json', JSON.stringify({ ...good, kind: 'oops' }), ''].join('\n'));
  const { findings, problems } = await readLockFindings(path);
  assert.deepEqual(findings, [good]);
  assert.equal(problems.length, 2);
  assert.match(problems[0]!, /line 2: not JSON/);
  assert.match(problems[1]!, /line 3: kind: expected one of/);
  assert.deepEqual(await readLockFindings(join(dir, 'absent.jsonl')), { findings: [], problems: [] });
});
