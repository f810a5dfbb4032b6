/**
 * Helpers for the fd-transfer front's tests: raw HTTP/1.1 exchanges over real sockets (the whole
 * response read until the server closes, chunked bodies decoded), an in-process front with a config,
 * a process's I/O counters, and the child processes of a pid.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { parseFrontConfig } from '../../examples/fd-transfer/config.js';
import { FdFront, type FdFrontOptions } from '../../examples/fd-transfer/front.js';
import { connectTo, SocketProbe } from './spawn-server.js';

export interface RawResponse {
  status: number;
  headers: Map<string, string>;
  /** The body, de-chunked when Transfer-Encoding was chunked. */
  body: Buffer;
  /** Every byte received. */
  raw: Buffer;
}

/** Parse one complete response (head and body up to the close). */
export function parseResponse(raw: Buffer): RawResponse {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) throw new Error(`no complete response head in ${JSON.stringify(raw.subarray(0, 200).toString('latin1'))}`);
  const lines = raw.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(lines[0]!)?.[1] ?? NaN);
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const c = line.indexOf(':');
    headers.set(line.slice(0, c).toLowerCase(), line.slice(c + 1).trim());
  }
  let body = raw.subarray(end + 4);
  if (headers.get('transfer-encoding') === 'chunked') body = dechunk(body);
  return { status, headers, body, raw };
}

function dechunk(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lf = data.indexOf('\r\n', at);
    if (lf < 0) throw new Error('chunked body cut short');
    const size = parseInt(data.toString('latin1', at, lf), 16);
    at = lf + 2;
    if (size === 0) break;
    parts.push(data.subarray(at, at + size));
    at += size + 2;
  }
  return Buffer.concat(parts);
}

/**
 * Send `parts` (written one after another; a function part is awaited between writes) and read the
 * whole response until the server closes (bounded).
 */
export async function exchange(port: number, parts: readonly (Uint8Array | string | (() => Promise<void>))[], timeoutMs = 10_000): Promise<RawResponse> {
  const socket = await connectTo(port, { allowHalfOpen: true });
  try {
    const probe = new SocketProbe(socket);
    for (const part of parts) {
      if (typeof part === 'function') await part();
      else socket.write(part);
    }
    await probe.until(() => probe.ended || probe.closed, timeoutMs, 'the response and the close');
    return parseResponse(probe.data);
  } finally {
    socket.destroy();
  }
}

/** A GET with Host and Connection: close. */
export function get(port: number, path: string, extra = ''): Promise<RawResponse> {
  return exchange(port, [`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${extra}Connection: close\r\n\r\n`]);
}

export const defaultTestOptions: Omit<FdFrontOptions, 'config'> = {
  host: '127.0.0.1',
  port: 0,
  backlog: 511,
  mode: 'transfer',
  maxHeadBytes: 8192,
  headTimeoutMs: 5000,
  ackTimeoutMs: 5000,
  maxInFlight: 1024,
  maxConnections: 0,
  drainTimeoutMs: 2000,
  backoff: { minMs: 50, maxMs: 500 },
  eager: false,
};

/** Start a front in this process with `config` (JSON as in a config file); it is stopped when the test ends. */
export async function startFront(
  t: { after(fn: () => unknown): void },
  config: unknown,
  options: Partial<Omit<FdFrontOptions, 'config'>> = {},
  baseDir = process.cwd(),
): Promise<{ front: FdFront; port: number }> {
  const front = new FdFront({ ...defaultTestOptions, ...options, config: parseFrontConfig(config, baseDir) });
  const { port } = await front.listen();
  t.after(() => front.stop());
  return { front, port };
}

/** Read /proc/<pid>/io: bytes the process read and wrote through system calls (sockets and pipes included). */
export function processIo(pid: number | 'self'): { rchar: number; wchar: number } {
  const text = readFileSync(`/proc/${pid}/io`, 'utf8');
  const field = (name: string): number => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
  return { rchar: field('rchar'), wchar: field('wchar') };
}

/** The pids whose parent is `pid` (from /proc). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid ...: comm may hold spaces, so split after its closing parenthesis.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** True while a process with this pid exists (and is not a zombie). */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Poll `check` every 20 ms until it holds (bounded). */
export async function eventually(check: () => boolean, timeoutMs: number, what: string | (() => string)): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

