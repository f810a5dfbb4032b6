#!/usr/bin/env node
/**
 * Connection-setup load generator, run as its own process so its CPU is not billed to the server:
 *
 *   node dist/harness/bench/connect-load.js --port P --concurrency 16 --size 64 --duration-ms 3000
 *
 * C closed loops, each: connect to 127.0.0.1:P → write S bytes → read the S-byte echo → end() (our
 * FIN first) → wait for the server's FIN and the close → again, until the window ends; then one JSON
 * line (ConnectLoadResult). Only cycles finished inside the window count. Loopback only, always.
 *
 * Ephemeral ports: the client closes first, so every cycle leaves a TIME_WAIT on the client's end,
 * and one source address has ~28k ports (ip_local_port_range). Loopback reuses a TIME_WAIT tuple for
 * a new connect once it is over a second old (tcp_tw_reuse = 2, the default), so one address holds
 * up to ~28k connections per second. `--source-addresses N` spreads the loops over 127.0.0.1 ..
 * 127.0.0.N (all of 127/8 is loopback on Linux) for N × the headroom; EADDRNOTAVAIL in errorCodes is
 * the sign that it is needed.
 */
import type * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import { LatencyHistogram } from '../flood/latency-histogram.js';
import { flagsHelp, type IntFlag, parseIntFlags } from './flags.js';
import { armWatchdog, parseResultLine } from './load-result.js';
import { isMain } from './paths.js';
import { type ConnectStyle, openSocket, PLAIN, proxyHeader } from './connect-many.js';

const MAX_DURATION_MS = 120_000;
/** One cycle (connect, echo, close handshake) taking longer than this is an error; the loop moves on. */
const CYCLE_TIMEOUT_MS = 5_000;
/** After a failed cycle, wait this long before the next (a refused port must not spin a core). */
const RETRY_DELAY_MS = 20;

type ConnectFlag = 'port' | 'concurrency' | 'size' | 'duration-ms' | 'source-addresses' | 'proxy' | 'tls';

const specs: readonly IntFlag<ConnectFlag>[] = [
  { name: 'port', description: 'TCP port on 127.0.0.1', min: 1, max: 65535 },
  { name: 'concurrency', description: 'closed loops (one connection open at a time each)', default: 16, min: 1, max: 1000 },
  { name: 'size', description: 'bytes written (and echoed) per connection', default: 64, min: 1, max: 1024 * 1024 },
  { name: 'duration-ms', description: `measured window (hard cap ${MAX_DURATION_MS})`, default: 3000, min: 1, max: MAX_DURATION_MS },
  { name: 'source-addresses', description: 'spread loops over source addresses 127.0.0.1 .. 127.0.0.N (1 = let the kernel pick)', default: 1, min: 1, max: 254 },
  { name: 'proxy', description: 'start each connection with a PROXY protocol header of this version (0 = none)', default: 0, min: 0, max: 2 },
  { name: 'tls', description: '1 = speak TLS (after the PROXY header, if any); the certificate is not checked', default: 0, min: 0, max: 1 },
];

