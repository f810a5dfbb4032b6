#!/usr/bin/env node
/**
 * Memory of idle connections after traffic: 3,000 connections each echo 32 KiB (ping-pong writes of
 * 16 KiB down to 64 B, idle-load.ts) and then sit idle; the server's RSS then, minus its RSS before
 * them, per connection — portico's echo example vs the plain node:net echo, A/B alternating:
 *
 *   node dist/harness/bench/idle-rss-bench.js [--rounds 1] [--idle-connections 3000] [--idle-bytes 32768]
 *
 * RSS is VmRSS from /proc/<pid>/status, sampled every 200 ms over --settle-ms and the last sample
 * taken (GC cannot be forced from outside; the series is in the JSON report). Before the baseline,
 * 100 connections do the same exchange and close, so the code the traffic needs is already
 * compiled and the pools already exist: what remains is what the idle connections hold.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Exit } from './children.js';
import { abOrder, type EchoServerName, type EchoServerUnderTest, echoServers, serverLabel, startEchoServer } from './echo-servers.js';
import { exitWithError } from './fail.js';
import { flagsHelp, type IntFlag, type ParseOptions, parseIntFlags } from './flags.js';
import { PhasedLoad } from './load-phases.js';
import { fmt, markdownTable } from './markdown.js';
import { isMain, reportsDir, scripts } from './paths.js';
import { maxOpenFiles, openFds, peakRssMiB, rssKiB } from './proc-stat.js';

type IdleFlag = 'rounds' | 'idle-connections' | 'idle-bytes' | 'settle-ms';

export const idleRssBenchFlags: readonly IntFlag<IdleFlag>[] = [
  { name: 'rounds', description: 'A/B rounds', default: 1, min: 1, max: 20 },
  { name: 'idle-connections', description: 'connections that echo and then sit idle', default: 3000, min: 100, max: 15_000 },
  { name: 'idle-bytes', description: 'bytes each connection echoes before going idle', default: 32 * 1024, min: 0, max: 1024 * 1024 },
  { name: 'settle-ms', description: 'RSS sampled every 200 ms over this long; the last sample counts', default: 2000, min: 200, max: 30_000 },
];

const WARMUP_CONNECTIONS = 100;
const SAMPLE_EVERY_MS = 200;
const PHASE_TIMEOUT_MS = 120_000;
const FD_SLACK = 64;
/** The goal: portico's RSS per idle connection ≤ node:net's. */
const GOAL = 1.0;

export interface IdleRun {
  readonly server: EchoServerName;
  readonly round: number;
  readonly connections: number;
  /** Connections the server still held (open fds beyond the baseline) when RSS was sampled idle. */
  readonly heldByServer: number;
  readonly errors: number;
  readonly errorCodes: Readonly<Record<string, number>>;
  readonly exchangeSeconds: number;
  readonly baselineRssKiB: number;
  readonly idleRssKiB: number;
  /** After the clients closed and another settle period: what the server gives back. */
  readonly afterCloseRssKiB: number;
  readonly peakRssMiB: number | null;
  readonly idleSamplesKiB: readonly number[];
  readonly loadAvg1m: number;
  readonly serverExitCode: number | null;
}

export interface IdleSummary {
  readonly server: EchoServerName;
  readonly baselineMiB: number;
  readonly idleMiB: number;
  /** Mean over rounds of (idle − baseline) / connections held. */
  readonly perConnectionKiB: number;
  readonly afterCloseMiB: number;
  readonly peakMiB: number | null;
  readonly errors: number;
}

async function settledRss(pid: number, settleMs: number): Promise<number[]> {
  const samples: number[] = [];
  for (let waited = 0; waited < settleMs; waited += SAMPLE_EVERY_MS) {
    await new Promise((resolve) => setTimeout(resolve, SAMPLE_EVERY_MS));
    samples.push(rssKiB(pid));
  }
  return samples;
}

