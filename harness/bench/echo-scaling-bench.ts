#!/usr/bin/env node
/**
 * Echo at many connections: 64 B closed-loop ping-pong over 100, 1,000, 5,000 and 10,000 connections,
 * portico's echo example vs the plain node:net echo, A/B alternating, driven by echo-load in phased
 * mode (load-phases.ts) so the server is sampled exactly between phases:
 *
 *   node dist/harness/bench/echo-scaling-bench.js [--rounds 1] [--duration-ms 3000] [--load-processes 1]
 *
 * Two CPU figures per row: (a) the echo window alone; (b) the connects too — server CPU from before
 * the first connect to the end of the window, messages of the window. The window starts only once
 * the server holds an fd for every connection (/proc/<pid>/fd), so accepts still queued in the
 * backlog are not billed to the echo phase; the kernel's ListenOverflows over the connect phase say
 * whether the server's accept queue overflowed (the client then retries a second later, so the
 * connect phase's wall time grows, not its CPU). The load generator's own CPU is reported: near 100 % of
 * a core per process means it, not the server, set the pace (then try --load-processes 2; on this
 * 2-core machine the server and the load share the same cores either way).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Exit } from './children.js';
import { abOrder, type EchoServerName, echoServers, serverLabel, startEchoServer } from './echo-servers.js';
import { MAX_CONNECTIONS } from './echo-load.js';
import { exitWithError } from './fail.js';
import { flagsHelp, type IntFlag, type ParseOptions, parseIntFlags } from './flags.js';
import { PhasedLoad } from './load-phases.js';
import { runLoad } from './load-process.js';
import { fmt, markdownTable } from './markdown.js';
import { isMain, reportsDir, scripts } from './paths.js';
import { clockTicks, cpuSeconds, listenOverflows, machineBusySeconds, maxOpenFiles, openFds, peakRssMiB } from './proc-stat.js';

type ScalingFlag = 'rounds' | 'duration-ms' | 'warmup-ms' | 'load-processes' | 'scaling-max';

export const echoScalingBenchFlags: readonly IntFlag<ScalingFlag>[] = [
  { name: 'rounds', description: 'A/B rounds per row', default: 1, min: 1, max: 20 },
  { name: 'duration-ms', description: 'measured echo window of each run', default: 3000, min: 200, max: 60_000 },
  { name: 'warmup-ms', description: 'unmeasured load before each run (100 connections; JIT warm-up)', default: 500, min: 0, max: 10_000 },
  { name: 'load-processes', description: 'echo-load processes sharing the connections of a run', default: 1, min: 1, max: 4 },
  { name: 'scaling-max', description: 'skip scaling rows above this many connections', default: 10_000, min: 100, max: MAX_CONNECTIONS },
];

const ROWS: readonly number[] = [100, 1_000, 5_000, 10_000];
const SIZE = 64;
/** The goal: portico ≥ 1.0× node:net per server-CPU-second, in both figures, at every row. */
const GOAL = 1.0;
/** How long the server gets to accept every connected socket before the window starts anyway. */
const ACCEPT_WAIT_MS = 10_000;
/** Per phase of a load process (connecting 10,000 takes a few seconds; closing them too). */
const PHASE_TIMEOUT_MS = 60_000;
/** fds a server has besides its connections (stdio, epoll, the listener, libuv internals) — generous. */
const FD_SLACK = 64;

export interface ScalingRun {
  readonly connections: number;
  readonly server: EchoServerName;
  readonly round: number;
  readonly loadProcesses: number;
  readonly connected: number;
  /** Wall time from starting the load processes to every connection accepted by the server. */
  readonly connectSeconds: number;
  /** False if the server had not accepted them all within ACCEPT_WAIT_MS (the window started anyway). */
  readonly allAccepted: boolean;
  /** Host-wide ListenOverflows during the connect phase (null: not available): a full accept queue. */
  readonly listenOverflows: number | null;
  readonly serverPeakRssMiB: number | null;
  readonly messages: number;
  /** Mean window length over the load processes. */
  readonly seconds: number;
  readonly errors: number;
  /** Server CPU of the connect phase (load start → all accepted). */
  readonly serverConnectCpuSeconds: number;
  /** Server CPU of the echo window ("go" → every load process reported its result). */
  readonly serverEchoCpuSeconds: number;
  /** All load processes' CPU in their windows. */
  readonly clientCpuSeconds: number;
  /** Machine CPU in the window beyond the server and the load: other tenants (noise). */
  readonly otherCpuSeconds: number;
  readonly loadAvg1m: number;
  readonly serverExitCode: number | null;
}