/** The one stdout line of a run. */
export interface ConnectLoadResult {
  /** Full cycles (connect, echo, both FINs, close) finished inside the window. */
  readonly connections: number;
  readonly seconds: number;
  /** Failed cycles: connect errors, resets, wrong echo, timeouts. */
  readonly errors: number;
  readonly errorCodes: Readonly<Record<string, number>>;
  /** The generator's own CPU (user + system) in the window: near `seconds` means it was the limit. */
  readonly clientCpuSeconds: number;
  /** Cycle time, connect start to close. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

export function parseConnectLoadResult(line: string): ConnectLoadResult {
  const record = parseResultLine(line, 'connect load generator', ['connections', 'seconds', 'errors', 'clientCpuSeconds', 'p50Ms', 'p99Ms', 'maxMs']);
  if (typeof record['errorCodes'] !== 'object' || record['errorCodes'] === null) throw new Error(`connect load generator result lacks errorCodes: ${line.slice(0, 200)}`);
  return record as unknown as ConnectLoadResult;
}

class Tally {
  measuring = true;
  connections = 0;
  errors = 0;
  readonly errorCodes: Record<string, number> = {};
  readonly latency = new LatencyHistogram();

  error(code: string): void {
    if (!this.measuring) return;
    this.errors++;
    this.errorCodes[code] = (this.errorCodes[code] ?? 0) + 1;
  }
}

/** One connect → write → echo → FIN → close cycle; resolves with null on success, else an error code. */
function cycle(port: number, localAddress: string | undefined, message: Buffer, style: ConnectStyle): Promise<string | null> {
  return new Promise((resolve) => {
    const socket: net.Socket = openSocket(port, style, () => socket.write(message), localAddress);
    let received = 0;
    let echoed = false;
    let outcome: string | null = null;
    const timer = setTimeout(() => {
      outcome ??= echoed ? 'CLOSE_TIMEOUT' : 'ECHO_TIMEOUT';
      socket.destroy();
    }, CYCLE_TIMEOUT_MS);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > message.length) {
        outcome ??= 'LONG_ECHO';
        socket.destroy();
      } else if (received === message.length) {
        echoed = true;
        socket.end(); // the client closes first: TIME_WAIT lands here, not on the server
      }
    });
    socket.on('end', () => {
      if (!echoed) outcome ??= 'EARLY_FIN';
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      outcome ??= error.code ?? 'ERROR';
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(outcome);
    });
  });
}

async function loop(index: number, port: number, sources: number, message: Buffer, tally: Tally, style: ConnectStyle): Promise<void> {
  let n = 0;
  while (tally.measuring) {
    // Loop i starts on address i and steps through them, so every address carries the same load.
    const localAddress = sources === 1 ? undefined : `127.0.0.${1 + ((index + n++) % sources)}`;
    const started = performance.now();
    const code = await cycle(port, localAddress, message, style);
    if (!tally.measuring) return; // finished after the window: not counted either way
    if (code === null) {
      tally.connections++;
      tally.latency.record(performance.now() - started);
    } else {
      tally.error(code);
      await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS));
    }
  }
}

async function main(): Promise<void> {
  const { help, values } = parseIntFlags(process.argv.slice(2), specs);
  if (help) {
    process.stdout.write(flagsHelp('node dist/harness/bench/connect-load.js --port P [options]', specs));
    return;
  }
  const durationMs = values['duration-ms'];
  armWatchdog('connect-load', durationMs + CYCLE_TIMEOUT_MS + 5_000);
  const tally = new Tally();
  const message = Buffer.alloc(values.size, 0x63);
  const start = performance.now();
  const cpuAtStart = process.cpuUsage();
  const style: ConnectStyle = values.proxy === 0 && values.tls === 0 ? PLAIN : { prefix: values.proxy === 0 ? null : proxyHeader(values.proxy as 1 | 2), tls: values.tls === 1 };
  const loops = Array.from({ length: values.concurrency }, (_, i) => loop(i, values.port, values['source-addresses'], message, tally, style));
  await new Promise((resolve) => setTimeout(resolve, durationMs));
  tally.measuring = false;
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuAtStart);
  const result: ConnectLoadResult = {
    connections: tally.connections,
    seconds,
    errors: tally.errors,
    errorCodes: tally.errorCodes,
    clientCpuSeconds: (cpu.user + cpu.system) / 1e6,
    p50Ms: tally.latency.percentile(0.5),
    p99Ms: tally.latency.percentile(0.99),
    maxMs: tally.latency.summary().max,
  };
  // Let the cycles in flight finish their close handshakes, so the server is not left with resets.
  await Promise.all(loops);
  process.stdout.write(JSON.stringify(result) + '\n');
  if (tally.connections === 0) process.exitCode = 1;
}

if (isMain(import.meta.url)) {
  main().catch((error: unknown) => {
    process.stderr.write(`connect-load: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  });
}
