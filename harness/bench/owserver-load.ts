#!/usr/bin/env node
/**
 * owserver load generator, run as its own process so its CPU is not billed to the server under test:
 *
 *   node dist/harness/bench/owserver-load.js --port P --concurrency 16 --persistent 1 --duration-ms 3000
 *
 * C closed-loop workers each READ /28.4AEC29CDBAAB/temperature (size 65536, as owread asks) over and
 * over against 127.0.0.1:P until the window ends, then print one JSON line (OwLoadResult).
 * Persistent: one connection per worker while the server grants persistence; a reply without the
 * grant is counted as refused and the next request opens a new connection, as owlib does.
 * Single-shot: a new connection per request, closed by us as soon as the answer is in (as owlib).
 * A request's latency runs from issuing it — including any connect it needs — to its whole answer.
 * Only requests finished inside the window count. Loopback only, always: it floods its target.
 */
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import { HEADER_SIZE, MAX_PAYLOAD, MessageType, Sg } from '../../examples/owserver/protocol/constants.js';
import { encodeRequest } from '../../examples/owserver/protocol/header.js';
import { LatencyHistogram } from '../flood/latency-histogram.js';
import { flagsHelp, type IntFlag, parseIntFlags } from './flags.js';
import { armWatchdog, parseResultLine } from './load-result.js';
import { isMain } from './paths.js';

const HOST = '127.0.0.1';
const MAX_DURATION_MS = 120_000;
/** A request (connect included) unanswered this long is an error; the worker moves on. */
const REQUEST_TIMEOUT_MS = 5_000;
/** After the window: how long persistent sockets get to finish their FIN exchange. */
const CLOSE_GRACE_MS = 2_000;
/** After a failed connect, wait this long before the next try (a refused port must not spin a core). */
const RETRY_DELAY_MS = 20;

export const READ_PATH = '/28.4AEC29CDBAAB/temperature';
/** What owread asks for. */
export const READ_SIZE = 65536;

type LoadFlag = 'port' | 'concurrency' | 'persistent' | 'duration-ms';

const specs: readonly IntFlag<LoadFlag>[] = [
  { name: 'port', description: 'TCP port on 127.0.0.1', min: 1, max: 65535 },
  { name: 'concurrency', description: 'closed-loop workers (one request in flight each)', default: 16, min: 1, max: 1000 },
  { name: 'persistent', description: '1 = ask for persistence on every request, 0 = one connection per request', default: 1, min: 0, max: 1 },
  { name: 'duration-ms', description: `measured window (hard cap ${MAX_DURATION_MS})`, default: 3000, min: 1, max: MAX_DURATION_MS },
];

/** The one stdout line of a run. */
export interface OwLoadResult {
  /** Requests answered (ret >= 0) inside the window. */
  readonly requests: number;
  readonly seconds: number;
  /** Failed connects, negative ret, resets and early closes mid-request, timeouts, bad framing. */
  readonly errors: number;
  readonly errorCodes: Readonly<Record<string, number>>;
  /** Persistent mode: answers that came back without the grant (the server then closed). */
  readonly refusals: number;
  /** TCP connections opened during the window. */
  readonly connects: number;
  /** The load generator's own CPU (user + system) during the window: near `seconds` means it, not the server, was the limit. */
  readonly clientCpuSeconds: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** Parse and check the generator's line (see parseResultLine). */
export function parseOwLoadResult(line: string): OwLoadResult {
  const numbers = ['requests', 'seconds', 'errors', 'refusals', 'connects', 'clientCpuSeconds', 'p50Ms', 'p99Ms', 'maxMs'];
  const record = parseResultLine(line, 'owserver load generator', numbers);
  if (typeof record['errorCodes'] !== 'object' || record['errorCodes'] === null) throw new Error(`owserver load generator result lacks errorCodes: ${line.slice(0, 200)}`);
  return record as unknown as OwLoadResult;
}

type Phase = 'measuring' | 'stopping';

/** What all workers count into. */
class Tally {
  phase: Phase = 'measuring';
  requests = 0;
  refusals = 0;
  connects = 0;
  errors = 0;
  readonly errorCodes: Record<string, number> = {};
  readonly latency = new LatencyHistogram();

  error(code: string): void {
    if (this.phase !== 'measuring') return;
    this.errors++;
    this.errorCodes[code] = (this.errorCodes[code] ?? 0) + 1;
  }
}

/**
 * One closed-loop client: at most one request in flight, on `socket`. Events of a socket that is no
 * longer the worker's current one are ignored, so a late FIN or reset of a finished connection is
 * never mistaken for trouble with the next.
 */
class Worker {
  #socket: net.Socket | null = null;
  #pending: Buffer | null = null;
  #startedAt = 0;
  #inFlight = false;
  readonly #persistent: boolean;

  constructor(
    private readonly port: number,
    private readonly request: Buffer,
    persistent: boolean,
    private readonly tally: Tally,
  ) {
    this.#persistent = persistent;
  }

  /** The socket to close gracefully at the end (persistent mode), if any. */
  get socket(): net.Socket | null {
    return this.#socket;
  }

