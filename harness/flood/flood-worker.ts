/**
 * A flood worker thread: runs one FloodShard and talks to the main thread (flood.ts) by messages —
 * `ready` once loaded, then after `go` a snapshot about 4× a second and the final counters and
 * histograms when the shard is done. `stop` from the main thread ends it early.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { StopReason } from './flood-counters.js';
import { FloodShard, type ShardFinal, type ShardPlan, type ShardSnapshot } from './flood-shard.js';

/** Main thread → worker. */
export type ToWorker = { readonly type: 'go'; readonly startAt: number } | { readonly type: 'stop'; readonly reason: StopReason };

/** Worker → main thread. */
export type FromWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'snapshot'; readonly snapshot: ShardSnapshot }
  | { readonly type: 'final'; readonly final: ShardFinal }
  | { readonly type: 'error'; readonly message: string };

export const SNAPSHOT_INTERVAL_MS = 250;

const port = parentPort;
if (port === null) throw new Error('flood-worker.js runs as a worker thread (see harness/flood/flood.ts)');
const post = (message: FromWorker): void => port.postMessage(message);
const shard = new FloodShard(workerData as ShardPlan);

port.on('message', (message: ToWorker) => {
  if (message.type === 'stop') {
    shard.stop(message.reason);
    return;
  }
  const timer = setInterval(() => post({ type: 'snapshot', snapshot: shard.snapshot() }), SNAPSHOT_INTERVAL_MS);
  // With an error budget, each error is reported at once so the main thread can stop the run in time.
  if ((workerData as ShardPlan).settings.earlyStopBudget !== null) shard.onError = () => post({ type: 'snapshot', snapshot: shard.snapshot() });
  shard
    .run(message.startAt)
    .then(
      () => post({ type: 'final', final: shard.final() }),
      (error: unknown) => post({ type: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
    )
    .finally(() => {
      clearInterval(timer);
      port.close();
    });
});
post({ type: 'ready' });
