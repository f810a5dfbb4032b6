#!/usr/bin/env node
/**
 * WebSocket (issue 9): portico-websocket vs the npm `ws` package as its users run it (8.23.1 with its
 * native bufferutil: harness/bench/ws-baseline-server.ts), each a fresh process per run, driven by the
 * same load generator (ws-load.ts, raw sockets, its own processes) over 127.0.0.1:
 *
 *   node dist/harness/bench/websocket-bench.js [--rounds 2] [--duration-ms 3000] [--warmup-ms 500]
 *       [--ws-idle-connections 10000] [--ws-broadcast-clients 1000] [--ws-workers 1] [--ws-parts 7] [--ws-floor 1]
 *
 * - echo: closed loop on /echo (each connection sends a message and waits for its echo) at
 *   connections × size 1 × 64 B, 100 × 64 B, 100 × 16 KiB, 1000 × 64 B (binary) and 100 × 64 B text:
 *   messages/s, p50/p99 round trip, messages per server CPU-second.
 * - idle: server RSS growth per connection with 10,000 connections that each echoed one 64 B
 *   message and sit idle (VmRSS sampled every 200 ms over --settle-ms, the last sample counts; the
 *   growth is divided by the connections the server still holds, counted by its open fds).
 * - broadcast: 1000 clients on /broadcast; one sends a 64 B text message, and the next once all
 *   1000 (the sender included) have it: fan-out time from the send until the last one got it, and
 *   server CPU per broadcast, over every broadcast in the window.
 *
 * - the floor (--ws-floor 1, the default): a third process in every row, ws-floor-server — raw TCP
 *   handles and only the frames ws-load sends, the least work a Node process can do per message. Its
 *   ratio to ws is the most any Node server can reach on the machine, so a goal the floor misses too
 *   is beyond Node here, not beyond portico's code; portico/floor is what portico's layers cost.
 *
 * Server CPU is read from /proc/<pid>/stat between the load's "ready" and "result" lines (after
 * connecting and warming up; what was in flight at the window's end is counted in `served`). The two
 * servers alternate which goes first from round to round and row to row, so drift on this shared
 * 2-core machine lands on both; the load generator shares the cores, so messages/s partly measures
 * the machine, and messages per server CPU-second is the figure that isolates the server. The ratio
 * columns give each round's ratio too: their spread is the noise. "of it kernel %" is the system
 * time share of the server's CPU (the socket system calls): the part neither server's code can cut.
 *
 * Noise to expect: other tenants of the machine (the "other tenants CPU %" column; over 100 % means
 * more than a core went to them), and at 16 KiB glibc's heap trimming: both servers allocate a buffer
 * per message (ws through Node's socket reads, portico for the message it hands over), and whether
 * free() returns the heap top to the kernel, so that the next buffers fault their pages in again, varies
 * from run to run (seen: 0.01 vs 1.5 page faults per message, a factor of ~2 in CPU per message);
 * --ws-no-trim 1 (GLIBC_TUNABLES=glibc.malloc.trim_threshold=268435456 for both servers) removes it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Exit } from './children.js';
import { exitWithError } from './fail.js';
import { flagsHelp, type IntFlag, type ParseOptions, parseIntFlags } from './flags.js';
import { PhasedLoad } from './load-phases.js';
import { fmt, markdownTable } from './markdown.js';
import { isMain, reportsDir, scripts } from './paths.js';
import { clockTicks, cpuTimes, machineBusySeconds, maxOpenFiles, openFds, peakRssMiB, rssKiB } from './proc-stat.js';
import { type RunningServer, startServer } from './server-process.js';
import { LatencyHistogram } from './ws-load.js';

type WsFlag = 'rounds' | 'duration-ms' | 'warmup-ms' | 'settle-ms' | 'ws-idle-connections' | 'ws-broadcast-clients' | 'ws-workers' | 'ws-parts' | 'ws-no-trim' | 'ws-floor';

export const websocketBenchFlags: readonly IntFlag<WsFlag>[] = [
  { name: 'rounds', description: 'A/B rounds per row', default: 2, min: 1, max: 20 },
  { name: 'duration-ms', description: 'measured window of each run', default: 3000, min: 200, max: 60_000 },
  { name: 'warmup-ms', description: 'unmeasured load before each run (JIT warm-up)', default: 500, min: 0, max: 10_000 },
  { name: 'settle-ms', description: 'RSS sampled every 200 ms over this long; the last sample counts', default: 2000, min: 200, max: 30_000 },
  { name: 'ws-idle-connections', description: 'WebSocket connections that echo one message and sit idle (fewer if ulimit -n is lower)', default: 10_000, min: 100, max: 19_000 },
  { name: 'ws-broadcast-clients', description: 'clients one broadcast goes to', default: 1000, min: 2, max: 10_000 },
  { name: 'ws-workers', description: 'load processes per echo run (connections split between them)', default: 1, min: 1, max: 4 },
  { name: 'ws-parts', description: 'which parts: 1 echo + 2 idle + 4 broadcast', default: 7, min: 1, max: 7 },
  { name: 'ws-no-trim', description: '1 = both servers run with glibc heap trimming off (GLIBC_TUNABLES), so 16 KiB runs do not flip between page-faulting and not', default: 0, min: 0, max: 1 },
  { name: 'ws-floor', description: '1 = also run the floor (ws-floor-server: the least work a Node process can do per message) in every row, to read the goals against; 0 = portico and ws only', default: 1, min: 0, max: 1 },
];

/** What --ws-no-trim 1 puts in the servers' environment: free() never hands the heap top back to the kernel below 256 MiB. */
const NO_TRIM = 'glibc.malloc.trim_threshold=268435456';