function idleLoad(port: number, connections: number, bytes: number): PhasedLoad {
  return new PhasedLoad('idle-load', scripts.idleLoad, ['--port', String(port), '--connections', String(connections), '--bytes', String(bytes)]);
}

async function measure(server: EchoServerUnderTest, round: number, flags: Readonly<Record<IdleFlag, number>>): Promise<IdleRun> {
  const running = await startEchoServer(server);
  const loads: PhasedLoad[] = [];
  let measured: Omit<IdleRun, 'serverExitCode'>;
  let exit: Exit;
  try {
    const connections = flags['idle-connections'];
    const limit = maxOpenFiles(running.pid);
    if (limit < connections + FD_SLACK) throw new Error(`the ${server.name} server may open ${limit} files, too few for ${connections} connections: raise ulimit -n`);

    const warm = idleLoad(running.port, WARMUP_CONNECTIONS, flags['idle-bytes']);
    loads.push(warm);
    await warm.next('connected', ['connected'], PHASE_TIMEOUT_MS);
    await warm.next('idle', ['open', 'errors'], PHASE_TIMEOUT_MS);
    warm.send('close');
    await warm.finish(PHASE_TIMEOUT_MS);

    const baseline = await settledRss(running.pid, flags['settle-ms']);
    const fdsBefore = openFds(running.pid);
    const load = idleLoad(running.port, connections, flags['idle-bytes']);
    loads.push(load);
    await load.next('connected', ['connected', 'failed'], PHASE_TIMEOUT_MS);
    const idle = await load.next('idle', ['open', 'errors', 'seconds'], PHASE_TIMEOUT_MS);
    const idleSamples = await settledRss(running.pid, flags['settle-ms']);
    const heldByServer = openFds(running.pid) - fdsBefore;
    load.send('close');
    await load.finish(PHASE_TIMEOUT_MS);
    const afterClose = await settledRss(running.pid, flags['settle-ms']);
    measured = {
      server: server.name,
      round,
      connections,
      heldByServer,
      errors: idle['errors'] as number,
      errorCodes: (idle['errorCodes'] ?? {}) as Record<string, number>,
      exchangeSeconds: idle['seconds'] as number,
      baselineRssKiB: baseline.at(-1)!,
      idleRssKiB: idleSamples.at(-1)!,
      afterCloseRssKiB: afterClose.at(-1)!,
      peakRssMiB: peakRssMiB(running.pid),
      idleSamplesKiB: idleSamples,
      loadAvg1m: os.loadavg()[0]!,
    };
  } finally {
    for (const load of loads) await load.kill();
    exit = await running.stop();
  }
  return { ...measured, serverExitCode: exit.code };
}

const perConnectionKiB = (r: IdleRun): number => (r.idleRssKiB - r.baselineRssKiB) / Math.max(1, r.heldByServer);

function summarize(runs: readonly IdleRun[]): IdleSummary[] {
  return echoServers.map((server) => {
    const mine = runs.filter((r) => r.server === server.name);
    const mean = (pick: (r: IdleRun) => number): number => mine.reduce((acc, r) => acc + pick(r), 0) / mine.length;
    return {
      server: server.name,
      baselineMiB: mean((r) => r.baselineRssKiB) / 1024,
      idleMiB: mean((r) => r.idleRssKiB) / 1024,
      perConnectionKiB: mean(perConnectionKiB),
      afterCloseMiB: mean((r) => r.afterCloseRssKiB) / 1024,
      peakMiB: mine.some((r) => r.peakRssMiB === null) ? null : Math.max(...mine.map((r) => r.peakRssMiB!)),
      errors: mine.reduce((acc, r) => acc + r.errors, 0),
    };
  });
}

