/** A complete FloodResult for report and verdict tests: a clean echo flood, with the fields a test cares about overridden. */
import type { FloodResult, LatencySummary } from '../../harness/types.js';

export function latencySummary(ms: number, count: number): LatencySummary {
  return { count, p50: ms, p90: ms, p99: ms, p999: ms, max: ms, mean: ms };
}

export function floodResult(over: Partial<FloodResult> = {}): FloodResult {
  const planned = over.connectionsPlanned === undefined ? 10 : over.connectionsPlanned;
  const made = over.connectionsMade ?? planned ?? 10;
  const messages = over.messagesReceived ?? made;
  const durationMs = over.durationMs ?? 100;
  return {
    protocol: 'echo',
    connectionsPlanned: planned,
    connectionsStarted: made,
    connectionsMade: made,
    connectionsFailed: 0,
    connectionsRefused: 0,
    connectionsReset: 0,
    connectionsBad: 0,
    connectionsCut: 0,
    connectionsEnded: 0,
    connectionsInError: 0,
    messagesSent: messages,
    messagesReceived: messages,
    bytesSent: messages * 64,
    bytesReceived: messages * 64,
    warmup: { ms: 0, messagesSent: 0, messagesReceived: 0, bytesSent: 0, bytesReceived: 0 },
    throughput: { measuredMs: durationMs, messagesPerSecond: (messages * 1000) / durationMs, bytesSentPerSecond: (messages * 64000) / durationMs, bytesReceivedPerSecond: (messages * 64000) / durationMs },
    errors: {},
    errorExamples: {},
    latencyMs: latencySummary(1, messages),
    serviceTimeMs: latencySummary(1, messages),
    latencyCorrected: false,
    durationMs,
    startMs: 0,
    cappedByDuration: false,
    stoppedEarly: null,
    settings: {
      protocol: 'echo',
      host: '127.0.0.1',
      port: 4000,
      connections: planned,
      concurrency: 5,
      messages: 1,
      size: 64,
      sendAfterReceive: true,
      connectRate: 0,
      durationCapMs: 120_000,
      connectionTimeoutMs: 10_000,
      durationMs: null,
      warmupMs: 0,
      rate: 0,
      workers: 1,
      earlyStopBudget: null,
    },
    connectionsPerSecond: [],
    messagesPerSecond: [],
    latencyOverTime: [],
    ...over,
  };
}
