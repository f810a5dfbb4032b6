/**
 * Starts the server under test, hands its output to whoever watches for readiness (readiness.ts), and
 * stops it: the stop signal (SIGTERM unless told otherwise), then SIGKILL past the deadline. The
 * server runs in its own process group so a ctrl-c at the terminal reaches only the harness, which
 * then stops the server properly. No timer or pipe of a stopped server may keep the harness alive.
 */
import { execa, type ResultPromise } from 'execa';
import { accessSync, constants, statSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { basename, delimiter, join, resolve as resolvePath } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { formatCommand } from './report/format.js';
import type { ServerExit } from './types.js';

/** The server could not be started or never became ready; the message carries its stderr. */
export class LaunchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LaunchError';
  }
}

/** Compiled next to this file: dist/harness/preload/leak-report.js. */
export const leakPreloadPath = fileURLToPath(new URL('./preload/leak-report.js', import.meta.url));

/** `--port 0` unless the command already names a port (`--port-arg`: the harness's behaviour before `{port}`). */
export function withPortArgument(argv: readonly string[]): string[] {
  const namesPort = argv.slice(1).some((a) => a === '--port' || a.startsWith('--port=') || a === '-p' || /^-p\d+$/.test(a) || a.startsWith('-p='));
  return namesPort ? [...argv] : [...argv, '--port', '0'];
}

/** The placeholder a server command carries where the harness's chosen port goes. */
export const portPlaceholder = '{port}';

export function hasPortPlaceholder(argv: readonly string[]): boolean {
  return argv.some((a) => a.includes(portPlaceholder));
}

/** Every `{port}` replaced by `port`. */
export function substitutePort(argv: readonly string[], port: number): string[] {
  return argv.map((a) => a.replaceAll(portPlaceholder, String(port)));
}

/** A port free on 127.0.0.1 at this moment (the kernel's pick, released at once for the server to take). */
export async function pickFreePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Whether the preload can go in through NODE_OPTIONS: the command is node itself. */
export function isNodeCommand(argv: readonly string[]): boolean {
  const command = argv[0] ?? '';
  return command === process.execPath || /^node(\.exe)?$/i.test(basename(command));
}

export interface ServerEnvironment {
  /** Set PORTICO_LOCKDEP=1 and point the detector's JSON lines here. */
  readonly lockReportPath: string | null;
  /** Preload the leak reporter and have it write here (node servers only). */
  readonly leakReportPath: string | null;
  /** When the preload reports what is still alive; below the stop deadline. */
  readonly leakAfterMs: number;
  /** The signal that starts the preload's clock (the stop signal). */
  readonly stopSignal: NodeJS.Signals;
}

/** The variables added to the harness's own environment for the server. */
export function serverEnvironment(options: ServerEnvironment): Record<string, string> {
  const env: Record<string, string> = {};
  if (options.lockReportPath !== null) {
    env['PORTICO_LOCKDEP'] = '1';
    env['PORTICO_LOCKDEP_REPORT'] = options.lockReportPath;
  }
  if (options.leakReportPath !== null) {
    // A file URL: NODE_OPTIONS splits on spaces, and --import takes a URL-or-specifier.
    const preload = `--import ${pathToFileURL(leakPreloadPath).href}`;
    const existing = process.env['NODE_OPTIONS']?.trim();
    env['NODE_OPTIONS'] = existing ? `${existing} ${preload}` : preload;
    env['PORTICO_LEAK_REPORT'] = options.leakReportPath;
    env['PORTICO_LEAK_AFTER_MS'] = String(options.leakAfterMs);
    env['PORTICO_LEAK_SIGNAL'] = options.stopSignal;
  }
  return env;
}

/**
 * When the preload should look for leaks: late enough that an honest drain is over, early enough
 * that its report is written before the harness SIGKILLs.
 */
export function leakAfterMs(stopDeadlineMs: number): number {
  return Math.max(stopDeadlineMs - 1000, Math.floor(stopDeadlineMs * 0.8));
}

export interface LaunchOptions {
  /** Final argv, port substituted and any memory-cap wrapper included. */
  readonly argv: readonly string[];
  /** The command as the user knows it (no wrapper): what messages show. */
  readonly displayArgv: readonly string[];
  /** Added to (not replacing) the harness's environment. */
  readonly env: Readonly<Record<string, string>>;
  readonly cwd?: string;
}

export type OutputStream = 'stdout' | 'stderr';
export type LineListener = (line: string, stream: OutputStream) => void;

const stderrTailLimit = 16 * 1024;
/** Lines longer than this are cut: a server writing megabytes without a newline must not grow memory. */
const lineLimit = 64 * 1024;
/** After SIGKILL the kernel reaps at once; this only bounds a stuck wrapper. */
const killGraceMs = 5_000;
/** How long the last output may take to drain after the exit, before the pipes are cut. */
const drainMs = 500;

