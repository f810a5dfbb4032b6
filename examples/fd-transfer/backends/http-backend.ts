#!/usr/bin/env node
import { HttpExchange } from './http-exchange.js';
import { backendArgs, runBackend } from './run-backend.js';

/** The HTTP back end: one `HttpExchange` per connection the front hands over. */
const args = backendArgs();
await runBackend({
  name: 'fd-backend http',
  maxConnections: typeof args['max-connections'] === 'number' ? args['max-connections'] : 0,
  crashHook: args['crash-hook'] === true,
  // How long a persistent connection may wait for its next request (and a request for its next byte).
  idleReadMs: typeof args['keep-alive-timeout'] === 'number' ? args['keep-alive-timeout'] : 15_000,
  handler: () => new HttpExchange(),
});
