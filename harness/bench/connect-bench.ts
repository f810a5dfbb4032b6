#!/usr/bin/env node
/**
 * Connection setup: c = 1, 16, 64 closed loops of connect → write 64 B → read the echo → client FIN →
 * server FIN → close, portico's echo example vs the plain node:net echo, A/B alternating, driven by
 * connect-load (its own process):
 *
 *   node dist/harness/bench/connect-bench.js [--rounds 2] [--duration-ms 3000] [--source-addresses 1]
 *
 * Connections per server CPU-second is the figure that isolates the server: the load generator
 * shares the two cores and pays for a connect as much as the server pays for an accept. TIME_WAIT is
 * counted on the server's port before and after each run; the client closes first, so it should all
 * be on the client's end (and, on loopback, reused after a second: tcp_tw_reuse).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { countTimeWait } from '../time-wait.js';
import type { TimeWaitCounts } from '../types.js';
import { type Exit, spawnNode, terminate } from './children.js';
import { type ConnectLoadResult, parseConnectLoadResult } from './connect-load.js';
import { abOrder, type EchoServerName, type EchoServerUnderTest, echoServers, serverLabel, startEchoServer } from './echo-servers.js';
import { exitWithError } from './fail.js';
import { flagsHelp, type IntFlag, type ParseOptions, parseIntFlags } from './flags.js';
import { fmt, markdownTable } from './markdown.js';
import { isMain, reportsDir, scripts } from './paths.js';
import { clockTicks, cpuSeconds, machineBusySeconds } from './proc-stat.js';

type ConnectFlag = 'rounds' | 'duration-ms' | 'warmup-ms' | 'source-addresses' | 'one-core-cpu';

export const connectBenchFlags: readonly IntFlag<ConnectFlag>[] = [
  { name: 'rounds', description: 'A/B rounds per concurrency', default: 2, min: 1, max: 20 },
  { name: 'duration-ms', description: 'measured window of each run', default: 3000, min: 200, max: 60_000 },
  { name: 'warmup-ms', description: 'unmeasured load before each run (JIT warm-up)', default: 500, min: 0, max: 10_000 },
  { name: 'source-addresses', description: 'connect-load spreads its loops over 127.0.0.1 .. 127.0.0.N (1 = kernel picks)', default: 1, min: 1, max: 254 },
  { name: 'one-core-cpu', description: 'the CPU the one-core c = 1 row pins server and load generator to (taskset)', default: 0, min: 0, max: 1023 },
];

/**
 * A row of the table: c closed loops, server and load generator free to run on any CPU — or both on
 * one CPU. At c = 1 across two cores the server's CPU time is not the work it does: every cycle is a
 * few cross-core wake-ups (the client waits on the server and back), and the server process is billed
 * a flat ~40 % of the wall clock whether it completes 2,300 or 3,400 cycles a second (perf stat,
 * 2026-12-02), so connections per server CPU-s there is the throughput ratio, which the scheduler
 * decides. On one CPU the two take turns and the CPU is always busy: per CPU-s is the work again.
 */
export interface ConnectCell {
  readonly concurrency: number;
  readonly oneCore: boolean;
}

const CELLS: readonly ConnectCell[] = [
  { concurrency: 1, oneCore: false },
  { concurrency: 1, oneCore: true },
  { concurrency: 16, oneCore: false },
  { concurrency: 64, oneCore: false },
];

const cellLabel = (cell: ConnectCell): string => (cell.oneCore ? `${cell.concurrency}, one core` : String(cell.concurrency));
const sameCell = (a: ConnectCell, b: ConnectCell): boolean => a.concurrency === b.concurrency && a.oneCore === b.oneCore;
const SIZE = 64;
/** The goal: portico ≥ 0.95× node:net connections per server CPU-second. */
const GOAL = 0.95;
/** Slack on top of the window for the cycles in flight to finish; past it the generator is killed. */
const LOAD_OVERRUN_MS = 30_000;

