import { ErrorCodes, PorticoError } from '../../framework/index.js';
import { resolveFlags, type FlagValues } from '../shared/flags.js';
import { readJsonConfig } from '../shared/json-config.js';
import type { ServerPlugin, StartedServer } from '../shared/plugin.js';
import { refuseUnknownKeys } from '../shared/config-keys.js';
import { closestName } from '../shared/spelling.js';

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
  /** Where its errors point: `<config file>: servers[1] (proxy)`. */
  where: string;
}

function configError(message: string): PorticoError {
  return new PorticoError(ErrorCodes.CONFIG, 'host', message);
}

const topLevelKeys = ['servers'] as const;
const entryKeys = ['server', 'host', 'port', 'options'] as const;

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Read and validate a host config file against the known plugins; `hostFlags` are the host's own flag names (a config key may be one of them by mistake). */
export function loadHostConfig(path: string, plugins: ReadonlyMap<string, ServerPlugin>, hostFlags: readonly string[] = []): PlannedServer[] {
  const parsed = readJsonConfig(path);
  return planServers(parsed, plugins, path, hostFlags);
}

export function planServers(parsed: unknown, plugins: ReadonlyMap<string, ServerPlugin>, where = 'config', hostFlags: readonly string[] = []): PlannedServer[] {
  if (!isObject(parsed)) throw configError(`${where}: expected {"servers": [ ... ]}`);
  refuseUnknownKeys(parsed, topLevelKeys, where, (key) => {
    const flag = closestName(key, hostFlags);
    return flag === null ? null : `--${flag} is a command-line flag of portico, not a config key`;
  });
  if (!Array.isArray(parsed['servers'])) throw configError(`${where}: expected {"servers": [ ... ]}`);
  const entries = parsed['servers'] as unknown[];
  if (entries.length === 0) throw configError(`${where}: "servers" is empty`);
  return entries.map((item, i) => {
    if (!isObject(item)) throw configError(`${where}: servers[${i}] needs a "server" name`);
    const named = typeof item['server'] === 'string' ? ` (${item['server']})` : '';
    const knownPlugin = typeof item['server'] === 'string' ? plugins.get(item['server']) : undefined;
    refuseUnknownKeys(item, entryKeys, `${where}: servers[${i}]${named}`, (key) =>
      knownPlugin?.flags.some((f) => f.name === key) === true ? `server options go in "options": {"${key}": ...}` : null,
    );
    const entry = item as unknown as HostServerEntry;
    if (typeof entry.server !== 'string') throw configError(`${where}: servers[${i}] needs a "server" name`);
    const plugin = plugins.get(entry.server);
    if (plugin === undefined) {
      throw configError(`${where}: servers[${i}]: unknown server "${entry.server}" (known: ${[...plugins.keys()].join(', ')})`);
    }
    if (entry.options !== undefined && !isObject(entry.options)) {
      throw configError(`${where}: servers[${i}] (${entry.server}): "options" must be an object, got ${JSON.stringify(entry.options)}`);
    }
    const raw: Record<string, unknown> = { ...(entry.options ?? {}) };
    if (entry.host !== undefined) raw['host'] = entry.host;
    if (entry.port !== undefined) raw['port'] = entry.port;
    const at = `${where}: servers[${i}] (${entry.server})`;
    try {
      const options = resolveFlags(plugin.flags, raw);
      plugin.validate?.(options);
      return { plugin, options, where: at };
    } catch (error) {
      throw configError(`${at}: ${(error as Error).message}`);
    }
  });
}

/**
 * Start a planned server. A config error only starting finds (a certificate file that cannot be read)
 * points at its entry like the errors planning finds; others (a port in use) pass as they are.
 */
export async function startPlanned({ plugin, options, where }: PlannedServer): Promise<StartedServer> {
  try {
    return await plugin.start(options);
  } catch (error) {
    if (error instanceof PorticoError && error.code === ErrorCodes.CONFIG) throw configError(`${where}: ${error.message}`);
    throw error;
  }
}
