/**
 * Stop control (harness/launcher.ts, verdicts.ts): the stop signal, accepted exit codes and the stop
 * deadline, on real processes over 127.0.0.1 — a Python stand-in whose graceful stop is SIGUSR1, and
 * the real haproxy in tcp mode (installed by .ci/run; without it the haproxy test fails, it is never
 * skipped). After a SIGKILL the harness must exit within 1 s of writing its report (it used to hang 5 s
 * on a timer it never cleared). Durations need a unit everywhere.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { leakCheckPossibility } from '../../harness/run.js';
import { parseDuration } from '../../harness/run-flags.js';
import { buildScenario, parseStopSignal } from '../../harness/scenario.js';
import { assertVerdicts, broken, checkOf, runHarness, small } from '../helpers/harness-run.js';
import { freePort } from '../helpers/real-owserver.js';
import { requireProgram } from '../helpers/require-program.js';
import { type SpawnedServer, spawnServer } from '../helpers/spawn-server.js';

const T = { timeout: 60_000 };
const signalEcho = (signal: string, code?: number): string => `python3 test/fixtures/signal_echo.py {port} ${signal}${code === undefined ? '' : ` ${code}`}`;
const ready = ['--ready', 'regex:serving on'];

test('durations need a unit: 5 alone is refused, 5ms, 5s, 1.5s and 2m are read as such', () => {
  assert.equal(parseDuration('5ms'), 5);
  assert.equal(parseDuration('5s'), 5000);
  assert.equal(parseDuration('1.5s'), 1500);
  assert.equal(parseDuration('2m'), 120_000);
  assert.throws(() => parseDuration('5'), /a duration needs a unit: 5ms, 5s or 5m/);
  assert.throws(() => parseDuration('2.5'), /a duration needs a unit: 2\.5ms, 2\.5s or 2\.5m/);
  for (const bad of ['', 's', '5 s', '5h', '-5s', '5sec']) assert.throws(() => parseDuration(bad), /expected a duration with a unit|needs a unit/, bad);
});

test('stop signals: names with or without SIG; SIGKILL and SIGSTOP refused; SIGUSR1 rules out the leak preload (node\'s inspector signal)', () => {
  assert.equal(parseStopSignal('USR1'), 'SIGUSR1');
  assert.equal(parseStopSignal('sigint'), 'SIGINT');
  assert.throws(() => parseStopSignal('SIGSTOP'), /cannot be caught/);
  const node = buildScenario({ server: ['node', 'x.js'], stopSignal: 'SIGUSR1' }, 'test');
  assert.deepEqual(leakCheckPossibility(node), { possible: false, why: "the stop signal SIGUSR1 is node's inspector signal; the leak preload cannot watch it" });
  assert.deepEqual(leakCheckPossibility({ ...node, stopSignal: 'SIGINT' }), { possible: true });
  assert.equal(leakCheckPossibility({ ...node, server: ['python3', 'x.py'] }).possible, false);
});

test('--stop-signal SIGUSR1: a server that stops on SIGUSR1 exits 0 and passes; sent SIGTERM it is SIGKILLed, and the harness exits within 3 s of its report', T, async (t) => {
  const usr1 = await runHarness(t, ['--server', signalEcho('SIGUSR1'), ...ready, '--stop-signal', 'SIGUSR1', ...small]);
  assertVerdicts(usr1, { result: 'PASS' });
  assert.equal(usr1.report!.exit!.stopSignal, 'SIGUSR1');
  assert.match(checkOf(usr1.report, 'clean exit').detail, /^exit 0 \d+ ms after SIGUSR1$/);
  assert.match(usr1.stdout, /exit: +code 0, signal none, \d+ ms after SIGUSR1 \(clean\)/);

  const term = await runHarness(t, ['--server', signalEcho('SIGUSR1'), ...ready, '--stop-deadline', '600ms', ...small]);
  assertVerdicts(term, { fail: ['clean exit'], result: 'FAIL' });
  assert.equal(term.report!.exit!.killed, true);
  assert.match(checkOf(term.report, 'clean exit').detail, /still running 600 ms after SIGTERM; SIGKILLed/);
  // The span holds the HTML report, the summary and c8's coverage write at exit; the bug was a 5 s hang.
  assert.ok(term.exitAfterReportMs !== null && term.exitAfterReportMs < 3000, `exited ${term.exitAfterReportMs} ms after writing its report`);
});

test('the harness exits within 3 s of its report after SIGKILLing a node server too (leak preload in)', T, async (t) => {
  const run = await runHarness(t, ['--server', `${broken} --leak-handle`, '--stop-deadline', '1500ms', ...small]);
  assertVerdicts(run, { fail: ['leaks', 'clean exit'], result: 'FAIL' });
  assert.equal(run.report!.exit!.killed, true);
  assert.ok(run.exitAfterReportMs !== null && run.exitAfterReportMs < 3000, `exited ${run.exitAfterReportMs} ms after writing its report`);
});

test('--accept-exit-codes: exit 143 by itself fails by default and passes when accepted', T, async (t) => {
  const strict = await runHarness(t, ['--server', signalEcho('SIGTERM', 143), ...ready, ...small]);
  assertVerdicts(strict, { fail: ['clean exit'], result: 'FAIL' });
  assert.match(checkOf(strict.report, 'clean exit').detail, /^code 143 \d+ ms after SIGTERM \(accepted: 0\)$/);
  const accepted = await runHarness(t, ['--server', signalEcho('SIGTERM', 143), ...ready, '--accept-exit-codes', '0,143', ...small]);
  assertVerdicts(accepted, { result: 'PASS' });
  assert.match(checkOf(accepted.report, 'clean exit').detail, /^exit 143 \d+ ms after SIGTERM$/);
});

test('a scenario file takes the same: "ready", "stopSignal", "thresholds.acceptExitCodes"', T, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'portico-harness-test-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'usr1.json');
  await writeFile(
    file,
    JSON.stringify({
      server: ['python3', 'test/fixtures/signal_echo.py', '{port}', 'SIGUSR1', '3'],
      ready: 'regex:serving on',
      stopSignal: 'SIGUSR1',
      flood: { connections: 20, concurrency: 4, messages: 2, size: 32 },
      thresholds: { acceptExitCodes: [0, 3] },
    }),
  );
  const run = await runHarness(t, [file, '--quiet']);
  assertVerdicts(run, { result: 'PASS' });
  assert.equal(run.report!.scenario, 'usr1');
  assert.equal(run.report!.exit!.code, 3);
});

test('haproxy in tcp mode in front of an echo: --ready port:N, --stop-signal SIGUSR1 (its soft stop), --accept-exit-codes 0: PASS', T, async (t) => {
  const haproxy = requireProgram('haproxy', 'haproxy');
  const backend: SpawnedServer = await spawnServer({ t });
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'portico-haproxy-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const config = join(dir, 'haproxy.cfg');
  await writeFile(
    config,
    [
      'global',
      '  maxconn 2000',
      'defaults',
      '  mode tcp',
      '  timeout connect 5s',
      '  timeout client 30s',
      '  timeout server 30s',
      'frontend echo_in',
      `  bind 127.0.0.1:${port}`,
      '  default_backend echo_out',
      'backend echo_out',
      `  server portico_echo 127.0.0.1:${backend.port}`,
      '',
    ].join('\n'),
  );
  const run = await runHarness(t, ['--server', `${haproxy} -db -f ${config}`, '--ready', `port:${port}`, '--stop-signal', 'SIGUSR1', '--accept-exit-codes', '0', ...small]);
  assertVerdicts(run, { result: 'PASS' });
  assert.equal(run.report!.ready!.port, port);
  assert.equal(run.report!.flood!.messagesReceived, 90, 'every echo came back through haproxy');
  assert.deepEqual([run.report!.exit!.code, run.report!.exit!.signal, run.report!.exit!.stopSignal], [0, null, 'SIGUSR1']);
});
