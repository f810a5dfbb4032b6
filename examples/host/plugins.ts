import { echoPlugin } from '../echo/plugin.js';
import { owserverPlugin } from '../owserver/plugin.js';
import type { ServerPlugin } from '../shared/plugin.js';

/** The example servers the host knows by name. */
export const builtinPlugins: ReadonlyMap<string, ServerPlugin> = new Map([echoPlugin, owserverPlugin].map((p) => [p.name, p]));
