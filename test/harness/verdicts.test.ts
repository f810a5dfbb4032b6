/**
 * Honest verdicts (harness/verdicts.ts): PASS, FAIL or NOT CHECKED with the reason, and a run that is
 * PASS only when every requested check passed. First judged from hand-made facts (every NOT CHECKED
 * case, fast), then whole harness runs: a server that never started, lock order asked of a server
 * no detector reports from (INCOMPLETE, exit 3), an installed bin (a node script on PATH) under the
 * leak check, the README's Python lock-order example run as printed there — clean it passes, with an
 * inversion it fails — and the README's ad-hoc commands for portico servers.
 */
import { floodResult } from '../helpers/flood-result.js';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { buildScenario, splitCommandLine } from '../../harness/scenario.js';
import type { CheckResult, FloodResult, MemoryResult, Scenario, ServerExit } from '../../harness/types.js';
import { type RunFacts, judgeRun, runVerdict } from '../../harness/verdicts.js';
import { assertVerdicts, checkOf, plainEcho, runHarness, small } from '../helpers/harness-run.js';
import { repoRoot } from '../helpers/spawn-server.js';

const T = { timeout: 60_000 };

// ---- judged from facts ---------------------------------------------------------------------------

const scenario = (extra: Record<string, unknown> = {}): Scenario => buildScenario({ server: ['node', 'server.js'], ...extra }, 'test');

const cleanExit: ServerExit = { code: 0, signal: null, stopSignal: 'SIGTERM', clean: true, stopMs: 40, killed: false, stderrTail: '' };
const flood: FloodResult = floodResult();
const memory = (killedByCap = false): MemoryResult => ({ capBytes: 64 * 1048576, method: 'cgroup-v1', peakRssBytes: 30 * 1048576, killedByCap, samples: [] });

/** A run where everything went well and a portico detector reported in; tests change one fact. */
function facts(over: Partial<RunFacts> = {}): RunFacts {
  return {
    ready: { by: 'line', server: 'echo', host: '127.0.0.1', port: 4000 },
    readyMs: 300,
    notReady: null,
    flood,
    floodStoppedBecause: null,
    timeWait: { port: 4000, before: { server: 0, client: 0 }, after: { server: 0, client: 0 }, peak: { server: 0, client: 3 }, samples: [], netns: false },
    memory: memory(),
    locks: { findings: [], problems: [], detectors: ['portico AsyncMutex'] },
    leaks: { findings: [], problems: [] },
    leakCheck: { possible: true },
    exit: cleanExit,
    exitedBeforeStop: false,
    ...over,
  };
}

const byName = (checks: readonly CheckResult[]): Record<string, string> => Object.fromEntries(checks.map((c) => [c.name, `${c.verdict}${c.requested ? '' : ' (not requested)'}: ${c.detail}`]));

test('never started: the ready check fails, every other check is NOT CHECKED "never started", RESULT FAIL', () => {
  const s = scenario({ memoryCap: '64M', lockOrder: true, thresholds: { timeWaitBudget: 10 } });
  const f = facts({ ready: null, readyMs: null, flood: null, notReady: 'it was not ready within 10.0 s', timeWait: null, locks: { findings: [], problems: [], detectors: [] }, exit: { ...cleanExit, clean: false, code: null, signal: 'SIGTERM' } });
  const checks = judgeRun(s, f);
  const v = byName(checks);
  assert.equal(v['server ready'], 'FAIL: never started: it was not ready within 10.0 s (see error)');
  for (const name of ['flood errors', 'TIME_WAIT', 'memory cap', 'lock order', 'leaks']) {
    assert.equal(v[name], 'NOT CHECKED: never started: it was not ready within 10.0 s', name);
  }
  assert.match(v['clean exit']!, /^NOT CHECKED: never started: it was not ready within 10\.0 s; stopped 40 ms after SIGTERM: signal SIGTERM$/);
  assert.equal(runVerdict(checks, ['the server printed no ready line']), 'FAIL');
});

