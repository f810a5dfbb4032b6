#!/usr/bin/env node
/**
 * Echo load generator, run as its own process so its CPU use is not billed to the server under test:
 *
 *   node dist/harness/bench/echo-load.js --port P --connections 100 --size 64 --duration-ms 5000
 *
 * Opens C connections to 127.0.0.1:P; each does closed-loop ping-pong (write S bytes, wait for S bytes
 * back, repeat) until the window ends, then prints one JSON line {messages, bytes, seconds, errors}.
 * Only round trips finished inside the window count. Loopback only, always: it floods its target.
 */
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import { flagsHelp, parseIntFlags, type IntFlag } from './flags.js';
import { armWatchdog, type LoadResult } from './load-result.js';

const HOST = '127.0.0.1';
const MAX_DURATION_MS = 120_000;
const CONNECT_TIMEOUT_MS = 10_000;
/** After the window: how long sockets get to finish their FIN exchange before being destroyed. */
const CLOSE_GRACE_MS = 2_000;

const specs: readonly IntFlag<'port' | 'connections' | 'size' | 'duration-ms'>[] = [
  { name: 'port', description: 'TCP port on 127.0.0.1', min: 1, max: 65535 },
  { name: 'connections', description: 'concurrent connections', default: 100, min: 1, max: 2000 },
  { name: 'size', description: 'bytes per message', default: 64, min: 1, max: 16 * 1024 * 1024 },
  { name: 'duration-ms', description: `measured window (hard cap ${MAX_DURATION_MS})`, default: 5000, min: 1, max: MAX_DURATION_MS },
];

type Phase = 'connecting' | 'measuring' | 'stopping';

interface Tally {
  phase: Phase;
  messages: number;
  errors: number;
}

function connectOne(port: number): Promise<net.Socket | null> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: HOST, port });
    const fail = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(null);
    };
    const timer: NodeJS.Timeout = setTimeout(fail, CONNECT_TIMEOUT_MS);
    socket.once('error', fail);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', fail);
      socket.setNoDelay(true); // one small message per round trip: Nagle would add ~40 ms per message
      resolve(socket);
    });
  });
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

function closeAll(sockets: readonly net.Socket[]): Promise<void> {
  const open = sockets.filter((s) => !s.destroyed);
  return new Promise((resolve) => {
    let left = open.length;
    if (left === 0) return resolve();
    const timer = setTimeout(() => {
      for (const s of open) s.destroy();
    }, CLOSE_GRACE_MS);
    for (const s of open) {
      s.once('close', () => {
        if (--left === 0) {
          clearTimeout(timer);
          resolve();
        }
      });
      s.end(); // graceful FIN, so the server sees an ordinary client close, not a reset
    }
  });
}

async function main(): Promise<void> {
  const { help, values } = parseIntFlags(process.argv.slice(2), specs);
  if (help) {
    process.stdout.write(flagsHelp('node dist/harness/bench/echo-load.js --port P [options]', specs));
    return;
  }
  const durationMs = values['duration-ms'];
  armWatchdog('echo-load', CONNECT_TIMEOUT_MS + durationMs + CLOSE_GRACE_MS + 5_000);

  const tally: Tally = { phase: 'connecting', messages: 0, errors: 0 };
  const attempts = await Promise.all(Array.from({ length: values.connections }, () => connectOne(values.port)));
  const sockets = attempts.filter((s): s is net.Socket => s !== null);
  tally.errors += attempts.length - sockets.length;

  const message = Buffer.alloc(values.size, 0x61); // shared: socket.write does not modify it
  const start = performance.now();
  tally.phase = 'measuring';
  for (const socket of sockets) pingPong(socket, message, tally);
  await new Promise((resolve) => setTimeout(resolve, durationMs));
  tally.phase = 'stopping';
  const seconds = (performance.now() - start) / 1000;
  const result: LoadResult = { messages: tally.messages, bytes: tally.messages * values.size, seconds, errors: tally.errors };

  await closeAll(sockets);
  process.stdout.write(JSON.stringify(result) + '\n');
  if (sockets.length === 0) process.exitCode = 1;
}

main().catch((error: unknown) => {
  process.stderr.write(`echo-load: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(2);
});
