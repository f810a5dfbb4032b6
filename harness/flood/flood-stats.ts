/**
 * The flood's counters and time series. Connections report into it; the flood reads progress and
 * the final result from it. Memory stays bounded: two fixed histograms and one sample per second.
 */
import type { FloodOptions, FloodProgress, FloodResult, Sample } from '../types.js';
import type { ConnectionOutcome } from './flood-connection.js';
import { LatencyHistogram } from './latency-histogram.js';

export class FloodStats {
  connectionsMade = 0;
  connectionsFailed = 0;
  connectionsReset = 0;
  connectionsBad = 0;
  connectionsOk = 0;
  connectionsAborted = 0;
  messagesSent = 0;
  messagesReceived = 0;
  bytesSent = 0;
  bytesReceived = 0;
  private errorCount = 0;
  private readonly errors: Record<string, number> = {};
  private readonly latency = new LatencyHistogram();
  /** Latencies of the current second only, for latencyOverTime. */
  private readonly latencyThisSecond = new LatencyHistogram();
  private okAtLastTick = 0;
  private readonly perSecond: Sample[] = [];
  private readonly latencyOverTime: { t: number; p50: number; p99: number }[] = [];

  recordReply(latencyMs: number): void {
    this.messagesReceived++;
    this.latency.record(latencyMs);
    this.latencyThisSecond.record(latencyMs);
  }

  recordError(code: string): void {
    this.errors[code] = (this.errors[code] ?? 0) + 1;
    this.errorCount++;
  }

  /** `abortCode` names why aborted connections stopped (CAPPED or ABORTED). */
  recordOutcome(outcome: ConnectionOutcome, abortCode: string): void {
    switch (outcome.kind) {
      case 'ok':
        this.connectionsOk++;
        return;
      case 'failed':
        this.connectionsFailed++;
        return this.recordError(outcome.code);
      case 'reset':
        this.connectionsReset++;
        return this.recordError(outcome.code);
      case 'bad':
        this.connectionsBad++;
        return this.recordError(outcome.code);
      case 'aborted':
        this.connectionsAborted++;
        return this.recordError(abortCode);
    }
  }

  get connectionsDone(): number {
    return this.connectionsOk + this.connectionsFailed + this.connectionsReset + this.connectionsBad + this.connectionsAborted;
  }

  /**
   * Closes the interval ending at `t` (ms since start): one connections/s sample, one latency point.
   * A `final` tail shorter than 250 ms is dropped unless it is the only interval: scaled up to a rate,
   * a few ms would read as a spike.
   */
  tick(t: number, intervalMs: number, final = false): void {
    if (intervalMs <= 0) return;
    if (final && intervalMs < 250 && this.perSecond.length > 0) return;
    const completed = this.connectionsOk - this.okAtLastTick;
    this.okAtLastTick = this.connectionsOk;
    this.perSecond.push({ t, value: (completed * 1000) / intervalMs });
    // Seconds without replies get no latency point: a gap says "nothing came back" better than a 0.
    if (this.latencyThisSecond.count > 0) {
      this.latencyOverTime.push({ t, p50: this.latencyThisSecond.percentile(0.5), p99: this.latencyThisSecond.percentile(0.99) });
      this.latencyThisSecond.reset();
    }
  }

  progress(elapsedMs: number, planned: number, open: number): FloodProgress {
    return { elapsedMs, connectionsDone: this.connectionsDone, connectionsPlanned: planned, open, messagesReceived: this.messagesReceived, errors: this.errorCount };
  }

  result(options: FloodOptions, durationMs: number, cappedByDuration: boolean): FloodResult {
    return {
      protocol: options.protocol,
      connectionsPlanned: options.connections,
      connectionsMade: this.connectionsMade,
      connectionsFailed: this.connectionsFailed,
      connectionsReset: this.connectionsReset,
      connectionsBad: this.connectionsBad,
      messagesSent: this.messagesSent,
      messagesReceived: this.messagesReceived,
      bytesSent: this.bytesSent,
      bytesReceived: this.bytesReceived,
      errors: { ...this.errors },
      latencyMs: this.latency.summary(),
      durationMs,
      cappedByDuration,
      connectionsPerSecond: [...this.perSecond],
      latencyOverTime: [...this.latencyOverTime],
    };
  }
}
