#!/usr/bin/env node
/**
 * owserver throughput, latency, CPU cost and TIME_WAIT: the real owserver 3.2p4 vs portico's owserver
 * example, each a fresh process per run, driven by the same load generator (bench/owserver-load.ts,
 * its own process) over 127.0.0.1 with READs of /28.4AEC29CDBAAB/temperature.
 *
 *   node dist/harness/bench/owserver-bench.js [--rounds 1] [--duration-ms 3000] [--warmup-ms 500] [--stub-bus 1]
 *
 * `--stub-bus 1` adds portico's owserver on a zero-cost bus (bench/owserver-stub-server.ts): the
 * framework and protocol cost alone, so the simulated bus's share of portico's figures shows.
 * Cells: persistent and single-shot × concurrency 1, 16, 64; both servers run with
 * --clients_persistent_high=100 --clients_persistent_low=100 so all 64 clients keep their grant.
 * Which server goes first alternates from cell to cell and round to round, so drift on this shared
 * 2-core machine lands on both. Client and servers share the cores: req/s partly measures the load
 * generator, requests per server-CPU-second is the figure that isolates the server.
 *
 * TIME_WAIT: rows in state 06 of /proc/net/tcp{,6} with the server's port at either end, counted
 * right before and right after the measured run (after the load generator exited), per 1000
 * requests. On loopback the kernel reuses TIME_WAIT tuples for new connections (tcp_tw_reuse), so
 * single-shot counts are a floor, not the number of connections closed.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { countTimeWait } from '../time-wait.js';
import type { TimeWaitCounts } from '../types.js';
import { spawnNode, terminate } from './children.js';
import { exitWithError } from './fail.js';
import { flagsHelp, type IntFlag, type ParseOptions, parseIntFlags } from './flags.js';
import { fmt, markdownTable } from './markdown.js';
import { type OwLoadResult, parseOwLoadResult, READ_PATH } from './owserver-load.js';
import { type OwServerName, PERSISTENCE_FLAGS, type RunningOwserver, realOwserverBinary, startPorticoOwserver, startRealOwserver } from './owserver-servers.js';
import { isMain, reportsDir } from './paths.js';
import { clockTicks, cpuSeconds, machineBusySeconds } from './proc-stat.js';

type OwFlag = 'rounds' | 'duration-ms' | 'warmup-ms' | 'stub-bus';

export const owserverBenchFlags: readonly IntFlag<OwFlag>[] = [
  { name: 'rounds', description: 'A/B rounds per cell', default: 1, min: 1, max: 20 },
  { name: 'duration-ms', description: 'measured window of each run', default: 3000, min: 200, max: 60_000 },
  { name: 'warmup-ms', description: 'unmeasured load before each run (JIT warm-up)', default: 500, min: 0, max: 10_000 },
  { name: 'stub-bus', description: '1 = also run portico on a zero-cost bus (framework + protocol cost alone)', default: 0, min: 0, max: 1 },
];

export type OwMode = 'persistent' | 'single-shot';
const modes: readonly OwMode[] = ['persistent', 'single-shot'];
const concurrencies: readonly number[] = [1, 16, 64];
const serverNames: readonly OwServerName[] = ['real', 'portico', 'portico-stub'];
/** The goal: portico ≥ 2× the real owserver's persistent req/s at these concurrencies. */
const GOAL = { ratio: 2, mode: 'persistent' as OwMode, concurrencies: [16, 64] };

const loadScript = path.join(path.dirname(fileURLToPath(import.meta.url)), 'owserver-load.js');
/** Slack on top of the window for connecting and closing; past it the generator is killed. */
const LOAD_OVERRUN_MS = 30_000;

export interface OwRun extends OwLoadResult {
  readonly mode: OwMode;
  readonly concurrency: number;
  readonly server: OwServerName;
  readonly round: number;
  /** Server CPU (user + system, all threads) during the measured run only. */
  readonly serverCpuSeconds: number;
  /** TIME_WAIT sockets on the server's port before and after the measured run. */
  readonly timeWaitBefore: TimeWaitCounts;
  readonly timeWaitAfter: TimeWaitCounts;
  /** CPU the whole machine spent during the measured run beyond this server and the load generator: other tenants. */
  readonly otherCpuSeconds: number;
  /** 1-minute load average when the run ended: > ~2 on this 2-core box means someone else was competing. */
  readonly loadAvg1m: number;
  readonly serverExitCode: number | null;
}