test('killed by the memory cap: memory cap FAILs; leaks and clean exit are NOT CHECKED, "no SIGTERM was sent"', () => {
  const s = scenario({ memoryCap: '64M', stopSignal: 'SIGINT' });
  const f = facts({ memory: memory(true), exit: { code: null, signal: 'SIGKILL', stopSignal: null, clean: false, stopMs: 0, killed: false, stderrTail: '' }, exitedBeforeStop: true, floodStoppedBecause: 'the server exited during the flood (signal SIGKILL)' });
  const v = byName(judgeRun(s, f));
  assert.match(v['memory cap']!, /^FAIL: killed by the 64\.0 MiB cap/);
  assert.equal(v['leaks'], 'NOT CHECKED: server was killed by the memory cap; no SIGINT was sent');
  assert.equal(v['clean exit'], 'NOT CHECKED: server was killed by the memory cap; no SIGINT was sent');
});

test('lock order: no hello and no finding is NOT CHECKED (INCOMPLETE when asked for); a hello makes it PASS; findings FAIL even without one', () => {
  const asked = scenario({ lockOrder: true });
  const silent = judgeRun(asked, facts({ locks: { findings: [], problems: [], detectors: [] } }));
  assert.equal(byName(silent)['lock order'], "NOT CHECKED: no lock detector reported in: the server does not use portico's AsyncMutex or PORTICO_LOCKDEP output");
  assert.equal(runVerdict(silent, []), 'INCOMPLETE');
  const watched = judgeRun(asked, facts());
  assert.equal(byName(watched)['lock order'], 'PASS: no findings from portico AsyncMutex');
  assert.equal(runVerdict(watched, []), 'PASS');
  const found = judgeRun(asked, facts({ locks: { findings: [{ kind: 'inversion', cycle: ['a', 'b', 'a'], singleTask: false, text: '' }], problems: [], detectors: [] } }));
  assert.equal(byName(found)['lock order'], 'FAIL: inversion: a => b => a');
  assert.equal(runVerdict(found, []), 'FAIL');
  // Not asked for: not checked, and that is no reason for INCOMPLETE.
  const off = judgeRun(scenario(), facts({ locks: { findings: [], problems: [], detectors: [] } }));
  assert.equal(byName(off)['lock order'], 'NOT CHECKED (not requested): not enabled (--lock-order)');
  assert.equal(runVerdict(off, []), 'PASS');
});

test('leaks: not node is NOT CHECKED (INCOMPLETE only with --leak-check); exited first or SIGKILLed without a report is NOT CHECKED, never PASS', () => {
  const notNode = facts({ leakCheck: { possible: false, why: '"python3" is not node, so the leak preload cannot go in' } });
  assert.equal(byName(judgeRun(scenario(), notNode))['leaks'], 'NOT CHECKED (not requested): "python3" is not node, so the leak preload cannot go in');
  assert.equal(runVerdict(judgeRun(scenario(), notNode), []), 'PASS');
  const required = judgeRun(scenario({ leakCheck: true }), notNode);
  assert.equal(runVerdict(required, []), 'INCOMPLETE');

  const crashed = facts({ exit: { code: 3, signal: null, stopSignal: null, clean: false, stopMs: 0, killed: false, stderrTail: '' }, exitedBeforeStop: true });
  const v = byName(judgeRun(scenario(), crashed));
  assert.equal(v['leaks'], 'NOT CHECKED: the server exited by itself (code 3) before the harness stopped it; no SIGTERM was sent');
  assert.equal(v['clean exit'], 'FAIL: exited before the harness stopped it: code 3');

  const killed = facts({ exit: { code: null, signal: 'SIGKILL', stopSignal: 'SIGTERM', clean: false, stopMs: 5000, killed: true, stderrTail: '' } });
  assert.match(byName(judgeRun(scenario(), killed))['leaks']!, /^NOT CHECKED: the server was SIGKILLed at the stop deadline before the leak preload reported/);
  assert.equal(byName(judgeRun(scenario({ leakCheck: false }), facts()))['leaks'], 'NOT CHECKED (not requested): not enabled (--no-leak-check)');
});

