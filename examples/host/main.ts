#!/usr/bin/env node
import cluster from 'node:cluster';
import { fileURLToPath } from 'node:url';
import { runPrimary } from './cluster-primary.js';
import { runWorker } from './cluster-worker.js';
import { failAndExit, runServers } from '../shared/server-main.js';
import { helpText, parseArgv, resolveFlags, type FlagSpec } from '../shared/flags.js';
import { loadHostConfig, startPlanned } from './config.js';
import { builtinPlugins } from './plugins.js';

const defaultConfig = fileURLToPath(new URL('../../../examples/host/default-config.json', import.meta.url));

const flags: FlagSpec[] = [
  { name: 'config', kind: 'string', description: 'JSON file naming the servers to run', default: defaultConfig },
  {
    name: 'workers',
    kind: 'integer',
    description: 'processes sharing the listening ports (node:cluster), each with its own dispatcher; a worker that dies is replaced',
    default: 1,
    min: 1,
    max: 64,
  },
  { name: 'stats-interval', kind: 'duration', description: "print each server's counters (with --workers: summed over the workers) as a JSON line this often; 0 = never", default: 0, min: 0 },
  { name: 'stop-grace', kind: 'duration', description: 'with --workers: after SIGTERM, kill workers still draining after this', default: '30s', min: 1 },
];

try {
  const { help, raw } = parseArgv(flags, process.argv.slice(2));
  if (help) {
    // A summary's later lines (the websocket routes, fd-front's wrapped text) start under its first
    // line's text, not at the server-name column where they would read as more servers.
    const summaryColumn = '\n' + ' '.repeat(13);
    const known = [...builtinPlugins.values()].map((p) => `  ${p.name.padEnd(10)} ${p.summary.split('\n').join(summaryColumn)}`).join('\n');
    process.stdout.write(
      helpText(
        'portico',
        'portico: the server host. Loads example servers as plugins from a JSON config and runs them in one process.',
        flags,
        `Config: {"servers": [{"server": "echo", "host": "127.0.0.1", "port": 7007, "options": {"max-connections": 1000}}]}\n` +
          `Each server prints {"event":"listening","server":...,"host":...,"port":...} on stdout when ready.\n` +
          `SIGTERM or SIGINT drains every server and exits 0.\n\nServers:\n${known}`,
      ),
    );
  } else {
    const options = resolveFlags(flags, raw);
    const planned = loadHostConfig(String(options['config']), builtinPlugins, flags.map((f) => f.name));
    const workers = options['workers'] as number;
    if (cluster.isWorker) await runWorker(planned);
    else if (workers > 1) {
      await runPrimary(planned, { workers, statsIntervalMs: options['stats-interval'] as number, stopGraceMs: options['stop-grace'] as number });
    } else {
      const running = await runServers(planned.map((p) => ({ plugin: p.plugin, start: () => startPlanned(p) })));
      const every = options['stats-interval'] as number;
      if (every > 0) {
        // One process: the same stats line as the cluster primary prints, from this process's servers.
        const timer = setInterval(() => {
          const servers = running.servers.map(({ plugin, server }) => ({ server: plugin.name, port: server.port, ...(server.stats?.() ?? {}) }));
          process.stdout.write(JSON.stringify({ event: 'stats', workers: 1, listening: 1, replaced: 0, servers }) + '\n');
        }, every);
        timer.unref(); // never what keeps the process alive once the servers are stopped
        const stopTimer = (): void => clearInterval(timer);
        process.once('SIGTERM', stopTimer);
        process.once('SIGINT', stopTimer);
      }
    }
  }
} catch (error) {
  failAndExit('portico', error);
}
