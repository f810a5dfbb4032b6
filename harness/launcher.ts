/**
 * Starts the server under test, waits (bounded) for its JSON ready line, and stops it the way the
 * portico contract says: SIGTERM, then SIGKILL past the deadline. The server runs in its own process
 * group so a ctrl-c at the terminal reaches only the harness, which then stops the server properly.
 */
import { execa, type ResultPromise } from 'execa';
import { basename } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ServerExit } from './types.js';

/** The `{"event":"listening",...}` line every portico server prints once it accepts connections. */
export interface ReadyLine {
  readonly server: string;
  readonly host: string;
  readonly port: number;
}

/** The server could not be started or never became ready; the message carries its stderr. */
export class LaunchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LaunchError';
  }
}

/** Compiled next to this file: dist/harness/preload/leak-report.js. */
export const leakPreloadPath = fileURLToPath(new URL('./preload/leak-report.js', import.meta.url));

/** `--port 0` unless the command already names a port: the harness learns it from the ready line. */
export function withPortArgument(argv: readonly string[]): string[] {
  const namesPort = argv.slice(1).some((a) => a === '--port' || a.startsWith('--port=') || a === '-p' || /^-p\d+$/.test(a) || a.startsWith('-p='));
  return namesPort ? [...argv] : [...argv, '--port', '0'];
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
  /** Final argv, port argument and any memory-cap wrapper included. */
  readonly argv: readonly string[];
  /** Added to (not replacing) the harness's environment. */
  readonly env: Readonly<Record<string, string>>;
  readonly cwd?: string;
  readonly readyTimeoutMs: number;
  /** Rejects the ready wait early (ctrl-c). */
  readonly signal?: AbortSignal;
}

const stderrTailLimit = 16 * 1024;
/** After SIGKILL the kernel reaps at once; this only bounds a stuck wrapper. */
const killGraceMs = 5_000;

const live = new Set<LaunchedServer>();
let exitHookInstalled = false;

/** A server process started by `launchServer`. */
export class LaunchedServer {
  readonly pid: number;
  /** Resolves once the process has exited, whatever the reason. */
  readonly exited: Promise<{ readonly code: number | null; readonly signal: string | null }>;
  #child: ResultPromise;
  #stderr = '';
  #stdoutLines: string[] = [];
  #ready: Promise<ReadyLine>;
  #exit: { code: number | null; signal: string | null } | null = null;
  #stopping: Promise<ServerExit> | null = null;
  #stopRequestedAt: number | null = null;
  /** Exited and stdout/stderr drained. */
  #closed: Promise<void>;

