import { ErrorCodes, PorticoError } from '../../framework/index.js';
import { resolveFlags, type FlagValues } from '../shared/flags.js';
import { readJsonConfig } from '../shared/json-config.js';
import type { ServerPlugin } from '../shared/plugin.js';

/** One server in the host config: `{ "server": "echo", "host": "127.0.0.1", "port": 7007, "options": {…} }`. */
export interface HostServerEntry {
  server: string;
  host?: string;
  port?: number;
  options?: Record<string, unknown>;
}

export interface HostConfig {
  servers: HostServerEntry[];
}

export interface PlannedServer {
  plugin: ServerPlugin;
  options: FlagValues;
}

function configError(message: string): PorticoError {
  return new PorticoError(ErrorCodes.CONFIG, 'host', message);
}

/** Read and validate a host config file against the known plugins. */
export function loadHostConfig(path: string, plugins: ReadonlyMap<string, ServerPlugin>): PlannedServer[] {
  const parsed = readJsonConfig(path);
  return planServers(parsed, plugins, path);
}

export function planServers(parsed: unknown, plugins: ReadonlyMap<string, ServerPlugin>, where = 'config'): PlannedServer[] {
  if (typeof parsed !== 'object' || parsed === null || !Array.isArray((parsed as HostConfig).servers)) {
    throw configError(`${where}: expected {"servers": [ ... ]}`);
  }
  const entries = (parsed as HostConfig).servers;
  if (entries.length === 0) throw configError(`${where}: "servers" is empty`);
  return entries.map((entry, i) => {
    if (typeof entry !== 'object' || entry === null || typeof entry.server !== 'string') {
      throw configError(`${where}: servers[${i}] needs a "server" name`);
    }
    const plugin = plugins.get(entry.server);
    if (plugin === undefined) {
      throw configError(`${where}: servers[${i}]: unknown server "${entry.server}" (known: ${[...plugins.keys()].join(', ')})`);
    }
    const raw: Record<string, unknown> = { ...(entry.options ?? {}) };
    if (entry.host !== undefined) raw['host'] = entry.host;
    if (entry.port !== undefined) raw['port'] = entry.port;
    try {
      return { plugin, options: resolveFlags(plugin.flags, raw) };
    } catch (error) {
      throw configError(`${where}: servers[${i}] (${entry.server}): ${(error as Error).message}`);
    }
  });
}