export interface ConnectRun extends ConnectLoadResult, ConnectCell {
  readonly server: EchoServerName;
  readonly round: number;
  /** Server CPU (user + system) from starting the load generator to its exit. */
  readonly serverCpuSeconds: number;
  readonly timeWaitBefore: TimeWaitCounts;
  readonly timeWaitAfter: TimeWaitCounts;
  /** Machine CPU meanwhile beyond the server and the load generator's window: other tenants (upper bound). */
  readonly otherCpuSeconds: number;
  readonly loadAvg1m: number;
  readonly serverExitCode: number | null;
}

export interface ConnectSummary extends ConnectCell {
  readonly server: EchoServerName;
  readonly connectionsPerSecond: number;
  readonly connectionsPerCpuSecond: number;
  readonly serverCpuPercent: number;
  readonly clientCpuPercent: number;
  readonly otherCpuPercent: number;
  /** Median over rounds. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** New TIME_WAIT per run, by end. */
  readonly timeWaitServerSide: number;
  readonly timeWaitClientSide: number;
  readonly errors: number;
  readonly errorCodes: Readonly<Record<string, number>>;
  readonly roundsPerSecond: readonly number[];
}

export interface ConnectRatio extends ConnectCell {
  readonly throughput: number;
  readonly perCpuSecond: number;
}

async function runConnectLoad(port: number, concurrency: number, durationMs: number, sourceAddresses: number, cpu: number | undefined): Promise<ConnectLoadResult> {
  const args = ['--port', String(port), '--concurrency', String(concurrency), '--size', String(SIZE), '--duration-ms', String(durationMs), '--source-addresses', String(sourceAddresses)];
  const tracked = spawnNode(scripts.connectLoad, args, cpu === undefined ? {} : { cpu });
  let stdout = '';
  tracked.child.stdout!.setEncoding('utf8');
  tracked.child.stdout!.on('data', (text: string) => (stdout += text));
  const timer = setTimeout(() => void terminate(tracked, 1000), durationMs + LOAD_OVERRUN_MS);
  const exit = await tracked.exited;
  clearTimeout(timer);
  const last = stdout.trim().split('\n').pop() ?? '';
  if (last === '') throw new Error(`connect load generator failed (code ${exit.code}, signal ${exit.signal}): ${tracked.stderrTail().trim()}`);
  return parseConnectLoadResult(last);
}

