#!/usr/bin/env node
/**
 * What the connection layers cost, and what a second worker process buys: portico's echo served
 * plain, behind accept-proxy (every connection opens with a PROXY v2 header), over TLS, and by the
 * host with `--workers 1` and `--workers 2`, and HAProxy (send-proxy-v2) in front of one and of two
 * `portico-echo --accept-proxy` processes (ci/stacks/stack.ts) — each fresh, rounds alternating the order.
 *
 *   node dist/harness/bench/layers-bench.js [--rounds 2] [--duration-ms 3000] [--warmup-ms 500] [--connections 100]
 *
 * Two loads per server, each from its own process: closed-loop echo (100 connections × 64 B, msg/s and
 * msg per server CPU-second) and connection setup (16 loops of connect → 64 B echo → close, conn/s and
 * conn per server CPU-second). Server CPU is read from /proc for the server's whole process tree (the
 * workers too). The goal: accept-proxy keeps ≥ 95% of plain echo's messages per second.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnNode, terminate } from './children.js';
import { type ConnectLoadResult, parseConnectLoadResult } from './connect-load.js';
import { exitWithError } from './fail.js';
import { flagsHelp, type IntFlag, type ParseOptions, parseIntFlags } from './flags.js';
import { type LoadResult, parseLoadResult } from './load-result.js';
import { fmt, markdownTable } from './markdown.js';
import { isMain, repoRoot, reportsDir, scripts } from './paths.js';
import { cpuSeconds } from './proc-stat.js';
import { startServer } from './server-process.js';

type LayersFlag = 'rounds' | 'duration-ms' | 'warmup-ms' | 'connections';

export const layersBenchFlags: readonly IntFlag<LayersFlag>[] = [
  { name: 'rounds', description: 'rounds over every variant', default: 2, min: 1, max: 20 },
  { name: 'duration-ms', description: 'measured window of each load', default: 3000, min: 200, max: 60_000 },
  { name: 'warmup-ms', description: 'unmeasured load before each measured one (JIT warm-up)', default: 500, min: 0, max: 10_000 },
  { name: 'connections', description: 'concurrent echo connections', default: 100, min: 1, max: 1000 },
];

const SETUP_CONCURRENCY = 16;
const SIZE = 64;
const LOAD_OVERRUN_MS = 30_000;
/** The goal: accept-proxy costs at most 5% of plain echo's throughput. */
const PROXY_GOAL = 0.95;

interface Variant {
  readonly name: string;
  readonly script: string;
  readonly args: readonly string[];
  /** echo-load / connect-load flags saying how connections start. */
  readonly loadArgs: readonly string[];
}

interface Measured {
  readonly variant: string;
  readonly round: number;
  readonly echo: LoadResult;
  readonly echoCpu: number;
  readonly setup: ConnectLoadResult;
  readonly setupCpu: number;
}

/** CPU seconds of `pid` and every process under it (a cluster primary and its workers). */
function treeCpuSeconds(pid: number): number {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  let total = 0;
  const visit = (p: number): void => {
    try {
      total += cpuSeconds(p);
    } catch {
      return;
    }
    for (const [child, parent] of parents) if (parent === p) visit(child);
  };
  visit(pid);
  return total;
}

async function runChild<T>(script: string, args: readonly string[], durationMs: number, parse: (line: string) => T): Promise<T> {
  const tracked = spawnNode(script, args);
  let stdout = '';
  tracked.child.stdout!.setEncoding('utf8');
  tracked.child.stdout!.on('data', (text: string) => (stdout += text));
  const timer = setTimeout(() => void terminate(tracked, 1000), durationMs + LOAD_OVERRUN_MS);
  const exit = await tracked.exited;
  clearTimeout(timer);
  const last = stdout.trim().split('\n').pop() ?? '';
  if (last === '') throw new Error(`${path.basename(script)} failed (code ${exit.code}, signal ${exit.signal}): ${tracked.stderrTail().trim()}`);
  return parse(last);
}

