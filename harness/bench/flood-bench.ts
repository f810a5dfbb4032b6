#!/usr/bin/env node
/**
 * The flood of issue 7 defect 9 at full size, through the black-box harness (portico-harness run):
 * 10,000 connections, 2,000 at once, 20 ping-pong messages of 1 KiB each, on portico's echo example
 * and on the plain node:net echo, N runs each, alternating:
 *
 *   node dist/harness/bench/flood-bench.js [--flood-runs 3]
 *
 * Each run is a fresh server under the harness's usual checks (errors, TIME_WAIT, leaks, clean exit);
 * its report.json and report.html land in reports/bench-flood/<server>-<run>/. Reported per run: the
 * harness verdict, connections in error by code (REPLY_TIMEOUT = a connection that stopped being
 * answered), p99 and max round-trip latency. A failing run is a finding, not a bench failure: it is
 * reported and the runs go on.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { RunReport } from '../types.js';
import { spawnNode, terminate } from './children.js';
import { abOrder, type EchoServerName, echoServers, serverLabel } from './echo-servers.js';
import { exitWithError } from './fail.js';
import { flagsHelp, type IntFlag, type ParseOptions, parseIntFlags } from './flags.js';
import { fmt, markdownTable } from './markdown.js';
import { isMain, reportsDir, scripts } from './paths.js';
import { listenOverflows } from './proc-stat.js';

type FloodFlag = 'flood-runs' | 'flood-connections' | 'flood-concurrency' | 'flood-messages' | 'flood-size';

export const floodBenchFlags: readonly IntFlag<FloodFlag>[] = [
  { name: 'flood-runs', description: 'harness runs per server (issue 7 asks for 10 in a row)', default: 3, min: 1, max: 50 },
  { name: 'flood-connections', description: 'connections per run', default: 10_000, min: 1, max: 100_000 },
  { name: 'flood-concurrency', description: 'connections open at once', default: 2_000, min: 1, max: 10_000 },
  { name: 'flood-messages', description: 'ping-pong messages per connection', default: 20, min: 1, max: 1000 },
  { name: 'flood-size', description: 'bytes per message', default: 1024, min: 1, max: 1024 * 1024 },
];

/** The harness's own flood cap is 120 s and its stop deadline 5 s; past this it is stopped. */
const HARNESS_TIMEOUT_MS = 180_000;
const floodDir = path.join(reportsDir, 'bench-flood');

export interface FloodRun {
  readonly server: EchoServerName;
  readonly run: number;
  /** The harness verdict: every requested check passed. */
  readonly pass: boolean;
  readonly failedChecks: readonly string[];
  readonly connectionsMade: number;
  readonly failed: number;
  readonly reset: number;
  readonly bad: number;
  readonly errorCodes: Readonly<Record<string, number>>;
  readonly messagesReceived: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly floodSeconds: number;
  readonly peakRssMiB: number | null;
  readonly loadAvg1m: number;
  /** Handshakes the kernel dropped during the run because a listen queue was full (host-wide; null if unknown). */
  readonly listenOverflows: number | null;
  /** Set when the harness could not run the flood at all. */
  readonly error?: string;
}

const errorsOf = (r: FloodRun): number => r.failed + r.reset + r.bad;

