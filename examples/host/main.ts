#!/usr/bin/env node
import { fileURLToPath } from 'node:url';
import { failAndExit, runServers } from '../shared/server-main.js';
import { helpText, parseArgv, type FlagSpec } from '../shared/flags.js';
import { loadHostConfig } from './config.js';
import { builtinPlugins } from './plugins.js';

const defaultConfig = fileURLToPath(new URL('../../../examples/host/default-config.json', import.meta.url));

const flags: FlagSpec[] = [{ name: 'config', kind: 'string', description: 'JSON file naming the servers to run', default: defaultConfig }];

try {
  const { help, raw } = parseArgv(flags, process.argv.slice(2));
  if (help) {
    const known = [...builtinPlugins.values()].map((p) => `  ${p.name.padEnd(10)} ${p.summary}`).join('\n');
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
    const planned = loadHostConfig(String(raw['config'] ?? defaultConfig), builtinPlugins);
    await runServers(planned.map(({ plugin, options }) => ({ plugin, start: () => plugin.start(options) })));
  }
} catch (error) {
  failAndExit('portico', error);
}