export interface OwSummary {
  readonly mode: OwMode;
  readonly concurrency: number;
  readonly server: OwServerName;
  readonly requestsPerSecond: number;
  /** Median over the rounds of each round's percentile. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly serverCpuSeconds: number;
  /** The load generator's CPU per run: near the window length means it was the limit, not the server. */
  readonly clientCpuSeconds: number;
  /** Everything else the machine ran meanwhile, per run (noise). */
  readonly otherCpuSeconds: number;
  readonly requestsPerCpuSecond: number;
  /** New TIME_WAIT sockets (both ends, server's port) per 1000 requests. */
  readonly timeWaitPer1000: number;
  readonly timeWaitServerSide: number;
  readonly timeWaitClientSide: number;
  readonly refusals: number;
  readonly connects: number;
  readonly errors: number;
  readonly roundsRequestsPerSecond: readonly number[];
}

export interface OwRatio {
  readonly mode: OwMode;
  readonly concurrency: number;
  /** portico / real. */
  readonly throughput: number;
  readonly perCpuSecond: number;
  readonly p50: number;
  readonly p99: number;
}

/** Run the load generator once and return its result line. */
async function runLoad(port: number, mode: OwMode, concurrency: number, durationMs: number): Promise<OwLoadResult> {
  const args = ['--port', String(port), '--concurrency', String(concurrency), '--persistent', mode === 'persistent' ? '1' : '0', '--duration-ms', String(durationMs)];
  const tracked = spawnNode(loadScript, args);
  let stdout = '';
  tracked.child.stdout!.setEncoding('utf8');
  tracked.child.stdout!.on('data', (text: string) => (stdout += text));
  const timer = setTimeout(() => void terminate(tracked, 1000), durationMs + LOAD_OVERRUN_MS);
  const exit = await tracked.exited;
  clearTimeout(timer);
  const last = stdout.trim().split('\n').pop() ?? '';
  if (last === '') throw new Error(`owserver load generator failed (code ${exit.code}, signal ${exit.signal}): ${tracked.stderrTail().trim()}`);
  return parseOwLoadResult(last);
}