const echoLoad = (port: number, v: Variant, connections: number, ms: number): Promise<LoadResult> =>
  runChild(scripts.echoLoad, ['--port', String(port), '--connections', String(connections), '--size', String(SIZE), '--duration-ms', String(ms), ...v.loadArgs], ms, parseLoadResult);

const setupLoad = (port: number, v: Variant, ms: number): Promise<ConnectLoadResult> =>
  runChild(scripts.connectLoad, ['--port', String(port), '--concurrency', String(SETUP_CONCURRENCY), '--size', String(SIZE), '--duration-ms', String(ms), ...v.loadArgs], ms, parseConnectLoadResult);

async function measure(v: Variant, round: number, flags: Readonly<Record<LayersFlag, number>>): Promise<Measured> {
  const server = await startServer(v.name, v.script, v.args);
  try {
    const ms = flags['duration-ms'];
    if (flags['warmup-ms'] > 0) await echoLoad(server.port, v, flags.connections, flags['warmup-ms']);
    let before = treeCpuSeconds(server.pid);
    const echo = await echoLoad(server.port, v, flags.connections, ms);
    const echoCpu = treeCpuSeconds(server.pid) - before;
    if (echo.errors > 0) throw new Error(`${v.name}: ${echo.errors} echo errors`);
    before = treeCpuSeconds(server.pid);
    const setup = await setupLoad(server.port, v, ms);
    const setupCpu = treeCpuSeconds(server.pid) - before;
    if (setup.errors > 0) throw new Error(`${v.name}: ${setup.errors} setup errors ${JSON.stringify(setup.errorCodes)}`);
    return { variant: v.name, round, echo, echoCpu, setup, setupCpu };
  } finally {
    await server.stop();
  }
}

/** A throwaway self-signed certificate (openssl from Debian), for the TLS variant. */
function makeCertificate(dir: string): { cert: string; key: string } {
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', key, '-out', cert], {
    stdio: 'ignore',
  });
  return { cert, key };
}

