/**
 * The flood's counters as plain data: what a shard (in this thread or a worker) counts, what it
 * posts to the main thread, and what the main thread adds up. The definitions of "connection",
 * "in error" and "refused" live here once (see FloodResult), so the progress line, the flood check
 * and the report cannot disagree.
 */
import type { ConnectionOutcome } from './flood-connection.js';

/** Why the flood stopped its connections; decides how the connections still open are counted. */
export type StopReason =
  /** The planned end of a --duration run: open connections are ended, not in error. */
  | 'duration'
  /** The error budget is blown: the verdict is FAIL already, the open ones are ended, not counted again. */
  | 'budget'
  /** The duration cap: open connections are cut off (CAPPED). */
  | 'capped'
  /** Interrupted (ctrl-c, server gone): open connections are cut off (ABORTED). */
  | 'aborted';

export interface FloodCounters {
  connectionsStarted: number;
  connectionsMade: number;
  connectionsOk: number;
  connectionsFailed: number;
  connectionsReset: number;
  connectionsBad: number;
  connectionsCut: number;
  connectionsEnded: number;
  messagesSent: number;
  messagesReceived: number;
  bytesSent: number;
  bytesReceived: number;
  warmupMessagesSent: number;
  warmupMessagesReceived: number;
  warmupBytesSent: number;
  warmupBytesReceived: number;
  /** Error code → count; notes (CLOSE_TIMEOUT, PERSISTENCE_REFUSED) too, which do not make a connection in error. */
  errors: Record<string, number>;
  /** Error code → the detail of its first bad connection (what did arrive), so a count has a face. */
  errorExamples: Record<string, string>;
}

export function emptyCounters(): FloodCounters {
  return {
    connectionsStarted: 0,
    connectionsMade: 0,
    connectionsOk: 0,
    connectionsFailed: 0,
    connectionsReset: 0,
    connectionsBad: 0,
    connectionsCut: 0,
    connectionsEnded: 0,
    messagesSent: 0,
    messagesReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    warmupMessagesSent: 0,
    warmupMessagesReceived: 0,
    warmupBytesSent: 0,
    warmupBytesReceived: 0,
    errors: {},
    errorExamples: {},
  };
}

/** The sum of several shards' counters. */
export function addCounters(parts: Iterable<FloodCounters>): FloodCounters {
  const sum = emptyCounters();
  for (const part of parts) {
    for (const key of Object.keys(sum) as (keyof FloodCounters)[]) {
      if (key !== 'errors' && key !== 'errorExamples') sum[key] += part[key];
    }
    for (const [code, n] of Object.entries(part.errors)) sum.errors[code] = (sum.errors[code] ?? 0) + n;
    for (const [code, detail] of Object.entries(part.errorExamples)) sum.errorExamples[code] ??= detail;
  }
  return sum;
}

export function countError(c: FloodCounters, code: string): void {
  c.errors[code] = (c.errors[code] ?? 0) + 1;
}

/** Counts how a connection ended. `stop` is why the flood stopped it, when it did. */
export function countOutcome(c: FloodCounters, outcome: ConnectionOutcome, stop: StopReason | null): void {
  switch (outcome.kind) {
    case 'ok':
      c.connectionsOk++;
      return;
    case 'failed':
      c.connectionsFailed++;
      return countError(c, outcome.code);
    case 'reset':
      c.connectionsReset++;
      return countError(c, outcome.code);
    case 'bad':
      c.connectionsBad++;
      c.errorExamples[outcome.code] ??= outcome.detail;
      return countError(c, outcome.code);
    case 'aborted':
      if (stop === 'duration' || stop === 'budget') {
        c.connectionsEnded++;
        return;
      }
      c.connectionsCut++;
      return countError(c, stop === 'capped' ? 'CAPPED' : 'ABORTED');
  }
}

/** Connections that ended one way or another. */
export const connectionsDone = (c: FloodCounters): number =>
  c.connectionsOk + c.connectionsFailed + c.connectionsReset + c.connectionsBad + c.connectionsCut + c.connectionsEnded;

/** Failed + reset + bad + cut off: what the error budget counts. */
export const connectionsInError = (c: FloodCounters): number => c.connectionsFailed + c.connectionsReset + c.connectionsBad + c.connectionsCut;

/** Failed connects that were refused (ECONNREFUSED). */
export const connectionsRefused = (c: FloodCounters): number => c.errors['ECONNREFUSED'] ?? 0;

/**
 * Whether connections in error already exceed the budget for certain. With a planned number of
 * connections that is `inError > floor(budget × planned)`: no later success can undo it. Without one
 * (a --duration run) the budget is a fraction of the connections started, which later ones can still
 * dilute, so it counts as blown only past twice the budget over at least 100 started connections.
 */
export function budgetBlown(c: FloodCounters, budget: number, planned: number | null): boolean {
  const inError = connectionsInError(c);
  if (planned !== null) return inError > Math.floor(budget * planned);
  return c.connectionsStarted >= 100 && inError > Math.max(2 * budget * c.connectionsStarted, 10);
}