test('ready, then an error before the samplers reported: TIME_WAIT and memory cap are NOT CHECKED "see error", never PASS', () => {
  const s = scenario({ memoryCap: '64M', thresholds: { timeWaitBudget: 10 } });
  const checks = judgeRun(s, facts({ timeWait: null, memory: null }));
  const v = byName(checks);
  assert.equal(v['TIME_WAIT'], 'NOT CHECKED: not sampled (see error)');
  assert.equal(v['memory cap'], 'NOT CHECKED: memory was not watched (see error)');
  assert.equal(runVerdict(checks, []), 'INCOMPLETE', 'both were asked for');
  assert.equal(runVerdict(judgeRun(scenario(), facts({ timeWait: null, memory: null })), []), 'PASS', 'neither was asked for');
});

test('clean exit: accepted codes, death by signal N as 128 + N, --accept-signal-exit, --no-exit-check', () => {
  const byTerm: ServerExit = { code: null, signal: 'SIGTERM', stopSignal: 'SIGTERM', clean: false, stopMs: 12, killed: false, stderrTail: '' };
  assert.equal(byName(judgeRun(scenario(), facts({ exit: byTerm })))['clean exit'], 'FAIL: signal SIGTERM 12 ms after SIGTERM (no SIGTERM handler? accept it with --accept-exit-codes 0,143)');
  assert.equal(byName(judgeRun(scenario({ thresholds: { acceptExitCodes: [0, 143] } }), facts({ exit: byTerm })))['clean exit'], 'PASS: terminated by SIGTERM 12 ms after SIGTERM (accepted as exit code 143)');
  assert.equal(byName(judgeRun(scenario({ thresholds: { acceptSignalExit: true } }), facts({ exit: byTerm })))['clean exit'], 'PASS: terminated by SIGTERM 12 ms after SIGTERM (accepted as a death by the stop signal)');
  const code2: ServerExit = { ...byTerm, code: 2, signal: null };
  assert.equal(byName(judgeRun(scenario(), facts({ exit: code2 })))['clean exit'], 'FAIL: code 2 12 ms after SIGTERM (accepted: 0)');
  const unchecked = judgeRun(scenario({ thresholds: { mustExitClean: false } }), facts({ exit: code2 }));
  assert.equal(byName(unchecked)['clean exit'], 'NOT CHECKED (not requested): not required (--no-exit-check); code 2 12 ms after SIGTERM (accepted: 0)');
  assert.equal(runVerdict(unchecked, []), 'PASS');
});

test('TIME_WAIT budget: the server-side peak less what was on the port when the flood began', () => {
  const s = scenario({ thresholds: { timeWaitBudget: 10 } });
  const tw = (before: number, peak: number): RunFacts['timeWait'] => ({ port: 4000, before: { server: before, client: 0 }, after: { server: before, client: 0 }, peak: { server: peak, client: 3 }, samples: [], netns: false });
  const verdict = (before: number, peak: number): string | undefined => byName(judgeRun(s, facts({ timeWait: tw(before, peak) })))['TIME_WAIT'];
  assert.equal(verdict(0, 10), 'PASS: peak server-side 10, client-side 3 (host namespace); budget 10 server-side');
  assert.equal(verdict(0, 11), 'FAIL: peak server-side 11, client-side 3 (host namespace); budget 10 server-side');
  assert.equal(verdict(30, 40), 'PASS: peak server-side 40 (10 of this run\'s; 30 already on the port when the flood began, not counted), client-side 3 (host namespace); budget 10 server-side');
  assert.equal(verdict(30, 41), 'FAIL: peak server-side 41 (11 of this run\'s; 30 already on the port when the flood began, not counted), client-side 3 (host namespace); budget 10 server-side');
});

