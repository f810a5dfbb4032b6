import { existsSync } from 'node:fs';
import { readJsonConfig } from '../shared/json-config.js';
import { refuseUnknownKeys } from '../shared/config-keys.js';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCodes, PorticoError } from '../../framework/index.js';

/** A back end the front can start: a module run with `fork`, and the options it gets (JSON in argv). */
export interface BackendSpec {
  readonly name: string;
  /** Absolute path of the module. */
  readonly module: string;
  readonly options: Readonly<Record<string, string | number | boolean>>;
}

/** A path prefix and the back end its requests go to. */
export interface Route {
  readonly prefix: string;
  readonly backend: string;
}

export interface FrontConfig {
  readonly routes: readonly Route[];
  readonly backends: ReadonlyMap<string, BackendSpec>;
}

const here = dirname(fileURLToPath(import.meta.url));

/** The back ends that come with the example, by the name a config gives as `module`. */
export const builtinBackends: ReadonlyMap<string, string> = new Map([
  ['websocket-echo', resolve(here, 'backends/websocket-backend.js')],
  ['http', resolve(here, 'backends/http-backend.js')],
]);

/** `/ws` → the WebSocket echo back end, `/http` → the HTTP back end. */
export const defaultConfigJson = {
  routes: [
    { prefix: '/ws', backend: 'ws' },
    { prefix: '/http', backend: 'http' },
  ],
  backends: {
    ws: { module: 'websocket-echo', options: {} },
    http: { module: 'http', options: {} },
  },
};

function configError(message: string): PorticoError {
  return new PorticoError(ErrorCodes.CONFIG, 'host', message);
}

/** Read a front config file (a missing file, bad JSON or a bad entry is PORTICO_ERR_CONFIG). */
export function loadFrontConfig(path: string): FrontConfig {
  const parsed = readJsonConfig(path);
  return parseFrontConfig(parsed, dirname(resolve(path)), path);
}

/**
 * Check a parsed config: `{"routes": [{"prefix": "/ws", "backend": "ws"}], "backends": {"ws":
 * {"module": "websocket-echo" | "./my-backend.js", "options": {...}}}}`. Prefixes start with `/`;
 * every route names a back end; a module path is relative to `baseDir`.
 */
export function parseFrontConfig(parsed: unknown, baseDir: string, where = 'config'): FrontConfig {
  if (typeof parsed !== 'object' || parsed === null) throw configError(`${where}: expected {"routes": [...], "backends": {...}}`);
  refuseUnknownKeys(parsed, ['routes', 'backends'], where);
  const { routes, backends } = parsed as { routes?: unknown; backends?: unknown };
  if (typeof backends !== 'object' || backends === null || Array.isArray(backends)) throw configError(`${where}: "backends" must be an object`);
  const specs = new Map<string, BackendSpec>();
  for (const [name, value] of Object.entries(backends as Record<string, unknown>)) {
    if (typeof value !== 'object' || value === null) throw configError(`${where}: backends.${name} must be an object`);
    refuseUnknownKeys(value, ['module', 'options'], `${where}: backends.${name}`);
    const { module, options } = value as { module?: unknown; options?: unknown };
    if (typeof module !== 'string' || module.length === 0) throw configError(`${where}: backends.${name}.module must be a name or a path`);
    const path = builtinBackends.get(module) ?? (isAbsolute(module) ? module : resolve(baseDir, module));
    // Checked now: a module that is not there would make every request a 502 and every restart a stack trace.
    if (!existsSync(path)) throw configError(`${where}: backends.${name}.module: ${path} does not exist`);
    const opts: Record<string, string | number | boolean> = {};
    if (options !== undefined) {
      if (typeof options !== 'object' || options === null || Array.isArray(options)) throw configError(`${where}: backends.${name}.options must be an object`);
      for (const [k, v] of Object.entries(options as Record<string, unknown>)) {
        if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') throw configError(`${where}: backends.${name}.options.${k} must be a string, number or boolean`);
        opts[k] = v;
      }
    }
    specs.set(name, { name, module: path, options: opts });
  }
  if (!Array.isArray(routes) || routes.length === 0) throw configError(`${where}: "routes" must be a non-empty array`);
  const table: Route[] = routes.map((r: unknown, i) => {
    if (typeof r !== 'object' || r === null) throw configError(`${where}: routes[${i}] must be an object`);
    refuseUnknownKeys(r, ['prefix', 'backend'], `${where}: routes[${i}]`);
    const { prefix, backend } = r as { prefix?: unknown; backend?: unknown };
    if (typeof prefix !== 'string' || !prefix.startsWith('/')) throw configError(`${where}: routes[${i}].prefix must start with "/"`);
    if (typeof backend !== 'string' || !specs.has(backend)) throw configError(`${where}: routes[${i}].backend must name one of the backends (${[...specs.keys()].join(', ')})`);
    return { prefix, backend };
  });
  return { routes: table, backends: specs };
}

/**
 * The route for a request-target: the longest prefix that matches whole path segments (`/ws` matches
 * `/ws`, `/ws/x` and `/ws?x`, not `/wsx`), or null. Only origin-form targets (`/…`) are routed.
 */
export function matchRoute(routes: readonly Route[], target: string): Route | null {
  if (!target.startsWith('/')) return null;
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  let best: Route | null = null;
  for (const route of routes) {
    const p = route.prefix;
    const matches = path === p || (path.startsWith(p) && (p.endsWith('/') || path.charCodeAt(p.length) === 0x2f));
    if (matches && (best === null || p.length > best.prefix.length)) best = route;
  }
  return best;
}
