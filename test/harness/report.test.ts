import { floodResult } from '../helpers/flood-result.js';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { renderHtml } from '../../harness/report/html.js';
import { niceScale } from '../../harness/report/nice-scale.js';
import { formatSummary } from '../../harness/report/summary.js';
import { lineChart } from '../../harness/report/svg-chart.js';
import { writeReport } from '../../harness/report/write-report.js';
import type { RunReport, Sample } from '../../harness/types.js';

const MiB = 1024 * 1024;

/** Deterministic wobble so the series look like a real run without randomness. */
function series(seconds: number, f: (i: number) => number): Sample[] {
  return Array.from({ length: seconds }, (_, i) => ({ t: i * 1000, value: f(i) }));
}

function passingReport(): RunReport {
  const seconds = 30;
  return {
    scenario: 'echo-flood-10k',
    provenance: {
      harnessVersion: '0.1.0',
      nodeVersion: 'v20.11.1',
      platform: 'linux x64',
      command: ['portico-harness', 'run', 'ci/scenarios/echo.json', '--report', 'reports/<echo>'],
      scenario: { name: 'echo-flood-10k', server: ['node', 'dist/examples/echo/main.js'], flood: { connections: 10_000 } },
    },
    serverCommand: ['node', 'dist/examples/echo/main.js', '--port', '0', '--banner', 'hello world'],
    ready: { by: 'line', server: 'echo', host: '127.0.0.1', port: 40123 },
    startedAt: '2025-01-02T03:04:05.678Z',
    durationMs: 31_250,
    flood: floodResult({
      connectionsPlanned: 10_000,
      connectionsMade: 10_000,
      connectionsStarted: 10_000,
      messagesSent: 100_000,
      messagesReceived: 100_000,
      bytesSent: 6_400_000,
      bytesReceived: 6_400_000,
      latencyMs: { count: 100_000, p50: 0.213, p90: 0.61, p99: 1.87, p999: 4.2, max: 23.4, mean: 0.31 },
      durationMs: 29_800,
      connectionsPerSecond: series(seconds, (i) => 320 + Math.round(40 * Math.sin(i / 3))),
      messagesPerSecond: series(seconds, (i) => 3200 + Math.round(400 * Math.sin(i / 3))),
      latencyOverTime: series(seconds, (i) => i).map((s) => ({ t: s.t, p50: 0.2 + 0.02 * Math.sin(s.value), p99: 1.5 + 0.4 * Math.cos(s.value / 2) })),
    }),
    timeWait: {
      port: 40123,
      before: { server: 0, client: 0 },
      after: { server: 0, client: 9_870 },
      peak: { server: 3, client: 9_870 },
      samples: series(seconds, (i) => i).map((s) => ({ t: s.t, server: s.value % 7 === 0 ? 3 : 0, client: Math.min(9_870, s.value * 330) })),
      netns: true,
    },
    memory: {
      capBytes: 256 * MiB,
      method: 'cgroup-v1',
      peakRssBytes: 83 * MiB,
      killedByCap: false,
      samples: series(seconds, (i) => (52 + Math.min(31, i * 2)) * MiB),
    },
    locks: [],
    leaks: [],
    exit: { code: 0, signal: null, stopSignal: 'SIGTERM', clean: true, stopMs: 42, killed: false, stderrTail: '' },
    checks: [
      { name: 'connection errors', verdict: 'PASS', requested: true, detail: '0 of 10,000 failed/reset/bad (budget 0 %)' },
      { name: 'server TIME_WAIT', verdict: 'PASS', requested: true, detail: 'peak 3 ≤ budget 100' },
      { name: 'clean exit', verdict: 'PASS', requested: true, detail: 'exit code 0 after 42 ms' },
      { name: 'lock order', verdict: 'PASS', requested: true, detail: 'no inversions' },
    ],
    result: 'PASS',
    pass: true,
  };
}

/** Everything optional missing: the server never became ready. */
function emptyReport(): RunReport {
  return {
    scenario: 'never-ready',
    provenance: { harnessVersion: 'unknown', nodeVersion: 'v22.0.0', platform: 'linux x64', command: null, scenario: {} },
    serverCommand: [],
    ready: null,
    startedAt: '2025-01-02T03:04:05.678Z',
    durationMs: 0,
    flood: null,
    timeWait: null,
    memory: null,
    locks: [],
    leaks: [],
    exit: null,
    checks: [],
    result: 'FAIL',
    pass: false,
    error: 'server did not print a ready line within 10000 ms',
  };
}

