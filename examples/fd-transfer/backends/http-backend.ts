#!/usr/bin/env node
import { HttpExchange } from './http-exchange.js';
import { backendArgs, runBackend } from './run-backend.js';

/** The HTTP back end: one `HttpExchange` per connection the front hands over. */
const args = backendArgs();
await runBackend({
  name: 'fd-backend http',
  maxConnections: typeof args['max-connections'] === 'number' ? args['max-connections'] : 0,
  crashHook: args['crash-hook'] === true,
  handler: () => new HttpExchange(),
});