  issue(): void {
    if (this.tally.phase !== 'measuring') return;
    this.#startedAt = performance.now();
    this.#inFlight = true;
    if (this.#socket === null) this.#socket = this.#open();
    this.#socket.write(this.request);
  }

  #open(): net.Socket {
    const socket = net.connect({ host: HOST, port: this.port });
    socket.setNoDelay(true);
    if (this.tally.phase === 'measuring') this.tally.connects++;
    socket.on('data', (chunk: Buffer) => {
      if (socket === this.#socket) this.#onData(chunk);
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (socket === this.#socket) this.#fail(error.code ?? 'ERROR');
    });
    socket.on('close', () => {
      if (socket !== this.#socket) return;
      // Idle persistent connection closed by the server: reconnect on the next request, no error.
      if (this.#inFlight) this.#fail('EARLY_CLOSE');
      else this.#socket = null;
    });
    return socket;
  }

  #onData(chunk: Buffer): void {
    if (this.tally.phase !== 'measuring') return; // an answer to a request issued before the window closed
    const data = this.#pending === null ? chunk : Buffer.concat([this.#pending, chunk]);
    let at = 0;
    while (data.length - at >= HEADER_SIZE) {
      const payload = data.readInt32BE(at + 4);
      if (payload < 0) {
        at += HEADER_SIZE; // keep-alive ping
        continue;
      }
      if (payload > MAX_PAYLOAD) return this.#fail('FRAMING');
      if (data.length - at < HEADER_SIZE + payload) break;
      const ret = data.readInt32BE(at + 8);
      const sg = data.readInt32BE(at + 12);
      at += HEADER_SIZE + payload;
      if (!this.#inFlight || at < data.length) return this.#fail('UNEXPECTED_DATA');
      this.#pending = null;
      return this.#answered(ret, sg);
    }
    this.#pending = at < data.length ? data.subarray(at) : null;
  }

  #answered(ret: number, sg: number): void {
    this.#inFlight = false;
    const measuring = this.tally.phase === 'measuring';
    if (ret < 0) this.tally.error(`RET_${ret}`);
    else if (measuring) {
      this.tally.requests++;
      this.tally.latency.record(performance.now() - this.#startedAt);
    }
    const granted = (sg & Sg.PERSISTENT) !== 0;
    if (!granted) {
      if (this.#persistent && measuring) this.tally.refusals++;
      // The server closes after an answer without the grant; so do we, at once (as owlib does).
      this.#drop();
    }
    this.issue();
  }

  #fail(code: string): void {
    const wasInFlight = this.#inFlight;
    this.#inFlight = false;
    this.tally.error(code);
    this.#drop();
    if (wasInFlight) setTimeout(() => this.issue(), RETRY_DELAY_MS);
  }

  #drop(): void {
    const socket = this.#socket;
    this.#socket = null;
    this.#pending = null;
    socket?.destroy();
  }

  /** Called by one sweeping timer (a timer per request would cost the generator more than the check). */
  checkTimeout(now: number): void {
    if (this.#inFlight && now - this.#startedAt > REQUEST_TIMEOUT_MS) this.#fail('REQUEST_TIMEOUT');
  }

  /** Stop: nothing more is issued; an answer still in flight is not counted. */
  stop(): void {
    this.#inFlight = false;
  }
}

function closeAll(sockets: readonly net.Socket[]): Promise<void> {
  const open = sockets.filter((s) => !s.destroyed);
  return new Promise((resolve) => {
    let left = open.length;
    if (left === 0) return resolve();
    const timer = setTimeout(() => {
      for (const s of open) s.destroy();
      resolve();
    }, CLOSE_GRACE_MS);
    for (const s of open) {
      s.once('close', () => {
        if (--left === 0) {
          clearTimeout(timer);
          resolve();
        }
      });
      s.end(); // the client closes first, as an owlib client that is done does
    }
  });
}

async function main(): Promise<void> {
  const { help, values } = parseIntFlags(process.argv.slice(2), specs);
  if (help) {
    process.stdout.write(flagsHelp('node dist/harness/bench/owserver-load.js --port P [options]', specs));
    return;
  }
  const durationMs = values['duration-ms'];
  armWatchdog('owserver-load', durationMs + REQUEST_TIMEOUT_MS + CLOSE_GRACE_MS + 5_000);

  const persistent = values.persistent === 1;
  const sg = Sg.BUS_LIST | Sg.OWNET | (persistent ? Sg.PERSISTENT : 0);
  const request = encodeRequest({ type: MessageType.READ, sg, size: READ_SIZE }, READ_PATH);
  const tally = new Tally();
  const workers = Array.from({ length: values.concurrency }, () => new Worker(values.port, request, persistent, tally));
  const start = performance.now();
  const cpuAtStart = process.cpuUsage();
  const sweep = setInterval(() => {
    const now = performance.now();
    for (const worker of workers) worker.checkTimeout(now);
  }, 250);
  for (const worker of workers) worker.issue();
  await new Promise((resolve) => setTimeout(resolve, durationMs));
  tally.phase = 'stopping';
  clearInterval(sweep);
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuAtStart);
  for (const worker of workers) worker.stop();
  const latency = tally.latency;
  const result: OwLoadResult = {
    requests: tally.requests,
    seconds,
    errors: tally.errors,
    errorCodes: tally.errorCodes,
    refusals: tally.refusals,
    connects: tally.connects,
    clientCpuSeconds: (cpu.user + cpu.system) / 1e6,
    p50Ms: latency.percentile(0.5),
    p99Ms: latency.percentile(0.99),
    maxMs: latency.summary().max,
  };
  await closeAll(workers.map((w) => w.socket).filter((s): s is net.Socket => s !== null));
  process.stdout.write(JSON.stringify(result) + '\n');
  if (tally.requests === 0) process.exitCode = 1;
}

if (isMain(import.meta.url)) {
  main().catch((error: unknown) => {
    process.stderr.write(`owserver-load: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  });
}