const hostileStderr = 'Error: boom <script>alert("x")</script> & more\n    at main (file.js:1:1)';

/** An inversion, a leak and a kill by the memory cap, with hostile text in stderr. */
function failingReport(): RunReport {
  const base = passingReport();
  return {
    ...base,
    scenario: 'owserver-persistent <bad> & "quoted"',
    memory: {
      capBytes: 64 * MiB,
      method: 'rss-poll',
      peakRssBytes: 66 * MiB,
      killedByCap: true,
      samples: series(12, (i) => (30 + i * 3) * MiB),
      note: 'cgroup v1 not writable; polling RSS every 100 ms',
    },
    timeWait: { ...base.timeWait!, netns: false, note: 'loopback port reuse may saturate counts' },
    locks: [
      {
        kind: 'inversion',
        cycle: ['connections', 'timer-wheel', 'connections'],
        singleTask: false,
        text: 'WARNING: lock-order-inversion (potential deadlock)\n  Cycle in lock order graph: connections => timer-wheel => connections\n  acquired at:\n    at Server.accept (server.js:10:5)',
      },
    ],
    leaks: [{ resources: ['TCPServerWrap', 'Timeout'], detail: 'There are 2 handle(s) keeping the process running\n# Timeout\nmain.js:12' }],
    exit: { code: null, signal: 'SIGKILL', stopSignal: 'SIGTERM', clean: false, stopMs: 5_000, killed: true, stderrTail: hostileStderr },
    checks: [
      { name: 'connection errors', verdict: 'FAIL', requested: true, detail: '412 of 10,000 reset (budget 0 %)\nfirst: ECONNRESET' },
      { name: 'memory cap', verdict: 'FAIL', requested: true, detail: 'killed by the 64 MiB cap' },
      { name: 'lock order', verdict: 'FAIL', requested: true, detail: '1 inversion: connections → timer-wheel → connections' },
      { name: 'server TIME_WAIT', verdict: 'PASS', requested: true, detail: 'peak 3' },
    ],
    result: 'FAIL',
    pass: false,
  };
}

function svgBlocks(html: string): string[] {
  return html.match(/<svg[\s\S]*?<\/svg>/g) ?? [];
}

/** Every non-void tag closed in order: enough to catch broken string building. */
function assertBalanced(markup: string): void {
  const stack: string[] = [];
  const voidTags = new Set(['meta', 'br', 'link']);
  for (const match of markup.matchAll(/<(\/?)([a-zA-Z][\w-]*)\b[^>]*?(\/?)>/g)) {
    const [, closing, name, selfClosing] = match;
    if (voidTags.has(name!) || selfClosing === '/') continue;
    if (closing === '/') assert.equal(stack.pop(), name, `unbalanced </${name}>`);
    else stack.push(name!);
  }
  assert.deepEqual(stack, [], 'unclosed tags');
}

/** Every numeric-looking attribute is a finite number (no NaN, Infinity, empty). */
function assertFiniteGeometry(svg: string): void {
  for (const [, attr, value] of svg.matchAll(/\b(x|y|cx|cy|r|width|height|x1|x2|y1|y2)="([^"]*)"/g)) {
    assert.ok(Number.isFinite(Number(value)) && value !== '', `${attr}="${value}"`);
  }
  for (const [, points] of svg.matchAll(/points="([^"]*)"/g)) {
    for (const n of points!.split(/[ ,]/)) assert.ok(Number.isFinite(Number(n)), `points has ${n}`);
  }
  assert.doesNotMatch(svg, /NaN|Infinity|undefined/);
}

function assertNoNetwork(html: string): void {
  assert.doesNotMatch(html, /https?:\/\//);
  assert.doesNotMatch(html, /\s(src|href|xlink:href)\s*=/i);
  assert.doesNotMatch(html, /@import|url\(/i);
  assert.doesNotMatch(html, /<script/i);
}

test('writeReport creates the directory and writes JSON that round-trips, plus the HTML', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'portico-report-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  for (const report of [passingReport(), emptyReport(), failingReport()]) {
    const dir = join(root, 'nested', report.scenario.replace(/\W+/g, '-'));
    const { jsonPath, htmlPath } = await writeReport(dir, report);
    assert.equal(jsonPath, join(dir, 'report.json'));
    assert.equal(htmlPath, join(dir, 'report.html'));
    const json = await readFile(jsonPath, 'utf8');
    assert.match(json, /\n  "scenario"/, 'pretty-printed');
    assert.deepEqual(JSON.parse(json), report);
    assert.equal(await readFile(htmlPath, 'utf8'), renderHtml(report));
  }
});