function render(summary: readonly IdleSummary[], connections: number, bytes: number): { table: string; ratio: number } {
  const of = (name: EchoServerName): IdleSummary => summary.find((s) => s.server === name)!;
  const ratio = of('portico').perConnectionKiB / of('plain').perConnectionKiB;
  const table = markdownTable(
    ['server', 'RSS before MiB', `RSS with ${fmt(connections)} idle MiB`, 'per idle connection KiB', 'ratio portico / node:net', 'RSS after they close MiB', 'peak RSS MiB', 'errors'],
    summary.map((s) => [
      serverLabel(s.server),
      fmt(s.baselineMiB, 1),
      fmt(s.idleMiB, 1),
      fmt(s.perConnectionKiB, 1),
      s.server === 'portico' ? `**${fmt(ratio, 2)}**` : '',
      fmt(s.afterCloseMiB, 1),
      s.peakMiB === null ? 'n/a' : fmt(s.peakMiB, 0),
      String(s.errors),
    ]),
    [false, true, true, true, true, true, true, true],
  );
  return { table: `(each connection echoed ${fmt(bytes)} B before going idle)\n\n${table}\n`, ratio };
}

/** Run the idle-RSS comparison; prints the table and writes reports/bench-idle-rss.json. */
export async function runIdleRssBench(argv: readonly string[], parse: ParseOptions = {}): Promise<void> {
  const { help, values: flags } = parseIntFlags(argv, idleRssBenchFlags, parse);
  if (help) {
    process.stdout.write(flagsHelp('node dist/harness/bench/idle-rss-bench.js [options]', idleRssBenchFlags));
    return;
  }
  const runs: IdleRun[] = [];
  for (let round = 1; round <= flags.rounds; round++) {
    for (const server of abOrder(round)) {
      process.stderr.write(`idle RSS ${fmt(flags['idle-connections'])} × ${fmt(flags['idle-bytes'])} B: ${server.name} round ${round}/${flags.rounds} ... `);
      const run = await measure(server, round, flags);
      runs.push(run);
      process.stderr.write(
        `RSS ${fmt(run.baselineRssKiB / 1024, 1)} → ${fmt(run.idleRssKiB / 1024, 1)} MiB idle (${fmt(perConnectionKiB(run), 1)} KiB per connection, ${run.heldByServer} held), ` +
          `${fmt(run.afterCloseRssKiB / 1024, 1)} MiB after close, errors ${run.errors}, exit ${run.serverExitCode}, load ${fmt(run.loadAvg1m, 2)}\n`,
      );
    }
  }
  const summary = summarize(runs);
  const { table, ratio } = render(summary, flags['idle-connections'], flags['idle-bytes']);
  const goal = { met: ratio <= GOAL, text: `Goal (portico's RSS per idle connection ≤ node:net's): ${ratio <= GOAL ? 'MET' : 'NOT MET'} (${fmt(ratio, 2)}×)` };
  process.stdout.write(`\n## Idle connections after traffic: server RSS, portico vs plain node:net (${flags.rounds} round(s))\n\n`);
  process.stdout.write(table);
  process.stdout.write(`\n${goal.text}\n`);

  mkdirSync(reportsDir, { recursive: true });
  const file = path.join(reportsDir, 'bench-idle-rss.json');
  const report = { generatedAt: new Date().toISOString(), node: process.version, cpus: os.cpus().length, loadavg: os.loadavg(), options: flags, runs, summary, ratio, goal };
  writeFileSync(file, JSON.stringify(report, null, 2) + '\n');
  process.stderr.write(`wrote ${path.relative(process.cwd(), file)}\n`);
  const failed = runs.filter((r) => r.errors > 0 || r.serverExitCode !== 0 || r.heldByServer < r.connections);
  if (failed.length > 0) {
    process.stderr.write(`warning: ${failed.length} run(s) had client errors, connections the server no longer held, or a server that did not exit 0 on SIGTERM\n`);
    process.exitCode = 1;
  }
}

if (isMain(import.meta.url)) {
  runIdleRssBench(process.argv.slice(2)).catch((error: unknown) => exitWithError('idle-rss-bench', error));
}