test('unrequested checks never make a run INCOMPLETE; a run error always makes it FAIL', () => {
  const plain = judgeRun(scenario(), facts({ memory: { ...memory(), capBytes: null, method: 'none' } }));
  assert.deepEqual(
    plain.filter((c) => c.verdict === 'NOT CHECKED').map((c) => [c.name, c.requested]),
    [
      ['TIME_WAIT', false],
      ['memory cap', false],
      ['lock order', false],
    ],
  );
  assert.equal(runVerdict(plain, []), 'PASS');
  assert.equal(runVerdict(plain, ['memory cap cleanup: EBUSY']), 'FAIL');
});

// ---- whole runs -------------------------------------------------------------------------------------

test('--lock-order on a server that is not portico: lock order NOT CHECKED, RESULT INCOMPLETE, exit 3', T, async (t) => {
  const run = await runHarness(t, ['--server', plainEcho, '--lock-order', '--accept-signal-exit', ...small]);
  assertVerdicts(run, { notChecked: ['TIME_WAIT', 'memory cap', 'lock order'], result: 'INCOMPLETE' });
  assert.equal(checkOf(run.report, 'lock order').detail, "no lock detector reported in: the server does not use portico's AsyncMutex or PORTICO_LOCKDEP output");
  assert.match(run.stdout, /\nRESULT: INCOMPLETE \(not checked: lock order\)\n/);
});

test('--leak-check on a server that is not node: leaks NOT CHECKED, RESULT INCOMPLETE', T, async (t) => {
  const run = await runHarness(t, ['--server', 'python3 test/fixtures/asyncio_echo.py {port}', '--ready', 'regex:serving', '--leak-check', '--accept-exit-codes', '0,143', ...small]);
  assertVerdicts(run, { notChecked: ['TIME_WAIT', 'memory cap', 'lock order', 'leaks'], result: 'INCOMPLETE' });
});

/**
 * An installed bin as npm lays it out: bin/<name>, a symlink on PATH to an executable script whose
 * first line is a node shebang (here one that runs portico's echo).
 */
async function installedBin(dir: string, name: string): Promise<{ bin: string; script: string; path: string }> {
  const script = join(dir, 'lib', 'main.js');
  await mkdir(join(dir, 'lib'), { recursive: true });
  await mkdir(join(dir, 'bin'), { recursive: true });
  await writeFile(script, `#!/usr/bin/env node\nawait import(${JSON.stringify(pathToFileURL(join(repoRoot, 'dist/examples/echo/main.js')).href)});\n`, { mode: 0o755 });
  const bin = join(dir, 'bin', name);
  await symlink(script, bin);
  return { bin, script, path: `${join(dir, 'bin')}${delimiter}${process.env['PATH'] ?? ''}` };
}

test('--leak-check on an installed bin (a symlink on PATH to a node-shebang script): run under node, so leaks are checked; the report shows the command as written', T, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'portico-bin-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const { script, path } = await installedBin(dir, 'portico-echo-test');
  const run = await runHarness(t, ['--server', 'portico-echo-test', '--leak-check', ...small], 40_000, { ...process.env, PATH: path });
  assertVerdicts(run, { notChecked: ['TIME_WAIT', 'memory cap', 'lock order'], result: 'PASS' });
  assert.match(checkOf(run.report, 'leaks').detail, /^nothing kept the server alive after SIGTERM/);
  assert.deepEqual(run.report!.serverCommand, ['portico-echo-test']);
  assert.match(run.stdout, /^server: +portico-echo-test$/m);
  const why = 'portico-echo-test is a node script (#!/usr/bin/env node), run under node so the leak preload could go in';
  assert.deepEqual(run.report!.ranAs, { argv: ['node', script], why });
  assert.ok(run.stdout.includes(`\nran as:   node ${script} (${why})\n`), run.stdout);

  // The same script by its path, with arguments after it: they follow the script.
  const byPath = await runHarness(t, ['--server', `${script} --idle-timeout 30s`, '--leak-check', ...small]);
  assertVerdicts(byPath, { notChecked: ['TIME_WAIT', 'memory cap', 'lock order'], result: 'PASS' });
  assert.deepEqual(byPath.report!.ranAs?.argv, ['node', script, '--idle-timeout', '30s']);
});