export interface ScalingSummary {
  readonly connections: number;
  readonly server: EchoServerName;
  readonly messagesPerSecond: number;
  /** (a) messages per server CPU-second of the echo window. */
  readonly perCpuEcho: number;
  /** (b) messages per server CPU-second, the connect phase included. */
  readonly perCpuWithConnect: number;
  /** Server CPU per connection established, µs. */
  readonly connectCpuMicros: number;
  readonly serverCpuPercent: number;
  /** Load generator CPU as % of one core, per load process. */
  readonly clientCpuPercentPerProcess: number;
  readonly otherCpuPercent: number;
  readonly errors: number;
  readonly allAccepted: boolean;
  /** Per run, host-wide (null: not available). */
  readonly listenOverflows: number | null;
  readonly serverPeakRssMiB: number | null;
  readonly roundsMessagesPerSecond: readonly number[];
}

export interface ScalingRatio {
  readonly connections: number;
  readonly throughput: number;
  readonly perCpuEcho: number;
  readonly perCpuWithConnect: number;
}

async function waitForFds(pid: number, atLeast: number): Promise<boolean> {
  const deadline = Date.now() + ACCEPT_WAIT_MS;
  while (openFds(pid) < atLeast) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

/** Connections split over the load processes as evenly as whole numbers allow. */
function shares(total: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0)).filter((n) => n > 0);
}

async function measure(server: (typeof echoServers)[number], connections: number, round: number, flags: Readonly<Record<ScalingFlag, number>>): Promise<ScalingRun> {
  const running = await startEchoServer(server);
  const loads: PhasedLoad[] = [];
  let measured: Omit<ScalingRun, 'serverExitCode'>;
  let exit: Exit;
  try {
    const limit = maxOpenFiles(running.pid);
    if (limit < connections + FD_SLACK) throw new Error(`the ${server.name} server may open ${limit} files, too few for ${connections} connections: raise ulimit -n`);
    if (flags['warmup-ms'] > 0) await runLoad({ script: scripts.echoLoad, port: running.port, connections: Math.min(connections, 100), size: SIZE, durationMs: flags['warmup-ms'] });
    const fdsBefore = openFds(running.pid);
    const started = Date.now();
    const overflows0 = listenOverflows();
    const cpu0 = cpuSeconds(running.pid);
    for (const share of shares(connections, flags['load-processes'])) {
      const args = ['--port', String(running.port), '--connections', String(share), '--size', String(SIZE), '--duration-ms', String(flags['duration-ms']), '--phased', '1'];
      loads.push(new PhasedLoad(`echo-load ${loads.length + 1}`, scripts.echoLoad, args));
    }
    const connectedEvents = await Promise.all(loads.map((l) => l.next('connected', ['connected', 'failed'], PHASE_TIMEOUT_MS)));
    const connected = connectedEvents.reduce((acc, e) => acc + (e['connected'] as number), 0);
    const allAccepted = await waitForFds(running.pid, fdsBefore + connected);
    const connectSeconds = (Date.now() - started) / 1000;
    const overflows1 = listenOverflows();
    const cpu1 = cpuSeconds(running.pid);
    const machine1 = machineBusySeconds();
    for (const load of loads) load.send('go');
    const results = await Promise.all(loads.map((l) => l.next('result', ['messages', 'seconds', 'errors', 'clientCpuSeconds'], flags['duration-ms'] + PHASE_TIMEOUT_MS)));
    const cpu2 = cpuSeconds(running.pid);
    const machine2 = machineBusySeconds();
    const serverPeakRssMiB = peakRssMiB(running.pid);
    for (const load of loads) load.send('close');
    for (const load of loads) await load.finish(PHASE_TIMEOUT_MS);
    const sum = (field: string): number => results.reduce((acc, r) => acc + (r[field] as number), 0);
    const clientCpuSeconds = sum('clientCpuSeconds');
    measured = {
      connections,
      server: server.name,
      round,
      loadProcesses: loads.length,
      connected,
      connectSeconds,
      allAccepted,
      listenOverflows: overflows0 === null || overflows1 === null ? null : overflows1 - overflows0,
      serverPeakRssMiB,
      messages: sum('messages'),
      seconds: sum('seconds') / results.length,
      errors: sum('errors') + connections - connected,
      serverConnectCpuSeconds: cpu1 - cpu0,
      serverEchoCpuSeconds: cpu2 - cpu1,
      clientCpuSeconds,
      otherCpuSeconds: Math.max(0, machine2 - machine1 - (cpu2 - cpu1) - clientCpuSeconds),
      loadAvg1m: os.loadavg()[0]!,
    };
  } finally {
    for (const load of loads) await load.kill();
    exit = await running.stop();
  }
  return { ...measured, serverExitCode: exit.code };
}