  constructor(child: ResultPromise, pid: number, options: LaunchOptions) {
    this.#child = child;
    this.pid = pid;
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      this.#stderr = (this.#stderr + chunk).slice(-stderrTailLimit);
    });
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
    this.#ready = this.#waitReady(options);
    // The run may end before anyone awaits readiness; that must not become an unhandled rejection.
    this.#ready.catch(() => {});
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

  /** The ready line, or a LaunchError (timeout, early exit, ctrl-c) carrying the server's stderr. */
  ready(): Promise<ReadyLine> {
    return this.#ready;
  }

  #waitReady(options: LaunchOptions): Promise<ReadyLine> {
    const command = options.argv.join(' ');
    return new Promise<ReadyLine>((resolve, reject) => {
      let partial = '';
      let settled = false;
      const finish = (outcome: ReadyLine | Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        if (outcome instanceof Error) reject(outcome);
        else resolve(outcome);
      };
      const stdout = this.#child.stdout!;
      stdout.setEncoding('utf8');
      // Keep reading after the ready line too: a server blocked on a full stdout pipe would stall.
      stdout.on('data', (chunk: string) => {
        partial += chunk;
        let nl: number;
        while ((nl = partial.indexOf('\n')) >= 0) {
          const line = partial.slice(0, nl).trim();
          partial = partial.slice(nl + 1);
          if (this.#stdoutLines.length < 20) this.#stdoutLines.push(line);
          const ready = parseReadyLine(line);
          if (ready !== null) finish(ready);
        }
        if (partial.length > 64 * 1024) partial = partial.slice(-1024);
      });
      const timer = setTimeout(() => {
        finish(new LaunchError(`server printed no ready line within ${options.readyTimeoutMs} ms: ${command}${this.#context()}`));
      }, options.readyTimeoutMs);
      const onAbort = (): void => finish(new LaunchError(`interrupted while waiting for the server's ready line: ${command}`));
      if (options.signal?.aborted) onAbort();
      options.signal?.addEventListener('abort', onAbort);
      void this.exited.then(async (exit) => {
        // The ready line and the last stderr may still be in the pipes: wait for them to drain,
        // but not for a grandchild that holds them open.
        await Promise.race([this.#closed, new Promise((resolve) => setTimeout(resolve, 500))]);
        const how = exit.signal !== null ? `signal ${exit.signal}` : `code ${exit.code}`;
        finish(new LaunchError(`server exited (${how}) before printing its ready line: ${command}${this.#context()}`));
      });
    });
  }

  #context(): string {
    const stdout = this.#stdoutLines.length > 0 ? `\n--- server stdout (first lines) ---\n${this.#stdoutLines.join('\n')}` : '';
    const stderr = this.#stderr.trim().length > 0 ? `\n--- server stderr ---\n${this.#stderr.trimEnd()}` : '\n(server stderr was empty)';
    return stdout + stderr;
  }

  /**
   * SIGTERM, wait up to `deadlineMs`, then SIGKILL the process group. Idempotent. If the process had
   * already exited, reports that exit (never clean: nobody asked it to stop).
   */
  stop(deadlineMs: number): Promise<ServerExit> {
    return (this.#stopping ??= this.#stop(deadlineMs));
  }

  async #stop(deadlineMs: number): Promise<ServerExit> {
    if (this.#exit !== null) return this.#result(this.#exit, 0, false, false);
    const started = performance.now();
    this.#stopRequestedAt = started;
    this.#signal('SIGTERM', false);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), deadlineMs);
    });
    const exit = await Promise.race([this.exited, deadline]);
    clearTimeout(timer);
    if (exit !== null) return this.#result(exit, performance.now() - started, false, true);
    this.#signal('SIGKILL', true);
    const killed = await Promise.race([this.exited, new Promise<null>((resolve) => setTimeout(resolve, killGraceMs, null))]);
    return this.#result(killed ?? { code: null, signal: 'SIGKILL' }, performance.now() - started, true, false);
  }

  #result(exit: { code: number | null; signal: string | null }, stopMs: number, killed: boolean, askedToStop: boolean): ServerExit {
    return {
      code: exit.code,
      signal: exit.signal,
      clean: askedToStop && !killed && exit.code === 0 && exit.signal === null,
      stopMs: Math.round(stopMs),
      killed,
      stderrTail: this.#stderr,
    };
  }

  /** SIGTERM goes to the server alone (its own children are its business); SIGKILL to the whole group. */
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

/** `{"event":"listening","server":…,"host":…,"port":N}` → its fields, else null. */
export function parseReadyLine(line: string): ReadyLine | null {
  if (!line.startsWith('{')) return null;
  try {
    const value = JSON.parse(line) as Record<string, unknown>;
    if (value['event'] !== 'listening' || typeof value['port'] !== 'number') return null;
    return {
      server: typeof value['server'] === 'string' ? value['server'] : 'unknown',
      host: typeof value['host'] === 'string' ? value['host'] : '127.0.0.1',
      port: value['port'],
    };
  } catch {
    return null;
  }
}

/** Spawn the server. Throws a LaunchError at once if it cannot be spawned at all (ENOENT, EACCES). */
export async function launchServer(options: LaunchOptions): Promise<LaunchedServer> {
  const [file, ...args] = options.argv;
  if (file === undefined) throw new LaunchError('empty server command');
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
    throw new LaunchError(`cannot start server ${options.argv.join(' ')}: ${result.originalMessage ?? result.message ?? 'spawn failed'}`);
  }
  const server = new LaunchedServer(child, child.pid, options);
  live.add(server);
  installExitHook();
  return server;
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Whatever happens to the harness, no server outlives it.
  process.once('exit', () => {
    for (const server of live) server.killNow();
  });
}
