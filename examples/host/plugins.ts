import { echoPlugin } from '../echo/plugin.js';
import { fdFrontPlugin } from '../fd-transfer/plugin.js';
import { owserverPlugin } from '../owserver/plugin.js';
import { proxyPlugin } from '../proxy/plugin.js';
import type { ServerPlugin } from '../shared/plugin.js';
import { websocketPlugin } from '../websocket/plugin.js';

/** The example servers the host knows by name. */
export const builtinPlugins: ReadonlyMap<string, ServerPlugin> = new Map([echoPlugin, owserverPlugin, websocketPlugin, proxyPlugin, fdFrontPlugin].map((p) => [p.name, p]));
