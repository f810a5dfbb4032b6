/**
 * One share of a flood: a few connection slots, each starting its connections one after another,
 * paced by an absolute connect schedule and (under --rate) a constant-rate message schedule. A shard
 * runs in the main thread (--workers 1) or in a worker thread (flood-worker.ts); either way it only
 * counts, and the main thread (flood.ts) decides when the flood stops and adds the shards up.
 *
 * Times are absolute ms (performance.timeOrigin + performance.now()), so shards in different threads
 * share one schedule: shard w of W takes connect tickets w, w + W, w + 2W, … and its slots take their
 * phase from their global slot number.
 */
import { performance } from 'node:perf_hooks';
import type { FloodSettings } from '../types.js';
import { createProtocolClient } from './create-protocol-client.js';
import { type ConnectionEvents, type RunningConnection, startConnection } from './flood-connection.js';
import { type FloodCounters, type StopReason, connectionsInError, countError, countOutcome, emptyCounters } from './flood-counters.js';
import { type HistogramSnapshot, LatencyHistogram } from './latency-histogram.js';
import { type TimerAt, setTimerAt } from './timer-at.js';

/** Wall-clock ms with sub-ms resolution, comparable across worker threads. */
export const absoluteNow = (): number => performance.timeOrigin + performance.now();

/** What one shard runs: plain data, so it can go to a worker as workerData. */
export interface ShardPlan {
  /** The flood's settings; host already resolved to a loopback address. */
  readonly settings: FloodSettings;
  readonly shardIndex: number;
  readonly shards: number;
  /** This shard's connection slots (connections open at once) and the first one's global number. */
  readonly slots: number;
  readonly firstSlot: number;
  /** Slots over all shards. */
  readonly totalSlots: number;
  /** This shard's share of the connections; null = no limit. */
  readonly connections: number | null;
}

/** Counters so far plus the latencies recorded since the previous snapshot. */
export interface ShardSnapshot {
  readonly counters: FloodCounters;
  readonly interval: HistogramSnapshot;
  readonly open: number;
}

export interface ShardFinal extends ShardSnapshot {
  readonly latency: HistogramSnapshot;
  readonly serviceTime: HistogramSnapshot;
}

/** Tickets on an absolute schedule; after a hold-up (no free slot) it restarts from now instead of bursting to catch up. */
class Schedule {
  private next: number;

  constructor(
    start: number,
    private readonly intervalMs: number,
  ) {
    this.next = start;
  }

  take(now: number): number {
    let at = this.next;
    if (now > at + this.intervalMs) at = now;
    this.next = at + this.intervalMs;
    return at;
  }
}

/**
 * Sleeps until absolute time `at` (or the stop), never waking before it (timer-at.ts). Lateness of
 * one wake-up never shifts the schedule.
 */
function sleepUntil(at: number, stopped: Promise<void>): Promise<void> {
  if (at <= absoluteNow()) return Promise.resolve();
  let timer: TimerAt | undefined;
  return Promise.race([new Promise<void>((resolve) => (timer = setTimerAt(at, absoluteNow, resolve))), stopped]).finally(() => timer?.cancel());
}

export class FloodShard {
  readonly counters = emptyCounters();
  private readonly latency = new LatencyHistogram();
  private readonly serviceTime = new LatencyHistogram();
  private readonly interval = new LatencyHistogram();
  private readonly running = new Set<RunningConnection>();
  private stopReason: StopReason | null = null;
  private wakeStopped: () => void = () => {};
  private readonly stopped = new Promise<void>((resolve) => (this.wakeStopped = resolve));
  private reserved = 0;
  private warmupEndsAt = 0;

  /**
   * Called after a connection ends in error, when the run has an error budget: whoever owns the shard
   * checks the budget at once rather than at its next poll (a flood of resets starts thousands of
   * connections in a quarter second).
   */
  onError: (() => void) | null = null;

  constructor(private readonly plan: ShardPlan) {}

  /** Runs every slot from absolute time `startAt` until its connections are done or the shard is stopped. */
  async run(startAt: number): Promise<void> {
    const { settings, shardIndex, shards } = this.plan;
    const client = createProtocolClient(settings);
    this.warmupEndsAt = startAt + settings.warmupMs;
    const connectPacer = settings.connectRate > 0 ? new Schedule(startAt + (shardIndex * 1000) / settings.connectRate, (shards * 1000) / settings.connectRate) : null;
    const perReply = settings.rate > 0 || settings.messages === null;
    const events = this.events();
    let started = 0;

    const slot = async (globalSlot: number): Promise<void> => {
      const messages =
        settings.rate > 0 ? new Schedule(startAt + (globalSlot * 1000) / settings.rate, (this.plan.totalSlots * 1000) / settings.rate) : null;
      for (;;) {
        if (this.stopReason !== null) return;
        if (this.plan.connections !== null && this.reserved >= this.plan.connections) return;
        this.reserved++;
        if (connectPacer !== null) await sleepUntil(connectPacer.take(absoluteNow()), this.stopped);
        if (this.stopReason !== null) return;
        const index = shardIndex + started++ * shards;
        const connection = startConnection(
          {
            host: settings.host,
            port: settings.port,
            session: client.openSession(index),
            messages: settings.messages,
            sendAfterReceive: settings.sendAfterReceive,
            timeoutMs: settings.connectionTimeoutMs,
            perReply,
            ...(messages !== null ? { nextDue: () => messages.take(-Infinity) } : {}),
            now: absoluteNow,
          },
          events,
        );
        this.counters.connectionsStarted++;
        this.running.add(connection);
        const outcome = await connection.outcome;
        this.running.delete(connection);
        const errorsBefore = connectionsInError(this.counters);
        countOutcome(this.counters, outcome, this.stopReason);
        if (this.onError !== null && connectionsInError(this.counters) > errorsBefore) this.onError();
      }
    };
    // Every shard starts together, so the schedules line up and nothing counts before the start.
    await sleepUntil(startAt, this.stopped);
    await Promise.all(Array.from({ length: this.plan.slots }, (_, i) => slot(this.plan.firstSlot + i)));
  }

  /** Stops starting connections and aborts the open ones; the first reason given is the one counted. */
  stop(reason: StopReason): void {
    if (this.stopReason !== null) return;
    this.stopReason = reason;
    this.wakeStopped();
    for (const connection of this.running) connection.abort();
  }

  /** Counters so far; the interval histogram starts over. */
  snapshot(): ShardSnapshot {
    const interval = this.interval.snapshot();
    this.interval.reset();
    return { counters: structuredClone(this.counters), interval, open: this.running.size };
  }

  final(): ShardFinal {
    return { ...this.snapshot(), latency: this.latency.snapshot(), serviceTime: this.serviceTime.snapshot() };
  }

  private events(): ConnectionEvents {
    const c = this.counters;
    return {
      connected: () => void c.connectionsMade++,
      sent: (bytes, at) => {
        if (at < this.warmupEndsAt) {
          c.warmupMessagesSent++;
          c.warmupBytesSent += bytes;
        } else {
          c.messagesSent++;
          c.bytesSent += bytes;
        }
      },
      received: (bytes, at) => {
        if (at < this.warmupEndsAt) c.warmupBytesReceived += bytes;
        else c.bytesReceived += bytes;
      },
      reply: (latencyMs, serviceMs, at) => {
        if (at < this.warmupEndsAt) {
          c.warmupMessagesReceived++;
          return;
        }
        c.messagesReceived++;
        this.latency.record(latencyMs);
        this.serviceTime.record(serviceMs);
        this.interval.record(latencyMs);
      },
      note: (code) => countError(c, code),
    };
  }
}
