/**
 * The flood (after EchoServerTest, with wrk2's knobs): `connections` connections in total, at most
 * `concurrency` open at once, paced by `connectRate`, each sending `messages` requests (on a
 * constant-rate schedule under `rate`) and checking every reply; or, with `durationMs`, connections
 * renewed until the planned end. The connections run in shards — one in this thread, or one per
 * worker thread with `workers` — and this thread adds their counters and histograms up, decides when
 * the flood stops (planned end, duration cap, early stop on a blown error budget, abort) and reports
 * progress. Always ends by itself: each connection has a deadline and the whole flood a cap.
 */
import { Worker } from 'node:worker_threads';
import type { FloodOptions, FloodProgress, FloodResult, FloodSettings } from '../types.js';
import { createProtocolClient } from './create-protocol-client.js';
import { type StopReason, budgetBlown, connectionsInError } from './flood-counters.js';
import { resolveFloodSettings } from './flood-options.js';
import { FloodShard, type ShardFinal, type ShardPlan, type ShardSnapshot, absoluteNow } from './flood-shard.js';
import { FloodStats } from './flood-stats.js';
import type { FromWorker, ToWorker } from './flood-worker.js';
import { resolveLoopbackTarget } from './loopback-guard.js';
import { setTimerAt } from './timer-at.js';

export interface FloodHooks {
  /** Live progress, at most every ~250 ms, and once at the end. */
  onProgress?: (p: FloodProgress) => void;
  /** Stops the flood early; the result so far is still returned (errors count them as ABORTED). */
  signal?: AbortSignal;
  /**
   * The time origin of the result's time series, in absolute ms (performance.timeOrigin +
   * performance.now()): a harness run passes the server's start, so the flood's charts line up with
   * the RSS and TIME_WAIT ones. Default: the flood's own start.
   */
  timeOrigin?: number;
}

const PROGRESS_INTERVAL_MS = 250;

/**
 * The width of the flood's time-series buckets at `elapsedMs` into it. A run of known length gets
 * one width, about 1/20 of it (100 ms to 1 s), so even a 1 s run draws a line, not a dot; a run of
 * a fixed number of connections, whose length is unknown, gets 100 ms buckets for its first 3 s,
 * 250 ms up to 15 s, then 1 s. Each point is a rate per second, so mixed widths plot on one scale.
 */
export function sampleIntervalMs(plannedMs: number | null, elapsedMs: number): number {
  if (plannedMs !== null) return Math.min(1000, Math.max(100, niceStep(plannedMs / 20)));
  return elapsedMs < 3000 ? 100 : elapsedMs < 15_000 ? 250 : 1000;
}

/** The smallest of 100, 250, 500, 1000 ms that is >= ms. */
function niceStep(ms: number): number {
  return [100, 250, 500].find((step) => step >= ms) ?? 1000;
}
/** Lead time between "every worker is loaded" and the shared start, so no shard starts behind its schedule. */
const WORKER_START_LEAD_MS = 20;

/** A shard as the coordinator drives it, wherever it runs. */
interface ShardHandle {
  /** Runs it from `startAt`; snapshots go to `onSnapshot`; resolves with its final counters. */
  start(startAt: number, onSnapshot: (s: ShardSnapshot) => void): Promise<ShardFinal>;
  stop(reason: StopReason): void;
  /** Pulls a snapshot now (in-thread shards; workers push theirs). */
  poll(): ShardSnapshot | null;
  close(): Promise<void>;
}

function inThreadShard(plan: ShardPlan): ShardHandle {
  const shard = new FloodShard(plan);
  return {
    start: async (startAt, onSnapshot) => {
      if (plan.settings.earlyStopBudget !== null) shard.onError = () => onSnapshot(shard.snapshot());
      await shard.run(startAt);
      return shard.final();
    },
    stop: (reason) => shard.stop(reason),
    poll: () => shard.snapshot(),
    close: async () => {},
  };
}

async function workerShard(plan: ShardPlan): Promise<ShardHandle> {
  const worker = new Worker(new URL('./flood-worker.js', import.meta.url), { workerData: plan });
  let exited = false;
  const exit = new Promise<number>((resolve) => worker.once('exit', (code) => ((exited = true), resolve(code))));
  const failure = (what: string): Promise<never> =>
    new Promise<never>((_, reject) => {
      worker.once('error', (error) => reject(new Error(`flood worker ${plan.shardIndex}: ${error.message}`)));
      void exit.then((code) => reject(new Error(`flood worker ${plan.shardIndex} exited (code ${code}) ${what}`)));
    });
  await Promise.race([new Promise<void>((resolve) => worker.once('message', (m: FromWorker) => m.type === 'ready' && resolve())), failure('before it was ready')]);
  const send = (message: ToWorker): void => {
    if (!exited) worker.postMessage(message);
  };
  return {
    start: (startAt, onSnapshot) => {
      const done = new Promise<ShardFinal>((resolve, reject) => {
        worker.on('message', (m: FromWorker) => {
          if (m.type === 'snapshot') onSnapshot(m.snapshot);
          else if (m.type === 'final') resolve(m.final);
          else if (m.type === 'error') reject(new Error(`flood worker ${plan.shardIndex}: ${m.message}`));
        });
      });
      send({ type: 'go', startAt });
      return Promise.race([done, failure('before its final counts')]);
    },
    stop: (reason) => send({ type: 'stop', reason }),
    poll: () => null,
    close: async () => {
      if (!exited) await worker.terminate();
    },
  };
}

