#!/usr/bin/env node
/**
 * WebSocket load generator for websocket-bench, its own process so its CPU is not billed to the
 * server under test. Raw node:net sockets and a minimal client framer: the upgrade request is written
 * by hand, each connection's one masked frame is built once (its own random non-zero key) and written
 * again for every message, and a reply is recognised by its header bytes and length alone, so the
 * client does as little per message as a WebSocket client can. Loopback only, always: it floods its
 * target.
 *
 *   node dist/harness/bench/ws-load.js --mode echo --port P [--connections 100] [--size 64] [--text 0]
 *                                      [--warmup-ms 500] [--duration-ms 3000]
 *
 * Modes (always phased, load-phases.ts: the bench samples the server between phases):
 * - echo (/echo): closed loop, each connection sends a message and waits for its echo. Connects (at
 *   most 256 handshakes in flight), warms up, lets the messages in flight come back, prints
 *   {"event":"ready",...} and waits for "go"; then the measured window, the tail comes back, prints
 *   {"event":"result",...} and waits for "close".
 * - broadcast (/broadcast): the first connection sends a message, and the next one once all
 *   `connections` (the sender included) have received it; latency is from the send until the last one
 *   got it. Same phases.
 * - idle (/echo): every connection echoes one message (at most 256 at a time), then
 *   {"event":"idle",...}, and all sit silent until "close".
 *
 * Result fields: `messages` (echoes or broadcasts completed inside the window: the rate), `served`
 * (completed between "go" and the result line, the tail included: what the server did while the bench
 * measured its CPU), latency percentiles in µs (a 1 % log histogram, sent too so workers can merge),
 * `errors` by code, and the generator's own CPU in the window.
 */
import { randomFillSync } from 'node:crypto';
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import { FlagError, flagsHelp, type IntFlag, parseIntFlags } from './flags.js';
import { announce, awaitCommand, releaseCommands } from './load-phases.js';
import { armWatchdog } from './load-result.js';
import { isMain } from './paths.js';

const HOST = '127.0.0.1';
const CONNECT_TIMEOUT_MS = 10_000;
const IN_FLIGHT = 256;
/** After a window: how long the messages in flight get to come back (longer is an error). */
const QUIESCE_MS = 10_000;
const CLOSE_GRACE_MS = 5_000;
/** The longest the bench may take between phases. */
const PHASE_WAIT_MS = 120_000;
const MAX_DURATION_MS = 120_000;
/** RFC 6455's sample nonce and its accept value: the handshake is checked, not just the status. */
const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

export type WsLoadMode = 'echo' | 'broadcast' | 'idle';
const modes: readonly WsLoadMode[] = ['echo', 'broadcast', 'idle'];

type LoadFlag = 'port' | 'connections' | 'size' | 'text' | 'warmup-ms' | 'duration-ms';

const specs: readonly IntFlag<LoadFlag>[] = [
  { name: 'port', description: 'TCP port on 127.0.0.1', min: 1, max: 65535 },
  { name: 'connections', description: 'WebSocket connections (each is one fd: mind ulimit -n)', default: 100, min: 1, max: 20_000 },
  { name: 'size', description: 'payload bytes per message', default: 64, min: 1, max: 16 * 1024 * 1024 },
  { name: 'text', description: '1 = text messages (UTF-8 "a"s), 0 = binary', default: 0, min: 0, max: 1 },
  { name: 'warmup-ms', description: 'unmeasured load before the window (JIT warm-up)', default: 500, min: 0, max: 60_000 },
  { name: 'duration-ms', description: `measured window (hard cap ${MAX_DURATION_MS})`, default: 3000, min: 1, max: MAX_DURATION_MS },
];

// ---- latency histogram ----------------------------------------------------------------------------

/** Buckets of 1 % width on a log scale: bucket i holds latencies around e^(i/100) µs (up to ~26 s). */
const BUCKETS = 1700;

export class LatencyHistogram {
  readonly counts = new Float64Array(BUCKETS);
  count = 0;
  maxUs = 0;

  record(us: number): void {
    const i = us <= 1 ? 0 : Math.min(BUCKETS - 1, Math.floor(Math.log(us) * 100));
    this.counts[i]!++;
    this.count++;
    if (us > this.maxUs) this.maxUs = us;
  }

