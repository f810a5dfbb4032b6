#!/usr/bin/env node
/**
 * Echo load generator, run as its own process so its CPU use is not billed to the server under test:
 *
 *   node dist/harness/bench/echo-load.js --port P --connections 100 --size 64 --duration-ms 5000
 *
 * Opens C connections to 127.0.0.1:P (at most 256 connects in flight); each does closed-loop
 * ping-pong (write S bytes, wait for S bytes back, repeat) until the window ends, then prints one
 * JSON line {messages, bytes, seconds, errors, clientCpuSeconds}. Only round trips finished inside
 * the window count. Loopback only, always: it floods its target.
 *
 * `--phased 1` lets the bench sample the server between phases (load-phases.ts): after connecting it
 * prints {"event":"connected",...} and waits for "go" on stdin; after the window it prints
 * {"event":"result",...} and waits for "close" before closing its connections.
 */
import type * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import { closeAll, CONNECT_TIMEOUT_MS, CONNECTS_IN_FLIGHT, connectMany, dropped, proxyHeader } from './connect-many.js';
import { flagsHelp, type IntFlag, parseIntFlags } from './flags.js';
import { announce, awaitCommand, releaseCommands } from './load-phases.js';
import { armWatchdog, type LoadResult } from './load-result.js';
import { isMain } from './paths.js';

const MAX_DURATION_MS = 120_000;
/** After the window: how long sockets get to finish their FIN exchange before being destroyed. */
const CLOSE_GRACE_MS = 2_000;
/** Phased mode: the longest the bench may take between phases (sampling, other load processes). */
const PHASE_WAIT_MS = 60_000;
/** 20,000 is this machine's `ulimit -n`: one fd per connection. */
export const MAX_CONNECTIONS = 20_000;

const specs: readonly IntFlag<'port' | 'connections' | 'size' | 'duration-ms' | 'phased' | 'proxy' | 'tls'>[] = [
  { name: 'port', description: 'TCP port on 127.0.0.1', min: 1, max: 65535 },
  { name: 'connections', description: 'concurrent connections (each is one fd: mind ulimit -n)', default: 100, min: 1, max: MAX_CONNECTIONS },
  { name: 'size', description: 'bytes per message', default: 64, min: 1, max: 16 * 1024 * 1024 },
  { name: 'duration-ms', description: `measured window (hard cap ${MAX_DURATION_MS})`, default: 5000, min: 1, max: MAX_DURATION_MS },
  { name: 'phased', description: '1 = report "connected", wait for "go" on stdin; report "result", wait for "close"', default: 0, min: 0, max: 1 },
  { name: 'proxy', description: 'start each connection with a PROXY protocol header of this version (0 = none)', default: 0, min: 0, max: 2 },
  { name: 'tls', description: '1 = speak TLS (after the PROXY header, if any); the certificate is not checked', default: 0, min: 0, max: 1 },
];

type Phase = 'connecting' | 'measuring' | 'stopping';

interface Tally {
  phase: Phase;
  messages: number;
  errors: number;
}

/** Closed-loop ping-pong on one socket; counts into `tally` only while measuring. */
function pingPong(socket: net.Socket, message: Buffer, tally: Tally): void {
  const size = message.length;
  let received = 0;
  socket.on('data', (chunk: Buffer) => {
    received += chunk.length;
    if (received < size) return;
    // One message is in flight at a time, so more than `size` bytes back means the echo is broken.
    if (received > size && tally.phase !== 'stopping') tally.errors++;
    received = 0;
    if (tally.phase !== 'measuring') return;
    tally.messages++;
    socket.write(message);
  });
  socket.on('error', () => {
    if (tally.phase !== 'stopping') tally.errors++;
  });
  socket.on('close', () => {
    if (tally.phase === 'measuring') tally.errors++; // the server dropped us mid-run
  });
  socket.write(message);
}

async function main(): Promise<void> {
  const { help, values } = parseIntFlags(process.argv.slice(2), specs);
  if (help) {
    process.stdout.write(flagsHelp('node dist/harness/bench/echo-load.js --port P [options]', specs));
    return;
  }
  const durationMs = values['duration-ms'];
  const phased = values.phased === 1;
  // Connecting is bounded per connect, not in total: 20,000 at 256 in flight is ~80 rounds.
  const connectBudgetMs = CONNECT_TIMEOUT_MS * Math.ceil(values.connections / 256);
  armWatchdog('echo-load', connectBudgetMs + durationMs + CLOSE_GRACE_MS + 5_000 + (phased ? 2 * PHASE_WAIT_MS : 0));

  const tally: Tally = { phase: 'connecting', messages: 0, errors: 0 };
  const style = { prefix: values.proxy === 0 ? null : proxyHeader(values.proxy as 1 | 2), tls: values.tls === 1 };
  const connected = await connectMany(values.port, values.connections, CONNECTS_IN_FLIGHT, style);
  const sockets = connected.sockets;
  tally.errors += connected.failed;
  if (phased) {
    announce('connected', { connected: sockets.length, failed: connected.failed, failures: connected.failures });
    await awaitCommand('go', 'echo-load');
  }
  tally.errors += dropped(sockets);

  const message = Buffer.alloc(values.size, 0x61); // shared: socket.write does not modify it
  const start = performance.now();
  const cpuAtStart = process.cpuUsage();
  tally.phase = 'measuring';
  for (const socket of sockets) if (!socket.destroyed) pingPong(socket, message, tally);
  await new Promise((resolve) => setTimeout(resolve, durationMs));
  tally.phase = 'stopping';
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuAtStart);
  const result: LoadResult = {
    messages: tally.messages,
    bytes: tally.messages * values.size,
    seconds,
    errors: tally.errors,
    clientCpuSeconds: (cpu.user + cpu.system) / 1e6,
  };
  if (phased) {
    announce('result', { ...result });
    await awaitCommand('close', 'echo-load');
    releaseCommands();
  }
  await closeAll(sockets, CLOSE_GRACE_MS);
  if (!phased) process.stdout.write(JSON.stringify(result) + '\n');
  if (sockets.length === 0) process.exitCode = 1;
}

if (isMain(import.meta.url)) {
  main().catch((error: unknown) => {
    process.stderr.write(`echo-load: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  });
}
