#!/usr/bin/env node
/**
 * The fd-transfer front against a relaying front (the FastCGI / reverse-proxy path) through the same
 * back-end processes (issue 11): `portico-fd-front --mode transfer` hands each connection's descriptor
 * to the HTTP back end, `--mode relay` connects to the same back end and copies every byte both ways.
 * Two loads, each a new connection per request (`Connection: close`), `--fd-concurrency` at once: a
 * small request (`GET /http/hello`, a 26-byte answer) and a 1 MiB response (`GET /http/bytes/1048576`).
 * Reported per mode: requests/s (the hand-off rate), the front's CPU per request (its own process only,
 * from /proc/<pid>/stat), the back ends' CPU per request, and how much lower the transfer front's CPU
 * per request is. The client runs in this process.
 */
import * as net from 'node:net';
import * as path from 'node:path';
import { readdirSync, readFileSync } from 'node:fs';
import { exitWithError } from './fail.js';
import { flagsHelp, type IntFlag, type ParseOptions, parseIntFlags } from './flags.js';
import { fmt, markdownTable } from './markdown.js';
import { isMain, repoRoot } from './paths.js';
import { cpuSeconds } from './proc-stat.js';
import { type RunningServer, startServer } from './server-process.js';

export const fdTransferBenchFlags: readonly IntFlag[] = [
  { name: 'fd-small-requests', description: 'requests per round of the small-request load', default: 5000, min: 10, max: 1_000_000 },
  { name: 'fd-large-requests', description: 'requests per round of the 1 MiB-response load', default: 1000, min: 10, max: 100_000 },
  { name: 'fd-concurrency', description: 'requests (connections) at once', default: 16, min: 1, max: 1000 },
  { name: 'rounds', description: 'rounds per mode and load (transfer and relay alternate)', default: 2, min: 1, max: 20 },
];

const frontScript = path.join(repoRoot, 'dist', 'examples', 'fd-transfer', 'main.js');
type Mode = 'transfer' | 'relay';
const loads = [
  { label: 'small request (26 B answer)', path: '/http/hello', bytes: 26 },
  { label: '1 MiB response', path: '/http/bytes/1048576', bytes: 1048576 },
] as const;

interface Run {
  readonly mode: Mode;
  readonly load: number;
  readonly requests: number;
  readonly seconds: number;
  readonly frontCpu: number;
  readonly backendCpu: number;
}

function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(entry));
    } catch {
      // gone
    }
  }
  return out;
}

/** One request on a new connection; resolves with the bytes received once the server closed. */
function request(port: number, target: string): Promise<number> {
  return new Promise((resolve, reject) => {
    let received = 0;
    const socket = net.connect({ host: '127.0.0.1', port }, () => socket.write(`GET ${target} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n`));
    socket.on('data', (chunk: Buffer) => (received += chunk.length));
    socket.once('error', reject);
    socket.once('close', () => resolve(received));
  });
}

async function load(port: number, target: string, minBytes: number, total: number, concurrency: number): Promise<number> {
  let started = 0;
  const t0 = process.hrtime.bigint();
  const worker = async (): Promise<void> => {
    while (started < total) {
      started++;
      const got = await request(port, target);
      if (got < minBytes) throw new Error(`short answer from ${target}: ${got} bytes`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

async function measure(front: RunningServer, mode: Mode, loadIndex: number, requests: number, concurrency: number): Promise<Run> {
  const l = loads[loadIndex]!;
  const backends = childPids(front.pid);
  const cpu = (): { front: number; back: number } => ({ front: cpuSeconds(front.pid), back: backends.reduce((s, p) => s + cpuSeconds(p), 0) });
  const before = cpu();
  const seconds = await load(front.port, l.path, l.bytes, requests, concurrency);
  const after = cpu();
  return { mode, load: loadIndex, requests, seconds, frontCpu: after.front - before.front, backendCpu: after.back - before.back };
}

export async function runFdTransferBench(argv: readonly string[], parse: ParseOptions = {}): Promise<void> {
  const { help, values: flags } = parseIntFlags(argv, fdTransferBenchFlags, parse);
  if (help) {
    process.stdout.write(flagsHelp('node dist/harness/bench/fd-transfer-bench.js [options]', fdTransferBenchFlags));
    return;
  }
  const fronts = new Map<Mode, RunningServer>();
  try {
    for (const mode of ['transfer', 'relay'] as const) fronts.set(mode, await startServer(`fd-front ${mode}`, frontScript, ['--port', '0', '--mode', mode, '--eager']));
    // Warm-up: both back ends started and the JITs past their first requests.
    for (const front of fronts.values()) await load(front.port, '/http/hello', 26, 200, 8);
    const runs: Run[] = [];
    for (const [loadIndex, l] of loads.entries()) {
      const requests = loadIndex === 0 ? flags['fd-small-requests']! : flags['fd-large-requests']!;
      for (let round = 1; round <= flags.rounds!; round++) {
        const order: Mode[] = round % 2 === 1 ? ['transfer', 'relay'] : ['relay', 'transfer'];
        for (const mode of order) {
          process.stderr.write(`fd-transfer ${l.label}: ${mode} round ${round}/${flags.rounds} ... `);
          const run = await measure(fronts.get(mode)!, mode, loadIndex, requests, flags['fd-concurrency']!);
          runs.push(run);
          process.stderr.write(`${fmt(run.requests / run.seconds)} req/s, front ${fmt((run.frontCpu / run.requests) * 1e6, 1)} µs CPU/req\n`);
        }
      }
    }
    const rows: string[][] = [];
    for (const [loadIndex, l] of loads.entries()) {
      const sum = (mode: Mode): { requests: number; seconds: number; frontCpu: number; backendCpu: number } =>
        runs
          .filter((r) => r.mode === mode && r.load === loadIndex)
          .reduce((a, r) => ({ requests: a.requests + r.requests, seconds: a.seconds + r.seconds, frontCpu: a.frontCpu + r.frontCpu, backendCpu: a.backendCpu + r.backendCpu }), { requests: 0, seconds: 0, frontCpu: 0, backendCpu: 0 });
      const t = sum('transfer');
      const r = sum('relay');
      const perReq = (x: { requests: number; frontCpu: number }): number => (x.frontCpu / x.requests) * 1e6;
      for (const [mode, x] of [['transfer', t], ['relay', r]] as const) {
        rows.push([
          l.label,
          mode,
          fmt(x.requests / x.seconds),
          fmt(perReq(x), 1),
          fmt((x.backendCpu / x.requests) * 1e6, 1),
          mode === 'transfer' ? `${fmt(perReq(r) / Math.max(perReq(t), 1e-9), 1)}×` : '',
        ]);
      }
    }
    process.stdout.write(
      `\n### fd-transfer front vs relaying front (${flags['fd-concurrency']} at once, a new connection per request, ${flags.rounds} rounds each)\n\n` +
        markdownTable(['load', 'front', 'req/s', 'front CPU µs/req', 'back-end CPU µs/req', 'front CPU: relay ÷ transfer'], rows, [false, false, true, true, true, true]) +
        '\n',
    );
  } finally {
    for (const front of fronts.values()) await front.stop();
  }
}

if (isMain(import.meta.url)) {
  runFdTransferBench(process.argv.slice(2)).catch((error: unknown) => exitWithError('fd-transfer-bench', error));
}