async function measure(server: OwServerName, mode: OwMode, concurrency: number, round: number, flags: Readonly<Record<OwFlag, number>>): Promise<OwRun> {
  const running: RunningOwserver = server === 'real' ? await startRealOwserver() : await startPorticoOwserver(server === 'portico-stub');
  let measured: Omit<OwRun, 'serverExitCode'>;
  let serverExitCode: number | null;
  try {
    if (flags['warmup-ms'] > 0) await runLoad(running.port, mode, concurrency, flags['warmup-ms']);
    // Around the measured run only: startup and warm-up are not the steady state.
    const timeWaitBefore = countTimeWait(running.port);
    const cpuBefore = cpuSeconds(running.pid);
    const machineBefore = machineBusySeconds();
    const result = await runLoad(running.port, mode, concurrency, flags['duration-ms']);
    const serverCpuSeconds = cpuSeconds(running.pid) - cpuBefore;
    // The generator's own figure covers its window only; the machine's covers its start-up and close too, so this is an upper bound.
    const otherCpuSeconds = Math.max(0, machineBusySeconds() - machineBefore - serverCpuSeconds - result.clientCpuSeconds);
    const timeWaitAfter = countTimeWait(running.port);
    measured = { ...result, mode, concurrency, server, round, serverCpuSeconds, timeWaitBefore, timeWaitAfter, otherCpuSeconds, loadAvg1m: os.loadavg()[0]! };
  } finally {
    serverExitCode = await running.stop();
  }
  return { ...measured, serverExitCode };
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

function summarize(runs: readonly OwRun[]): OwSummary[] {
  const out: OwSummary[] = [];
  for (const mode of modes) {
    for (const concurrency of concurrencies) {
      for (const server of serverNames) {
        const mine = runs.filter((r) => r.mode === mode && r.concurrency === concurrency && r.server === server);
        if (mine.length === 0) continue;
        const sum = (pick: (r: OwRun) => number): number => mine.reduce((acc, r) => acc + pick(r), 0);
        const requests = sum((r) => r.requests);
        const cpu = sum((r) => r.serverCpuSeconds);
        const twServer = sum((r) => r.timeWaitAfter.server - r.timeWaitBefore.server);
        const twClient = sum((r) => r.timeWaitAfter.client - r.timeWaitBefore.client);
        out.push({
          mode,
          concurrency,
          server,
          requestsPerSecond: requests / sum((r) => r.seconds),
          p50Ms: median(mine.map((r) => r.p50Ms)),
          p99Ms: median(mine.map((r) => r.p99Ms)),
          serverCpuSeconds: cpu / mine.length,
          clientCpuSeconds: sum((r) => r.clientCpuSeconds) / mine.length,
          otherCpuSeconds: sum((r) => r.otherCpuSeconds) / mine.length,
          requestsPerCpuSecond: cpu > 0 ? requests / cpu : Number.NaN,
          timeWaitPer1000: requests > 0 ? ((twServer + twClient) * 1000) / requests : Number.NaN,
          timeWaitServerSide: twServer / mine.length,
          timeWaitClientSide: twClient / mine.length,
          refusals: sum((r) => r.refusals),
          connects: sum((r) => r.connects) / mine.length,
          errors: sum((r) => r.errors),
          roundsRequestsPerSecond: mine.map((r) => r.requests / r.seconds),
        });
      }
    }
  }
  return out;
}

function ratios(summary: readonly OwSummary[]): OwRatio[] {
  const out: OwRatio[] = [];
  for (const mode of modes) {
    for (const concurrency of concurrencies) {
      const of = (server: OwServerName): OwSummary | undefined => summary.find((s) => s.mode === mode && s.concurrency === concurrency && s.server === server);
      const p = of('portico');
      const r = of('real');
      if (p === undefined || r === undefined) continue;
      out.push({
        mode,
        concurrency,
        throughput: p.requestsPerSecond / r.requestsPerSecond,
        perCpuSecond: p.requestsPerCpuSecond / r.requestsPerCpuSecond,
        p50: p.p50Ms / r.p50Ms,
        p99: p.p99Ms / r.p99Ms,
      });
    }
  }
  return out;
}

function goalVerdict(ratioRows: readonly OwRatio[]): { met: boolean; text: string } {
  const rows = ratioRows.filter((r) => r.mode === GOAL.mode && GOAL.concurrencies.includes(r.concurrency));
  const met = rows.length === GOAL.concurrencies.length && rows.every((r) => r.throughput >= GOAL.ratio);
  const detail = rows.map((r) => `c=${r.concurrency}: ${fmt(r.throughput, 2)}×`).join(', ');
  return { met, text: `Goal (portico ≥ ${GOAL.ratio}× the real owserver's ${GOAL.mode} req/s at c=${GOAL.concurrencies.join(' and ')}): ${met ? 'MET' : 'NOT MET'} (${detail})` };
}

function render(summary: readonly OwSummary[], ratioRows: readonly OwRatio[]): string {
  const main = markdownTable(
    ['mode', 'c', 'server', 'req/s', 'p50 ms', 'p99 ms', 'server CPU s', 'load gen CPU s', 'other CPU s', 'req per server CPU-s', 'TIME_WAIT per 1000 req (server+client)', 'refused', 'errors', 'req/s per round'],
    summary.map((s) => [
      s.mode,
      String(s.concurrency),
      s.server,
      fmt(s.requestsPerSecond),
      fmt(s.p50Ms, 2),
      fmt(s.p99Ms, 2),
      fmt(s.serverCpuSeconds, 2),
      fmt(s.clientCpuSeconds, 2),
      fmt(s.otherCpuSeconds, 2),
      fmt(s.requestsPerCpuSecond),
      `${fmt(s.timeWaitPer1000, 1)} (${fmt(s.timeWaitServerSide)}+${fmt(s.timeWaitClientSide)})`,
      String(s.refusals),
      String(s.errors),
      s.roundsRequestsPerSecond.map((v) => fmt(v)).join(' / '),
    ]),
    [false, true, false, true, true, true, true, true, true, true, true, true, true, false],
  );
  const ratio = markdownTable(
    ['mode', 'c', 'req/s portico/real', 'req per CPU-s portico/real', 'p50 portico/real', 'p99 portico/real'],
    ratioRows.map((r) => [r.mode, String(r.concurrency), fmt(r.throughput, 2), fmt(r.perCpuSecond, 2), fmt(r.p50, 2), fmt(r.p99, 2)]),
    [false, true, true, true, true, true],
  );
  return `${main}\n\n${ratio}\n`;
}

/** Run the owserver comparison; prints the tables and writes reports/bench-owserver.json. */
export async function runOwserverBench(argv: readonly string[], parse: ParseOptions = {}): Promise<void> {
  const { help, values: flags } = parseIntFlags(argv, owserverBenchFlags, parse);
  if (help) {
    process.stdout.write(flagsHelp('node dist/harness/bench/owserver-bench.js [options]', owserverBenchFlags));
    return;
  }
  realOwserverBinary(); // fail now, not after half the runs, when the reference server is missing
  const runs: OwRun[] = [];
  let cell = 0;
  for (const mode of modes) {
    for (const concurrency of concurrencies) {
      for (let round = 1; round <= flags.rounds; round++) {
        const names = serverNames.filter((n) => n !== 'portico-stub' || flags['stub-bus'] === 1);
        const order = (cell + round) % 2 === 0 ? names : [...names].reverse();
        for (const server of order) {
          process.stderr.write(`owserver ${mode} c=${concurrency}: ${server} round ${round}/${flags.rounds} ... `);
          const run = await measure(server, mode, concurrency, round, flags);
          runs.push(run);
          const tw = run.timeWaitAfter.server + run.timeWaitAfter.client - run.timeWaitBefore.server - run.timeWaitBefore.client;
          process.stderr.write(
            `${fmt(run.requests / run.seconds)} req/s, p50 ${fmt(run.p50Ms, 2)} ms, p99 ${fmt(run.p99Ms, 2)} ms, server CPU ${fmt(run.serverCpuSeconds, 2)} s, ` +
              `TIME_WAIT +${tw}, refused ${run.refusals}, errors ${run.errors}, other CPU ${fmt(run.otherCpuSeconds, 2)} s, load ${fmt(run.loadAvg1m, 2)}\n`,
          );
        }
      }
      cell++;
    }
  }
  const summary = summarize(runs);
  const ratioRows = ratios(summary);
  const goal = goalVerdict(ratioRows);
  process.stdout.write(`\n## owserver: portico vs the real owserver 3.2p4 (READ ${READ_PATH}; ${flags.rounds} round(s) × ${flags['duration-ms']} ms per cell)\n\n`);
  process.stdout.write(render(summary, ratioRows));
  process.stdout.write(`\n${goal.text}\n`);

  mkdirSync(reportsDir, { recursive: true });
  const file = path.join(reportsDir, 'bench-owserver.json');
  const report = {
    generatedAt: new Date().toISOString(),
    node: process.version,
    cpus: os.cpus().length,
    loadavg: os.loadavg(),
    clockTicks: clockTicks(),
    options: flags,
    serverFlags: PERSISTENCE_FLAGS,
    timeWaitNote: 'TIME_WAIT rows (state 06) with the server port at either end, before/after each measured run; loopback reuses TIME_WAIT tuples (tcp_tw_reuse), so single-shot counts are a floor.',
    runs,
    summary,
    ratios: ratioRows,
    goal,
  };
  writeFileSync(file, JSON.stringify(report, null, 2) + '\n');
  process.stderr.write(`wrote ${path.relative(process.cwd(), file)}\n`);
  const failed = runs.filter((r) => r.errors > 0 || (r.server !== 'real' && r.serverExitCode !== 0));
  if (failed.length > 0) {
    process.stderr.write(`warning: ${failed.length} run(s) had client errors or a portico server that did not exit 0 on SIGTERM\n`);
    process.exitCode = 1;
  }
}

if (isMain(import.meta.url)) {
  runOwserverBench(process.argv.slice(2)).catch((error: unknown) => exitWithError('owserver-bench', error));
}
