/**
 * The flood (after EchoServerTest): `connections` connections in total, at most `concurrency` open at
 * once, paced by `connectRate`, each sending `messages` requests and checking every reply. Always
 * ends by itself: each connection has a deadline and the whole flood has a duration cap.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FloodOptions, FloodProgress, FloodResult } from '../types.js';
import { createProtocolClient } from './create-protocol-client.js';
import { type ConnectionEvents, type RunningConnection, startConnection } from './flood-connection.js';
import { validateFloodOptions } from './flood-options.js';
import { FloodStats } from './flood-stats.js';
import { resolveLoopbackTarget } from './loopback-guard.js';

export interface FloodHooks {
  /** Live progress, at most every ~250 ms, and once at the end. */
  onProgress?: (p: FloodProgress) => void;
  /** Stops the flood early; the result so far is still returned (errors count them as ABORTED). */
  signal?: AbortSignal;
}

const PROGRESS_INTERVAL_MS = 250;
const SAMPLE_INTERVAL_MS = 1000;

/** Runs a flood against a loopback server; throws only for bad options, non-loopback hosts, or unknown protocols. */
export async function runFlood(options: FloodOptions, hooks: FloodHooks = {}): Promise<FloodResult> {
  validateFloodOptions(options);
  const host = await resolveLoopbackTarget(options.host);
  const client = createProtocolClient(options);

  const stats = new FloodStats();
  const started = performance.now();
  const elapsed = (): number => performance.now() - started;
  const running = new Set<RunningConnection>();
  const stop = new AbortController();
  let capped = false;

  const stopAll = (): void => {
    if (stop.signal.aborted) return;
    stop.abort();
    for (const connection of running) connection.abort();
  };
  const capTimer = setTimeout(() => {
    capped = true;
    stopAll();
  }, options.durationCapMs);
  const onExternalAbort = (): void => stopAll();
  if (hooks.signal?.aborted === true) stopAll();
  hooks.signal?.addEventListener('abort', onExternalAbort, { once: true });

  let lastTick = 0;
  const sampleTimer = setInterval(() => {
    const t = elapsed();
    stats.tick(t, t - lastTick);
    lastTick = t;
  }, SAMPLE_INTERVAL_MS);
  sampleTimer.unref();
  const report = (): void => hooks.onProgress?.(stats.progress(elapsed(), options.connections, running.size));
  const progressTimer = setInterval(report, PROGRESS_INTERVAL_MS);
  progressTimer.unref();

  const events: ConnectionEvents = {
    connected: () => void stats.connectionsMade++,
    sent: (bytes) => {
      stats.messagesSent++;
      stats.bytesSent += bytes;
    },
    received: (bytes) => void (stats.bytesReceived += bytes),
    reply: (latencyMs) => stats.recordReply(latencyMs),
    note: (code) => stats.recordError(code),
  };

  // Woken whenever a connection ends, so the loop below can fill the free slot.
  let wakeLauncher: (() => void) | null = null;
  const slotFreed = (): Promise<void> => new Promise((resolve) => (wakeLauncher = resolve));
  stop.signal.addEventListener('abort', () => wakeLauncher?.(), { once: true });

  const pacingMs = options.connectRate > 0 ? 1000 / options.connectRate : 0;
  let nextStartAt = 0;
  try {
    for (let index = 0; index < options.connections && !stop.signal.aborted; index++) {
      while (running.size >= options.concurrency && !stop.signal.aborted) await slotFreed();
      if (pacingMs > 0) {
        const wait = nextStartAt - elapsed();
        if (wait > 0) await sleep(wait, undefined, { signal: stop.signal }).catch(() => {});
        // From now, not from the schedule: a flood held back by concurrency must not burst to catch up.
        nextStartAt = Math.max(nextStartAt, elapsed()) + pacingMs;
      }
      if (stop.signal.aborted) break;

      const connection = startConnection(
        {
          host,
          port: options.port,
          session: client.openSession(index),
          messages: options.messages,
          sendAfterReceive: options.sendAfterReceive,
          timeoutMs: options.connectionTimeoutMs,
          now: () => performance.now(),
        },
        events,
      );
      running.add(connection);
      void connection.outcome.then((outcome) => {
        running.delete(connection);
        stats.recordOutcome(outcome, capped ? 'CAPPED' : 'ABORTED');
        const wake = wakeLauncher;
        wakeLauncher = null;
        wake?.();
      });
    }
    while (running.size > 0) await slotFreed();
  } finally {
    clearTimeout(capTimer);
    clearInterval(sampleTimer);
    clearInterval(progressTimer);
    hooks.signal?.removeEventListener('abort', onExternalAbort);
    stopAll();
  }

  const durationMs = elapsed();
  stats.tick(durationMs, durationMs - lastTick, true);
  report();
  return stats.result(options, durationMs, capped);
}
