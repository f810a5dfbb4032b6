import cluster, { type Worker } from 'node:cluster';
import { ErrorCodes, PorticoError } from '../../framework/index.js';
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

type Listening = Extract<WorkerMessage, { kind: 'listening' }>;

interface WorkerState {
  readonly worker: Worker;
  /** By config index. */
  readonly listening: Map<number, Listening>;
  /** Latest counters, by config index. */
  stats: readonly Readonly<Record<string, number>>[];
}

/** Replacements allowed in a row before the primary waits longer: a worker that dies at start must not spin. */
const RESTART_BACKOFF_MS = [100, 200, 500, 1000, 2000, 5000];
const RESTART_WINDOW_MS = 30_000;
const STOP: PrimaryMessage = { kind: 'stop' };

/**
 * The worker's IPC channel is closing or closed: it is exiting (a Ctrl-C reaches every process of the
 * group at once), and its 'exit' is what counts. Without a callback Node reports such a failed send as
 * an 'error' event on the Worker, which with no listener would take the primary down.
 */
function channelGone(error: NodeJS.ErrnoException): boolean {
  return error.code === 'EPIPE' || error.code === 'ERR_IPC_CHANNEL_CLOSED' || error.code === 'ECONNRESET';
}

function sendStop(worker: Worker): void {
  if (!worker.isConnected()) return;
  worker.send(STOP, (error: Error | null) => {
    if (error !== null && !channelGone(error as NodeJS.ErrnoException)) process.stderr.write(JSON.stringify({ event: 'worker-error', pid: worker.process.pid, error: error.message }) + '\n');
  });
}

/**
 * The cluster primary of `portico --workers N`: forks N workers that share the listening sockets (each
 * accepts for itself — SCHED_NONE, so no hand-off through the primary — with its own dispatcher and
 * timers), prints each server's ready line once every worker is listening, replaces a worker that dies,
 * sums their counters (a dead worker's last counters are kept, so sums never go back), and on
 * SIGTERM/SIGINT has every worker drain, then exits 0 — or 1, saying so, if a worker had to be killed at
 * the stop grace. Servers are told apart by their index in the config (it may name one kind twice).
 */
