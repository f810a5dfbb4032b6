#!/usr/bin/env node
/**
 * Does spreading the harness flood over worker threads lift the client bottleneck? The flood
 * (runFlood, the same code portico-harness run uses) against portico's echo example for a fixed
 * --duration, with --workers 1 (the main thread) and --workers 2, alternating, a fresh server per run:
 *
 *   node dist/harness/bench/loadgen-workers-bench.js [--rounds 3] [--duration-ms 4000] [--warmup-ms 1000]
 *        [--loadgen-concurrency 64] [--loadgen-size 1024] [--loadgen-pipeline 0]
 *
 * Reported per run: replies per second over the measured window (the warm-up left out), the client
 * process's CPU (all its threads) and the server's, both as % of one core. A client near 100 % with
 * one worker and the server well below it means the client was the limit, which is what workers are
 * for; on a 2-core machine the server and two client threads share the cores, so the gain is bounded.
 * The default 1 KiB messages make the client the limit (it generates and compares every payload byte
 * in JS, the server only copies them); at 64 B the single-threaded server is, and 2 workers gain little.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runFlood } from '../flood/flood.js';
import { echoServers, startEchoServer } from './echo-servers.js';
import { exitWithError } from './fail.js';
import { flagsHelp, type IntFlag, type ParseOptions, parseIntFlags } from './flags.js';
import { fmt, markdownTable } from './markdown.js';
import { isMain, reportsDir } from './paths.js';
import { cpuSeconds } from './proc-stat.js';

type LoadgenFlag = 'rounds' | 'duration-ms' | 'warmup-ms' | 'loadgen-concurrency' | 'loadgen-size' | 'loadgen-pipeline';

export const loadgenWorkersBenchFlags: readonly IntFlag<LoadgenFlag>[] = [
  { name: 'rounds', description: 'A/B rounds (each: one run with 1 worker, one with 2)', default: 3, min: 1, max: 20 },
  { name: 'duration-ms', description: 'measured window of each run', default: 4000, min: 200, max: 60_000 },
  { name: 'warmup-ms', description: 'unmeasured start of each run (JIT warm-up, connects)', default: 1000, min: 0, max: 10_000 },
  { name: 'loadgen-concurrency', description: 'connections open at once', default: 64, min: 2, max: 5000 },
  { name: 'loadgen-size', description: 'bytes per message (1 KiB: the client builds and checks every byte, so it is the limit)', default: 1024, min: 1, max: 1024 * 1024 },
  { name: 'loadgen-pipeline', description: '1: pipeline 16 messages per connection at a time instead of ping-pong', default: 0, min: 0, max: 1 },
];

const WORKER_COUNTS = [1, 2] as const;

export interface LoadgenRun {
  readonly workers: number;
  readonly round: number;
  readonly messagesPerSecond: number;
  readonly bytesPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly connectionsInError: number;
  /** Client process CPU over the whole run (all threads), % of one core. */
  readonly clientCpuPercent: number;
  readonly serverCpuPercent: number;
  readonly seconds: number;
  readonly loadAvg1m: number;
}