export type WsServerName = 'portico' | 'ws' | 'floor';

interface WsServerUnderTest {
  readonly name: WsServerName;
  readonly script: string;
}

/** PORTICO_WEBSOCKET_MAIN=/other/build/dist/examples/websocket/main.js measures another build of portico (before/after a change) against the same ws. */
const allServers: readonly WsServerUnderTest[] = [
  { name: 'portico', script: process.env['PORTICO_WEBSOCKET_MAIN'] ?? scripts.porticoWebsocket },
  { name: 'ws', script: scripts.wsBaseline },
  { name: 'floor', script: scripts.wsFloor },
];

/** The servers of this run (the floor unless --ws-floor 0), set by runWebsocketBench. */
let servers: readonly WsServerUnderTest[] = allServers;

/** Every server of the run, which one first rotating with `turn`. */
function abOrder(turn: number): readonly WsServerUnderTest[] {
  const first = turn % servers.length;
  return [...servers.slice(first), ...servers.slice(0, first)];
}

interface EchoRow {
  readonly connections: number;
  readonly size: number;
  readonly text: boolean;
  /** portico / ws messages per server CPU-second must reach this. */
  readonly goal: number;
}

/** The rows, and its goals: ≥ 1.2× ws at 64 B, ≥ 1.0× at 16 KiB. */
const echoRows: readonly EchoRow[] = [
  { connections: 1, size: 64, text: false, goal: 1.2 },
  { connections: 100, size: 64, text: false, goal: 1.2 },
  { connections: 100, size: 16 * 1024, text: false, goal: 1.0 },
  { connections: 1000, size: 64, text: false, goal: 1.2 },
  { connections: 100, size: 64, text: true, goal: 1.2 },
];
const IDLE_GOAL = 0.5;
const BROADCAST_GOAL = 1.5;
const BROADCAST_SIZE = 64;
const IDLE_SIZE = 64;
const IDLE_WARMUP_CONNECTIONS = 100;
const FD_SLACK = 100;
const SAMPLE_EVERY_MS = 200;
const PHASE_TIMEOUT_MS = 180_000;

function sizeLabel(size: number): string {
  return size >= 1024 ? `${size / 1024} KiB` : `${size} B`;
}

function rowLabel(row: { connections: number; size: number; text: boolean }): string {
  return `${fmt(row.connections)} × ${sizeLabel(row.size)}${row.text ? ' text' : ''}`;
}

function startWsServer(server: WsServerUnderTest): Promise<RunningServer> {
  return startServer(server.name, server.script, ['--port', '0']);
}

/** What the `ws` side ran with, from its ready line: checked, so a missing addon never goes unnoticed. */
function wsSetup(running: RunningServer): Record<string, unknown> {
  const { event: _e, server: _s, host: _h, port: _p, ...rest } = running.ready;
  return rest;
}

// ---- load runs ------------------------------------------------------------------------------------

interface LoadTotals {
  readonly connected: number;
  readonly messages: number;
  readonly served: number;
  readonly seconds: number;
  readonly errors: number;
  readonly errorCodes: Record<string, number>;
  readonly clientCpuSeconds: number;
  readonly latency: LatencyHistogram;
  readonly serverCpuSeconds: number;
  /** The kernel's share of serverCpuSeconds (system calls: the socket reads and writes). */
  readonly serverSystemSeconds: number;
  /** CPU the machine spent in the window beyond this server and the load: other tenants. */
  readonly otherCpuSeconds: number;
}

/** Run `loads` in step: all ready, sample, go, all results, sample, close. */
async function runPhased(pid: number, loads: readonly PhasedLoad[]): Promise<LoadTotals> {
  for (const load of loads) await load.next('ready', ['connected', 'errors'], PHASE_TIMEOUT_MS);
  const cpuBefore = cpuTimes(pid);
  const machineBefore = machineBusySeconds();
  for (const load of loads) load.send('go');
  const results: Record<string, unknown>[] = [];
  for (const load of loads) results.push(await load.next('result', ['connected', 'messages', 'served', 'seconds', 'errors', 'clientCpuSeconds', 'maxUs'], PHASE_TIMEOUT_MS));
  const cpuAfter = cpuTimes(pid);
  const serverSystemSeconds = cpuAfter.system - cpuBefore.system;
  const serverCpuSeconds = cpuAfter.user - cpuBefore.user + serverSystemSeconds;
  const machine = machineBusySeconds() - machineBefore;
  for (const load of loads) load.send('close');
  for (const load of loads) await load.finish(PHASE_TIMEOUT_MS);
  const latency = new LatencyHistogram();
  const errorCodes: Record<string, number> = {};
  for (const r of results) {
    latency.add(r['histogram'] as [number, number][], r['maxUs'] as number);
    for (const [code, n] of Object.entries(r['errorCodes'] as Record<string, number>)) errorCodes[code] = (errorCodes[code] ?? 0) + n;
  }
  const sum = (field: string): number => results.reduce((acc, r) => acc + (r[field] as number), 0);
  const clientCpuSeconds = sum('clientCpuSeconds');
  return {
    connected: sum('connected'),
    messages: sum('messages'),
    served: sum('served'),
    seconds: Math.max(...results.map((r) => r['seconds'] as number)),
    errors: sum('errors'), // failed handshakes included
    errorCodes,
    clientCpuSeconds,
    latency,
    serverCpuSeconds,
    serverSystemSeconds,
    otherCpuSeconds: Math.max(0, machine - serverCpuSeconds - clientCpuSeconds),
  };
}