async function harnessRun(server: (typeof echoServers)[number], run: number, flags: Readonly<Record<FloodFlag, number>>): Promise<FloodRun> {
  const name = `${server.name}-${run}`;
  const dir = path.join(floodDir, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  // A scenario file, not --server "<command line>": the server argv stays an array whatever the paths hold.
  const scenarioFile = path.join(dir, 'scenario.json');
  const scenario = {
    name: `flood-${name}`,
    description: 'issue 7 defect 9 flood (harness/bench/flood-bench.ts)',
    server: [process.execPath, server.script, ...server.args],
    flood: { protocol: 'echo', connections: flags['flood-connections'], concurrency: flags['flood-concurrency'], messages: flags['flood-messages'], size: flags['flood-size'] },
  };
  writeFileSync(scenarioFile, JSON.stringify(scenario, null, 2) + '\n');
  const overflowsBefore = listenOverflows();
  const tracked = spawnNode(scripts.harness, ['run', scenarioFile, '--report', dir, '--quiet']);
  tracked.child.stdout!.resume(); // its summary is in report.json; an unread pipe would block it
  const timer = setTimeout(() => void terminate(tracked, 10_000), HARNESS_TIMEOUT_MS);
  const exit = await tracked.exited;
  clearTimeout(timer);
  const loadAvg1m = os.loadavg()[0]!;
  const overflowsAfter = listenOverflows();
  const overflows = overflowsBefore === null || overflowsAfter === null ? null : overflowsAfter - overflowsBefore;
  let report: RunReport;
  try {
    report = JSON.parse(readFileSync(path.join(dir, 'report.json'), 'utf8')) as RunReport;
  } catch {
    throw new Error(`portico-harness wrote no report for ${name} (code ${exit.code}, signal ${exit.signal}): ${tracked.stderrTail().trim()}`);
  }
  const flood = report.flood;
  return {
    server: server.name,
    run,
    pass: report.pass,
    failedChecks: report.checks.filter((c) => c.verdict === 'FAIL' || (c.requested && c.verdict !== 'PASS')).map((c) => `${c.name}: ${c.verdict} ${c.detail}`),
    connectionsMade: flood?.connectionsMade ?? 0,
    failed: flood?.connectionsFailed ?? 0,
    reset: flood?.connectionsReset ?? 0,
    bad: flood?.connectionsBad ?? 0,
    errorCodes: flood?.errors ?? {},
    messagesReceived: flood?.messagesReceived ?? 0,
    p99Ms: flood?.latencyMs.p99 ?? Number.NaN,
    maxMs: flood?.latencyMs.max ?? Number.NaN,
    floodSeconds: (flood?.durationMs ?? Number.NaN) / 1000,
    peakRssMiB: report.memory === null ? null : report.memory.peakRssBytes / (1024 * 1024),
    loadAvg1m,
    listenOverflows: overflows,
    ...(report.error === undefined ? {} : { error: report.error }),
  };
}

const codes = (r: Readonly<Record<string, number>>): string =>
  Object.entries(r)
    .map(([code, n]) => `${code} ${fmt(n)}`)
    .join(', ');

function render(runs: readonly FloodRun[], flags: Readonly<Record<FloodFlag, number>>): string {
  const detail = markdownTable(
    ['server', 'run', 'harness', 'connections in error', 'by code', 'p99 ms', 'max ms', 'listen queue overflows', 'flood s', 'peak RSS MiB', 'load avg'],
    runs.map((r) => [
      serverLabel(r.server),
      String(r.run),
      r.pass ? 'PASS' : `FAIL (${r.failedChecks.map((c) => c.split(':')[0]).join(', ')})`,
      fmt(errorsOf(r)),
      codes(r.errorCodes),
      fmt(r.p99Ms, 0),
      fmt(r.maxMs, 0),
      r.listenOverflows === null ? 'n/a' : fmt(r.listenOverflows),
      fmt(r.floodSeconds, 1),
      r.peakRssMiB === null ? 'n/a' : fmt(r.peakRssMiB, 0),
      fmt(r.loadAvg1m, 2),
    ]),
    [false, true, false, true, false, true, true, true, true, true, true],
  );
  const readme = markdownTable(
    ['server', 'runs', 'runs with errors', 'connections in error per run', 'max latency ms per run', 'listen queue overflows per run', 'p99 ms (median run)'],
    echoServers.map((s) => {
      const mine = runs.filter((r) => r.server === s.name);
      const p99 = mine.map((r) => r.p99Ms).sort((a, b) => a - b);
      return [
        serverLabel(s.name),
        String(mine.length),
        String(mine.filter((r) => errorsOf(r) > 0).length),
        mine.map((r) => fmt(errorsOf(r))).join(' / '),
        mine.map((r) => fmt(r.maxMs, 0)).join(' / '),
        mine.map((r) => (r.listenOverflows === null ? 'n/a' : fmt(r.listenOverflows))).join(' / '),
        fmt(p99[Math.floor((p99.length - 1) / 2)] ?? Number.NaN, 0),
      ];
    }),
    [false, true, true, false, false, false, true],
  );
  const shape = `${fmt(flags['flood-connections'])} connections, ${fmt(flags['flood-concurrency'])} at once, ${flags['flood-messages']} × ${fmt(flags['flood-size'])} B ping-pong each`;
  return `(${shape})\n\n${detail}\n\n${readme}\n`;
}

/** Run the flood on both servers; prints the tables and writes reports/bench-flood.json. */
export async function runFloodBench(argv: readonly string[], parse: ParseOptions = {}): Promise<void> {
  const { help, values: flags } = parseIntFlags(argv, floodBenchFlags, parse);
  if (help) {
    process.stdout.write(flagsHelp('node dist/harness/bench/flood-bench.js [options]', floodBenchFlags));
    return;
  }
  const runs: FloodRun[] = [];
  for (let run = 1; run <= flags['flood-runs']; run++) {
    for (const server of abOrder(run)) {
      process.stderr.write(`flood ${server.name} run ${run}/${flags['flood-runs']} ... `);
      const result = await harnessRun(server, run, flags);
      runs.push(result);
      process.stderr.write(
        `${result.pass ? 'PASS' : 'FAIL'}, ${errorsOf(result)} connection(s) in error${errorsOf(result) > 0 ? ` (${codes(result.errorCodes)})` : ''}, ` +
          `p99 ${fmt(result.p99Ms, 0)} ms, max ${fmt(result.maxMs, 0)} ms, ${fmt(result.floodSeconds, 1)} s, load ${fmt(result.loadAvg1m, 2)}` +
          `${result.pass ? '' : `\n  ${result.failedChecks.join('\n  ')}`}\n`,
      );
    }
  }
  process.stdout.write(`\n## Flood (issue 7 defect 9): portico vs plain node:net under portico-harness, ${flags['flood-runs']} run(s) each\n\n`);
  process.stdout.write(render(runs, flags));

  mkdirSync(reportsDir, { recursive: true });
  const file = path.join(reportsDir, 'bench-flood.json');
  writeFileSync(file, JSON.stringify({ generatedAt: new Date().toISOString(), node: process.version, cpus: os.cpus().length, loadavg: os.loadavg(), options: flags, runs }, null, 2) + '\n');
  process.stderr.write(`wrote ${path.relative(process.cwd(), file)} (per-run harness reports under ${path.relative(process.cwd(), floodDir)}/)\n`);
  const failed = runs.filter((r) => !r.pass);
  if (failed.length > 0) {
    process.stderr.write(`warning: ${failed.length} flood run(s) failed a harness check: ${failed.map((r) => `${r.server}-${r.run}`).join(', ')}\n`);
    process.exitCode = 1;
  }
}

if (isMain(import.meta.url)) {
  runFloodBench(process.argv.slice(2)).catch((error: unknown) => exitWithError('flood-bench', error));
}
