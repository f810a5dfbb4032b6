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
import { test } from 'node:test';
import { readLockReport } from '../../harness/lock-report-reader.js';
import { assertVerdicts, broken, checkOf, harness, plainEcho, runHarness, small } from '../helpers/harness-run.js';
import { repoRoot, runToExit } from '../helpers/spawn-server.js';

const T = { timeout: 60_000 };

// ---- a server that is not ours ---------------------------------------------------------------------

test('plain node:net echo (no SIGTERM handler): the preload lets SIGTERM kill it, and that is not a clean exit by default', T, async (t) => {
  const run = await runHarness(t, ['--server', plainEcho, ...small]);
  assertVerdicts(run, { fail: ['clean exit'], result: 'FAIL' });
  const exit = run.report!.exit!;
  // Died of the signal itself, promptly: the preload re-raised it instead of swallowing it.
  assert.equal(exit.signal, 'SIGTERM');
  assert.equal(exit.killed, false);
  assert.ok(exit.stopMs < 2000, `stopped in ${exit.stopMs} ms`);
  assert.match(checkOf(run.report, 'clean exit').detail, /signal SIGTERM .* \(no SIGTERM handler\? accept it with --accept-exit-codes 0,143\)/);
  assert.equal(checkOf(run.report, 'leaks').verdict, 'PASS');
  assert.equal(run.report!.flood!.messagesReceived, 90);
});

test('plain node:net echo passes with --accept-signal-exit', T, async (t) => {
  const run = await runHarness(t, ['--server', plainEcho, '--accept-signal-exit', ...small]);
  assertVerdicts(run, { result: 'PASS' });
  assert.match(checkOf(run.report, 'clean exit').detail, /terminated by SIGTERM/);
  assert.equal(run.report!.exit!.clean, false, 'ServerExit.clean still records what happened');
});

// ---- faults, each caught by its check -----------------------------------------------------------

test('control: the broken-server fixture without faults passes every check, lock order and memory cap on', T, async (t) => {
  const run = await runHarness(t, ['--server', broken, '--lock-order', '--memory-cap', '256M', '--time-wait-budget', '1000', ...small]);
  // Every check requested and made: no NOT CHECKED at all.
  assertVerdicts(run, { notChecked: [], result: 'PASS' });
  assert.equal(run.report!.exit!.clean, true);
  assert.match(checkOf(run.report, 'lock order').detail, /no findings from portico AsyncMutex/);
});

test('--leak-handle: the leak check names the interval, and the exit is not clean (SIGKILL at the deadline)', T, async (t) => {
  const run = await runHarness(t, ['--server', `${broken} --leak-handle`, '--stop-deadline', '2500ms', ...small]);
  assertVerdicts(run, { fail: ['leaks', 'clean exit'], result: 'FAIL' });
  const [leak] = run.report!.leaks;
  assert.ok(leak !== undefined);
  assert.ok(leak.resources.includes('Timeout'), leak.resources.join(', '));
  // The harness reads the server's stdout and stderr through pipes: those are not the server's leaks.
  assert.ok(!leak.resources.includes('PipeWrap'), leak.resources.join(', '));
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
  assertVerdicts(run, { fail: ['memory cap', 'flood errors'], result: 'FAIL' });
  const memory = run.report!.memory!;
  assert.equal(memory.killedByCap, true, JSON.stringify(memory.note));
  // No SIGTERM was ever sent: how it would have stopped, and what it would have leaked, are unknown.
  for (const name of ['clean exit', 'leaks']) {
    const check = checkOf(run.report, name);
    assert.equal(check.verdict, 'NOT CHECKED', `${name}: ${check.detail}`);
    assert.equal(check.detail, 'server was killed by the memory cap; no SIGTERM was sent');
  }
  assert.equal(run.report!.exit!.stopSignal, null);
  assert.match(run.stdout, /exit: +SIGKILLed, before the harness sent any stop signal|exit: +code none, signal SIGKILL, before the harness sent any stop signal/);
  // The flood is cut short once the server is gone, not left to time out 300 connections.
  assert.match(checkOf(run.report, 'flood errors').detail, /stopped early/);
});