test('the HTML of a full run has the header, checks and five line charts, and is self-contained', () => {
  const report = passingReport();
  const html = renderHtml(report);
  assert.match(html, /^<!DOCTYPE html>/);
  assertBalanced(html);
  assertNoNetwork(html);
  assert.doesNotMatch(html, /NaN|undefined/);
  assert.match(html, /echo-flood-10k/);
  assert.match(html, /node dist\/examples\/echo\/main\.js --port 0 --banner &#39;hello world&#39;/);
  assert.match(html, /class="badge pass">PASS/);
  assert.doesNotMatch(html, /class="badge fail"/);
  for (const check of report.checks) assert.ok(html.includes(`<td>${check.name}</td>`), check.name);

  const svgs = svgBlocks(html);
  assert.equal(svgs.length, 5);
  for (const svg of svgs) {
    assert.match(svg, /<polyline points="[^"]+"/);
    assert.match(svg, /<path /);
    assertFiniteGeometry(svg);
  }
  assert.match(svgs[1]!, /p50/);
  assert.match(svgs[1]!, /p99/);
  assert.match(svgs[2]!, /server side/);
  assert.match(svgs[2]!, /client side/);
  assert.equal((svgs[2]!.match(/<polyline/g) ?? []).length, 2);
  assert.match(svgs[3]!, /cap 256 MiB/, 'memory cap drawn as a labelled line');
  assert.match(svgs[4]!, /replies\/s/);
  assert.match(svgs[3]!, /stroke-dasharray/);
  assert.doesNotMatch(html, /killed by cap/);

  // Flood totals and latency percentiles.
  for (const text of ['10,000', '100,000', '6,400,000', '0.213 ms', '1.87 ms', '23.4 ms', 'No errors.']) {
    assert.ok(html.includes(text), text);
  }
  assert.match(html, /Lock-order findings<\/h2><p>None reported/);
  assert.match(html, /exited cleanly/);
});

test('the HTML of a run with nothing measured says so instead of breaking', () => {
  const html = renderHtml(emptyReport());
  assertBalanced(html);
  assertNoNetwork(html);
  assert.doesNotMatch(html, /NaN|undefined/);
  assert.equal(svgBlocks(html).length, 0);
  // Five charts, flood totals, server exit.
  assert.equal((html.match(/not measured/g) ?? []).length, 7);
  assert.match(html, /no checks recorded/);
  assert.match(html, /never became ready/);
  assert.match(html, /server did not print a ready line/);
  assert.match(html, /class="badge fail">FAIL/);
});

test('the HTML of a failing run shows the inversion, the leak, the kill by cap, and escapes report text', () => {
  const html = renderHtml(failingReport());
  assertBalanced(html);
  assertNoNetwork(html);
  assert.doesNotMatch(html, /NaN|undefined/);
  assert.ok(!html.includes('<script>alert'), 'stderr script is escaped');
  assert.ok(html.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; more'));
  assert.ok(html.includes('owserver-persistent &lt;bad&gt; &amp; &quot;quoted&quot;'));
  assert.ok(!html.includes('<bad>'));

  assert.match(html, /class="badge fail">FAIL/);
  assert.match(html, /<tr class="fail"><td>memory cap<\/td>/);
  assert.match(html, /inversion \(across tasks\): connections → timer-wheel → connections/);
  assert.match(html, /<pre>WARNING: lock-order-inversion \(potential deadlock\)\n/);
  assert.match(html, /Still active after SIGTERM: TCPServerWrap, Timeout/);
  assert.match(html, /<pre>There are 2 handle\(s\)/);
  assert.match(html, /SIGKILLed after the stop deadline/);
  assert.match(html, /host&#39;s network namespace/);

  const memorySvg = svgBlocks(html)[3]!;
  assert.match(memorySvg, /killed by cap/);
  assert.match(memorySvg, /<circle /, 'the kill is marked on the RSS line');
  assert.match(memorySvg, /cap 64 MiB \(rss-poll\)/);
  assert.match(html, /killed by the memory cap/);
  assertFiniteGeometry(memorySvg);
});

test('the summary lists every check, the key figures and a final RESULT line', () => {
  const pass = formatSummary(passingReport()).split('\n');
  for (const check of passingReport().checks) {
    assert.ok(pass.some((line) => line.startsWith(`${'PASS'.padEnd(11)}  ${check.name}`) && line.endsWith(`  ${check.detail}`)), check.name);
  }
  assert.equal(pass.at(-1), 'RESULT: PASS');
  const text = pass.join('\n');
  assert.match(text, /10,000 started \(10,000 planned\), 10,000 made, 0 in error/);
  assert.match(text, /throughput: +3,356 msg\/s/);
  assert.match(text, /100,000 sent, 100,000 received/);
  assert.match(text, /p99 1\.87 ms/);
  assert.match(text, /peak server 3, client 9,870/);
  assert.match(text, /peak 83 MiB, cap 256 MiB/);
  assert.doesNotMatch(text, /NaN|undefined/);

  const fail = formatSummary(failingReport()).split('\n');
  assert.equal(fail.at(-1), 'RESULT: FAIL');
  assert.equal(fail.filter((line) => /^FAIL {9}/.test(line)).length, 3);
  assert.equal(fail.filter((line) => /^PASS {9}/.test(line)).length, 1);
  // A multi-line detail stays on its check's line.
  assert.ok(fail.some((line) => /^FAIL\s+connection errors\s+412 of 10,000 reset \(budget 0 %\) first: ECONNRESET$/.test(line)));
  assert.match(fail.join('\n'), /KILLED BY CAP/);
  assert.match(fail.join('\n'), /connections -> timer-wheel -> connections/);

  const empty = formatSummary(emptyReport());
  assert.match(empty, /not measured/);
  assert.match(empty, /error: +server did not print/);
  assert.match(empty, /\nRESULT: FAIL$/);
  assert.doesNotMatch(empty, /NaN|undefined/);
});

test('RESULT is FAIL when a check failed even if the report claims pass', () => {
  const report = { ...passingReport(), checks: [{ name: 'x', verdict: 'FAIL' as const, requested: true, detail: 'bad' }] };
  assert.match(formatSummary(report), /RESULT: FAIL$/);
  assert.match(renderHtml(report), /<h1><span class="badge fail">FAIL/);
});

test('NOT CHECKED: a requested check that was not made is never shown as PASS; an unrequested one is only information', () => {
  const unrequested = { name: 'memory cap', verdict: 'NOT CHECKED' as const, requested: false, detail: 'no cap given (--memory-cap); peak RSS 40.0 MiB' };
  const stillPass = { ...passingReport(), checks: [...passingReport().checks, unrequested] };
  const passText = formatSummary(stillPass);
  assert.match(passText, /^NOT CHECKED  memory cap +no cap given/m);
  assert.match(passText, /RESULT: PASS$/);

  const requested = { name: 'lock order', verdict: 'NOT CHECKED' as const, requested: true, detail: 'no lock detector reported in' };
  // Even a report that claims PASS is shown INCOMPLETE: the guard looks at the checks.
  const claimed = { ...passingReport(), checks: [passingReport().checks[0]!, requested] };
  assert.match(formatSummary(claimed), /\nRESULT: INCOMPLETE \(not checked: lock order\)$/);
  const html = renderHtml(claimed);
  assert.match(html, /<h1><span class="badge unchecked">INCOMPLETE/);
  assert.match(html, /<tr class="unchecked"><td>lock order<\/td><td><span class="badge unchecked">NOT CHECKED<\/span>/);
  // A FAIL beside it wins.
  const failed = { ...claimed, checks: [...claimed.checks, { name: 'x', verdict: 'FAIL' as const, requested: true, detail: 'bad' }] };
  assert.match(formatSummary(failed), /RESULT: FAIL$/);
});

test('the summary prints a multi-line error with its lines kept, indented under "error:"', () => {
  const report = { ...emptyReport(), error: 'the server printed no ready line within 10.0 s\ncommand: python3 x.py\n--- server stderr ---\nTraceback (most recent call last):\n  File "x.py", line 1' };
  const lines = formatSummary(report).split('\n');
  const at = lines.findIndex((l) => l.startsWith('error:'));
  assert.deepEqual(lines.slice(at, at + 5), [
    'error:    the server printed no ready line within 10.0 s',
    '          command: python3 x.py',
    '          --- server stderr ---',
    '          Traceback (most recent call last):',
    '            File "x.py", line 1',
  ]);
});

test('lineChart copes with empty, single-point, all-zero and non-finite data', () => {
  const cases = {
    'no series': [],
    'empty series': [{ name: 'a', points: [] }],
    'single point': [{ name: 'a', points: [{ x: 5, y: 7 }] }],
    'single zero at zero': [{ name: 'a', points: [{ x: 0, y: 0 }] }],
    'all zero': [{ name: 'a', points: [0, 1, 2, 3].map((x) => ({ x, y: 0 })) }, { name: 'b', points: [] }],
    'non-finite': [{ name: 'a', points: [{ x: NaN, y: 1 }, { x: 1, y: Infinity }, { x: 2, y: 3 }, { x: 3, y: NaN }] }],
    negative: [{ name: 'a', points: [{ x: -2, y: -5 }, { x: 2, y: 5 }] }],
  };
  for (const [label, series] of Object.entries(cases)) {
    const svg = lineChart({ title: label, series, xLabel: 'x', yLabel: 'y', horizontalLines: [{ y: 0, label: 'zero' }] });
    assert.match(svg, /^<svg [^>]*viewBox="0 0 720 \d+"/, label);
    assert.match(svg, /<\/svg>$/, label);
    assertBalanced(svg);
    assertFiniteGeometry(svg);
    assert.match(svg, /<path /, label);
  }
  const empty = lineChart({ title: 't', series: [{ name: 'a', points: [] }], xLabel: 'x', yLabel: 'y' });
  assert.match(empty, /no data/);
  assert.doesNotMatch(empty, /<polyline/);
  const single = lineChart({ title: 't', series: [{ name: 'a', points: [{ x: 5, y: 7 }] }], xLabel: 'x', yLabel: 'y' });
  assert.match(single, /<polyline points="[\d.]+,[\d.]+"/);
  assert.match(single, /<circle /);
});

test('lineChart draws round ticks, a legend with distinct colours, reference lines and escaped labels', () => {
  const svg = lineChart({
    title: 'a < b & c',
    series: [
      { name: 'first', points: [{ x: 0, y: 3 }, { x: 13, y: 97 }] },
      { name: 'second', points: [{ x: 0, y: 10 }, { x: 13, y: 20 }] },
    ],
    xLabel: 'time (s)',
    yLabel: 'requests',
    width: 500,
    height: 240,
    horizontalLines: [{ y: 120, label: 'limit <120>' }],
    formatY: (y) => `${y} req`,
  });
  assert.match(svg, /viewBox="0 0 500 240"/);
  assert.ok(svg.includes('a &lt; b &amp; c'));
  assert.ok(svg.includes('limit &lt;120&gt;'));
  const yTicks = [...svg.matchAll(/>(-?[\d.]+) req</g)].map((m) => Number(m[1]));
  assert.deepEqual(yTicks, [0, 25, 50, 75, 100, 125], 'y range covers the reference line with round steps');
  const strokes = [...svg.matchAll(/<polyline [^>]*stroke="(#[0-9A-Fa-f]{6})"/g)].map((m) => m[1]);
  assert.equal(strokes.length, 2);
  assert.notEqual(strokes[0], strokes[1]);
  assert.match(svg, />first</);
  assert.match(svg, />second</);
  assertBalanced(svg);
  assertFiniteGeometry(svg);
});

test('niceScale picks round bounds and steps', () => {
  assert.deepEqual(niceScale(0, 97), { min: 0, max: 100, step: 20, ticks: [0, 20, 40, 60, 80, 100] });
  assert.deepEqual(niceScale(0, 0).ticks.slice(0, 2), [0, 0.2]);
  assert.deepEqual(niceScale(0, 0.7, 5).ticks, [0, 0.2, 0.4, 0.6, 0.8]);
  const big = niceScale(0, 268_435_456);
  assert.ok(big.ticks.every((tick) => tick % big.step === 0));
  assert.ok(big.max >= 268_435_456);
});
