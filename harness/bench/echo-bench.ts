#!/usr/bin/env node
/**
 * Echo throughput and CPU cost: portico's echo example vs a plain node:net echo server, each in its own
 * process, driven by the echo-load process over loopback.
 *
 *   node dist/harness/bench/echo-bench.js [--rounds 2] [--duration-ms 4000] [--warmup-ms 500] [--connections 100]
 *
 * Servers alternate A/B/A/B so drift on this shared 2-core machine (other jobs, thermal, the load
 * generator competing for the same cores) lands on both sides. Client and server share the cores, so
 * msg/s partly measures the client; msg per server-CPU-second is the figure that isolates the server.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Exit } from './children.js';
import { type EchoServerName, type EchoServerUnderTest, echoServers, startEchoServer } from './echo-servers.js';
import { exitWithError } from './fail.js';
import { flagsHelp, type IntFlag, type ParseOptions, parseIntFlags } from './flags.js';
import { runLoad } from './load-process.js';
import { fmt, markdownTable } from './markdown.js';
import { isMain, reportsDir, scripts } from './paths.js';
import { clockTicks, cpuSeconds, peakRssMiB } from './proc-stat.js';

type EchoFlag = 'rounds' | 'duration-ms' | 'warmup-ms' | 'connections';

export const echoBenchFlags: readonly IntFlag<EchoFlag>[] = [
  { name: 'rounds', description: 'A/B rounds per scenario', default: 2, min: 1, max: 20 },
  { name: 'duration-ms', description: 'measured window of each run', default: 4000, min: 200, max: 60_000 },
  { name: 'warmup-ms', description: 'unmeasured load before each run (JIT warm-up)', default: 500, min: 0, max: 10_000 },
  { name: 'connections', description: 'concurrent connections', default: 100, min: 1, max: 1000 },
];

const messageSizes: readonly number[] = [64, 16 * 1024];

export interface EchoRun {
  readonly size: number;
  readonly server: EchoServerName;
  readonly round: number;
  readonly messages: number;
  readonly bytes: number;
  readonly seconds: number;
  readonly errors: number;
  /** Server CPU (user + system) during the measured window only. */
  readonly serverCpuSeconds: number;
  readonly serverPeakRssMiB: number | null;
  /** 1-minute load average when the run ended: > ~2 on this 2-core box means someone else was competing. */
  readonly loadAvg1m: number;
  /** The server's exit code after SIGTERM (null = killed by a signal). */
  readonly serverExitCode: number | null;
}

export interface EchoSummary {
  readonly size: number;
  readonly server: EchoServerName;
  readonly messagesPerSecond: number;
  readonly mibPerSecond: number;
  /** Server CPU use as % of one core. */
  readonly serverCpuPercent: number;
  readonly messagesPerCpuSecond: number;
  readonly roundsMessagesPerSecond: readonly number[];
  /** Highest peak RSS of the server over the rounds (null where /proc has no VmHWM). */
  readonly serverPeakRssMiB: number | null;
  readonly errors: number;
}

export interface EchoRatio {
  readonly size: number;
  /** portico / plain. */
  readonly throughput: number;
  readonly perCpuSecond: number;
}

function sizeLabel(size: number): string {
  return size >= 1024 ? `${size / 1024} KiB` : `${size} B`;
}

async function measure(server: EchoServerUnderTest, size: number, round: number, flags: Readonly<Record<EchoFlag, number>>): Promise<EchoRun> {
  const running = await startEchoServer(server);
  const load = { script: scripts.echoLoad, port: running.port, connections: flags.connections, size };
  let measured: Omit<EchoRun, 'serverExitCode'>;
  let exit: Exit;
  try {
    if (flags['warmup-ms'] > 0) await runLoad({ ...load, durationMs: flags['warmup-ms'] });
    // Sample around the measured run only: startup (module loading) and warm-up are not the steady state.
    const before = cpuSeconds(running.pid);
    const result = await runLoad({ ...load, durationMs: flags['duration-ms'] });
    const serverCpuSeconds = cpuSeconds(running.pid) - before;
    measured = { size, server: server.name, round, ...result, serverCpuSeconds, serverPeakRssMiB: peakRssMiB(running.pid), loadAvg1m: os.loadavg()[0]! };
  } finally {
    exit = await running.stop();
  }
  return { ...measured, serverExitCode: exit.code };
}

