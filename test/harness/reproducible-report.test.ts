/**
 * Reports that can be repeated and read side by side: report.json and the HTML carry the resolved
 * scenario (a valid scenario file), the harness and Node versions and the command line; every time
 * series starts at the server's start, and a short run gets sub-second buckets (a line, not a dot).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { sampleIntervalMs } from '../../harness/flood/flood.js';
import { scenarioFile } from '../../harness/scenario-file.js';
import { readScenarioFile } from '../../harness/run-request.js';
import { buildScenario } from '../../harness/scenario.js';
import { assertVerdicts, harness, plainEcho, runHarness } from '../helpers/harness-run.js';
import { repoRoot, runToExit } from '../helpers/spawn-server.js';

const T = { timeout: 60_000 };
const packageVersion = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;

test('the resolved scenario is a scenario file that resolves to the same scenario: every ci/scenarios file, a raw one, and flags', async () => {
  const dir = join(repoRoot, 'ci/scenarios');
  const files = (await readdir(dir)).filter((f) => f.endsWith('.json'));
  assert.ok(files.length >= 5);
  const scenarios = await Promise.all(files.map(async (f) => buildScenario(await readScenarioFile(join(dir, f)), f, f.replace(/\.json$/, ''))));
  scenarios.push(
    buildScenario(
      {
        server: 'python3 -u -m http.server {port}',
        ready: 'regex:Serving',
        stopSignal: 'SIGINT',
        flood: { protocol: 'raw', durationMs: 2000, warmupMs: 500, rate: 100, protocolOptions: { send: 'GET / HTTP/1.0\\r\\n\\r\\n', expectRegex: ' 200 ' } },
        thresholds: { acceptExitCodes: [0, 130], timeWaitBudget: 5 },
        memoryCap: '64M',
      },
      'test',
    ),
  );
  for (const scenario of scenarios) {
    const file = scenarioFile(scenario);
    // Through JSON, as report.json keeps it.
    const again = buildScenario(JSON.parse(JSON.stringify(file)) as unknown, 'report.json');
    assert.deepEqual(again, scenario, scenario.name);
  }
  const raw = scenarioFile(scenarios.at(-1)!);
  assert.equal((raw['flood'] as Record<string, unknown>)['size'], undefined, 'a raw flood leaves its size to the payload');
  assert.equal(raw['ready'], 'regex:Serving');
});

test('run <report.json>: refused before anything runs when the report is not runnable or would be replaced', T, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'portico-harness-test-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const write = async (name: string, content: unknown): Promise<string> => {
    await mkdir(join(dir, dirname(name)), { recursive: true });
    await writeFile(join(dir, name), JSON.stringify(content));
    return name;
  };
  const scenario = { name: 'again', server: ['node', 'test/fixtures/plain-echo.mjs'] };
  const cases: { name: string; args: string[]; message: RegExp }[] = [
    {
      name: 'its new report would go where the old one is (reports/<name>/ by default)',
      args: [await write('reports/again/report.json', { scenario: 'again', provenance: { scenario }, result: 'PASS' })],
      message: /^portico-harness: reports\/again\/report\.json: this run's report would replace the report it repeats; give --report <dir> \(e\.g\. --report reports\/again-again\)$/m,
    },
    {
      name: 'the same, with --report naming that folder',
      args: ['reports/again/report.json', '--report', join(dir, 'reports/again')],
      message: /this run's report would replace the report it repeats/,
    },
    {
      name: 'a provenance without a scenario',
      args: [await write('old/report.json', { provenance: { harnessVersion: '0.0.1' } })],
      message: /^portico-harness: old\/report\.json: has "provenance" as a report\.json does, but no provenance\.scenario object to run again$/m,
    },
    {
      name: 'a bad field in the recorded scenario names the report',
      args: [await write('bad/report.json', { provenance: { scenario: { ...scenario, flood: { bogus: 1 } } } }), '--report', join(dir, 'out')],
      message: /^portico-harness: bad\/report\.json \(provenance\.scenario\): .*flood\.bogus/m,
    },
    {
      name: 'flags go over the recorded scenario, and are checked with it',
      args: [await write('flags/report.json', { provenance: { scenario } }), '--connections', '0', '--report', join(dir, 'out')],
      message: /^portico-harness: flags\/report\.json \(provenance\.scenario\) \+ flags: flood\.connections: must be >= 1, got 0$/m,
    },
  ];
  for (const c of cases) {
    const result = await runToExit(process.execPath, [harness, 'run', ...c.args], { cwd: dir, t });
    assert.equal(result.code, 2, `${c.name}: ${result.stderr}`);
    assert.match(result.stderr, c.message, c.name);
    assert.doesNotMatch(result.stderr, /is a report\.json: running/, `${c.name}: nothing was run`);
  }
  assert.deepEqual((await readdir(dir)).sort(), ['bad', 'flags', 'old', 'reports'], 'no report folder was made (no out/)');
  assert.deepEqual(await readdir(join(dir, 'reports/again')), ['report.json'], 'the old report is untouched');
});

test('flood buckets: about 1/20 of a planned run (100 ms .. 1 s); 100 ms, then 250 ms, then 1 s for a run of unknown length', () => {
  assert.equal(sampleIntervalMs(1000, 0), 100);
  assert.equal(sampleIntervalMs(4000, 0), 250);
  assert.equal(sampleIntervalMs(10_000, 9000), 500);
  assert.equal(sampleIntervalMs(60_000, 0), 1000);
  assert.deepEqual([0, 2999, 3000, 14_999, 15_000, 600_000].map((t) => sampleIntervalMs(null, t)), [100, 100, 250, 250, 1000, 1000]);
});

test('a 1 s run: versions, command and resolved scenario in report.json and the HTML; one time origin; a line of sub-second points', T, async (t) => {
  const args = ['--server', plainEcho, '--accept-signal-exit', '--duration', '1s', '--concurrency', '4', '--size', '64', '--quiet'];
  const run = await runHarness(t, args);
  assertVerdicts(run, { result: 'PASS' });
  const report = run.report!;
  const p = report.provenance;
  assert.equal(p.harnessVersion, packageVersion);
  assert.equal(p.nodeVersion, process.version);
  assert.equal(p.platform, `${process.platform} ${process.arch}`);
  assert.deepEqual(p.command!.slice(0, 2 + args.length), ['portico-harness', 'run', ...args]);
  const scenario = p.scenario as { flood: Record<string, unknown>; thresholds: Record<string, unknown>; server: string[] };
  assert.deepEqual(scenario.server, ['node', 'test/fixtures/plain-echo.mjs']);
  assert.equal(scenario.flood['durationMs'], 1000);
  assert.equal(scenario.flood['concurrency'], 4);
  assert.equal(scenario.thresholds['acceptSignalExit'], true);
  assert.equal(scenario.thresholds['stopDeadlineMs'], 5000, 'defaults are written out too');

  // One origin: the server's start. Memory is sampled from the launch, TIME_WAIT and the flood from readiness.
  const flood = report.flood!;
  const readyMs = Number(/after (\d+) ms/.exec(report.checks.find((c) => c.name === 'server ready')!.detail)![1]);
  // After readiness: the TIME_WAIT sampler's first count of the host's tables (slow on a busy host) comes between.
  assert.ok(flood.startMs >= readyMs - 5 && flood.startMs < readyMs + 3000, `flood starts at ${flood.startMs} ms, ready at ${readyMs} ms`);
  const rssFirst = report.memory!.samples[0]!.t;
  const twFirst = report.timeWait!.samples[0]!.t;
  assert.ok(rssFirst >= 0 && rssFirst < flood.startMs, `RSS from ${rssFirst} ms`);
  assert.ok(twFirst >= readyMs - 5 && twFirst <= flood.startMs + 5, `TIME_WAIT from ${twFirst} ms, flood from ${flood.startMs} ms`);
  const points = flood.messagesPerSecond;
  assert.ok(points.length >= 6, `${points.length} throughput points in 1 s`);
  assert.ok(points[0]!.t > flood.startMs && points[0]!.t <= flood.startMs + 1000, `first bucket ends at ${points[0]!.t}`);
  // 100 ms buckets; a busy shared machine may hold a timer back now and then, never by seconds.
  const gaps = points.slice(1).map((p, i) => p.t - points[i]!.t);
  assert.ok(Math.max(...gaps) < 1500 && gaps.filter((g) => g < 200).length >= gaps.length / 2, `buckets of ~100 ms: ${points.map((s) => Math.round(s.t)).join(', ')}`);
  assert.ok(points.at(-1)!.t <= report.durationMs);
  assert.ok(flood.latencyOverTime.length >= 6);

  const html = await readFile(join(run.reportDir, 'report.html'), 'utf8');
  assert.ok(html.includes(`portico-harness ${packageVersion}, Node ${process.version}`));
  assert.match(html, /<th scope="row">command<\/th><td>portico-harness run --server &#39;node test\/fixtures\/plain-echo\.mjs&#39; --accept-signal-exit --duration 1s/);
  assert.match(html, /<details><summary>resolved scenario<\/summary><pre>\{\n  &quot;name&quot;: &quot;plain-echo&quot;/);
  // Every chart: the same x axis from the server's start, and lines rather than lone dots.
  const svgs = html.match(/<svg[\s\S]*?<\/svg>/g) ?? [];
  assert.equal(svgs.length, 5);
  for (const svg of svgs) {
    assert.match(svg, /time since the server started \(s\)/);
    const title = /<title>([^<]*)/.exec(svg)![1]!;
    const line = /<polyline points="([^"]*)"/.exec(svg);
    // TIME_WAIT reads the host's socket tables (15 MB on a busy machine) off the main thread, as often as it can.
    const atLeast = title === 'Sockets in TIME_WAIT' ? 3 : 6;
    assert.ok(line !== null && line[1]!.split(' ').length >= atLeast, `a line of ${atLeast}+ points in ${title}: ${line?.[1] ?? 'none'}`);
    assert.doesNotMatch(svg, /<circle/);
  }
  const axisLabels = svgs.map((svg) => [...svg.matchAll(/text-anchor="middle"[^>]*>([\d.]+)<\/text>/g)].map((m) => m[1]).join(' '));
  assert.equal(new Set(axisLabels).size, 1, `same x ticks on every chart: ${axisLabels.join(' | ')}`);

  // The report itself runs its resolved scenario again, and says so.
  const file = join(run.reportDir, 'report.json');
  const again = await runHarness(t, [file, '--quiet']);
  assertVerdicts(again, { result: 'PASS' });
  assert.match(again.stderr, new RegExp(`^portico-harness: ${file.replace(/[.]/g, '\\.')} is a report\\.json: running the scenario it recorded \\(provenance\\.scenario\\) again$`, 'm'));
  assert.deepEqual(again.report!.provenance.scenario, p.scenario);
  assert.deepEqual(again.report!.provenance.command!.slice(1, 3), ['run', file]);

  // Two real reports of one scenario compare as alike: figures only, no note about their settings.
  const compared = await runToExit(process.execPath, [harness, 'compare', run.reportDir, again.reportDir, '--threshold', '100000%'], { t });
  assert.equal(compared.code, 0, compared.stderr);
  assert.match(compared.stdout, /^throughput \(msg\/s\) \[msgs\] +[\d,]+ +[\d,]+ +[+-][\d.]+ %$/m);
  assert.doesNotMatch(compared.stdout, /note:/);
});
