#!/usr/bin/env node
import { webSocketServer } from '../../../framework/index.js';
import { echoSocket } from '../../websocket/echo-socket.js';
import { backendArgs, runBackend } from './run-backend.js';

/**
 * The WebSocket echo back end: every connection the front hands over is a WebSocket upgrade request
 * whose head the front already read — it arrives as the first read completion, so the framework's
 * WebSocket layer parses it as if it had read it itself. Any path is accepted (the front routed it).
 */
const args = backendArgs();
await runBackend({
  name: 'fd-backend websocket',
  maxConnections: typeof args['max-connections'] === 'number' ? args['max-connections'] : 0,
  crashHook: args['crash-hook'] === true,
  handler: webSocketServer({
    maxMessageBytes: typeof args['max-message'] === 'number' ? args['max-message'] : 16 * 1024 * 1024,
    route(head) {
      return head.has('upgrade') ? { kind: 'websocket', handler: echoSocket } : { kind: 'response', status: 426, headers: [['Upgrade', 'websocket']], body: 'a WebSocket endpoint\n' };
    },
  }),
});