  /** The p-th percentile (0–100) in µs, to within about 0.5 %; NaN when empty. */
  percentile(p: number): number {
    if (this.count === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(this.maxUs, i === 0 ? 1 : Math.exp((i + 0.5) / 100));
    }
    return this.maxUs;
  }

  /** Non-empty buckets as [index, count] pairs (what a result line carries). */
  sparse(): [number, number][] {
    const out: [number, number][] = [];
    for (let i = 0; i < BUCKETS; i++) if (this.counts[i]! > 0) out.push([i, this.counts[i]!]);
    return out;
  }

  /** Add a result line's buckets (merging workers). */
  add(sparse: readonly (readonly [number, number])[], maxUs: number): void {
    for (const [i, n] of sparse) {
      this.counts[i]! += n;
      this.count += n;
    }
    if (maxUs > this.maxUs) this.maxUs = maxUs;
  }
}

// ---- connecting -----------------------------------------------------------------------------------

function upgradeRequest(port: number, path: string): string {
  return `GET ${path} HTTP/1.1\r\nHost: ${HOST}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
}

/** Connect and upgrade one socket; resolves with it (listeners removed) or an error code. */
function openOne(port: number, request: string): Promise<net.Socket | string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: HOST, port });
    let head = '';
    const fail = (code: string): void => {
      clearTimeout(timer);
      socket.removeAllListeners();
      socket.on('error', () => {});
      socket.destroy();
      resolve(code);
    };
    const timer: NodeJS.Timeout = setTimeout(() => fail('ETIMEDOUT'), CONNECT_TIMEOUT_MS);
    socket.once('error', (error: NodeJS.ErrnoException) => fail(error.code ?? 'ERROR'));
    socket.once('close', () => fail('CLOSED_IN_HANDSHAKE'));
    socket.once('connect', () => {
      socket.setNoDelay(true); // one small message per round trip: Nagle would add ~40 ms per message
      socket.write(request);
    });
    socket.on('data', (chunk: Buffer) => {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > 8192) fail('HEAD_TOO_LONG');
        return;
      }
      if (!head.startsWith('HTTP/1.1 101 ') || !head.includes(ACCEPT)) return fail(`NOT_101 ${head.split('\r\n', 1)[0]}`);
      if (end + 4 !== head.length) return fail('DATA_AFTER_101'); // neither route sends anything on open
      clearTimeout(timer);
      socket.removeAllListeners();
      socket.on('error', () => {}); // until the caller's own: its close tells the caller
      resolve(socket);
    });
  });
}

/** Open `count` WebSockets on `path`, at most IN_FLIGHT handshakes at once. */
async function openMany(port: number, path: string, count: number, errors: ErrorTally): Promise<net.Socket[]> {
  const request = upgradeRequest(port, path);
  const sockets: net.Socket[] = [];
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      next++;
      const result = await openOne(port, request);
      if (typeof result === 'string') errors.add(result);
      else sockets.push(result);
    }
  };
  await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, count) }, lane));
  return sockets;
}

// ---- frames ---------------------------------------------------------------------------------------

/** A client frame (FIN, masked with a random non-zero key): built once, written for every message. */
function maskedFrame(opcode: number, payload: Buffer): Buffer {
  const n = payload.length;
  const lengthBytes = n < 126 ? 0 : n < 65536 ? 2 : 8;
  const frame = Buffer.allocUnsafe(2 + lengthBytes + 4 + n);
  frame[0] = 0x80 | opcode;
  frame[1] = 0x80 | (n < 126 ? n : n < 65536 ? 126 : 127);
  if (lengthBytes === 2) frame.writeUInt16BE(n, 2);
  else if (lengthBytes === 8) frame.writeBigUInt64BE(BigInt(n), 2);
  const key = frame.subarray(2 + lengthBytes, 6 + lengthBytes);
  do randomFillSync(key);
  while (key.readUInt32BE(0) === 0); // a zero key would let a server skip unmasking
  const at = 6 + lengthBytes;
  for (let i = 0; i < n; i++) frame[at + i] = payload[i]! ^ key[i & 3]!;
  return frame;
}

/** What a server frame carrying `size` payload bytes looks like: its first two bytes and its length. */
function replyShape(opcode: number, size: number): { b0: number; b1: number; total: number } {
  return { b0: 0x80 | opcode, b1: size < 126 ? size : size < 65536 ? 126 : 127, total: (size < 126 ? 2 : size < 65536 ? 4 : 10) + size };
}

// ---- the run --------------------------------------------------------------------------------------

class ErrorTally {
  readonly codes: Record<string, number> = {};
  count = 0;
  add(code: string): void {
    this.count++;
    this.codes[code] = (this.codes[code] ?? 0) + 1;
  }
}

type Phase = 'warmup' | 'measuring' | 'draining' | 'done';

interface Run {
  phase: Phase;
  /** Completed while measuring (the rate). */
  messages: number;
  /** Completed after "go", the tail included. */
  served: number;
  /** Messages sent and not yet answered. */
  outstanding: number;
  afterGo: boolean;
  readonly latency: LatencyHistogram;
  readonly errors: ErrorTally;
  /** Called when `outstanding` reaches 0 while draining. */
  drained: (() => void) | null;
}

function newRun(errors: ErrorTally): Run {
  return { phase: 'warmup', messages: 0, served: 0, outstanding: 0, afterGo: false, latency: new LatencyHistogram(), errors, drained: null };
}

/** Per connection: collect one reply frame of `shape`; `done` runs when it is whole. */
function watchReplies(socket: net.Socket, shape: { b0: number; b1: number; total: number }, run: Run, done: () => void): void {
  let got = 0;
  socket.on('data', (chunk: Buffer) => {
    if (got === 0) {
      if (chunk[0] !== shape.b0 || (chunk.length > 1 && chunk[1] !== shape.b1)) {
        run.errors.add(chunk[0] === 0x88 ? 'CLOSE_FRAME' : 'BAD_FRAME');
        socket.destroy();
        return;
      }
    }
    got += chunk.length;
    if (got < shape.total) return;
    if (got > shape.total) {
      // One message is in flight per connection: more bytes than one frame means the echo is broken.
      run.errors.add('LONG_REPLY');
      socket.destroy();
      return;
    }
    got = 0;
    done();
  });
  socket.on('close', () => {
    if (run.phase !== 'done') run.errors.add('EARLY_CLOSE');
  });
}

function complete(run: Run, sentAt: number): void {
  run.outstanding--;
  if (run.afterGo) run.served++;
  if (run.phase === 'measuring') {
    run.messages++;
    run.latency.record((performance.now() - sentAt) * 1000);
  }
  if (run.outstanding === 0 && run.drained !== null) run.drained();
}

/** Stop sending and wait for what is in flight (bounded); what never comes back is an error. */
function drain(run: Run): Promise<void> {
  run.phase = 'draining';
  if (run.outstanding === 0) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      run.errors.add('NO_REPLY');
      run.outstanding = 0;
      run.drained = null;
      resolve();
    }, QUIESCE_MS);
    run.drained = () => {
      clearTimeout(timer);
      run.drained = null;
      resolve();
    };
  });
}

/** Resumes sending after a drain (echo: every connection; broadcast: the sender). */
type Restart = () => void;

function echoMode(sockets: readonly net.Socket[], frames: readonly Buffer[], shape: ReturnType<typeof replyShape>, run: Run): Restart {
  const senders: (() => void)[] = [];
  sockets.forEach((socket, i) => {
    const bytes = frames[i]!;
    let sentAt = 0;
    const send = (): void => {
      sentAt = performance.now();
      run.outstanding++;
      socket.write(bytes);
    };
    watchReplies(socket, shape, run, () => {
      complete(run, sentAt);
      if (run.phase === 'warmup' || run.phase === 'measuring') send();
    });
    senders.push(send);
  });
  return () => {
    for (let i = 0; i < sockets.length; i++) if (!sockets[i]!.destroyed) senders[i]!();
  };
}

function broadcastMode(sockets: readonly net.Socket[], frame: Buffer, shape: ReturnType<typeof replyShape>, run: Run): Restart {
  const sender = sockets[0]!;
  let sentAt = 0;
  let received = 0;
  const send = (): void => {
    sentAt = performance.now();
    received = 0;
    run.outstanding++;
    sender.write(frame);
  };
  for (const socket of sockets) {
    watchReplies(socket, shape, run, () => {
      if (++received < sockets.length) return;
      complete(run, sentAt);
      if (run.phase === 'warmup' || run.phase === 'measuring') send();
    });
  }
  return send;
}

async function idleMode(sockets: readonly net.Socket[], frames: readonly Buffer[], shape: ReturnType<typeof replyShape>, run: Run): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < sockets.length) {
      const i = next++;
      const socket = sockets[i]!;
      if (socket.destroyed) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          run.errors.add('NO_REPLY');
          resolve();
        }, QUIESCE_MS);
        watchReplies(socket, shape, run, () => {
          clearTimeout(timer);
          resolve();
        });
        socket.write(frames[i]!);
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, sockets.length) }, lane));
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
      s.end(); // a FIN without a close frame: both servers take it as the client going away
    }
  });
}

/** `--mode X` out of argv (the int flag parser takes the rest). */
function takeMode(argv: readonly string[]): { mode: WsLoadMode; rest: string[] } {
  const rest = [...argv];
  const at = rest.findIndex((a) => a === '--mode' || a.startsWith('--mode='));
  if (at < 0) throw new FlagError(`--mode is required (${modes.join(', ')})`);
  const value = rest[at]!.includes('=') ? rest[at]!.slice('--mode='.length) : rest[at + 1];
  rest.splice(at, rest[at]!.includes('=') ? 1 : 2);
  if (!modes.includes(value as WsLoadMode)) throw new FlagError(`--mode: expected one of ${modes.join(', ')}, got ${JSON.stringify(value)}`);
  return { mode: value as WsLoadMode, rest };
}

async function main(argv: readonly string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(flagsHelp(`node dist/harness/bench/ws-load.js --mode ${modes.join('|')} --port P [options]`, specs));
    return;
  }
  const { mode, rest } = takeMode(argv);
  const { values } = parseIntFlags(rest, specs);
  const connections = values.connections;
  const connectBudgetMs = CONNECT_TIMEOUT_MS * Math.ceil(connections / IN_FLIGHT);
  armWatchdog('ws-load', connectBudgetMs + values['warmup-ms'] + values['duration-ms'] + 3 * QUIESCE_MS + 2 * PHASE_WAIT_MS + CLOSE_GRACE_MS);

  const errors = new ErrorTally();
  const sockets = await openMany(values.port, mode === 'broadcast' ? '/broadcast' : '/echo', connections, errors);
  const connected = sockets.length;
  if (connected === 0) throw new Error(`no connection opened: ${JSON.stringify(errors.codes)}`);
  const opcode = values.text === 1 ? 0x1 : 0x2;
  const payload = Buffer.alloc(values.size, 0x61);
  const shape = replyShape(opcode, values.size);
  const run = newRun(errors);

  if (mode === 'idle') {
    const frames = sockets.map(() => maskedFrame(opcode, payload));
    const start = performance.now();
    await idleMode(sockets, frames, shape, run);
    const open = sockets.filter((s) => !s.destroyed).length;
    announce('idle', { connected, open, errors: errors.count, errorCodes: errors.codes, seconds: (performance.now() - start) / 1000 });
    await awaitCommand('close', 'ws-load');
    releaseCommands();
    run.phase = 'done';
    await closeAll(sockets);
    return;
  }

  const restart = mode === 'echo' ? echoMode(sockets, sockets.map(() => maskedFrame(opcode, payload)), shape, run) : broadcastMode(sockets, maskedFrame(opcode, payload), shape, run);
  if (values['warmup-ms'] > 0) {
    restart();
    await new Promise((resolve) => setTimeout(resolve, values['warmup-ms']));
  }
  await drain(run);
  announce('ready', { connected, errors: errors.count });
  await awaitCommand('go', 'ws-load');

  run.afterGo = true;
  run.phase = 'measuring';
  const cpuAtStart = process.cpuUsage();
  const start = performance.now();
  restart();
  await new Promise((resolve) => setTimeout(resolve, values['duration-ms']));
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuAtStart);
  await drain(run);
  const latency = run.latency;
  announce('result', {
    mode,
    connected,
    messages: run.messages,
    served: run.served,
    seconds,
    p50Us: latency.percentile(50),
    p99Us: latency.percentile(99),
    maxUs: latency.maxUs,
    histogram: latency.sparse(),
    errors: errors.count,
    errorCodes: errors.codes,
    clientCpuSeconds: (cpu.user + cpu.system) / 1e6,
  });
  await awaitCommand('close', 'ws-load');
  releaseCommands();
  run.phase = 'done';
  await closeAll(sockets);
}

if (isMain(import.meta.url)) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`ws-load: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  });
}