test('--invert-locks: the lock-order check fails with the cycle; everything else passes', T, async (t) => {
  const run = await runHarness(t, ['--server', `${broken} --invert-locks`, '--lock-order', ...small]);
  assertVerdicts(run, { fail: ['lock order'], result: 'FAIL' });
  const [finding] = run.report!.locks;
  assert.ok(finding !== undefined);
  assert.equal(finding.kind, 'inversion');
  assert.equal(finding.singleTask, false);
  assert.deepEqual([...new Set(finding.cycle)].sort(), ['fixture.a', 'fixture.b']);
  assert.match(finding.text, /lock-order inversion/);
});

test('--invert-locks without --lock-order: nothing is detected, nothing fails, and lock order says it was not checked', T, async (t) => {
  const run = await runHarness(t, ['--server', `${broken} --invert-locks`, ...small]);
  assertVerdicts(run, { result: 'PASS' });
  assert.deepEqual(run.report!.locks, []);
  const locks = checkOf(run.report, 'lock order');
  assert.deepEqual([locks.verdict, locks.requested, locks.detail], ['NOT CHECKED', false, 'not enabled (--lock-order)']);
});

test('a server that never prints its ready line: clear error with its stderr, within the timeout', T, async (t) => {
  const run = await runHarness(t, ['--server', `${broken} --never-ready`, '--ready-timeout', '1500ms', '--quiet']);
  assertVerdicts(run, { fail: ['server ready'], result: 'FAIL' });
  assert.match(run.stdout, /the server printed no ready line within 1\.5 s; if it does not print portico's JSON line/);
  assert.match(run.stdout, /^ +broken-server: stuck before listening \(on purpose\)$/m);
  assert.equal(run.report!.ready, null);
  assert.match(run.report!.error ?? '', /no ready line within 1\.5 s[\s\S]*stuck before listening/);
  // 1.5 s ready timeout + a prompt SIGTERM death; far below the 5 s stop deadline on top.
  assert.ok(run.elapsedMs < 8000, `took ${Math.round(run.elapsedMs)} ms`);
});

// ---- the command line ------------------------------------------------------------------------------

test('--help documents every flag and the exit codes', T, async (t) => {
  const run = await runToExit(process.execPath, [harness, 'run', '--help'], { t });
  assert.equal(run.code, 0, run.stderr);
  for (const flag of ['--server', '--ready', '--port-arg', '--protocol', '--connections', '--concurrency', '--messages', '--size', '--memory-cap', '--lock-order', '--leak-check', '--netns', '--report', '--accept-signal-exit', '--accept-exit-codes', '--stop-signal', '--stop-deadline', '--send', '--expect-bytes', '--expect-regex', '--max-reply', '--ws-path']) {
    assert.match(run.stdout, new RegExp(`^\\s+${flag}\\b`, 'm'), `help lists ${flag}`);
  }
  assert.match(run.stdout, /Exit status: 0 PASS; 1 FAIL .*; 3 INCOMPLETE; 2 bad arguments/);
});

test('--help sends users only to files an installed package has', T, async (t) => {
  const help = await runToExit(process.execPath, [harness, 'run', '--help'], { t });
  assert.equal(help.code, 0, help.stderr);
  // What npm would ship, from package.json "files" (no build: --ignore-scripts).
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_V8_COVERAGE: undefined };
  const pack = await runToExit(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { env, timeoutMs: 60_000, t });
  assert.equal(pack.code, 0, pack.stderr);
  const shipped = (JSON.parse(pack.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
  const named = [...help.stdout.matchAll(/\b(?:ci|dist|examples|framework|harness|test)\/[\w./*-]*\w/g)].map((m) => m[0]);
  assert.ok(named.includes('dist/harness/types.d.ts'), `the help names where Scenario is declared: ${named.join(', ')}`);
  for (const path of new Set(named)) {
    const glob = new RegExp(`^${path.replace(/[.]/g, '\\.').replace(/\*/g, '[^/]*')}$`);
    assert.ok(shipped.some((file) => glob.test(file)), `run --help names ${path}, which is not in the package`);
  }
  assert.ok(shipped.includes('README.md'));
  assert.match(help.stdout, /README\.md[\s\S]*"Harness: black-box server tests"/);
  assert.match(await readFile(join(repoRoot, 'README.md'), 'utf8'), /^## Harness: black-box server tests$/m);
});

test('bad flags and bad scenario fields exit 2 naming the field, and run nothing', T, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'portico-harness-test-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const badFile = join(dir, 'bad.json');
  await writeFile(badFile, JSON.stringify({ server: ['node', 'x.js'], flood: { conections: 5 } }));
  const cases: [string[], RegExp][] = [
    [['--server', plainEcho, '--connections', 'many'], /--connections: expected a non-negative integer/],
    [['--server', plainEcho, '--protocol', 'smtp'], /flood\.protocol: expected one of echo, owserver, websocket/],
    [['--server', plainEcho, '--stop-deadline', '5'], /--stop-deadline: a duration needs a unit: 5ms, 5s or 5m, got "5"/],
    [['--server', plainEcho, '--ready-timeout', '10'], /--ready-timeout: a duration needs a unit/],
    [['--server', plainEcho, '--duration-cap', '5x'], /--duration-cap: expected a duration with a unit, such as 500ms, 30s or 2m/],
    [['--server', plainEcho, '--connection-timeout', '1.5'], /--connection-timeout: a duration needs a unit/],
    [['--server', plainEcho, '--ready', 'port'], /ready: plain "port" means the port the harness picks for \{port\}, but the server command has no \{port\}/],
    [['--server', plainEcho, '--ready', 'regex:up'], /ready: with regex readiness the harness must learn the port/],
    [['--server', plainEcho, '--ready', 'regex:('], /ready: not a valid regular expression/],
    [['--server', plainEcho, '--ready', 'socket'], /ready: expected line, port:N/],
    [['--server', plainEcho, '--ready', 'port:70000'], /ready: port 70000 out of range/],
    [['--server', plainEcho, '--stop-signal', 'SIGNOPE'], /stopSignal: unknown signal "SIGNOPE"/],
    [['--server', plainEcho, '--stop-signal', 'KILL'], /stopSignal: SIGKILL cannot be caught/],
    [['--server', plainEcho, '--accept-exit-codes', '0;143'], /--accept-exit-codes: expected exit codes separated by commas/],
    [['--server', plainEcho, '--bogus'], /unknown option --bogus/],
    [['--server', plainEcho, '--ws-path', '/echo'], /--ws-path is for --protocol websocket; this flood's protocol is echo/],
    [['--server', plainEcho, '--protocol', 'owserver', '--ws-path', '/echo'], /--ws-path is for --protocol websocket; this flood's protocol is owserver/],
    [['--server', plainEcho, '--protocol', 'websocket', '--ws-path', 'echo'], /websocket flood: the path \(--ws-path, protocolOptions\.path\) must start with "\/", e\.g\. \/echo, got "echo"/],
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

test('lock report reader: hello lines name the detectors; malformed lines come back as problems, not silently dropped', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'portico-harness-test-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'lockdep.jsonl');
  const good = { kind: 'inversion', cycle: ['a', 'b', 'a'], singleTask: true, text: 'portico lockdep: …' };
  const hello = { kind: 'hello', detector: 'mine', pid: 7 };
  // The fields another language's detector may leave out: singleTask (false) and text (from the cycle).
  const minimal = { kind: 'deadlock', cycle: ['x', 'y', 'x'] };
  await writeFile(
    path,
    [JSON.stringify(hello), JSON.stringify(good), '{not json', JSON.stringify({ ...good, kind: 'oops' }), JSON.stringify(minimal), JSON.stringify({ kind: 'hello' }), ''].join('\n'),
  );
  const { findings, problems, detectors } = await readLockReport(path);
  assert.deepEqual(detectors, ['mine']);
  assert.deepEqual(findings, [good, { ...minimal, singleTask: false, text: 'deadlock: x => y => x' }]);
  assert.equal(problems.length, 3);
  assert.match(problems[0]!, /line 3: not JSON/);
  assert.match(problems[1]!, /line 4: kind: expected one of hello, inversion/);
  assert.match(problems[2]!, /line 6: hello: detector: expected the detector's name/);
  assert.deepEqual(await readLockReport(join(dir, 'absent.jsonl')), { findings: [], problems: [], detectors: [] });
});