async function measure(workers: number, round: number, flags: Readonly<Record<LoadgenFlag, number>>): Promise<LoadgenRun> {
  const server = await startEchoServer(echoServers[0]!); // portico
  try {
    const cpu0 = process.cpuUsage();
    const serverCpu0 = cpuSeconds(server.pid);
    const started = performance.now();
    const result = await runFlood({
      protocol: 'echo',
      host: '127.0.0.1',
      port: server.port,
      connections: null,
      concurrency: flags['loadgen-concurrency'],
      // Pipelined: connections of 16 messages each, renewed; ping-pong: one connection per slot for the whole run.
      messages: flags['loadgen-pipeline'] === 1 ? 16 : null,
      size: flags['loadgen-size'],
      sendAfterReceive: flags['loadgen-pipeline'] !== 1,
      connectRate: 0,
      durationCapMs: flags['duration-ms'] + flags['warmup-ms'] + 60_000,
      connectionTimeoutMs: 10_000,
      durationMs: flags['duration-ms'],
      warmupMs: flags['warmup-ms'],
      workers,
    });
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const serverCpu = cpuSeconds(server.pid) - serverCpu0;
    return {
      workers,
      round,
      messagesPerSecond: result.throughput.messagesPerSecond,
      bytesPerSecond: result.throughput.bytesReceivedPerSecond,
      p50Ms: result.latencyMs.p50,
      p99Ms: result.latencyMs.p99,
      connectionsInError: result.connectionsInError,
      clientCpuPercent: ((cpu.user + cpu.system) / 1e6 / seconds) * 100,
      serverCpuPercent: (serverCpu / seconds) * 100,
      seconds,
      loadAvg1m: os.loadavg()[0]!,
    };
  } finally {
    await server.stop();
  }
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

function render(runs: readonly LoadgenRun[]): string {
  const rows = WORKER_COUNTS.map((workers) => {
    const mine = runs.filter((r) => r.workers === workers);
    return [
      String(workers),
      mine.map((r) => fmt(r.messagesPerSecond)).join(' / '),
      `**${fmt(median(mine.map((r) => r.messagesPerSecond)))}**`,
      fmt(median(mine.map((r) => r.p99Ms)), 2),
      fmt(median(mine.map((r) => r.clientCpuPercent))),
      fmt(median(mine.map((r) => r.serverCpuPercent))),
      String(mine.reduce((a, r) => a + r.connectionsInError, 0)),
    ];
  });
  const table = markdownTable(
    ['workers', 'msg/s per run', 'median msg/s', 'p99 ms (median)', 'client CPU % (median)', 'server CPU % (median)', 'conns in error'],
    rows,
    [true, true, true, true, true, true, true],
  );
  const one = median(runs.filter((r) => r.workers === 1).map((r) => r.messagesPerSecond));
  const two = median(runs.filter((r) => r.workers === 2).map((r) => r.messagesPerSecond));
  return `${table}\n\n2 workers / 1 worker: **${fmt(two / one, 2)}×** (median msg/s)\n`;
}

/** Runs the A/B rounds; prints the table and writes reports/bench-loadgen-workers.json. */
export async function runLoadgenWorkersBench(argv: readonly string[], parse: ParseOptions = {}): Promise<void> {
  const { help, values: flags } = parseIntFlags(argv, loadgenWorkersBenchFlags, parse);
  if (help) {
    process.stdout.write(flagsHelp('node dist/harness/bench/loadgen-workers-bench.js [options]', loadgenWorkersBenchFlags));
    return;
  }
  const runs: LoadgenRun[] = [];
  for (let round = 1; round <= flags.rounds; round++) {
    const order = round % 2 === 1 ? WORKER_COUNTS : [...WORKER_COUNTS].reverse();
    for (const workers of order) {
      process.stderr.write(`loadgen workers ${workers}, round ${round}/${flags.rounds} ... `);
      const run = await measure(workers, round, flags);
      runs.push(run);
      process.stderr.write(
        `${fmt(run.messagesPerSecond)} msg/s, p99 ${fmt(run.p99Ms, 2)} ms, client CPU ${fmt(run.clientCpuPercent)} %, server CPU ${fmt(run.serverCpuPercent)} %, load ${fmt(run.loadAvg1m, 2)}\n`,
      );
    }
  }
  const shape = `portico echo, ${flags['loadgen-concurrency']} connections, ${flags['loadgen-size']} B ${flags['loadgen-pipeline'] === 1 ? 'pipelined (16 per connection)' : 'ping-pong'}, ${flags['duration-ms']} ms measured after ${flags['warmup-ms']} ms warm-up`;
  process.stdout.write(`\n## Load generator: --workers 1 vs 2 (${shape}; ${flags.rounds} round(s), ${os.cpus().length} CPUs)\n\n${render(runs)}`);
  mkdirSync(reportsDir, { recursive: true });
  const file = path.join(reportsDir, 'bench-loadgen-workers.json');
  writeFileSync(file, JSON.stringify({ generatedAt: new Date().toISOString(), node: process.version, cpus: os.cpus().length, options: flags, runs }, null, 2) + '\n');
  process.stderr.write(`wrote ${path.relative(process.cwd(), file)}\n`);
}

if (isMain(import.meta.url)) {
  runLoadgenWorkersBench(process.argv.slice(2)).catch((error: unknown) => exitWithError('loadgen-workers-bench', error));
}
