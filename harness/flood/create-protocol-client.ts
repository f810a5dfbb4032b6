/** Picks the protocol client for a flood; bad protocol options fail here, before any socket. */
import type { FloodOptions } from '../types.js';
import { EchoProtocolClient } from './echo-client.js';
import { OwserverProtocolClient } from './owserver-client.js';
import type { FloodProtocolClient } from './protocol-client.js';
import { WebSocketProtocolClient } from './websocket-client.js';

/** Builds the client for `options.protocol`, or throws when that protocol has no client yet. */
export function createProtocolClient(options: FloodOptions): FloodProtocolClient {
  switch (options.protocol) {
    case 'echo':
      return new EchoProtocolClient(options.size);
    case 'owserver':
      return new OwserverProtocolClient(options);
    case 'websocket':
      return new WebSocketProtocolClient(options);
    default: {
      const unknown: never = options.protocol;
      throw new Error(`unknown flood protocol "${String(unknown)}"`);
    }
  }
}
