/**
 * The main thread's view of a flood: the latest counters of every shard (in this thread or a worker),
 * added up for the progress line, the early stop and the result, and the time series built from
 * them. Memory stays bounded: fixed histograms and one sample per second.
 */
import type { FloodProgress, FloodResult, FloodSettings, Sample } from '../types.js';
import { type FloodCounters, type StopReason, addCounters, connectionsDone, connectionsInError, connectionsRefused, emptyCounters } from './flood-counters.js';
import type { ShardFinal, ShardSnapshot } from './flood-shard.js';
import { LatencyHistogram } from './latency-histogram.js';

export class FloodStats {
  private readonly shards: FloodCounters[];
  private readonly open: number[];
  /** Latencies since the last tick, from every shard's interval snapshots. */
  private readonly latencyThisBucket = new LatencyHistogram();
  private readonly perSecond: Sample[] = [];
  private readonly repliesPerSecond: Sample[] = [];
  private readonly latencyOverTime: { t: number; p50: number; p99: number }[] = [];
  private okAtLastTick = 0;
  private repliesAtLastTick = 0;
  private repliesAtLastProgress = 0;
  private lastProgressAt = 0;

  constructor(shardCount: number) {
    this.shards = Array.from({ length: shardCount }, emptyCounters);
    this.open = new Array<number>(shardCount).fill(0);
  }

  /** A shard's latest snapshot: its counters replace the previous ones, its latencies add up. */
  update(shard: number, snapshot: ShardSnapshot): void {
    this.shards[shard] = snapshot.counters;
    this.open[shard] = snapshot.open;
    this.latencyThisBucket.merge(snapshot.interval);
  }

  get total(): FloodCounters {
    return addCounters(this.shards);
  }

  /**
   * Closes the interval ending at `t` (ms since the time origin), `intervalMs` long: one
   * connections/s and replies/s sample, one latency point. A `final` tail shorter than 40 % of the
   * bucket width is dropped unless it is the only interval: scaled up to a rate, a few ms would read
   * as a spike.
   */
  tick(t: number, intervalMs: number, bucketMs: number, final = false): void {
    if (intervalMs <= 0) return;
    if (final && intervalMs < 0.4 * bucketMs && this.perSecond.length > 0) return;
    const total = this.total;
    const replies = total.messagesReceived + total.warmupMessagesReceived;
    this.perSecond.push({ t, value: ((total.connectionsOk - this.okAtLastTick) * 1000) / intervalMs });
    this.repliesPerSecond.push({ t, value: ((replies - this.repliesAtLastTick) * 1000) / intervalMs });
    this.okAtLastTick = total.connectionsOk;
    this.repliesAtLastTick = replies;
    // Seconds without replies get no latency point: a gap says "nothing came back" better than a 0.
    if (this.latencyThisBucket.count > 0) {
      this.latencyOverTime.push({ t, p50: this.latencyThisBucket.percentile(0.5), p99: this.latencyThisBucket.percentile(0.99) });
      this.latencyThisBucket.reset();
    }
  }

  progress(elapsedMs: number, planned: number | null, warmupMs: number): FloodProgress {
    const c = this.total;
    const replies = c.messagesReceived + c.warmupMessagesReceived;
    const span = elapsedMs - this.lastProgressAt;
    const rate = span > 0 ? ((replies - this.repliesAtLastProgress) * 1000) / span : 0;
    this.repliesAtLastProgress = replies;
    this.lastProgressAt = elapsedMs;
    return {
      elapsedMs,
      connectionsStarted: c.connectionsStarted,
      connectionsDone: connectionsDone(c),
      connectionsPlanned: planned,
      open: this.open.reduce((a, b) => a + b, 0),
      messagesReceived: c.messagesReceived,
      messagesPerSecond: rate,
      errors: connectionsInError(c),
      refused: connectionsRefused(c),
      warmingUp: elapsedMs < warmupMs,
    };
  }

  /**
   * The flood's result from every shard's final counters and histograms (given to `update` first).
   * `measuredEndMs`: when the flood was stopped, or its end; throughput is counted up to there.
   */
  result(
    settings: FloodSettings,
    finals: readonly ShardFinal[],
    times: { readonly durationMs: number; readonly measuredEndMs: number; readonly startMs: number },
    stop: StopReason | null,
    stoppedEarly: string | null,
  ): FloodResult {
    const { durationMs } = times;
    const c = this.total;
    const latency = new LatencyHistogram();
    const serviceTime = new LatencyHistogram();
    for (const f of finals) {
      latency.merge(f.latency);
      serviceTime.merge(f.serviceTime);
    }
    const measuredMs = Math.max(0, times.measuredEndMs - settings.warmupMs);
    const perSecond = (n: number): number => (measuredMs > 0 ? (n * 1000) / measuredMs : 0);
    return {
      protocol: settings.protocol,
      connectionsPlanned: settings.connections,
      connectionsStarted: c.connectionsStarted,
      connectionsMade: c.connectionsMade,
      connectionsFailed: c.connectionsFailed,
      connectionsRefused: connectionsRefused(c),
      connectionsReset: c.connectionsReset,
      connectionsBad: c.connectionsBad,
      connectionsCut: c.connectionsCut,
      connectionsEnded: c.connectionsEnded,
      connectionsInError: connectionsInError(c),
      messagesSent: c.messagesSent,
      messagesReceived: c.messagesReceived,
      bytesSent: c.bytesSent,
      bytesReceived: c.bytesReceived,
      warmup: {
        ms: settings.warmupMs,
        messagesSent: c.warmupMessagesSent,
        messagesReceived: c.warmupMessagesReceived,
        bytesSent: c.warmupBytesSent,
        bytesReceived: c.warmupBytesReceived,
      },
      throughput: {
        measuredMs,
        messagesPerSecond: perSecond(c.messagesReceived),
        bytesSentPerSecond: perSecond(c.bytesSent),
        bytesReceivedPerSecond: perSecond(c.bytesReceived),
      },
      errors: { ...c.errors },
      errorExamples: { ...c.errorExamples },
      latencyMs: latency.summary(),
      serviceTimeMs: serviceTime.summary(),
      latencyCorrected: settings.rate > 0,
      durationMs,
      startMs: times.startMs,
      cappedByDuration: stop === 'capped',
      stoppedEarly,
      settings,
      connectionsPerSecond: [...this.perSecond],
      messagesPerSecond: [...this.repliesPerSecond],
      latencyOverTime: [...this.latencyOverTime],
    };
  }
}
