import cluster, { type Worker } from 'node:cluster';
import { readyLine } from '../shared/plugin.js';
import type { PlannedServer } from './config.js';
import { isWorkerMessage, sumStats, type PrimaryMessage, type WorkerMessage } from './cluster-messages.js';

export interface PrimaryOptions {
  readonly workers: number;
  /** Print summed counters this often (0 = never). */
  readonly statsIntervalMs: number;
  /** How long workers get to drain after a stop before they are killed. */
  readonly stopGraceMs: number;
}

interface WorkerState {
  readonly worker: Worker;
  readonly listening: Map<string, Extract<WorkerMessage, { kind: 'listening' }>>;
  stats: Readonly<Record<string, Readonly<Record<string, number>>>>;
}

/** Replacements allowed in a row before the primary waits longer: a worker that dies at start must not spin. */
const RESTART_BACKOFF_MS = [100, 200, 500, 1000, 2000, 5000];
const RESTART_WINDOW_MS = 30_000;
const STOP: PrimaryMessage = { kind: 'stop' };

/**
 * The cluster primary of `portico --workers N`: forks N workers that share the listening sockets (each
 * accepts for itself — SCHED_NONE, so no hand-off through the primary — with its own dispatcher and
 * timers), prints each server's ready line once every worker is listening, replaces a worker that dies,
 * sums their counters, and on SIGTERM/SIGINT has every worker drain, then exits 0.
 */
export async function runPrimary(planned: readonly PlannedServer[], options: PrimaryOptions): Promise<void> {
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  const states = new Map<number, WorkerState>();
  const stoppedTotals = new Map<string, { aborted: number; stats: Record<string, number> }>();
  let stopping = false;
  let ready = false;
  let recentDeaths: number[] = [];
  let replaced = 0;

  const fork = (): WorkerState => {
    const worker = cluster.fork();
    const state: WorkerState = { worker, listening: new Map(), stats: {} };
    states.set(worker.id, state);
    worker.on('message', (message: unknown) => {
      if (!isWorkerMessage(message)) return;
      if (message.kind === 'listening') {
        state.listening.set(message.server, message);
        // Told to stop while it was starting (the message may have come before it listened for it).
        if (stopping && worker.isConnected()) worker.send(STOP);
      }
      else if (message.kind === 'stats') {
        if (Object.keys(message.servers).length > 0) state.stats = message.servers;
      } else {
        const total = stoppedTotals.get(message.server) ?? { aborted: 0, stats: {} };
        total.aborted += message.aborted;
        sumStats(total.stats, message.stats);
        stoppedTotals.set(message.server, total);
      }
      onChange();
    });
    worker.on('exit', (code, signal) => {
      states.delete(worker.id);
      if (stopping) {
        onChange();
        return;
      }
      if (!ready) {
        failStartup(new Error(`worker ${worker.process.pid} exited (${signal ?? `code ${code}`}) before listening`));
        return;
      }
      const now = Date.now();
      recentDeaths = [...recentDeaths.filter((t) => now - t < RESTART_WINDOW_MS), now];
      const delay = RESTART_BACKOFF_MS[Math.min(recentDeaths.length - 1, RESTART_BACKOFF_MS.length - 1)]!;
      process.stderr.write(JSON.stringify({ event: 'worker-exit', pid: worker.process.pid, code, signal, restartInMs: delay }) + '\n');
      setTimeout(() => {
        if (stopping) return;
        replaced++;
        fork();
      }, delay);
    });
    return state;
  };

  let onChange: () => void = () => {};
  let failStartup: (error: Error) => void = () => {};

  const stopAll = (): Promise<void> => {
    stopping = true;
    for (const state of states.values()) {
      if (state.worker.isConnected()) state.worker.send(STOP);
      // Still starting: its servers stop once up (runServers keeps a signal that came during startup).
      if (!planned.every((p) => state.listening.has(p.plugin.name))) state.worker.process.kill('SIGTERM');
    }
    return new Promise<void>((resolve) => {
      const killer = setTimeout(() => {
        for (const { worker } of states.values()) worker.process.kill('SIGKILL');
      }, options.stopGraceMs);
      onChange = () => {
        if (states.size > 0) return;
        clearTimeout(killer);
        resolve();
      };
      onChange();
    });
  };

  // Startup: every worker listening on every planned server.
  let signalled = false;
  let stopped: Promise<void> | null = null;
  let stopRequested: () => void = () => {};
  const requested = new Promise<void>((resolve) => (stopRequested = resolve));
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled) {
      process.stderr.write(`portico: second ${signal}, killing the workers\n`);
      for (const { worker } of states.values()) worker.process.kill('SIGKILL');
      process.exit(130);
    }
    signalled = true;
    stopped ??= stopAll();
    stopRequested();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  await new Promise<void>((resolve, reject) => {
    failStartup = (error) => {
      stopping = true;
      for (const { worker } of states.values()) worker.process.kill('SIGKILL');
      reject(error);
    };
    onChange = () => {
      if (signalled) {
        resolve();
        return;
      }
      const all = [...states.values()];
      if (all.length === options.workers && all.every((s) => planned.every((p) => s.listening.has(p.plugin.name)))) resolve();
    };
    for (let i = 0; i < options.workers; i++) fork();
  });

  if (!signalled) {
    ready = true;
    const first = [...states.values()][0]!;
    for (const { plugin } of planned) {
      const line = first.listening.get(plugin.name)!;
      process.stdout.write(readyLine(plugin.name, line.host, line.port) + '\n');
      if (line.url !== undefined) process.stderr.write(`${plugin.name}: open ${line.url} in a browser\n`);
    }
    process.stderr.write(`portico: ${options.workers} workers (pids ${[...states.values()].map((s) => s.worker.process.pid).join(', ')})\n`);
  }

  let statsTimer: NodeJS.Timeout | null = null;
  if (options.statsIntervalMs > 0) {
    statsTimer = setInterval(() => {
      const servers: Record<string, Record<string, number>> = {};
      for (const state of states.values()) {
        for (const [name, stats] of Object.entries(state.stats)) sumStats((servers[name] ??= {}), stats);
      }
      const listening = [...states.values()].filter((s) => planned.every((p) => s.listening.has(p.plugin.name))).length;
      process.stdout.write(JSON.stringify({ event: 'stats', workers: states.size, listening, replaced, servers }) + '\n');
    }, options.statsIntervalMs);
  }

  await requested;
  await stopped;
  if (statsTimer !== null) clearInterval(statsTimer);
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  for (const { plugin } of planned) {
    const total = stoppedTotals.get(plugin.name) ?? { aborted: 0, stats: {} };
    process.stdout.write(JSON.stringify({ event: 'stopped', server: plugin.name, aborted: total.aborted, workers: options.workers, replaced, stats: total.stats }) + '\n');
  }
  process.exitCode = 0;
}