const live = new Set<LaunchedServer>();
let exitHookInstalled = false;

/** setTimeout as a promise whose timer is cleared when the race is over (see `race`). */
function timer<T>(ms: number, value: T): { promise: Promise<T>; cancel: () => void } {
  let handle: NodeJS.Timeout | undefined;
  const promise = new Promise<T>((resolve) => {
    handle = setTimeout(resolve, ms, value);
  });
  return { promise, cancel: () => clearTimeout(handle) };
}

/** Race `promise` against a timeout; the timer never outlives the race (it would hold the harness open). */
async function withDeadline<T, D>(promise: Promise<T>, ms: number, onTimeout: D): Promise<T | D> {
  const t = timer(ms, onTimeout);
  try {
    return await Promise.race([promise, t.promise]);
  } finally {
    t.cancel();
  }
}

/** A server process started by `launchServer`. */
export class LaunchedServer {
  readonly pid: number;
  /** The command as the user gave it (substituted, never the cgroup wrapper). */
  readonly displayArgv: readonly string[];
  /** Resolves once the process has exited, whatever the reason. */
  readonly exited: Promise<{ readonly code: number | null; readonly signal: string | null }>;
  #child: ResultPromise;
  #stderr = '';
  #stdoutHead: string[] = [];
  #listeners = new Set<LineListener>();
  #exit: { code: number | null; signal: string | null } | null = null;
  #stopping: Promise<ServerExit> | null = null;
  #stopRequestedAt: number | null = null;
  /** Exited and stdout/stderr drained. */
  #closed: Promise<void>;