test('a server that never starts: every check but "server ready" is NOT CHECKED "never started", even the memory cap', T, async (t) => {
  const run = await runHarness(t, ['--server', `python3 -c "import sys; sys.exit(2)"`, '--memory-cap', '64M', '--lock-order', '--quiet']);
  assertVerdicts(run, { fail: ['server ready'], notChecked: ['flood errors', 'TIME_WAIT', 'memory cap', 'lock order', 'leaks', 'clean exit'], result: 'FAIL' });
  for (const check of run.report!.checks.filter((c) => !['server ready', 'leaks'].includes(c.name))) {
    assert.match(check.detail, /^never started: it exited before it was ready/, check.name);
  }
  // The first reason wins: the preload could not have gone into python anyway.
  assert.match(checkOf(run.report, 'leaks').detail, /"python3" is not node/);
});

/** The ```python block of the README's "Lock-order reports from any server", written to a file. */
async function readmeLockdepExample(dir: string): Promise<string> {
  const readme = await readFile(join(repoRoot, 'README.md'), 'utf8');
  const match = /```python\n(# lockdep_echo\.py:[\s\S]*?)```/.exec(readme);
  assert.ok(match !== null, 'README.md has the lockdep_echo.py example');
  const path = join(dir, 'lockdep_echo.py');
  await writeFile(path, match[1]!);
  return path;
}

test("the README's Python lock-order example, as printed there: clean it PASSes, with --invert it FAILs on the inversion", T, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'portico-lockdep-example-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const example = await readmeLockdepExample(dir);
  const clean = await runHarness(t, ['--server', `python3 ${example} {port}`, '--ready', 'regex:serving', '--lock-order', ...small]);
  assertVerdicts(clean, { result: 'PASS' });
  assert.equal(checkOf(clean.report, 'lock order').detail, 'no findings from lockdep_echo.py');
  assert.equal(clean.report!.exit!.code, 0, 'it stops cleanly on SIGTERM');

  const inverted = await runHarness(t, ['--server', `python3 ${example} {port} --invert`, '--ready', 'regex:serving', '--lock-order', ...small]);
  assertVerdicts(inverted, { fail: ['lock order'], result: 'FAIL' });
  assert.equal(checkOf(inverted.report, 'lock order').detail, 'inversion: log => stats => log');
  assert.deepEqual(inverted.report!.locks, [{ kind: 'inversion', cycle: ['log', 'stats', 'log'], singleTask: false, text: 'inversion: log => stats => log' }]);
});

/**
 * The ad-hoc commands for portico's own servers in the README's first harness example block, as
 * argument lists after `run`: continuation lines joined, trailing comments dropped.
 */
async function readmePorticoCommands(): Promise<string[][]> {
  const readme = await readFile(join(repoRoot, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Harness: black-box server tests'));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(block !== undefined, 'the harness section opens with a sh block');
  const commands = block
    .replace(/[ \t]*#[^\n"]*\\?$/gm, (m) => (m.endsWith('\\') ? ' \\' : ''))
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.startsWith('node dist/harness/main.js run ') && /--server "node dist\/examples\//.test(line));
  return commands.map((line) => splitCommandLine(line).slice(3));
}

test('the README\'s ad-hoc commands for portico servers end as shown there: PASS, not INCOMPLETE (at a small load, no --netns)', T, async (t) => {
  const commands = await readmePorticoCommands();
  assert.ok(commands.some((args) => args.includes('--lock-order')), 'the README shows --lock-order on a portico server');
  for (const args of commands) {
    // The load is cut down and the report goes to the test's folder; --netns only changes how
    // TIME_WAIT is counted (and needs privileges a test machine may not have).
    const kept = args.filter((a, i) => a !== '--netns' && a !== '--report' && args[i - 1] !== '--report');
    const run = await runHarness(t, [...kept, '--connections', '30', '--concurrency', '5', '--messages', '3', '--quiet']);
    assertVerdicts(run, { result: 'PASS' });
  }
});
