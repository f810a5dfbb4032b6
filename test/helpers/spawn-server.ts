/**
 * Test helpers for the server binaries: start one as a child process, wait (bounded) for its JSON
 * ready line(s), talk to it over real sockets on 127.0.0.1, stop it with a signal (bounded), and make
 * sure no child outlives its test. Plain node:child_process, no execa.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file runs from dist/test/helpers/). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const echoBinary = resolve(repoRoot, 'dist/examples/echo/main.js');
export const hostBinary = resolve(repoRoot, 'dist/examples/host/main.js');
export const websocketBinary = resolve(repoRoot, 'dist/examples/websocket/main.js');

/** `{"event":"listening",...}` as printed by every portico server. */
export interface ReadyLine {
  event: 'listening';
  server: string;
  host: string;
  port: number;
}

export interface ExitResult {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Anything with node:test's `t.after` (a TestContext). */
export interface AfterHook {
  after(fn: () => unknown): void;
}

export interface SpawnServerOptions {
  /** Script run with `node` (default: the echo binary). */
  script?: string;
  args?: readonly string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** How many ready lines to wait for (the host prints one per server). Default 1. */
  readyCount?: number;
  /** Bound on the wait for the ready line(s). Default 10 s. */
  readyTimeoutMs?: number;
  /** When given, the child is killed when this test ends, whatever happened. */
  t?: AfterHook;
}

export interface SpawnedServer {
  /** Port of the first ready line. */
  readonly port: number;
  readonly host: string;
  /** Every ready line seen while starting, in order. */
  readonly ready: readonly ReadyLine[];
  readonly child: ChildProcess;
  /** Every complete stdout line so far (live). */
  readonly stdoutLines: string[];
  /** Everything on stderr so far (live). */
  readonly stderr: string;
  /** Resolves when the child has exited (it may already have). */
  readonly exited: Promise<ExitResult>;
  /** Wait (bounded) for a stdout line matching `match`, including lines already seen. */
  waitForLine(match: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  /**
   * Send `signal` and resolve with the exit code once the child exits. If it has not exited within
   * `timeoutMs`, it is SIGKILLed and the promise rejects.
   */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
  /** SIGKILL if still running (idempotent, never throws). */
  kill(): void;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function track(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // Last line of defence: a test file that dies must not leave servers behind.
    process.once('exit', () => {
      for (const c of live) c.kill('SIGKILL');
    });
  }
}

function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** Like `child.once('exit')`, but also right if it already exited. */
function exitPromise(child: ChildProcess): Promise<ExitResult> {
  return new Promise((resolvePromise) => {
    if (!isRunning(child)) {
      resolvePromise({ code: child.exitCode, signal: child.signalCode as NodeJS.Signals | null });
      return;
    }
    child.once('exit', (code, signal) => resolvePromise({ code, signal }));
  });
}

/** Race a promise against a timer; the timer never keeps the process alive past the race. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string | (() => string)): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${typeof what === 'string' ? what : what()}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function parseReadyLine(line: string): ReadyLine | null {
  if (!line.startsWith('{')) return null;
  try {
    const value = JSON.parse(line) as Partial<ReadyLine>;
    return value.event === 'listening' ? (value as ReadyLine) : null;
  } catch {
    return null;
  }
}

/** Start a server binary and wait for its ready line(s). Rejects (with its stderr) if it exits first or is too slow. */
export async function spawnServer(options: SpawnServerOptions = {}): Promise<SpawnedServer> {
  const script = options.script ?? echoBinary;
  const readyCount = options.readyCount ?? 1;
  const readyTimeoutMs = options.readyTimeoutMs ?? 10_000;
  const child = spawn(process.execPath, [script, ...(options.args ?? [])], {
    cwd: options.cwd ?? repoRoot,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(child);
  const kill = (): void => {
    if (isRunning(child)) child.kill('SIGKILL');
  };
  options.t?.after(kill);

  const stdoutLines: string[] = [];
  const ready: ReadyLine[] = [];
  let stderr = '';
  let partial = '';
  // Re-checked after every stdout line; each returns a value once satisfied.
  const waiters = new Set<() => void>();
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    stderr += chunk;
  });
  child.stdout!.on('data', (chunk: string) => {
    partial += chunk;
    let nl: number;
    while ((nl = partial.indexOf('\n')) >= 0) {
      stdoutLines.push(partial.slice(0, nl));
      partial = partial.slice(nl + 1);
    }
    for (const waiter of [...waiters]) waiter();
  });
  // 'exit' can come before the pipes are drained; 'close' comes after both.
  const closed = new Promise<ExitResult>((resolvePromise) => {
    child.once('close', (code, signal) => resolvePromise({ code, signal }));
  });
  const exited = exitPromise(child);
  const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
  spawnError.catch(() => {});

  /** Wait (bounded) until `check()` returns a value; fails early if the child exits first. */
  const waitFor = async <T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> => {
    const now = check();
    if (now !== undefined) return now;
    let waiter: (() => void) | undefined;
    const found = new Promise<T>((done) => {
      waiter = () => {
        const value = check();
        if (value !== undefined) done(value);
      };
      waiters.add(waiter);
    });
    const gone = closed.then((r): T => {
      const value = check(); // the last lines may have come with the close
      if (value !== undefined) return value;
      throw new Error(`server exited (code ${r.code}, signal ${r.signal}) before ${what}; stdout: ${JSON.stringify(stdoutLines)}; stderr: ${stderr}`);
    });
    try {
      return await withTimeout(Promise.race([found, gone, spawnError]), timeoutMs, () => `${what} from ${script}; stdout so far: ${JSON.stringify(stdoutLines)}; stderr: ${stderr}`);
    } finally {
      waiters.delete(waiter!);
    }
  };
  const waitForLine = (match: (line: string) => boolean, timeoutMs = 10_000): Promise<string> =>
    waitFor(() => stdoutLines.find(match), timeoutMs, 'the expected stdout line');

  try {
    const lines = await waitFor(
      () => {
        const found = stdoutLines.map(parseReadyLine).filter((r): r is ReadyLine => r !== null);
        return found.length >= readyCount ? found : undefined;
      },
      readyTimeoutMs,
      `${readyCount} ready line(s)`,
    );
    ready.push(...lines);
  } catch (error) {
    kill();
    throw error;
  }

  const stop = async (signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<number | null> => {
    if (isRunning(child)) child.kill(signal);
    try {
      const result = await withTimeout(closed, timeoutMs, `exit after ${signal}`);
      return result.code;
    } catch (error) {
      kill();
      throw new Error(`server did not exit within ${timeoutMs} ms of ${signal}; SIGKILLed it. stdout: ${JSON.stringify(stdoutLines)}; stderr: ${stderr}`, { cause: error });
    }
  };

  return {
    port: ready[0]!.port,
    host: ready[0]!.host,
    ready,
    child,
    stdoutLines,
    get stderr() {
      return stderr;
    },
    exited,
    waitForLine,
    stop,
    kill,
  };
}

export interface RunResult extends ExitResult {
  stdout: string;
  stderr: string;
}

/**
 * Run a command to completion (bounded). On timeout the whole process group is SIGKILLed and the
 * promise rejects. Used for binaries that exit on their own (--help, bad flags) and for npm / tsc.
 */
export async function runToExit(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; t?: AfterHook } = {},
): Promise<RunResult> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const child = spawn(command, args, {
    cwd: options.cwd ?? repoRoot,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: process.platform !== 'win32', // own process group, so a timeout kills grandchildren too
  });
  track(child);
  const killGroup = (): void => {
    if (!isRunning(child)) return;
    try {
      if (process.platform !== 'win32' && child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      else child.kill('SIGKILL');
    } catch {
      child.kill('SIGKILL');
    }
  };
  options.t?.after(killGroup);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const closed = new Promise<ExitResult>((resolvePromise, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolvePromise({ code, signal }));
  });
  try {
    const result = await withTimeout(closed, timeoutMs, `${command} ${args.join(' ')}`);
    return { ...result, stdout, stderr };
  } catch (error) {
    killGroup();
    throw new Error(`${(error as Error).message}\nstdout: ${stdout}\nstderr: ${stderr}`, { cause: error });
  }
}

/** Run a script with this node (bounded). */
export function runNode(script: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  return runToExit(process.execPath, [script, ...args], options);
}

// ---- sockets ------------------------------------------------------------------------------------

/** Connect to 127.0.0.1:port (bounded). */
export function connectTo(port: number, options: { host?: string; timeoutMs?: number; allowHalfOpen?: boolean } = {}): Promise<net.Socket> {
  const socket = net.connect({ host: options.host ?? '127.0.0.1', port, allowHalfOpen: options.allowHalfOpen ?? false });
  return withTimeout(
    new Promise<net.Socket>((resolvePromise, reject) => {
      socket.once('connect', () => {
        socket.off('error', reject);
        resolvePromise(socket);
      });
      socket.once('error', reject);
    }),
    options.timeoutMs ?? 5_000,
    `connect to 127.0.0.1:${port}`,
  ).catch((error: unknown) => {
    socket.destroy();
    throw error;
  });
}

/**
 * Records everything that happens to a socket from now on: bytes, FIN, error, close.
 * Waits are bounded and reject with what was seen so far.
 */
export class SocketProbe {
  readonly socket: net.Socket;
  chunks: Buffer[] = [];
  received = 0;
  ended = false;
  closed = false;
  error: NodeJS.ErrnoException | null = null;
  #waiters = new Set<() => void>();

  constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.received += chunk.length;
      this.#poke();
    });
    socket.on('end', () => {
      this.ended = true;
      this.#poke();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      this.error = error;
      this.#poke();
    });
    socket.on('close', () => {
      this.closed = true;
      this.#poke();
    });
  }

  #poke(): void {
    for (const w of [...this.#waiters]) w();
  }

  get data(): Buffer {
    return Buffer.concat(this.chunks);
  }

  /** Wait until `condition()` holds, re-checked on every socket event. */
  async until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (condition()) return;
    let waiter: (() => void) | undefined;
    const met = new Promise<void>((resolvePromise) => {
      waiter = () => {
        if (condition()) resolvePromise();
      };
      this.#waiters.add(waiter);
    });
    try {
      await withTimeout(met, timeoutMs, () => `${what} (received ${this.received} bytes, ended=${this.ended}, closed=${this.closed}, error=${this.error?.code ?? 'none'})`);
    } finally {
      this.#waiters.delete(waiter!);
    }
  }

  /** Wait for `count` more bytes than already taken by `take`. */
  async take(count: number, timeoutMs = 5_000): Promise<Buffer> {
    await this.until(() => this.received >= count, timeoutMs, `${count} bytes`);
    const all = this.data;
    const out = all.subarray(0, count);
    const rest = all.subarray(count);
    this.chunks = rest.length > 0 ? [Buffer.from(rest)] : [];
    this.received = rest.length;
    return Buffer.from(out);
  }
}

/** Write `payload` on `probe`'s socket and wait (bounded) until exactly that comes back. */
export async function echoOnce(probe: SocketProbe, payload: Buffer, timeoutMs = 5_000): Promise<Buffer> {
  probe.socket.write(payload);
  return probe.take(payload.length, timeoutMs);
}

/** Connect, echo one payload, half-close, and expect the server's FIN back; returns what came back. */
export async function echoRoundTrip(port: number, payload: Buffer, timeoutMs = 10_000): Promise<Buffer> {
  const socket = await connectTo(port, { timeoutMs });
  try {
    const probe = new SocketProbe(socket);
    const back = await echoOnce(probe, payload, timeoutMs);
    socket.end();
    await probe.until(() => probe.ended || probe.closed, timeoutMs, 'FIN from the server after our FIN');
    return back;
  } finally {
    socket.destroy();
  }
}

/** A port nothing listens on right now: bind an ephemeral one, hold it, and let the caller release it. */
export async function occupyPort(): Promise<{ port: number; release: () => Promise<void> }> {
  const server = net.createServer();
  await new Promise<void>((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => resolvePromise());
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    release: () => new Promise<void>((resolvePromise) => server.close(() => resolvePromise())),
  };
}