export async function runPrimary(planned: readonly PlannedServer[], options: PrimaryOptions): Promise<void> {
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  const states = new Map<number, WorkerState>();
  const stoppedTotals = planned.map(() => ({ aborted: 0, stats: {} as Record<string, number> }));
  /** Counters of workers that are gone, so the sums stay monotonic. */
  const retired = planned.map(() => ({}) as Record<string, number>);
  const allListening = (state: WorkerState): boolean => planned.every((_p, i) => state.listening.has(i));
  let stopping = false;
  let ready = false;
  let recentDeaths: number[] = [];
  let replaced = 0;
  let killedAtGrace = 0;

  const fork = (): WorkerState => {
    const worker = cluster.fork();
    const state: WorkerState = { worker, listening: new Map(), stats: [] };
    states.set(worker.id, state);
    worker.on('message', (message: unknown) => {
      if (!isWorkerMessage(message)) return;
      if (message.kind === 'listening') {
        state.listening.set(message.index, message);
        // Told to stop while it was starting (the message may have come before it listened for it).
        if (stopping) sendStop(worker);
      } else if (message.kind === 'stats') {
        if (message.servers.length > 0) state.stats = message.servers;
      } else {
        const total = stoppedTotals[message.index];
        if (total !== undefined) {
          total.aborted += message.aborted;
          sumStats(total.stats, message.stats);
        }
        state.stats = state.stats.map((s, i) => (i === message.index ? {} : s)); // counted in the stop totals now
      }
      onChange();
    });
    // A send can still fail after it was queued; the 'exit' below deals with the worker either way.
    worker.on('error', (error: NodeJS.ErrnoException) => {
      if (!channelGone(error)) process.stderr.write(JSON.stringify({ event: 'worker-error', pid: worker.process.pid, error: error.message }) + '\n');
    });
    worker.on('exit', (code, signal) => {
      states.delete(worker.id);
      state.stats.forEach((s, i) => sumStats(retired[i]!, s));
      if (stopping) {
        onChange();
        return;
      }
      if (!ready) {
        failStartup(worker, code);
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
  let failStartup: (worker: Worker, code: number | null) => void = () => {};

  const stopAll = (): Promise<void> => {
    stopping = true;
    for (const state of states.values()) {
      sendStop(state.worker);
      // Still starting: its servers stop once up (runServers keeps a signal that came during startup).
      if (!allListening(state)) state.worker.process.kill('SIGTERM');
    }
    return new Promise<void>((resolve) => {
      const killer = setTimeout(() => {
        for (const { worker } of states.values()) {
          killedAtGrace++;
          process.stderr.write(JSON.stringify({ event: 'worker-killed', pid: worker.process.pid, reason: `still draining ${options.stopGraceMs} ms after the stop (--stop-grace)` }) + '\n');
          worker.process.kill('SIGKILL');
        }
      }, options.stopGraceMs);
      onChange = () => {
        if (states.size > 0) return;
        clearTimeout(killer);
        resolve();
      };
      onChange();
    });
  };

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

  // Startup: every worker listening on every planned server.
  await new Promise<void>((resolve, reject) => {
    failStartup = (worker, code) => {
      stopping = true;
      for (const { worker: other } of states.values()) other.process.kill('SIGKILL');
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      // A worker that refused its configuration (exit 2) makes the whole command a usage error, as it
      // is without --workers; its own message is already on stderr.
      const error = new PorticoError(code === 2 ? ErrorCodes.CONFIG : ErrorCodes.LISTEN, 'host', `worker ${worker.process.pid} exited (code ${code}) before listening`);
      reject(error);
    };
    onChange = () => {
      if (signalled) {
        resolve();
        return;
      }
      const all = [...states.values()];
      if (all.length === options.workers && all.every(allListening)) resolve();
    };
    for (let i = 0; i < options.workers; i++) fork();
  });

  if (!signalled) {
    ready = true;
    const first = [...states.values()][0]!;
    planned.forEach(({ plugin }, i) => {
      const line = first.listening.get(i)!;
      process.stdout.write(readyLine(plugin.name, line.host, line.port) + '\n');
      if (line.url !== undefined) process.stderr.write(`${plugin.name}: open ${line.url} in a browser\n`);
    });
    process.stderr.write(`portico: ${options.workers} workers (pids ${[...states.values()].map((s) => s.worker.process.pid).join(', ')})\n`);
  }

  let statsTimer: NodeJS.Timeout | null = null;
  // Every stats line carries the counters: until each worker has reported once (each does as soon as
  // its servers are up), a sum would have none of them, so no line is printed.
  let everyWorkerReported = false;
  if (options.statsIntervalMs > 0) {
    statsTimer = setInterval(() => {
      if (!everyWorkerReported) {
        if (states.size === 0 || [...states.values()].some((s) => s.stats.length === 0)) return;
        everyWorkerReported = true;
      }
      const servers = planned.map(({ plugin }, i) => {
        const sum: Record<string, number> = {};
        sumStats(sum, retired[i]!);
        sumStats(sum, stoppedTotals[i]!.stats);
        for (const state of states.values()) sumStats(sum, state.stats[i] ?? {});
        return { server: plugin.name, port: [...states.values()][0]?.listening.get(i)?.port ?? null, ...sum };
      });
      const listening = [...states.values()].filter(allListening).length;
      process.stdout.write(JSON.stringify({ event: 'stats', workers: states.size, listening, replaced, servers }) + '\n');
    }, options.statsIntervalMs);
  }

  await requested;
  await stopped;
  if (statsTimer !== null) clearInterval(statsTimer);
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  planned.forEach(({ plugin }, i) => {
    const total = stoppedTotals[i]!;
    process.stdout.write(JSON.stringify({ event: 'stopped', server: plugin.name, aborted: total.aborted, workers: options.workers, replaced, killed: killedAtGrace, stats: total.stats }) + '\n');
  });
  process.exitCode = killedAtGrace > 0 ? 1 : 0;
}
