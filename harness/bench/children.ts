import { type ChildProcess, spawn } from 'node:child_process';

/**
 * Every child process the bench starts, so none outlives it: a server left running after a crash
 * or Ctrl-C would keep burning a core of this shared 2-core machine.
 */
const live = new Set<ChildProcess>();
let installed = false;

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface Tracked {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Resolves once the process has exited (never rejects). */
  readonly exited: Promise<Exit>;
  /** The last few KB of stderr, for error messages. */
  stderrTail(): string;
}

function killAll(): void {
  for (const child of live) child.kill('SIGKILL');
  live.clear();
}

function installCleanup(): void {
  if (installed) return;
  installed = true;
  // 'exit' handlers must be synchronous; kill() is, and SIGKILL needs no cooperation from the child.
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAll();
      process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1));
    });
  }
}

export interface SpawnOptions {
  readonly stdin?: 'ignore' | 'pipe';
  /**
   * Run on this one CPU only (`taskset -c`, which execs node: the pid is node's). Two processes pinned
   * to the same CPU take turns on it, so a ping-pong between them costs CPU work, not cross-core wake-ups.
   */
  readonly cpu?: number;
}

/**
 * Start `node <script> ...args` with piped stdout and stderr, tracked for cleanup. `stdin: 'pipe'`
 * gives the child a command channel (load-phases.ts); its end of file tells the child we are gone.
 */
export function spawnNode(script: string, args: readonly string[], options: SpawnOptions = {}): Tracked {
  installCleanup();
  const command = options.cpu === undefined ? process.execPath : 'taskset';
  const commandArgs = options.cpu === undefined ? [script, ...args] : ['-c', String(options.cpu), process.execPath, script, ...args];
  const child = spawn(command, commandArgs, { stdio: [options.stdin ?? 'ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) {
    child.once('error', () => undefined); // the spawn error, reported by the throw below
    throw new Error(options.cpu === undefined ? `could not start ${script}` : `could not start ${script} pinned to CPU ${options.cpu}: is taskset (util-linux) installed?`);
  }
  live.add(child);
  let tail = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (text: string) => {
    tail = (tail + text).slice(-4096);
  });
  const exited = new Promise<Exit>((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
  });
  return { child, pid: child.pid, exited, stderrTail: () => tail };
}

/** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
export async function terminate(tracked: Tracked, graceMs: number): Promise<Exit> {
  if (tracked.child.exitCode !== null || tracked.child.signalCode !== null) return tracked.exited;
  tracked.child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const killed = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      tracked.child.kill('SIGKILL');
      resolve();
    }, graceMs);
  });
  await Promise.race([tracked.exited, killed]);
  clearTimeout(timer);
  return tracked.exited;
}