function wsLoad(mode: 'echo' | 'broadcast' | 'idle', port: number, connections: number, size: number, text: boolean, flags: Readonly<Record<WsFlag, number>>): PhasedLoad {
  return new PhasedLoad('ws-load', scripts.wsLoad, [
    '--mode', mode, '--port', String(port), '--connections', String(connections), '--size', String(size), '--text', text ? '1' : '0',
    '--warmup-ms', String(flags['warmup-ms']), '--duration-ms', String(flags['duration-ms']),
  ]); // prettier-ignore
}

// ---- echo -----------------------------------------------------------------------------------------

export interface WsEchoRun {
  readonly row: string;
  readonly server: WsServerName;
  readonly round: number;
  readonly connected: number;
  readonly messages: number;
  readonly served: number;
  readonly seconds: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly errors: number;
  readonly errorCodes: Record<string, number>;
  readonly serverCpuSeconds: number;
  readonly serverSystemSeconds: number;
  readonly clientCpuSeconds: number;
  readonly otherCpuSeconds: number;
  readonly serverPeakRssMiB: number | null;
  readonly loadAvg1m: number;
  readonly serverExitCode: number | null;
  /** The run's histogram, for pooling rounds (not in the JSON report). */
  readonly latency?: LatencyHistogram;
}

async function measureEcho(server: WsServerUnderTest, row: EchoRow, round: number, flags: Readonly<Record<WsFlag, number>>, setups: Map<WsServerName, unknown>): Promise<WsEchoRun> {
  const running = await startWsServer(server);
  setups.set(server.name, wsSetup(running));
  const workers = Math.min(flags['ws-workers'], row.connections);
  const loads: PhasedLoad[] = [];
  let measured: Omit<WsEchoRun, 'serverExitCode'>;
  let exit: Exit;
  try {
    for (let w = 0; w < workers; w++) {
      const share = Math.floor(row.connections / workers) + (w < row.connections % workers ? 1 : 0);
      loads.push(wsLoad('echo', running.port, share, row.size, row.text, flags));
    }
    const t = await runPhased(running.pid, loads);
    measured = {
      row: rowLabel(row),
      server: server.name,
      round,
      connected: t.connected,
      messages: t.messages,
      served: t.served,
      seconds: t.seconds,
      p50Us: t.latency.percentile(50),
      p99Us: t.latency.percentile(99),
      errors: t.errors,
      errorCodes: t.errorCodes,
      serverCpuSeconds: t.serverCpuSeconds,
      serverSystemSeconds: t.serverSystemSeconds,
      clientCpuSeconds: t.clientCpuSeconds,
      otherCpuSeconds: t.otherCpuSeconds,
      serverPeakRssMiB: peakRssMiB(running.pid),
      loadAvg1m: os.loadavg()[0]!,
      latency: t.latency,
    };
  } finally {
    for (const load of loads) await load.kill();
    exit = await running.stop();
  }
  return { ...measured, serverExitCode: exit.code };
}

export interface WsEchoSummary {
  readonly row: string;
  readonly server: WsServerName;
  readonly messagesPerSecond: number;
  /** Pooled over the rounds' round trips. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly serverCpuPercent: number;
  /** Kernel share of the server's CPU, %. */
  readonly serverSystemShare: number;
  readonly clientCpuPercent: number;
  readonly messagesPerCpuSecond: number;
  readonly roundsMessagesPerSecond: readonly number[];
  readonly roundsPerCpuSecond: readonly number[];
  readonly otherCpuPercent: number;
  readonly errors: number;
}

function summarizeEcho(runs: readonly WsEchoRun[], row: string, server: WsServerName): WsEchoSummary {
  const mine = runs.filter((r) => r.row === row && r.server === server);
  const sum = (pick: (r: WsEchoRun) => number): number => mine.reduce((acc, r) => acc + pick(r), 0);
  const seconds = sum((r) => r.seconds);
  const cpu = sum((r) => r.serverCpuSeconds);
  const latency = new LatencyHistogram();
  for (const r of mine) if (r.latency !== undefined) latency.add(r.latency.sparse(), r.latency.maxUs);
  return {
    row,
    server,
    messagesPerSecond: sum((r) => r.messages) / seconds,
    p50Ms: latency.percentile(50) / 1000,
    p99Ms: latency.percentile(99) / 1000,
    serverCpuPercent: (100 * cpu) / seconds,
    serverSystemShare: cpu > 0 ? (100 * sum((r) => r.serverSystemSeconds)) / cpu : Number.NaN,
    clientCpuPercent: (100 * sum((r) => r.clientCpuSeconds)) / seconds,
    messagesPerCpuSecond: cpu > 0 ? sum((r) => r.served) / cpu : Number.NaN,
    roundsMessagesPerSecond: mine.map((r) => r.messages / r.seconds),
    roundsPerCpuSecond: mine.map((r) => (r.serverCpuSeconds > 0 ? r.served / r.serverCpuSeconds : Number.NaN)),
    otherCpuPercent: (100 * sum((r) => r.otherCpuSeconds)) / seconds,
    errors: sum((r) => r.errors),
  };
}