/** `total` split into `parts` whole shares, the first ones one larger. */
function shares(total: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0));
}

/** One plan per shard: slots and connections split evenly. */
export function planShards(settings: FloodSettings): ShardPlan[] {
  const totalSlots = settings.connections === null ? settings.concurrency : Math.min(settings.concurrency, settings.connections);
  const count = Math.max(1, Math.min(settings.workers, totalSlots));
  const slots = shares(totalSlots, count);
  const connections = settings.connections === null ? null : shares(settings.connections, count);
  let firstSlot = 0;
  return slots.map((n, i) => {
    const plan: ShardPlan = { settings, shardIndex: i, shards: count, slots: n, firstSlot, totalSlots, connections: connections === null ? null : connections[i]! };
    firstSlot += n;
    return plan;
  });
}

/** Runs a flood against a loopback server; throws only for bad options, non-loopback hosts, unknown protocols or a broken worker. */
export async function runFlood(options: FloodOptions, hooks: FloodHooks = {}): Promise<FloodResult> {
  const resolved = resolveFloodSettings(options);
  const settings: FloodSettings = { ...resolved, host: await resolveLoopbackTarget(options.host) };
  createProtocolClient(settings); // bad protocol options fail here, before any thread or socket
  const plans = planShards(settings);
  const handles = settings.workers > 1 ? await Promise.all(plans.map(workerShard)) : plans.map(inThreadShard);

  const startAt = absoluteNow() + (settings.workers > 1 ? WORKER_START_LEAD_MS : 0);
  const elapsed = (): number => absoluteNow() - startAt;
  const stats = new FloodStats(handles.length);
  let stopReason: StopReason | null = null;
  let stoppedEarly: string | null = null;
  /** When the flood was stopped (ms since start): the measured window ends there, not after the shards wind down. */
  let stoppedAtMs: number | null = null;
  const stopAll = (reason: StopReason): void => {
    if (stopReason !== null) return;
    stopReason = reason;
    stoppedAtMs = elapsed();
    for (const handle of handles) handle.stop(reason);
  };
  const onSnapshot = (shard: number, snapshot: ShardSnapshot): void => {
    stats.update(shard, snapshot);
    const budget = settings.earlyStopBudget;
    if (budget !== null && stopReason === null && budgetBlown(stats.total, budget, settings.connections)) {
      const total = stats.total;
      stoppedEarly = `error budget blown: ${connectionsInError(total)} of ${total.connectionsStarted} connections started in error (budget ${budget})`;
      stopAll('budget');
    }
  };

  const capTimer = setTimeout(() => stopAll('capped'), settings.durationCapMs);
  // The planned end on the flood's clock, not before it: a plain setTimeout can end the run early (timer-at.ts).
  const endTimer = settings.durationMs === null ? null : setTimerAt(startAt + settings.warmupMs + settings.durationMs, absoluteNow, () => stopAll('duration'));
  const onExternalAbort = (): void => stopAll('aborted');
  if (hooks.signal?.aborted === true) stopAll('aborted');
  hooks.signal?.addEventListener('abort', onExternalAbort, { once: true });

  const pollAll = (): void => handles.forEach((h, i) => {
    const snapshot = h.poll();
    if (snapshot !== null) onSnapshot(i, snapshot);
  });
  // Samples are stamped on the caller's time origin; buckets are measured on the flood's own clock.
  const originOffset = hooks.timeOrigin === undefined ? 0 : startAt - hooks.timeOrigin;
  const plannedMs = settings.durationMs === null ? null : settings.warmupMs + settings.durationMs;
  let lastTick = 0;
  let interval = sampleIntervalMs(plannedMs, 0);
  let sampleTimer: NodeJS.Timeout | undefined;
  const sampleNext = (): void => {
    // Due at the bucket's end on the flood's clock, so timer lateness does not stretch the buckets.
    sampleTimer = setTimeout(() => {
      pollAll();
      const t = elapsed();
      stats.tick(originOffset + t, t - lastTick, interval);
      lastTick = t;
      interval = sampleIntervalMs(plannedMs, t);
      sampleNext();
    }, Math.max(0, lastTick + interval - elapsed()));
  };
  sampleNext();
  const report = (): void => hooks.onProgress?.(stats.progress(elapsed(), settings.connections, settings.warmupMs));
  const progressTimer = setInterval(() => {
    pollAll();
    report();
  }, PROGRESS_INTERVAL_MS);

  let finals: ShardFinal[];
  try {
    finals = await Promise.all(handles.map((h, i) => h.start(startAt, (s) => onSnapshot(i, s))));
  } catch (error) {
    stopAll('aborted');
    throw error;
  } finally {
    clearTimeout(capTimer);
    endTimer?.cancel();
    clearTimeout(sampleTimer);
    clearInterval(progressTimer);
    hooks.signal?.removeEventListener('abort', onExternalAbort);
    await Promise.all(handles.map((h) => h.close()));
  }

  const durationMs = elapsed();
  finals.forEach((f, i) => stats.update(i, f));
  stats.tick(originOffset + durationMs, durationMs - lastTick, interval, true);
  report();
  return stats.result(settings, finals, { durationMs, measuredEndMs: Math.min(durationMs, stoppedAtMs ?? durationMs), startMs: originOffset }, stopReason, stoppedEarly);
}
