/**
 * `portico-harness compare`: the deltas of two reports, which way is worse for each figure, the
 * threshold, and the exit status a CI job gates on (0 same, 1 regression, 2 bad input).
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { type Comparison, compareReports, incomparable, parseThreshold } from '../../harness/compare.js';
import type { FloodResult, RunReport } from '../../harness/types.js';
import { floodResult, latencySummary } from '../helpers/flood-result.js';
import { harness } from '../helpers/harness-run.js';
import { runToExit } from '../helpers/spawn-server.js';

interface Figures {
  msgs?: number;
  bytes?: number;
  latencyMs?: number;
  p99?: number;
  replies?: number;
  rss?: number | null;
  timeWait?: number | null;
  noFlood?: boolean;
  concurrency?: number;
  connections?: number;
  result?: RunReport['result'];
}

function report(f: Figures = {}): RunReport {
  const replies = f.replies ?? 1000;
  const latency = { ...latencySummary(f.latencyMs ?? 2, replies), p99: f.p99 ?? 5 };
  const flood: FloodResult = floodResult({
    messagesReceived: replies,
    ...(f.connections !== undefined ? { connectionsStarted: f.connections } : {}),
    throughput: { measuredMs: 1000, messagesPerSecond: f.msgs ?? 10_000, bytesSentPerSecond: f.bytes ?? 640_000, bytesReceivedPerSecond: f.bytes ?? 640_000 },
    latencyMs: latency,
    serviceTimeMs: latency,
  });
  const rss = f.rss === undefined ? 50 * 1024 * 1024 : f.rss;
  const tw = f.timeWait === undefined ? 0 : f.timeWait;
  return {
    scenario: 'echo',
    provenance: {
      harnessVersion: '0.1.0',
      nodeVersion: 'v20.11.1',
      platform: 'linux x64',
      command: ['portico-harness', 'run', 'echo.json'],
      scenario: { name: 'echo', server: ['node', 'echo.js'], flood: { protocol: 'echo', concurrency: f.concurrency ?? 10 } },
    },
    serverCommand: ['node', 'echo.js'],
    ready: { by: 'line', server: 'echo', host: '127.0.0.1', port: 4000 },
    startedAt: '2026-01-01T00:00:00.000Z',
    durationMs: 1500,
    flood: f.noFlood === true ? null : flood,
    timeWait: tw === null ? null : { port: 4000, before: { server: 0, client: 0 }, after: { server: tw, client: 0 }, peak: { server: tw, client: 0 }, samples: [], netns: true },
    memory: rss === null ? null : { capBytes: null, method: 'none', peakRssBytes: rss, killedByCap: false, samples: [] },
    locks: [],
    leaks: [],
    exit: null,
    checks: [],
    result: f.result ?? 'PASS',
    pass: (f.result ?? 'PASS') === 'PASS',
  };
}

const delta = (c: Comparison, key: string) => c.deltas.find((d) => d.key === key)!;

test('the same run twice: every figure +0 %, no regression, no note', () => {
  const c = compareReports(report(), report(), 5);
  assert.deepEqual(c.regressions, []);
  assert.deepEqual(c.notes, []);
  assert.deepEqual(c.deltas.map((d) => d.key), ['msgs', 'sent', 'received', 'p50', 'p90', 'p99', 'p99.9', 'max', 'rss', 'time-wait']);
  for (const d of c.deltas) assert.equal(d.changePercent, 0, d.key);
});

test('throughput down or latency, RSS, TIME_WAIT up past the threshold is a regression; within it, or better, is not', () => {
  const c = compareReports(report(), report({ msgs: 9400, bytes: 620_000, p99: 5.2, rss: 60 * 1024 * 1024 }), 5);
  assert.deepEqual(c.regressions, ['msgs', 'rss']);
  assert.equal(Math.round(delta(c, 'msgs').changePercent! * 10) / 10, -6);
  assert.equal(delta(c, 'sent').regression, false, '-3.1 % is within 5 %');
  assert.equal(delta(c, 'p99').regression, false, '+4 % is within 5 %');
  assert.equal(delta(c, 'rss').regression, true, '+20 %');

  const better = compareReports(report(), report({ msgs: 20_000, latencyMs: 1, p99: 2, rss: 10 }), 5);
  assert.deepEqual(better.regressions, [], 'twice as fast is not a regression');
  const slower = compareReports(report(), report({ latencyMs: 2.2, p99: 5 }), 5);
  assert.deepEqual(slower.regressions, ['p50', 'p90', 'p99.9', 'max'], 'latency +10 % everywhere but p99');
  assert.deepEqual(compareReports(report(), report({ latencyMs: 2.2, p99: 5 }), 15).regressions, [], 'a looser threshold');
});

test('from zero and per connection: TIME_WAIT is judged per 1,000 connections, with a floor; a run lost after a baseline is a regression', () => {
  const tw = compareReports(report({ connections: 100 }), report({ timeWait: 3, connections: 100 }), 5);
  assert.equal(delta(tw, 'time-wait').changePercent, Infinity);
  assert.deepEqual(tw.regressions, ['time-wait'], '0 → 30 per 1,000 connections');
  const noise = compareReports(report({ connections: 1000 }), report({ timeWait: 1, connections: 1000 }), 5);
  assert.deepEqual(noise.regressions, [], '0 → 1 per 1,000 connections is under the floor');
  // The faster run opened more connections: more TIME_WAIT in all, not more per connection.
  const faster = compareReports(report({ timeWait: 742, connections: 997 }), report({ timeWait: 797, connections: 1113 }), 5);
  assert.deepEqual(faster.regressions, []);
  const lost = compareReports(report(), report({ noFlood: true, result: 'FAIL' }), 5);
  assert.deepEqual(lost.regressions, ['result', 'msgs', 'sent', 'received', 'p50', 'p90', 'p99', 'p99.9', 'max', 'time-wait']);
  assert.deepEqual(lost.notes, ["the after run's result is FAIL"]);
  // No reply at all: the latencies were not measured, not 0 ms.
  const silent = compareReports(report(), report({ replies: 0, latencyMs: 0, p99: 0 }), 5);
  assert.equal(delta(silent, 'p50').after, null);
  assert.equal(delta(silent, 'p50').regression, true);
  const gained = compareReports(report({ rss: null, timeWait: null }), report(), 5);
  assert.deepEqual(gained.regressions, []);
  assert.equal(delta(gained, 'rss').changePercent, null);
});

test('no baseline, no comparison: a before run that did not pass, or runs of different protocols, cannot be compared', () => {
  assert.match(incomparable(report({ result: 'FAIL', noFlood: true }), report({ result: 'FAIL', noFlood: true })) ?? '', /the before run's result is FAIL: it is no baseline/);
  assert.equal(incomparable(report(), report()), null);
});

test('--gate limits what can fail; notes say when the runs are not alike', () => {
  const c = compareReports(report(), report({ msgs: 5000, p99: 50, concurrency: 20 }), 5, ['p99']);
  assert.deepEqual(c.regressions, ['p99']);
  assert.equal(delta(c, 'msgs').gated, false);
  assert.deepEqual(c.notes, ['the scenarios differ: flood.concurrency 10 → 20']);
});

test('thresholds: 5%, 5, 2.5 % — anything else refused', () => {
  assert.deepEqual(['5%', '5', '2.5 %', '0%'].map(parseThreshold), [5, 5, 2.5, 0]);
  for (const bad of ['', 'five', '-5%', '5%%', '0.05x']) assert.throws(() => parseThreshold(bad), /--threshold: expected a percentage/, bad);
});

test('the command: exit 0 without a regression, 1 past the threshold, 2 on bad input; a folder is read as its report.json', { timeout: 30_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'portico-compare-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const write = async (name: string, value: unknown): Promise<string> => {
    const path = join(dir, name);
    await writeFile(path, typeof value === 'string' ? value : JSON.stringify(value));
    return path;
  };
  const before = await write('before.json', report());
  await mkdir(join(dir, 'after'));
  await write('after/report.json', report({ msgs: 9000 }));
  const compare = (...args: string[]) => runToExit(process.execPath, [harness, 'compare', ...args], { t });

  const regression = await compare(before, join(dir, 'after'));
  assert.equal(regression.code, 1, regression.stderr);
  assert.match(regression.stdout, /^throughput \(msg\/s\) \[msgs\] +10,000 +9,000 +-10\.0 % +REGRESSION \(higher is better\)$/m);
  assert.match(regression.stdout, /^latency p99 \[p99\] +5 ms +5 ms +\+0\.0 %$/m);
  assert.match(regression.stdout, /\nRESULT: REGRESSION past 5 %: msgs\n$/);

  const loose = await compare(before, join(dir, 'after'), '--threshold', '12%');
  assert.equal(loose.code, 0, loose.stderr);
  assert.match(loose.stdout, /\nRESULT: no regression past 12 %\n$/);
  const gated = await compare(before, join(dir, 'after'), '--gate=p99,rss');
  assert.equal(gated.code, 0);
  assert.match(gated.stdout, /-10\.0 % +\(not gated\)/);

  const json = await compare(before, join(dir, 'after', 'report.json'), '--json');
  assert.equal(json.code, 1);
  const parsed = JSON.parse(json.stdout) as Comparison;
  assert.deepEqual(parsed.regressions, ['msgs']);
  assert.equal(parsed.thresholdPercent, 5);

  const notJson = await write('garbage.json', 'not json');
  const notReport = await write('other.json', { hello: 'world' });
  for (const [args, message] of [
    [[before], /expected two reports \(before and after\), got 1/],
    [[before, join(dir, 'missing.json')], /cannot read .*missing\.json: ENOENT/],
    [[before, notJson], /garbage\.json: not valid JSON/],
    [[before, notReport], /other\.json: not a portico-harness report\.json/],
    [[before, before, '--threshold', 'lots'], /--threshold: expected a percentage/],
    [[before, before, '--gate', 'p42'], /--gate: unknown metric p42 \(known: msgs, sent/],
    [[before, before, '--bogus'], /unknown option --bogus/],
  ] as const) {
    const run = await compare(...args);
    assert.equal(run.code, 2, `${args.join(' ')}: ${run.stdout}`);
    assert.match(run.stderr, message);
  }
});