function summarize(runs: readonly ScalingRun[]): ScalingSummary[] {
  const out: ScalingSummary[] = [];
  for (const connections of ROWS) {
    for (const server of echoServers) {
      const mine = runs.filter((r) => r.connections === connections && r.server === server.name);
      if (mine.length === 0) continue;
      const sum = (pick: (r: ScalingRun) => number): number => mine.reduce((acc, r) => acc + pick(r), 0);
      const seconds = sum((r) => r.seconds);
      const messages = sum((r) => r.messages);
      const echoCpu = sum((r) => r.serverEchoCpuSeconds);
      const connectCpu = sum((r) => r.serverConnectCpuSeconds);
      out.push({
        connections,
        server: server.name,
        messagesPerSecond: messages / seconds,
        perCpuEcho: echoCpu > 0 ? messages / echoCpu : Number.NaN,
        perCpuWithConnect: messages / (echoCpu + connectCpu),
        connectCpuMicros: (connectCpu * 1e6) / sum((r) => r.connected),
        serverCpuPercent: (100 * echoCpu) / seconds,
        clientCpuPercentPerProcess: (100 * sum((r) => r.clientCpuSeconds)) / sum((r) => r.seconds * r.loadProcesses),
        otherCpuPercent: (100 * sum((r) => r.otherCpuSeconds)) / seconds,
        errors: sum((r) => r.errors),
        allAccepted: mine.every((r) => r.allAccepted),
        listenOverflows: mine.some((r) => r.listenOverflows === null) ? null : sum((r) => r.listenOverflows!) / mine.length,
        serverPeakRssMiB: mine.some((r) => r.serverPeakRssMiB === null) ? null : Math.max(...mine.map((r) => r.serverPeakRssMiB!)),
        roundsMessagesPerSecond: mine.map((r) => r.messages / r.seconds),
      });
    }
  }
  return out;
}

function ratios(summary: readonly ScalingSummary[]): ScalingRatio[] {
  const out: ScalingRatio[] = [];
  for (const connections of ROWS) {
    const p = summary.find((s) => s.connections === connections && s.server === 'portico');
    const b = summary.find((s) => s.connections === connections && s.server === 'plain');
    if (p === undefined || b === undefined) continue;
    out.push({ connections, throughput: p.messagesPerSecond / b.messagesPerSecond, perCpuEcho: p.perCpuEcho / b.perCpuEcho, perCpuWithConnect: p.perCpuWithConnect / b.perCpuWithConnect });
  }
  return out;
}

function render(summary: readonly ScalingSummary[], ratioRows: readonly ScalingRatio[]): string {
  const detail = markdownTable(
    ['connections', 'server', 'msg/s', 'server CPU %', 'msg per server CPU-s (a) echo', '(b) with connects', 'server CPU per connect µs', 'connect phase listen overflows', 'server peak RSS MiB', 'load gen CPU % per process', 'other CPU %', 'errors', 'msg/s per round'],
    summary.map((s) => [
      fmt(s.connections),
      serverLabel(s.server),
      fmt(s.messagesPerSecond),
      fmt(s.serverCpuPercent, 0),
      fmt(s.perCpuEcho),
      fmt(s.perCpuWithConnect),
      fmt(s.connectCpuMicros, 1),
      s.listenOverflows === null ? 'n/a' : fmt(s.listenOverflows),
      s.serverPeakRssMiB === null ? 'n/a' : fmt(s.serverPeakRssMiB, 0),
      fmt(s.clientCpuPercentPerProcess, 0),
      fmt(s.otherCpuPercent, 0),
      `${s.errors}${s.allAccepted ? '' : ' (not all accepted)'}`,
      s.roundsMessagesPerSecond.map((v) => fmt(v)).join(' / '),
    ]),
    [true, false, true, true, true, true, true, true, true, true, true, true, false],
  );
  const of = (connections: number, server: EchoServerName): ScalingSummary => summary.find((s) => s.connections === connections && s.server === server)!;
  const readme = markdownTable(
    ['connections × 64 B', 'portico msg/s', 'node:net msg/s', 'ratio', 'msg per server CPU-s, echo only: portico / node:net', 'ratio', 'counting connects: portico / node:net', 'ratio'],
    ratioRows.map((r) => {
      const p = of(r.connections, 'portico');
      const b = of(r.connections, 'plain');
      return [
        fmt(r.connections),
        fmt(p.messagesPerSecond),
        fmt(b.messagesPerSecond),
        `**${fmt(r.throughput, 2)}**`,
        `${fmt(p.perCpuEcho)} / ${fmt(b.perCpuEcho)}`,
        `**${fmt(r.perCpuEcho, 2)}**`,
        `${fmt(p.perCpuWithConnect)} / ${fmt(b.perCpuWithConnect)}`,
        `**${fmt(r.perCpuWithConnect, 2)}**`,
      ];
    }),
    [true, true, true, true, true, true, true, true],
  );
  return `${detail}\n\n${readme}\n`;
}

