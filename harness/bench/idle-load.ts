#!/usr/bin/env node
/**
 * Idle-after-traffic load generator (for idle-rss-bench), always phased (load-phases.ts):
 *
 *   node dist/harness/bench/idle-load.js --port P --connections 3000 --bytes 32768
 *
 * Connects C sockets to 127.0.0.1:P, prints {"event":"connected",...}; then every connection echoes
 * B bytes in ping-pong writes of halving size (16 KiB, 8 KiB, … 64 B: how a real client's messages
 * vary), at most --exchange-concurrency connections at a time so the server's peak is traffic, not
 * thousands of 16 KiB bursts at once; prints {"event":"idle",...} and leaves every connection open
 * and silent until the bench sends "close". Loopback only, always.
 */
import type * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import { closeAll, CONNECT_TIMEOUT_MS, connectMany, dropped } from './connect-many.js';
import { flagsHelp, type IntFlag, parseIntFlags } from './flags.js';
import { announce, awaitCommand, releaseCommands } from './load-phases.js';
import { armWatchdog } from './load-result.js';
import { isMain } from './paths.js';

/** One write of the exchange takes at most this long to come back whole. */
const ECHO_TIMEOUT_MS = 10_000;
const CLOSE_GRACE_MS = 5_000;
/** The longest the bench may take to sample the idle server before sending "close". */
const IDLE_WAIT_MS = 60_000;
const LARGEST_WRITE = 16 * 1024;
const SMALLEST_WRITE = 64;

type IdleFlag = 'port' | 'connections' | 'bytes' | 'exchange-concurrency';

const specs: readonly IntFlag<IdleFlag>[] = [
  { name: 'port', description: 'TCP port on 127.0.0.1', min: 1, max: 65535 },
  { name: 'connections', description: 'connections (each is one fd: mind ulimit -n)', default: 3000, min: 1, max: 20_000 },
  { name: 'bytes', description: 'bytes each connection echoes before going idle', default: 32 * 1024, min: 0, max: 16 * 1024 * 1024 },
  { name: 'exchange-concurrency', description: 'connections exchanging at once', default: 100, min: 1, max: 20_000 },
];

/** Write sizes for `total` bytes: 16 KiB, then halving down to 64 B, the last 64 B repeated; e.g. 32 KiB = 16K+8K+…+128+64+64. */
export function writePlan(total: number): number[] {
  const plan: number[] = [];
  let left = total;
  let size = LARGEST_WRITE;
  while (left > 0) {
    const take = Math.min(size, left);
    plan.push(take);
    left -= take;
    size = Math.max(SMALLEST_WRITE, size / 2);
  }
  return plan;
}

/** Ping-pong the plan on one socket; resolves with null, or an error code. */
function exchange(socket: net.Socket, plan: readonly number[], payload: Buffer): Promise<string | null> {
  return new Promise((resolve) => {
    let step = 0;
    let received = 0;
    let timer: NodeJS.Timeout | undefined;
    const finish = (code: string | null): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      resolve(code);
    };
    const send = (): void => {
      if (step === plan.length) return finish(null);
      clearTimeout(timer);
      timer = setTimeout(() => finish('ECHO_TIMEOUT'), ECHO_TIMEOUT_MS);
      received = 0;
      socket.write(payload.subarray(0, plan[step]!));
    };
    const onData = (chunk: Buffer): void => {
      received += chunk.length;
      if (received > plan[step]!) return finish('LONG_ECHO');
      if (received < plan[step]!) return;
      step++;
      send();
    };
    const onClose = (): void => finish('EARLY_CLOSE');
    socket.on('data', onData);
    socket.on('close', onClose);
    send();
  });
}

async function main(): Promise<void> {
  const { help, values } = parseIntFlags(process.argv.slice(2), specs);
  if (help) {
    process.stdout.write(flagsHelp('node dist/harness/bench/idle-load.js --port P [options]', specs));
    return;
  }
  const connectBudgetMs = CONNECT_TIMEOUT_MS * Math.ceil(values.connections / 256);
  const exchangeBudgetMs = ECHO_TIMEOUT_MS * Math.ceil(values.connections / values['exchange-concurrency']);
  armWatchdog('idle-load', connectBudgetMs + exchangeBudgetMs + IDLE_WAIT_MS + CLOSE_GRACE_MS + 5_000);

  const connected = await connectMany(values.port, values.connections);
  const sockets = connected.sockets;
  announce('connected', { connected: sockets.length, failed: connected.failed, failures: connected.failures });

  const plan = writePlan(values.bytes);
  const payload = Buffer.alloc(LARGEST_WRITE, 0x69);
  const errorCodes: Record<string, number> = {};
  let errors = dropped(sockets);
  const start = performance.now();
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < sockets.length) {
      const socket = sockets[next++]!;
      if (socket.destroyed) continue; // counted by dropped() above
      const code = await exchange(socket, plan, payload);
      if (code !== null) {
        errors++;
        errorCodes[code] = (errorCodes[code] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(values['exchange-concurrency'], sockets.length) }, lane));
  const open = sockets.filter((s) => !s.destroyed).length;
  announce('idle', { open, errors: errors + connected.failed, errorCodes, writes: plan.length, seconds: (performance.now() - start) / 1000 });

  await awaitCommand('close', 'idle-load');
  releaseCommands();
  await closeAll(sockets, CLOSE_GRACE_MS);
}

if (isMain(import.meta.url)) {
  main().catch((error: unknown) => {
    process.stderr.write(`idle-load: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  });
}