// ---- idle -----------------------------------------------------------------------------------------

export interface WsIdleRun {
  readonly server: WsServerName;
  readonly round: number;
  readonly connections: number;
  readonly heldByServer: number;
  readonly errors: number;
  readonly errorCodes: Record<string, number>;
  readonly exchangeSeconds: number;
  readonly baselineRssKiB: number;
  readonly idleRssKiB: number;
  readonly afterCloseRssKiB: number;
  readonly peakRssMiB: number | null;
  readonly idleSamplesKiB: readonly number[];
  readonly loadAvg1m: number;
  readonly serverExitCode: number | null;
}

async function settledRss(pid: number, settleMs: number): Promise<number[]> {
  const samples: number[] = [];
  for (let waited = 0; waited < settleMs; waited += SAMPLE_EVERY_MS) {
    await new Promise((resolve) => setTimeout(resolve, SAMPLE_EVERY_MS));
    samples.push(rssKiB(pid));
  }
  return samples;
}

/** How many idle connections fit under both processes' open-file limits (the bench's children inherit its limit). */
function idleConnectionsThatFit(serverPid: number, wanted: number): { connections: number; limit: number } {
  const limit = Math.min(maxOpenFiles(serverPid), maxOpenFiles(process.pid));
  return { connections: Math.min(wanted, Math.max(IDLE_WARMUP_CONNECTIONS, limit - FD_SLACK)), limit };
}