  constructor(child: ResultPromise, pid: number, options: LaunchOptions) {
    this.#child = child;
    this.pid = pid;
    this.displayArgv = options.displayArgv;
    // Keep reading both pipes for the whole run: a server blocked on a full pipe would stall.
    this.#readLines(child.stdout!, 'stdout');
    this.#readLines(child.stderr!, 'stderr');
    // 'exit', not execa's result: the result also waits for the pipes to close, which a
    // grandchild holding stdout open would delay past the process's real exit.
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.#exit = { code, signal };
        live.delete(this);
        resolve(this.#exit);
      });
    });
    this.#closed = child.then(
      () => undefined,
      () => undefined,
    );
  }

  #readLines(stream: NodeJS.ReadableStream, name: OutputStream): void {
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      if (name === 'stderr') this.#stderr = (this.#stderr + chunk).slice(-stderrTailLimit);
      partial += chunk;
      let nl: number;
      while ((nl = partial.indexOf('\n')) >= 0) {
        this.#line(partial.slice(0, nl).replace(/\r$/, ''), name);
        partial = partial.slice(nl + 1);
      }
      if (partial.length > lineLimit) {
        this.#line(partial.slice(0, lineLimit), name);
        partial = '';
      }
    });
    stream.on('end', () => {
      if (partial !== '') this.#line(partial, name);
      partial = '';
    });
  }

  #line(line: string, stream: OutputStream): void {
    if (stream === 'stdout' && this.#stdoutHead.length < 20) this.#stdoutHead.push(line);
    for (const listener of this.#listeners) listener(line, stream);
  }

  /** Every further line of stdout and stderr (newline removed); returns the unsubscribe. */
  onLine(listener: LineListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Resolves once the output has drained after the exit, or `drainMs` after it, whichever is first. */
  async drained(): Promise<void> {
    await this.exited;
    await withDeadline(this.#closed, drainMs, undefined);
  }

  /** Whether the process has exited. */
  get hasExited(): boolean {
    return this.#exit !== null;
  }

  /** Whether it exited before `stop()` asked it to (crash, memory cap). */
  get exitedBeforeStop(): boolean {
    return this.#exit !== null && this.#stopRequestedAt === null;
  }

  /** The last 16 KiB of the server's stderr. */
  get stderrTail(): string {
    return this.#stderr;
  }

  /**
   * The command and what the server said, for an error message: its first stdout lines and its
   * stderr, each line on its own line (never the wrapper the harness ran it under).
   */
  context(): string {
    const lines = [`command: ${formatCommand(this.displayArgv)}`];
    if (this.#stdoutHead.length > 0) lines.push('--- server stdout (first lines) ---', ...this.#stdoutHead);
    const stderr = this.#stderr.trimEnd();
    if (stderr.length > 0) lines.push('--- server stderr ---', ...stderr.split(/\r?\n/));
    else lines.push('(server stderr was empty)');
    return lines.join('\n');
  }

  /**
   * Send `signal`, wait up to `deadlineMs`, then SIGKILL the process group. Idempotent. If the
   * process had already exited, reports that exit (never clean: nobody asked it to stop). Returns
   * once the process is gone and its pipes are closed or cut, with no timer left behind.
   */
  stop(deadlineMs: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<ServerExit> {
    return (this.#stopping ??= this.#stop(deadlineMs, signal));
  }

  async #stop(deadlineMs: number, signal: NodeJS.Signals): Promise<ServerExit> {
    try {
      if (this.#exit !== null) return this.#result(this.#exit, 0, false, null);
      const started = performance.now();
      this.#stopRequestedAt = started;
      this.#signal(signal, false);
      const exit = await withDeadline(this.exited, deadlineMs, null);
      if (exit !== null) return this.#result(exit, performance.now() - started, false, signal);
      this.#signal('SIGKILL', true);
      const killed = await withDeadline(this.exited, killGraceMs, null);
      return this.#result(killed ?? { code: null, signal: 'SIGKILL' }, performance.now() - started, true, signal);
    } finally {
      await this.#release();
    }
  }

  /**
   * The server is gone: SIGKILL whatever it left in its process group (a worker it forked and did
   * not stop), let the last output drain (bounded), then cut the pipes, which a daemonized
   * grandchild outside the group may still hold open.
   */
  async #release(): Promise<void> {
    this.#signal('SIGKILL', true);
    await withDeadline(this.#closed, drainMs, undefined);
    this.#child.stdout?.destroy();
    this.#child.stderr?.destroy();
    this.#listeners.clear();
  }

  #result(exit: { code: number | null; signal: string | null }, stopMs: number, killed: boolean, stopSignal: NodeJS.Signals | null): ServerExit {
    return {
      code: exit.code,
      signal: exit.signal,
      stopSignal,
      clean: stopSignal !== null && !killed && exit.code === 0 && exit.signal === null,
      stopMs: Math.round(stopMs),
      killed,
      stderrTail: this.#stderr,
    };
  }

  /** The stop signal goes to the server alone (its own children are its business); SIGKILL to the whole group. */
  #signal(signal: NodeJS.Signals, group: boolean): void {
    try {
      process.kill(group ? -this.pid : this.pid, signal);
    } catch {
      // Already gone (ESRCH): the exit promise says how.
    }
  }

  /** SIGKILL the group now, without waiting (last-resort cleanup). */
  killNow(): void {
    if (this.#exit === null) this.#signal('SIGKILL', true);
  }
}

/** Spawn the server. Throws a LaunchError at once if it cannot be spawned at all (ENOENT, EACCES). */
export async function launchServer(options: LaunchOptions): Promise<LaunchedServer> {
  const [file, ...args] = options.argv;
  if (file === undefined) throw new LaunchError('empty server command');
  // Checked here, not left to the spawn: under the memory cap's wrapper a missing program would
  // surface as the wrapper's "exec: not found", which names the wrong culprit.
  const program = options.displayArgv[0] ?? file;
  const missing = whyNotExecutable(program, options.cwd ?? process.cwd());
  if (missing !== null) throw new LaunchError(`cannot start the server: ${missing}\ncommand: ${formatCommand(options.displayArgv)}`);
  const child = execa(file, args, {
    cwd: options.cwd ?? process.cwd(),
    env: options.env,
    extendEnv: true,
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
    buffer: false,
    reject: false,
    // Own process group: ctrl-c must not reach the server before the harness decides to stop it.
    // (execa's `cleanup` does not apply to detached children; the exit hook below does that job.)
    detached: true,
    forceKillAfterDelay: false,
  });
  if (child.pid === undefined) {
    const result = await child;
    throw new LaunchError(`cannot start the server: ${result.originalMessage ?? result.message ?? 'spawn failed'}\ncommand: ${formatCommand(options.displayArgv)}`);
  }
  const server = new LaunchedServer(child, child.pid, options);
  live.add(server);
  installExitHook();
  return server;
}

/** The executable file `program` names (a path, or a name on PATH, as a shell finds it), or null. */
export function findExecutable(program: string, cwd: string): string | null {
  const candidates = program.includes('/') ? [resolvePath(cwd, program)] : (process.env['PATH'] ?? '').split(delimiter).filter((d) => d !== '').map((d) => join(d, program));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not this one
    }
  }
  return null;
}

/** Null if `program` can be run (a path, or a name on PATH), else why not. */
export function whyNotExecutable(program: string, cwd: string): string | null {
  if (findExecutable(program, cwd) !== null) return null;
  return program.includes('/') ? `${program}: no such executable file` : `${program}: not found on PATH`;
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Whatever happens to the harness, no server outlives it.
  process.once('exit', () => {
    for (const server of live) server.killNow();
  });
}