function summarize(runs: readonly EchoRun[]): EchoSummary[] {
  const out: EchoSummary[] = [];
  for (const size of messageSizes) {
    for (const server of echoServers) {
      const mine = runs.filter((r) => r.size === size && r.server === server.name);
      const sum = (pick: (r: EchoRun) => number): number => mine.reduce((acc, r) => acc + pick(r), 0);
      const seconds = sum((r) => r.seconds);
      const cpu = sum((r) => r.serverCpuSeconds);
      const messages = sum((r) => r.messages);
      out.push({
        size,
        server: server.name,
        messagesPerSecond: messages / seconds,
        mibPerSecond: sum((r) => r.bytes) / seconds / (1024 * 1024),
        serverCpuPercent: (100 * cpu) / seconds,
        messagesPerCpuSecond: cpu > 0 ? messages / cpu : Number.NaN,
        roundsMessagesPerSecond: mine.map((r) => r.messages / r.seconds),
        serverPeakRssMiB: mine.some((r) => r.serverPeakRssMiB === null) ? null : Math.max(...mine.map((r) => r.serverPeakRssMiB!)),
        errors: sum((r) => r.errors),
      });
    }
  }
  return out;
}

function ratios(summary: readonly EchoSummary[]): EchoRatio[] {
  return messageSizes.map((size) => {
    const of = (name: EchoServerName): EchoSummary => summary.find((s) => s.size === size && s.server === name)!;
    const p = of('portico');
    const b = of('plain');
    return { size, throughput: p.messagesPerSecond / b.messagesPerSecond, perCpuSecond: p.messagesPerCpuSecond / b.messagesPerCpuSecond };
  });
}

function render(summary: readonly EchoSummary[], ratioRows: readonly EchoRatio[], connections: number): string {
  const main = markdownTable(
    ['scenario', 'server', 'msg/s', 'MiB/s', 'server CPU %', 'msg per server CPU-s', 'server peak RSS MiB', 'msg/s per round', 'errors'],
    summary.map((s) => [
      `${connections} × ${sizeLabel(s.size)}`,
      s.server,
      fmt(s.messagesPerSecond),
      fmt(s.mibPerSecond, 1),
      fmt(s.serverCpuPercent, 0),
      fmt(s.messagesPerCpuSecond),
      s.serverPeakRssMiB === null ? 'n/a' : fmt(s.serverPeakRssMiB, 0),
      s.roundsMessagesPerSecond.map((v) => fmt(v)).join(' / '),
      String(s.errors),
    ]),
    [false, false, true, true, true, true, true, false, true],
  );
  const ratio = markdownTable(
    ['scenario', 'throughput portico/plain', 'per-CPU-s portico/plain'],
    ratioRows.map((r) => [`${connections} × ${sizeLabel(r.size)}`, fmt(r.throughput, 2), fmt(r.perCpuSecond, 2)]),
    [false, true, true],
  );
  return `${main}\n\n${ratio}\n`;
}

/** Run the echo comparison; prints the tables and writes reports/bench-echo.json. */
export async function runEchoBench(argv: readonly string[], parse: ParseOptions = {}): Promise<void> {
  const { help, values: flags } = parseIntFlags(argv, echoBenchFlags, parse);
  if (help) {
    process.stdout.write(flagsHelp('node dist/harness/bench/echo-bench.js [options]', echoBenchFlags));
    return;
  }
  const runs: EchoRun[] = [];
  for (const size of messageSizes) {
    for (let round = 1; round <= flags.rounds; round++) {
      for (const server of echoServers) {
        process.stderr.write(`echo ${flags.connections} × ${sizeLabel(size)}: ${server.name} round ${round}/${flags.rounds} ... `);
        const run = await measure(server, size, round, flags);
        runs.push(run);
        process.stderr.write(`${fmt(run.messages / run.seconds)} msg/s, server CPU ${fmt(run.serverCpuSeconds, 2)} s, errors ${run.errors}, exit ${run.serverExitCode}, load ${fmt(run.loadAvg1m, 2)}\n`);
      }
    }
  }
  const summary = summarize(runs);
  const ratioRows = ratios(summary);
  process.stdout.write(`\n## Echo: portico vs plain node:net (${flags.rounds} round(s) × ${flags['duration-ms']} ms each)\n\n`);
  process.stdout.write(render(summary, ratioRows, flags.connections));

  mkdirSync(reportsDir, { recursive: true });
  const file = path.join(reportsDir, 'bench-echo.json');
  const report = {
    generatedAt: new Date().toISOString(),
    node: process.version,
    cpus: os.cpus().length,
    loadavg: os.loadavg(),
    clockTicks: clockTicks(),
    options: flags,
    runs,
    summary,
    ratios: ratioRows,
  };
  writeFileSync(file, JSON.stringify(report, null, 2) + '\n');
  process.stderr.write(`wrote ${path.relative(process.cwd(), file)}\n`);
  const failed = runs.filter((r) => r.errors > 0 || r.serverExitCode !== 0);
  if (failed.length > 0) {
    process.stderr.write(`warning: ${failed.length} run(s) had client errors or a server that did not exit 0 on SIGTERM\n`);
    process.exitCode = 1;
  }
}

if (isMain(import.meta.url)) {
  runEchoBench(process.argv.slice(2)).catch((error: unknown) => exitWithError('echo-bench', error));
}
