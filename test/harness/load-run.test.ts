/**
 * The load generator through `portico-harness run` (a child process, real sockets on 127.0.0.1):
 * --duration ends a run normally with PASS, --rate/--warmup/--workers land in the report with the
 * throughput and the corrected latency, and the new flags are checked like the old ones.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { assertVerdicts, checkOf, harness, plainEcho, runHarness } from '../helpers/harness-run.js';
import { runToExit } from '../helpers/spawn-server.js';

const T = { timeout: 60_000 };

test('--duration 1s: the run ends on time as a normal end, PASS, with throughput and settings in report.json', T, async (t) => {
  const run = await runHarness(t, ['--server', plainEcho, '--accept-signal-exit', '--duration', '1s', '--concurrency', '4', '--size', '64', '--quiet']);
  assertVerdicts(run, { result: 'PASS' });
  const flood = run.report!.flood!;
  assert.equal(flood.settings.durationMs, 1000);
  assert.equal(flood.connectionsPlanned, null);
  assert.equal(flood.connectionsInError, 0);
  assert.equal(flood.connectionsEnded, 4, 'the 4 connections were open at the end and closed by the flood');
  assert.ok(flood.durationMs >= 990 && flood.durationMs < 3000, `${flood.durationMs} ms`);
  assert.ok(flood.throughput.messagesPerSecond > 0 && flood.throughput.bytesReceivedPerSecond === flood.throughput.messagesPerSecond * 64);
  assert.match(checkOf(run.report, 'flood errors').detail, /^0 of 4 started connections in error .*; 4 open at the planned end, closed$/);
  assert.match(run.stdout, /^throughput: +[\d,]+ msg\/s, [\d.]+ [KM]?i?B\/s sent/m);
  assert.match(run.stdout, /^latency: +p50 .*, p90 .*, p99 .*, p99\.9 .*, max /m);
});

test('--rate 500 --warmup 500ms --duration 1s --workers 2: paced, warm-up left out, latency from intended send times', T, async (t) => {
  const run = await runHarness(t, ['--server', plainEcho, '--accept-signal-exit', '--rate', '500', '--warmup', '500ms', '--duration', '1s', '--workers', '2', '--concurrency', '4', '--quiet']);
  assertVerdicts(run, { result: 'PASS' });
  const flood = run.report!.flood!;
  assert.deepEqual([flood.settings.rate, flood.settings.warmupMs, flood.settings.workers], [500, 500, 2]);
  assert.equal(flood.latencyCorrected, true);
  // Together ±10 %; the split ±20 % (a reply counts by when it arrives; the boundary may be held up).
  const all = flood.messagesReceived + flood.warmup.messagesReceived;
  assert.ok(all >= 675 && all <= 825, `${flood.warmup.messagesReceived} in the warm-up + ${flood.messagesReceived} counted`);
  assert.ok(flood.messagesReceived >= 400 && flood.messagesReceived <= 600, `${flood.messagesReceived} counted`);
  assert.ok(flood.warmup.messagesReceived >= 200 && flood.warmup.messagesReceived <= 300, `${flood.warmup.messagesReceived} in the warm-up`);
  assert.equal(flood.latencyMs.count, flood.messagesReceived);
  assert.match(run.stdout, /from intended send times at 500 msg\/s; service time p50 /);
  assert.match(run.stdout, /\(2 worker threads\)/);
});

test('load flags are checked like the others: units, the cap, the worker limit, pipelining without end', T, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'portico-harness-test-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const cases: [string[], RegExp][] = [
    [['--duration', '5'], /--duration: a duration needs a unit: 5ms, 5s or 5m/],
    [['--warmup', '1'], /--warmup: a duration needs a unit/],
    [['--duration', '2m', '--duration-cap', '1m'], /flood\.durationCapMs: 60000 ms is shorter than the warm-up plus the duration \(120000 ms\)/],
    [['--workers', '1000'], /flood\.workers: at most 64/],
    [['--workers', '0'], /flood\.workers: must be >= 1/],
    [['--duration', '1s', '--pipeline'], /pipelining \(--pipeline\) in a --duration run needs --messages or --rate/],
    [['--rate', 'fast'], /--rate: expected a non-negative integer/],
  ];
  for (const [args, message] of cases) {
    const run = await runToExit(process.execPath, [harness, 'run', '--server', plainEcho, ...args, '--report', join(dir, 'r')], { t });
    assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, message);
  }
});

test('--report naming a file that exists: refused before the server starts (exit 2), not after the run', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'portico-report-file-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'taken');
  await writeFile(file, 'x');
  const started = Date.now();
  const run = await runToExit(process.execPath, [harness, 'run', '--server', plainEcho, '--accept-signal-exit', '--connections', '10', '--report', file, '--quiet'], { t });
  assert.equal(run.code, 2, run.stderr);
  assert.match(run.stderr, /--report .*taken: cannot make the report directory \(EEXIST\)/);
  assert.ok(Date.now() - started < 5000, 'no run happened');
});

test('a --rate the run did not reach is said in the summary, with how much of it was reached', async (t) => {
  const run = await runHarness(t, ['--server', plainEcho, '--accept-signal-exit', '--duration', '1s', '--rate', '1000000', '--concurrency', '2']);
  assert.match(run.stdout, /rate: +[\d,]+ of the 1,000,000 msg\/s asked \(\d+%\): the server or the load generator could not keep up/);
  const reached = await runHarness(t, ['--server', plainEcho, '--accept-signal-exit', '--duration', '1s', '--rate', '200', '--concurrency', '2']);
  assert.doesNotMatch(reached.stdout, /^rate:/m);
});