async function measure(server: EchoServerUnderTest, cell: ConnectCell, round: number, flags: Readonly<Record<ConnectFlag, number>>): Promise<ConnectRun> {
  const { concurrency, oneCore } = cell;
  const cpu = oneCore ? flags['one-core-cpu'] : undefined;
  const running = await startEchoServer(server, cpu === undefined ? {} : { cpu });
  let measured: Omit<ConnectRun, 'serverExitCode'>;
  let exit: Exit;
  try {
    if (flags['warmup-ms'] > 0) await runConnectLoad(running.port, concurrency, flags['warmup-ms'], flags['source-addresses'], cpu);
    const timeWaitBefore = countTimeWait(running.port);
    const cpuBefore = cpuSeconds(running.pid);
    const machineBefore = machineBusySeconds();
    const result = await runConnectLoad(running.port, concurrency, flags['duration-ms'], flags['source-addresses'], cpu);
    const serverCpuSeconds = cpuSeconds(running.pid) - cpuBefore;
    const otherCpuSeconds = Math.max(0, machineBusySeconds() - machineBefore - serverCpuSeconds - result.clientCpuSeconds);
    const timeWaitAfter = countTimeWait(running.port);
    measured = { ...result, concurrency, oneCore, server: server.name, round, serverCpuSeconds, timeWaitBefore, timeWaitAfter, otherCpuSeconds, loadAvg1m: os.loadavg()[0]! };
  } finally {
    exit = await running.stop();
  }
  return { ...measured, serverExitCode: exit.code };
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

function summarize(runs: readonly ConnectRun[]): ConnectSummary[] {
  const out: ConnectSummary[] = [];
  for (const cell of CELLS) {
    for (const server of echoServers) {
      const mine = runs.filter((r) => sameCell(r, cell) && r.server === server.name);
      if (mine.length === 0) continue;
      const sum = (pick: (r: ConnectRun) => number): number => mine.reduce((acc, r) => acc + pick(r), 0);
      const seconds = sum((r) => r.seconds);
      const connections = sum((r) => r.connections);
      const cpu = sum((r) => r.serverCpuSeconds);
      const errorCodes: Record<string, number> = {};
      for (const r of mine) for (const [code, n] of Object.entries(r.errorCodes)) errorCodes[code] = (errorCodes[code] ?? 0) + n;
      out.push({
        concurrency: cell.concurrency,
        oneCore: cell.oneCore,
        server: server.name,
        connectionsPerSecond: connections / seconds,
        connectionsPerCpuSecond: cpu > 0 ? connections / cpu : Number.NaN,
        serverCpuPercent: (100 * cpu) / seconds,
        clientCpuPercent: (100 * sum((r) => r.clientCpuSeconds)) / seconds,
        otherCpuPercent: (100 * sum((r) => r.otherCpuSeconds)) / seconds,
        p50Ms: median(mine.map((r) => r.p50Ms)),
        p99Ms: median(mine.map((r) => r.p99Ms)),
        timeWaitServerSide: sum((r) => r.timeWaitAfter.server - r.timeWaitBefore.server) / mine.length,
        timeWaitClientSide: sum((r) => r.timeWaitAfter.client - r.timeWaitBefore.client) / mine.length,
        errors: sum((r) => r.errors),
        errorCodes,
        roundsPerSecond: mine.map((r) => r.connections / r.seconds),
      });
    }
  }
  return out;
}

function ratios(summary: readonly ConnectSummary[]): ConnectRatio[] {
  const out: ConnectRatio[] = [];
  for (const cell of CELLS) {
    const p = summary.find((s) => sameCell(s, cell) && s.server === 'portico');
    const b = summary.find((s) => sameCell(s, cell) && s.server === 'plain');
    if (p === undefined || b === undefined) continue;
    out.push({ concurrency: cell.concurrency, oneCore: cell.oneCore, throughput: p.connectionsPerSecond / b.connectionsPerSecond, perCpuSecond: p.connectionsPerCpuSecond / b.connectionsPerCpuSecond });
  }
  return out;
}

function render(summary: readonly ConnectSummary[], ratioRows: readonly ConnectRatio[]): string {
  const detail = markdownTable(
    ['c', 'server', 'conn/s', 'conn per server CPU-s', 'server CPU %', 'load gen CPU %', 'other CPU %', 'cycle p50 ms', 'p99 ms', 'new TIME_WAIT server / client end', 'errors', 'conn/s per round'],
    summary.map((s) => [
      cellLabel(s),
      serverLabel(s.server),
      fmt(s.connectionsPerSecond),
      fmt(s.connectionsPerCpuSecond),
      fmt(s.serverCpuPercent, 0),
      fmt(s.clientCpuPercent, 0),
      fmt(s.otherCpuPercent, 0),
      fmt(s.p50Ms, 2),
      fmt(s.p99Ms, 2),
      `${fmt(s.timeWaitServerSide)} / ${fmt(s.timeWaitClientSide)}`,
      s.errors === 0 ? '0' : `${s.errors} ${JSON.stringify(s.errorCodes)}`,
      s.roundsPerSecond.map((v) => fmt(v)).join(' / '),
    ]),
    [true, false, true, true, true, true, true, true, true, true, false, false],
  );
  const of = (cell: ConnectCell, server: EchoServerName): ConnectSummary => summary.find((s) => sameCell(s, cell) && s.server === server)!;
  const readme = markdownTable(
    ['c', 'portico conn/s', 'node:net conn/s', 'ratio', 'conn per server CPU-s, portico / node:net', 'ratio'],
    ratioRows.map((r) => {
      const p = of(r, 'portico');
      const b = of(r, 'plain');
      return [cellLabel(r), fmt(p.connectionsPerSecond), fmt(b.connectionsPerSecond), `**${fmt(r.throughput, 2)}**`, `${fmt(p.connectionsPerCpuSecond)} / ${fmt(b.connectionsPerCpuSecond)}`, `**${fmt(r.perCpuSecond, 2)}**`];
    }),
    [true, true, true, true, true, true],
  );
  return `${detail}\n\n${readme}\n`;
}

function goalVerdict(ratioRows: readonly ConnectRatio[], summary: readonly ConnectSummary[]): { met: boolean; text: string } {
  // c = 1 across cores is shown, not judged: there the server's CPU is the scheduler's (see ConnectCell).
  const judged = ratioRows.filter((r) => r.concurrency > 1 || r.oneCore);
  const met = judged.length > 0 && judged.every((r) => r.perCpuSecond >= GOAL);
  const detail = judged.map((r) => `c=${cellLabel(r)}: ${fmt(r.perCpuSecond, 2)}×`).join(', ');
  let text = `Goal (portico ≥ ${GOAL}× node:net connections per server CPU-s): ${met ? 'MET' : 'NOT MET'} (${detail})`;
  const free = ratioRows.find((r) => r.concurrency === 1 && !r.oneCore);
  if (free !== undefined) {
    const cpu = (server: EchoServerName): string => fmt(summary.find((s) => sameCell(s, free) && s.server === server)?.serverCpuPercent ?? Number.NaN, 0);
    text +=
      `\nNot judged: c=1 across cores ${fmt(free.perCpuSecond, 2)}× per CPU-s, ${fmt(free.throughput, 2)}× conn/s — latency-bound, the server's CPU is` +
      ` wake-ups (portico ${cpu('portico')} %, node:net ${cpu('plain')} % of the wall clock) more than work; the one-core row measures the work.`;
  }
  return { met, text };
}

/** Run the connection-setup comparison; prints the tables and writes reports/bench-connect.json. */
export async function runConnectBench(argv: readonly string[], parse: ParseOptions = {}): Promise<void> {
  const { help, values: flags } = parseIntFlags(argv, connectBenchFlags, parse);
  if (help) {
    process.stdout.write(flagsHelp('node dist/harness/bench/connect-bench.js [options]', connectBenchFlags));
    return;
  }
  const runs: ConnectRun[] = [];
  for (const [index, cell] of CELLS.entries()) {
    for (let round = 1; round <= flags.rounds; round++) {
      for (const server of abOrder(index + round)) {
        process.stderr.write(`connect c=${cellLabel(cell)}: ${server.name} round ${round}/${flags.rounds} ... `);
        const run = await measure(server, cell, round, flags);
        runs.push(run);
        const twServer = run.timeWaitAfter.server - run.timeWaitBefore.server;
        const twClient = run.timeWaitAfter.client - run.timeWaitBefore.client;
        process.stderr.write(
          `${fmt(run.connections / run.seconds)} conn/s, server CPU ${fmt(run.serverCpuSeconds, 2)} s, load gen CPU ${fmt(run.clientCpuSeconds, 2)} s, ` +
            `other ${fmt(run.otherCpuSeconds, 2)} s, TIME_WAIT +${twServer} server / +${twClient} client, errors ${run.errors}, exit ${run.serverExitCode}, load ${fmt(run.loadAvg1m, 2)}\n`,
        );
      }
    }
  }
  const summary = summarize(runs);
  const ratioRows = ratios(summary);
  const goal = goalVerdict(ratioRows, summary);
  process.stdout.write(`\n## Connection setup: connect, 64 B echo, client FIN, close — portico vs plain node:net (${flags.rounds} round(s) × ${flags['duration-ms']} ms)\n\n`);
  process.stdout.write(render(summary, ratioRows));
  process.stdout.write(`\n${goal.text}\n`);

  mkdirSync(reportsDir, { recursive: true });
  const file = path.join(reportsDir, 'bench-connect.json');
  const report = { generatedAt: new Date().toISOString(), node: process.version, cpus: os.cpus().length, loadavg: os.loadavg(), clockTicks: clockTicks(), options: flags, runs, summary, ratios: ratioRows, goal };
  writeFileSync(file, JSON.stringify(report, null, 2) + '\n');
  process.stderr.write(`wrote ${path.relative(process.cwd(), file)}\n`);
  const failed = runs.filter((r) => r.errors > 0 || r.serverExitCode !== 0);
  if (failed.length > 0) {
    process.stderr.write(`warning: ${failed.length} run(s) had client errors or a server that did not exit 0 on SIGTERM\n`);
    process.exitCode = 1;
  }
}

if (isMain(import.meta.url)) {
  runConnectBench(process.argv.slice(2)).catch((error: unknown) => exitWithError('connect-bench', error));
}
