import type { StartedServer } from '../shared/plugin.js';
import { runServers, type ServerAnnouncer } from '../shared/server-main.js';
import { startPlanned, type PlannedServer } from './config.js';
import { isPrimaryMessage, type WorkerMessage } from './cluster-messages.js';

const STATS_EVERY_MS = 1000;

function send(message: WorkerMessage, then?: () => void): void {
  if (process.send === undefined || !process.connected) {
    then?.();
    return;
  }
  process.send(message, undefined, {}, () => then?.());
}

/**
 * A cluster worker: runs the planned servers on the ports the primary shares with every worker, and
 * reports to the primary instead of stdout — when listening, counters every second, and its drain's
 * result. Stops on the primary's `stop` (or on its own SIGTERM/SIGINT), then leaves.
 */
export async function runWorker(planned: readonly PlannedServer[]): Promise<void> {
  // Servers start one after another in config order: the n-th 'listening' is config entry n.
  const indexOf = new Map<StartedServer, number>();
  const announcer: ServerAnnouncer = {
    listening(plugin, server) {
      const index = indexOf.size;
      indexOf.set(server, index);
      send({ kind: 'listening', index, server: plugin.name, host: server.host, port: server.port, ...(server.url !== undefined ? { url: server.url } : {}) });
    },
    stopped(plugin, aborted, server) {
      send({ kind: 'stopped', index: indexOf.get(server) ?? -1, server: plugin.name, aborted, stats: server.stats?.() ?? {} });
    },
  };
  // Listen for the primary's stop from the start: a stop sent while the servers are still starting is
  // carried out as soon as they are up, not lost.
  let stopWanted = false;
  let onStop: () => void = () => {
    stopWanted = true;
  };
  process.on('message', (message: unknown) => {
    if (isPrimaryMessage(message)) onStop();
  });
  const running = await runServers(
    planned.map((p) => ({ plugin: p.plugin, start: () => startPlanned(p) })),
    announcer,
  );
  const report = (): void => {
    send({ kind: 'stats', servers: running.servers.map(({ server }) => server.stats?.() ?? {}) });
  };
  // Once at once: the primary prints no stats line before every worker has reported.
  report();
  const timer = setInterval(report, STATS_EVERY_MS);
  timer.unref();
  let left = false;
  // Once, however many ways the stop came (Ctrl-C reaches the worker and the primary's stop follows).
  const leave = (): void => {
    if (left) return;
    left = true;
    clearInterval(timer);
    // The 'stopped' messages went before this one; once it is written, closing the channel lets the
    // process end on its own.
    send({ kind: 'stats', servers: [] }, () => {
      if (process.connected) process.disconnect();
    });
  };
  onStop = () => void running.stop().then(leave);
  if (stopWanted) onStop();
  // Stopped by its own signal (Ctrl-C reaches the whole process group): leave the same way.
  process.once('SIGTERM', () => void running.stop().then(leave));
  process.once('SIGINT', () => void running.stop().then(leave));
  // The primary died without a word: nobody will stop us, so stop.
  process.once('disconnect', () => void running.stop());
}