async function measureIdle(server: WsServerUnderTest, round: number, flags: Readonly<Record<WsFlag, number>>, setups: Map<WsServerName, unknown>): Promise<WsIdleRun> {
  const running = await startWsServer(server);
  setups.set(server.name, wsSetup(running));
  const loads: PhasedLoad[] = [];
  let measured: Omit<WsIdleRun, 'serverExitCode'>;
  let exit: Exit;
  try {
    const { connections } = idleConnectionsThatFit(running.pid, flags['ws-idle-connections']);
    // Warm-up: the code an upgrade and an echo need is compiled and the pools exist before the baseline.
    const warm = wsLoad('idle', running.port, IDLE_WARMUP_CONNECTIONS, IDLE_SIZE, false, flags);
    loads.push(warm);
    await warm.next('idle', ['open', 'errors'], PHASE_TIMEOUT_MS);
    warm.send('close');
    await warm.finish(PHASE_TIMEOUT_MS);

    const baseline = await settledRss(running.pid, flags['settle-ms']);
    const fdsBefore = openFds(running.pid);
    const load = wsLoad('idle', running.port, connections, IDLE_SIZE, false, flags);
    loads.push(load);
    const idle = await load.next('idle', ['connected', 'open', 'errors', 'seconds'], PHASE_TIMEOUT_MS);
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
      errors: (idle['errors'] as number) + ((idle['connected'] as number) - (idle['open'] as number)),
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

const perConnectionKiB = (r: WsIdleRun): number => (r.idleRssKiB - r.baselineRssKiB) / Math.max(1, r.heldByServer);

// ---- broadcast ------------------------------------------------------------------------------------

export interface WsBroadcastRun {
  readonly server: WsServerName;
  readonly round: number;
  readonly clients: number;
  readonly broadcasts: number;
  readonly served: number;
  readonly seconds: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly errors: number;
  readonly errorCodes: Record<string, number>;
  readonly serverCpuSeconds: number;
  readonly serverSystemSeconds: number;
  readonly clientCpuSeconds: number;
  readonly otherCpuSeconds: number;
  readonly loadAvg1m: number;
  readonly serverExitCode: number | null;
  readonly latency?: LatencyHistogram;
}

async function measureBroadcast(server: WsServerUnderTest, round: number, flags: Readonly<Record<WsFlag, number>>, setups: Map<WsServerName, unknown>): Promise<WsBroadcastRun> {
  const running = await startWsServer(server);
  setups.set(server.name, wsSetup(running));
  const clients = flags['ws-broadcast-clients'];
  const loads = [wsLoad('broadcast', running.port, clients, BROADCAST_SIZE, true, flags)];
  let measured: Omit<WsBroadcastRun, 'serverExitCode'>;
  let exit: Exit;
  try {
    const t = await runPhased(running.pid, loads);
    measured = {
      server: server.name,
      round,
      clients: t.connected,
      broadcasts: t.messages,
      served: t.served,
      seconds: t.seconds,
      p50Us: t.latency.percentile(50),
      p99Us: t.latency.percentile(99),
      errors: t.errors,
      errorCodes: t.errorCodes,
      serverCpuSeconds: t.serverCpuSeconds,
      serverSystemSeconds: t.serverSystemSeconds,
      clientCpuSeconds: t.clientCpuSeconds,
      otherCpuSeconds: t.otherCpuSeconds,
      loadAvg1m: os.loadavg()[0]!,
      latency: t.latency,
    };
  } finally {
    for (const load of loads) await load.kill();
    exit = await running.stop();
  }
  return { ...measured, serverExitCode: exit.code };
}

// ---- tables ---------------------------------------------------------------------------------------

interface Goal {
  readonly what: string;
  readonly goal: string;
  readonly ratio: number;
  readonly rounds: readonly number[];
  readonly met: boolean;
  /** The same ratio for the floor (floor/ws), null when the floor did not run: the most any Node server reached here. */
  readonly floor: { readonly ratio: number; readonly rounds: readonly number[]; readonly met: boolean } | null;
  /** The most CPU other tenants took in one of the goal's runs, % of a core (null where not sampled: idle). */
  readonly othersPercent: number | null;
}

/** Over this share of a core taken by other tenants in a run, a verdict says the run was noisy: the machine, not the servers, may have decided it. */
const NOISY_OTHERS_PERCENT = 10;

/** The most CPU other tenants took in one of `runs`, % of a core. */
function othersPeak(runs: readonly { otherCpuSeconds: number; seconds: number }[]): number {
  return Math.max(0, ...runs.map((r) => (100 * r.otherCpuSeconds) / r.seconds));
}

/** "1.31 (1.25–1.40)", or '' when the floor did not run. */
function floorText(floor: Goal['floor']): string {
  return floor === null ? '' : ratioText(floor.ratio, floor.rounds);
}

/** "1.31 (1.25–1.40)": the pooled ratio and the spread of the per-round ratios. */
function ratioText(pooled: number, rounds: readonly number[]): string {
  if (rounds.length < 2) return fmt(pooled, 2);
  return `${fmt(pooled, 2)} (${fmt(Math.min(...rounds), 2)}–${fmt(Math.max(...rounds), 2)})`;
}

/** 'met' or 'not met' (bold), and whether the floor missed the goal too: then no Node server reached it on this machine. */
function verdict(g: Goal, loud = false): string {
  const word = (text: string): string => (loud ? text.toUpperCase() : text);
  const noisy = g.othersPercent !== null && g.othersPercent > NOISY_OTHERS_PERCENT ? ` (noisy: other tenants took up to ${fmt(g.othersPercent)} % of a core in a run; measure again)` : '';
  if (g.met) return word('met') + noisy;
  return (g.floor !== null && !g.floor.met ? `**${word('not met')}** (the floor missed it too)` : `**${word('not met')}**`) + noisy;
}

/** Per-round ratios of paired runs (round r of `of` — portico unless said — against round r of ws). */
function perRound<T extends { server: WsServerName; round: number }>(runs: readonly T[], value: (r: T) => number, invert = false, of: WsServerName = 'portico'): number[] {
  const out: number[] = [];
  for (const p of runs.filter((r) => r.server === of)) {
    const w = runs.find((r) => r.server === 'ws' && r.round === p.round);
    if (w !== undefined) out.push(invert ? value(w) / value(p) : value(p) / value(w));
  }
  return out;
}

function renderEcho(runs: readonly WsEchoRun[], goals: Goal[]): string {
  const rows = echoRows.map(rowLabel).filter((label) => runs.some((r) => r.row === label));
  const summaries = rows.flatMap((row) => servers.map((s) => summarizeEcho(runs, row, s.name)));
  const main = markdownTable(
    ['connections × size', 'server', 'msg/s', 'p50 ms', 'p99 ms', 'server CPU %', 'of it kernel %', 'msg per server CPU-s', 'load gen CPU %', 'other tenants CPU %', 'msg per server CPU-s by round', 'errors'],
    summaries.map((s) => [
      s.row,
      s.server,
      fmt(s.messagesPerSecond),
      fmt(s.p50Ms, 2),
      fmt(s.p99Ms, 2),
      fmt(s.serverCpuPercent),
      fmt(s.serverSystemShare),
      fmt(s.messagesPerCpuSecond),
      fmt(s.clientCpuPercent),
      fmt(s.otherCpuPercent),
      s.roundsPerCpuSecond.map((v) => fmt(v)).join(' / '),
      String(s.errors),
    ]),
    [false, false, true, true, true, true, true, true, true, true, false, true],
  );
  const ratioRows = rows.map((row) => {
    const def = echoRows.find((r) => rowLabel(r) === row)!;
    const mine = runs.filter((r) => r.row === row);
    const p = summaries.find((s) => s.row === row && s.server === 'portico')!;
    const w = summaries.find((s) => s.row === row && s.server === 'ws')!;
    const cpuRatio = p.messagesPerCpuSecond / w.messagesPerCpuSecond;
    const cpuRounds = perRound(mine, (r) => r.served / r.serverCpuSeconds);
    const rateRatio = p.messagesPerSecond / w.messagesPerSecond;
    const rateRounds = perRound(mine, (r) => r.messages / r.seconds);
    const met = cpuRatio >= def.goal;
    const f = summaries.find((s) => s.row === row && s.server === 'floor');
    const floorRatio = f === undefined ? null : f.messagesPerCpuSecond / w.messagesPerCpuSecond;
    const floor = floorRatio === null ? null : { ratio: floorRatio, rounds: perRound(mine, (r) => r.served / r.serverCpuSeconds, false, 'floor'), met: floorRatio >= def.goal };
    const goal: Goal = { what: `echo ${row}: msg per server CPU-s portico/ws`, goal: `≥ ${fmt(def.goal, 1)}`, ratio: cpuRatio, rounds: cpuRounds, met, floor, othersPercent: othersPeak(mine) };
    goals.push(goal);
    const ofFloor = f === undefined ? [] : [floorText(floor), fmt(p.messagesPerCpuSecond / f.messagesPerCpuSecond, 2)];
    return [row, ratioText(rateRatio, rateRounds), fmt(p.p99Ms / w.p99Ms, 2), ratioText(cpuRatio, cpuRounds), ...ofFloor, `≥ ${fmt(def.goal, 1)}`, verdict(goal)];
  });
  const withFloor = servers.some((s) => s.name === 'floor');
  const ratio = markdownTable(
    ['connections × size', 'msg/s portico/ws', 'p99 portico/ws', 'msg per server CPU-s portico/ws', ...(withFloor ? ['floor/ws (per CPU-s)', 'portico/floor'] : []), 'goal (per CPU-s)', ''],
    ratioRows,
    [false, true, true, true, ...(withFloor ? [true, true] : []), true, false],
  );
  return `${main}\n\n${ratio}\n`;
}

function renderIdle(runs: readonly WsIdleRun[], goals: Goal[]): string {
  const summaries = servers.map(({ name }) => {
    const mine = runs.filter((r) => r.server === name);
    const mean = (pick: (r: WsIdleRun) => number): number => mine.reduce((acc, r) => acc + pick(r), 0) / mine.length;
    return {
      name,
      connections: Math.min(...mine.map((r) => r.heldByServer)),
      baselineMiB: mean((r) => r.baselineRssKiB) / 1024,
      idleMiB: mean((r) => r.idleRssKiB) / 1024,
      perConnectionKiB: mean(perConnectionKiB),
      rounds: mine.map(perConnectionKiB),
      afterCloseMiB: mean((r) => r.afterCloseRssKiB) / 1024,
      errors: mine.reduce((acc, r) => acc + r.errors, 0),
    };
  });
  const p = summaries.find((s) => s.name === 'portico')!;
  const w = summaries.find((s) => s.name === 'ws')!;
  const ratio = p.perConnectionKiB / w.perConnectionKiB;
  const rounds = perRound(runs, perConnectionKiB);
  const met = ratio <= IDLE_GOAL;
  const f = summaries.find((s) => s.name === 'floor');
  const floorRatio = f === undefined ? null : f.perConnectionKiB / w.perConnectionKiB;
  const floor = floorRatio === null ? null : { ratio: floorRatio, rounds: perRound(runs, perConnectionKiB, false, 'floor'), met: floorRatio <= IDLE_GOAL };
  goals.push({ what: 'idle: RSS per connection portico/ws', goal: `≤ ${fmt(IDLE_GOAL, 1)}`, ratio, rounds, met, floor, othersPercent: null });
  const table = markdownTable(
    ['server', 'idle connections held', 'RSS before MiB', 'RSS with them idle MiB', 'per idle connection KiB', 'by round KiB', 'ratio to ws', 'RSS after they close MiB', 'errors'],
    summaries.map((s) => [
      s.name,
      fmt(s.connections),
      fmt(s.baselineMiB, 1),
      fmt(s.idleMiB, 1),
      fmt(s.perConnectionKiB, 2),
      s.rounds.map((v) => fmt(v, 2)).join(' / '),
      s.name === 'portico' ? `**${ratioText(ratio, rounds)}** (goal ≤ ${fmt(IDLE_GOAL, 1)}: ${met ? 'met' : 'not met'})` : s.name === 'floor' ? floorText(floor) : '',
      fmt(s.afterCloseMiB, 1),
      String(s.errors),
    ]),
    [false, true, true, true, true, false, false, true, true],
  );
  return `${table}\n`;
}

function renderBroadcast(runs: readonly WsBroadcastRun[], goals: Goal[]): string {
  const summaries = servers.map(({ name }) => {
    const mine = runs.filter((r) => r.server === name);
    const sum = (pick: (r: WsBroadcastRun) => number): number => mine.reduce((acc, r) => acc + pick(r), 0);
    const latency = new LatencyHistogram();
    for (const r of mine) if (r.latency !== undefined) latency.add(r.latency.sparse(), r.latency.maxUs);
    const cpu = sum((r) => r.serverCpuSeconds);
    const served = sum((r) => r.served);
    return {
      name,
      clients: Math.min(...mine.map((r) => r.clients)),
      broadcasts: sum((r) => r.broadcasts),
      perSecond: sum((r) => r.broadcasts) / sum((r) => r.seconds),
      p50Ms: latency.percentile(50) / 1000,
      p99Ms: latency.percentile(99) / 1000,
      cpuUsPerBroadcast: (cpu / served) * 1e6,
      rounds: mine.map((r) => (r.serverCpuSeconds / r.served) * 1e6),
      serverCpuPercent: (100 * cpu) / sum((r) => r.seconds),
      systemShare: cpu > 0 ? (100 * sum((r) => r.serverSystemSeconds)) / cpu : Number.NaN,
      clientCpuPercent: (100 * sum((r) => r.clientCpuSeconds)) / sum((r) => r.seconds),
      errors: sum((r) => r.errors),
    };
  });
  const p = summaries.find((s) => s.name === 'portico')!;
  const w = summaries.find((s) => s.name === 'ws')!;
  // Broadcasts per server CPU-second, portico/ws: ws's CPU per broadcast over portico's.
  const cpuRatio = w.cpuUsPerBroadcast / p.cpuUsPerBroadcast;
  const cpuRounds = perRound(runs, (r) => r.serverCpuSeconds / r.served, true);
  const rateRatio = p.perSecond / w.perSecond;
  const rateRounds = perRound(runs, (r) => r.broadcasts / r.seconds);
  const met = cpuRatio >= BROADCAST_GOAL;
  const f = summaries.find((s) => s.name === 'floor');
  const floorRatio = f === undefined ? null : w.cpuUsPerBroadcast / f.cpuUsPerBroadcast;
  const floor = floorRatio === null ? null : { ratio: floorRatio, rounds: perRound(runs, (r) => r.serverCpuSeconds / r.served, true, 'floor'), met: floorRatio >= BROADCAST_GOAL };
  const goal: Goal = { what: `broadcast to ${fmt(p.clients)}: broadcasts per server CPU-s portico/ws`, goal: `≥ ${fmt(BROADCAST_GOAL, 1)}`, ratio: cpuRatio, rounds: cpuRounds, met, floor, othersPercent: othersPeak(runs) };
  goals.push(goal);
  const table = markdownTable(
    ['server', 'clients', 'broadcasts', 'broadcasts/s', 'fan-out p50 ms', 'fan-out p99 ms', 'server CPU µs per broadcast', 'of it kernel %', 'by round µs', 'server CPU %', 'load gen CPU %', 'errors'],
    summaries.map((s) => [
      s.name,
      fmt(s.clients),
      fmt(s.broadcasts),
      fmt(s.perSecond, 1),
      fmt(s.p50Ms, 2),
      fmt(s.p99Ms, 2),
      fmt(s.cpuUsPerBroadcast),
      fmt(s.systemShare),
      s.rounds.map((v) => fmt(v)).join(' / '),
      fmt(s.serverCpuPercent),
      fmt(s.clientCpuPercent),
      String(s.errors),
    ]),
    [false, true, true, true, true, true, true, true, false, true, true, true],
  );
  const ofFloor = f === undefined ? [] : [floorText(floor), fmt(f.cpuUsPerBroadcast / p.cpuUsPerBroadcast, 2)];
  const ratio = markdownTable(
    ['', 'broadcasts/s portico/ws', 'fan-out p50 portico/ws', 'broadcasts per server CPU-s portico/ws', ...(f === undefined ? [] : ['floor/ws (per CPU-s)', 'portico/floor']), 'goal (per CPU-s)', ''],
    [[`1 → ${fmt(p.clients)} × ${BROADCAST_SIZE} B text`, ratioText(rateRatio, rateRounds), fmt(p.p50Ms / w.p50Ms, 2), ratioText(cpuRatio, cpuRounds), ...ofFloor, `≥ ${fmt(BROADCAST_GOAL, 1)}`, verdict(goal)]],
    [false, true, true, true, ...(f === undefined ? [] : [true, true]), true, false],
  );
  return `${table}\n\n${ratio}\n`;
}

// ---- main -----------------------------------------------------------------------------------------

const withoutHistogram = <T extends { latency?: LatencyHistogram }>(r: T): Omit<T, 'latency'> => {
  const { latency: _l, ...rest } = r;
  return rest;
};

/** Run the WebSocket comparison; prints the tables and writes reports/bench-websocket.json. */
export async function runWebsocketBench(argv: readonly string[], parse: ParseOptions = {}): Promise<void> {
  const { help, values: flags } = parseIntFlags(argv, websocketBenchFlags, parse);
  if (help) {
    process.stdout.write(flagsHelp('node dist/harness/bench/websocket-bench.js [options]', websocketBenchFlags));
    return;
  }
  const parts = flags['ws-parts'];
  servers = flags['ws-floor'] === 1 ? allServers : allServers.filter((s) => s.name !== 'floor');
  const withFloor = flags['ws-floor'] === 1;
  // The servers (and load generators) inherit the bench's environment; restored at the end (run-all goes on).
  const savedTunables = process.env['GLIBC_TUNABLES'];
  if (flags['ws-no-trim'] === 1) process.env['GLIBC_TUNABLES'] = process.env['GLIBC_TUNABLES'] ? `${process.env['GLIBC_TUNABLES']}:${NO_TRIM}` : NO_TRIM;
  const setups = new Map<WsServerName, unknown>();
  const echoRuns: WsEchoRun[] = [];
  const idleRuns: WsIdleRun[] = [];
  const broadcastRuns: WsBroadcastRun[] = [];
  const started = Date.now();
  const line = (text: string): void => void process.stderr.write(text);

  if (parts & 1) {
    for (const [index, row] of echoRows.entries()) {
      for (let round = 1; round <= flags.rounds; round++) {
        for (const server of abOrder(index + round)) {
          line(`websocket echo ${rowLabel(row)}: ${server.name} round ${round}/${flags.rounds} ... `);
          const run = await measureEcho(server, row, round, flags, setups);
          echoRuns.push(run);
          line(
            `${fmt(run.messages / run.seconds)} msg/s, p99 ${fmt(run.p99Us / 1000, 2)} ms, ${fmt(run.served / run.serverCpuSeconds)} msg per server CPU-s ` +
              `(server ${fmt(run.serverCpuSeconds, 2)} s, load ${fmt(run.clientCpuSeconds, 2)} s, others ${fmt(run.otherCpuSeconds, 2)} s), errors ${run.errors}, exit ${run.serverExitCode}\n`,
          );
        }
      }
    }
  }
  if (parts & 2) {
    for (let round = 1; round <= flags.rounds; round++) {
      for (const server of abOrder(round)) {
        line(`websocket idle ${fmt(flags['ws-idle-connections'])}: ${server.name} round ${round}/${flags.rounds} ... `);
        const run = await measureIdle(server, round, flags, setups);
        idleRuns.push(run);
        line(
          `RSS ${fmt(run.baselineRssKiB / 1024, 1)} → ${fmt(run.idleRssKiB / 1024, 1)} MiB with ${fmt(run.heldByServer)} held (${fmt(perConnectionKiB(run), 2)} KiB each), ` +
            `${fmt(run.afterCloseRssKiB / 1024, 1)} MiB after close, errors ${run.errors}, exit ${run.serverExitCode}\n`,
        );
      }
    }
  }
  if (parts & 4) {
    for (let round = 1; round <= flags.rounds; round++) {
      for (const server of abOrder(round + 1)) {
        line(`websocket broadcast to ${fmt(flags['ws-broadcast-clients'])}: ${server.name} round ${round}/${flags.rounds} ... `);
        const run = await measureBroadcast(server, round, flags, setups);
        broadcastRuns.push(run);
        line(
          `${fmt(run.broadcasts / run.seconds, 1)} broadcasts/s, p50 ${fmt(run.p50Us / 1000, 2)} ms, ${fmt((run.serverCpuSeconds / run.served) * 1e6)} µs server CPU each ` +
            `(load ${fmt(run.clientCpuSeconds, 2)} s, others ${fmt(run.otherCpuSeconds, 2)} s), errors ${run.errors}, exit ${run.serverExitCode}\n`,
        );
      }
    }
  }

  const ws = setups.get('ws') as Record<string, unknown> | undefined;
  const goals: Goal[] = [];
  const out: string[] = [];
  out.push(`\n## WebSocket: portico vs ws ${String(ws?.['ws'] ?? '?')} (${flags.rounds} round(s) × ${flags['duration-ms']} ms each, A/B alternating)\n`);
  out.push(
    `\nws runs with bufferutil: ${String(ws?.['bufferutil'] ?? '?')}, UTF-8 check: ${String(ws?.['utf8'] ?? '?')}; perMessageDeflate off on both; ` +
      `load generator: ws-load (raw sockets), ${flags['ws-workers']} process(es) per echo run; glibc heap trimming ${flags['ws-no-trim'] === 1 ? 'off (--ws-no-trim 1)' : 'as by default'}. ` +
      `Ratios: pooled over the rounds (lowest–highest single round).` +
      (withFloor
        ? ' The floor (ws-floor-server) is the least a Node process can do per message — raw TCP handles, only the frames ws-load sends, no limits or backpressure — so floor/ws is the most any Node server can reach against ws on this machine.'
        : '') +
      '\n',
  );
  if (echoRuns.length > 0) out.push(`\n### Echo (/echo, closed loop)\n\n${renderEcho(echoRuns, goals)}`);
  if (idleRuns.length > 0) {
    const wanted = flags['ws-idle-connections'];
    const held = Math.min(...idleRuns.map((r) => r.connections));
    const note = held < wanted ? ` — ${fmt(held)} of the ${fmt(wanted)} asked for: the open-file limit (ulimit -n) allows no more` : '';
    out.push(`\n### Memory per idle connection (each echoed one ${IDLE_SIZE} B message first${note})\n\n${renderIdle(idleRuns, goals)}`);
  }
  if (broadcastRuns.length > 0) out.push(`\n### Broadcast (/broadcast: one ${BROADCAST_SIZE} B text message to every client, the next once all have it)\n\n${renderBroadcast(broadcastRuns, goals)}`);
  out.push(`\n### Goals\n\n`);
  out.push(
    markdownTable(
      ['goal', 'target', 'portico/ws (rounds)', ...(withFloor ? ['floor/ws (rounds)'] : []), ''],
      goals.map((g) => [g.what, g.goal, ratioText(g.ratio, g.rounds), ...(withFloor ? [floorText(g.floor)] : []), verdict(g, true)]),
      [false, false, true, ...(withFloor ? [true] : []), false],
    ) + '\n',
  );
  process.stdout.write(out.join(''));

  mkdirSync(reportsDir, { recursive: true });
  const file = path.join(reportsDir, 'bench-websocket.json');
  const report = {
    generatedAt: new Date().toISOString(),
    node: process.version,
    cpus: os.cpus().length,
    loadavg: os.loadavg(),
    clockTicks: clockTicks(),
    options: flags,
    servers: Object.fromEntries(setups),
    seconds: (Date.now() - started) / 1000,
    echo: echoRuns.map(withoutHistogram),
    idle: idleRuns,
    broadcast: broadcastRuns.map(withoutHistogram),
    goals,
  };
  writeFileSync(file, JSON.stringify(report, null, 2) + '\n');
  process.stderr.write(`wrote ${path.relative(process.cwd(), file)}\n`);
  if (savedTunables === undefined) delete process.env['GLIBC_TUNABLES'];
  else process.env['GLIBC_TUNABLES'] = savedTunables;
  const failed = [...echoRuns, ...idleRuns, ...broadcastRuns].filter((r) => r.errors > 0 || r.serverExitCode !== 0);
  if (ws !== undefined && ws['bufferutil'] !== 'native') {
    process.stderr.write(`warning: ws ran without the native bufferutil (${String(ws['bufferutil'])}): not ws as its users run it\n`);
    process.exitCode = 1;
  }
  if (failed.length > 0) {
    process.stderr.write(`warning: ${failed.length} run(s) had client errors or a server that did not exit 0 on SIGTERM\n`);
    process.exitCode = 1;
  }
}

if (isMain(import.meta.url)) {
  runWebsocketBench(process.argv.slice(2)).catch((error: unknown) => exitWithError('websocket-bench', error));
}