export async function runLayersBench(argv: readonly string[], parse: ParseOptions = {}): Promise<void> {
  const { help, values: flags } = parseIntFlags(argv, layersBenchFlags, parse);
  if (help) {
    process.stdout.write(flagsHelp('node dist/harness/bench/layers-bench.js [options]', layersBenchFlags));
    return;
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'portico-layers-bench-'));
  try {
    const { cert, key } = makeCertificate(dir);
    const hostConfig = path.join(dir, 'echo.json');
    writeFileSync(hostConfig, JSON.stringify({ servers: [{ server: 'echo', host: '127.0.0.1', port: 0 }] }));
    const host = path.join(repoRoot, 'dist', 'examples', 'host', 'main.js');
    const stack = path.join(repoRoot, 'dist', 'ci', 'stacks', 'stack.js');
    const variants: Variant[] = [
      { name: 'plain', script: scripts.porticoEcho, args: ['--port', '0'], loadArgs: [] },
      { name: 'accept-proxy', script: scripts.porticoEcho, args: ['--port', '0', '--accept-proxy'], loadArgs: ['--proxy', '2'] },
      { name: 'tls', script: scripts.porticoEcho, args: ['--port', '0', '--tls-cert', cert, '--tls-key', key], loadArgs: ['--tls', '1'] },
      { name: 'workers 1', script: host, args: ['--config', hostConfig, '--workers', '1'], loadArgs: [] },
      { name: 'workers 2', script: host, args: ['--config', hostConfig, '--workers', '2'], loadArgs: [] },
      { name: 'haproxy → 1 echo', script: stack, args: ['haproxy-echo'], loadArgs: [] },
      { name: 'haproxy → 2 echo', script: stack, args: ['haproxy-echo2'], loadArgs: [] },
    ];
    const runs: Measured[] = [];
    for (let round = 0; round < flags.rounds; round++) {
      const order = round % 2 === 0 ? variants : [...variants].reverse();
      for (const v of order) {
        const m = await measure(v, round, flags);
        runs.push(m);
        process.stderr.write(`layers-bench: round ${round + 1} ${v.name}: ${fmt(m.echo.messages / m.echo.seconds)} msg/s, ${fmt(m.setup.connections / m.setup.seconds)} conn/s\n`);
      }
    }
    const rows = variants.map((v) => {
      const mine = runs.filter((r) => r.variant === v.name);
      const sum = (pick: (r: Measured) => number): number => mine.reduce((a, r) => a + pick(r), 0);
      const msgs = sum((r) => r.echo.messages);
      const conns = sum((r) => r.setup.connections);
      return {
        name: v.name,
        msgPerSecond: msgs / sum((r) => r.echo.seconds),
        msgPerCpu: msgs / sum((r) => r.echoCpu),
        connPerSecond: conns / sum((r) => r.setup.seconds),
        connPerCpu: conns / sum((r) => r.setupCpu),
      };
    });
    const plain = rows.find((r) => r.name === 'plain')!;
    const table = markdownTable(
      ['echo server', 'msg/s', '× plain', 'msg / server CPU-s', '× plain', 'conn/s', '× plain', 'conn / server CPU-s', '× plain'],
      rows.map((r) => [
        r.name,
        fmt(r.msgPerSecond),
        fmt(r.msgPerSecond / plain.msgPerSecond, 2),
        fmt(r.msgPerCpu),
        fmt(r.msgPerCpu / plain.msgPerCpu, 2),
        fmt(r.connPerSecond),
        fmt(r.connPerSecond / plain.connPerSecond, 2),
        fmt(r.connPerCpu),
        fmt(r.connPerCpu / plain.connPerCpu, 2),
      ]),
      [false, true, true, true, true, true, true, true, true],
    );
    const proxy = rows.find((r) => r.name === 'accept-proxy')!;
    const ratio = proxy.msgPerSecond / plain.msgPerSecond;
    const workers1 = rows.find((r) => r.name === 'workers 1')!;
    const workers2 = rows.find((r) => r.name === 'workers 2')!;
    const haproxy1 = rows.find((r) => r.name === 'haproxy → 1 echo')!;
    const haproxy2 = rows.find((r) => r.name === 'haproxy → 2 echo')!;
    const text =
      `## Connection layers and workers (echo, ${flags.connections} connections × ${SIZE} B; setup: ${SETUP_CONCURRENCY} loops; ${flags.rounds} rounds × ${flags['duration-ms']} ms)\n\n` +
      `${table}\n\naccept-proxy keeps ${fmt(ratio * 100, 1)}% of plain echo's msg/s (goal ≥ ${PROXY_GOAL * 100}%: ${ratio >= PROXY_GOAL ? 'met' : 'NOT met'}). ` +
      `2 workers vs 1: ${fmt(workers2.msgPerSecond / workers1.msgPerSecond, 2)}× msg/s, ${fmt(workers2.connPerSecond / workers1.connPerSecond, 2)}× conn/s ` +
      `(the load generator shares the 2 cores). haproxy → 2 echo processes vs 1: ${fmt(haproxy2.msgPerSecond / haproxy1.msgPerSecond, 2)}× msg/s ` +
      `(server CPU there is haproxy's and the echoes' together). Load average at the end: ${fmt(os.loadavg()[0]!, 2)}.\n`;
    process.stdout.write(text);
    mkdirSync(reportsDir, { recursive: true });
    writeFileSync(path.join(reportsDir, 'layers-bench.md'), text);
    writeFileSync(path.join(reportsDir, 'layers-bench.json'), JSON.stringify({ flags, runs }, null, 2));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) runLayersBench(process.argv.slice(2)).catch((error: unknown) => exitWithError('layers-bench', error));