function goalVerdict(ratioRows: readonly ScalingRatio[]): { met: boolean; text: string } {
  const met = ratioRows.length > 0 && ratioRows.every((r) => r.perCpuEcho >= GOAL && r.perCpuWithConnect >= GOAL);
  const detail = ratioRows.map((r) => `${fmt(r.connections)}: ${fmt(r.perCpuEcho, 2)}× / ${fmt(r.perCpuWithConnect, 2)}×`).join(', ');
  return { met, text: `Goal (portico ≥ ${fmt(GOAL, 1)}× node:net per server CPU-s, echo only / with connects, every row): ${met ? 'MET' : 'NOT MET'} (${detail})` };
}

/** Run the scaling rows; prints the tables and writes reports/bench-echo-scaling.json. */
export async function runEchoScalingBench(argv: readonly string[], parse: ParseOptions = {}): Promise<void> {
  const { help, values: flags } = parseIntFlags(argv, echoScalingBenchFlags, parse);
  if (help) {
    process.stdout.write(flagsHelp('node dist/harness/bench/echo-scaling-bench.js [options]', echoScalingBenchFlags));
    return;
  }
  const rows = ROWS.filter((n) => n <= flags['scaling-max']);
  const runs: ScalingRun[] = [];
  for (const [cell, connections] of rows.entries()) {
    for (let round = 1; round <= flags.rounds; round++) {
      for (const server of abOrder(cell + round)) {
        process.stderr.write(`echo scaling ${fmt(connections)} × ${SIZE} B: ${server.name} round ${round}/${flags.rounds} ... `);
        const run = await measure(server, connections, round, flags);
        runs.push(run);
        process.stderr.write(
          `${fmt(run.messages / run.seconds)} msg/s, server CPU echo ${fmt(run.serverEchoCpuSeconds, 2)} s + connects ${fmt(run.serverConnectCpuSeconds, 2)} s ` +
            `(${fmt(run.connectSeconds, 1)} s, listen overflows ${run.listenOverflows ?? 'n/a'}${run.allAccepted ? '' : ', NOT all accepted'}), load gen CPU ${fmt(run.clientCpuSeconds, 2)} s, ` +
            `other ${fmt(run.otherCpuSeconds, 2)} s, errors ${run.errors}, exit ${run.serverExitCode}, load ${fmt(run.loadAvg1m, 2)}\n`,
        );
      }
    }
  }
  const summary = summarize(runs);
  const ratioRows = ratios(summary);
  const goal = goalVerdict(ratioRows);
  process.stdout.write(`\n## Echo scaling: 64 B ping-pong, portico vs plain node:net (${flags.rounds} round(s) × ${flags['duration-ms']} ms, ${flags['load-processes']} load process(es))\n\n`);
  process.stdout.write(render(summary, ratioRows));
  const tickMicros = 1e6 / clockTicks() / rows[0]!;
  process.stdout.write(`\nServer CPU comes from /proc in ${fmt(1000 / clockTicks())} ms ticks: at ${fmt(rows[0]!)} connections the connect figure is ± ${fmt(tickMicros)} µs per connection.\n`);
  process.stdout.write(`\n${goal.text}\n`);

  mkdirSync(reportsDir, { recursive: true });
  const file = path.join(reportsDir, 'bench-echo-scaling.json');
  const report = { generatedAt: new Date().toISOString(), node: process.version, cpus: os.cpus().length, loadavg: os.loadavg(), clockTicks: clockTicks(), options: flags, runs, summary, ratios: ratioRows, goal };
  writeFileSync(file, JSON.stringify(report, null, 2) + '\n');
  process.stderr.write(`wrote ${path.relative(process.cwd(), file)}\n`);
  const failed = runs.filter((r) => r.errors > 0 || r.serverExitCode !== 0 || !r.allAccepted);
  if (failed.length > 0) {
    process.stderr.write(`warning: ${failed.length} run(s) had client errors, unaccepted connections or a server that did not exit 0 on SIGTERM\n`);
    process.exitCode = 1;
  }
}

if (isMain(import.meta.url)) {
  runEchoScalingBench(process.argv.slice(2)).catch((error: unknown) => exitWithError('echo-scaling-bench', error));
}
