/** Picks the protocol client for a flood; bad protocol options fail here, before any socket. */
import type { FloodOptions } from '../types.js';
import { EchoProtocolClient } from './echo-client.js';
import { OwserverProtocolClient } from './owserver-client.js';
import type { FloodProtocolClient } from './protocol-client.js';
import { RawProtocolClient } from './raw-client.js';
import { WebSocketProtocolClient } from './websocket-client.js';

/** Builds the client for `options.protocol`, or throws when that protocol has no client yet. */
export function createProtocolClient(options: FloodOptions): FloodProtocolClient {
  switch (options.protocol) {
    case 'echo': {
      const given = Object.keys(options.protocolOptions ?? {});
      if (given.length > 0) throw new Error(`the echo flood takes no protocolOptions, got ${given.join(', ')}`);
      return new EchoProtocolClient(options.size);
    }
    case 'owserver':
      return new OwserverProtocolClient(options);
    case 'websocket':
      return new WebSocketProtocolClient(options);
    case 'raw':
      return new RawProtocolClient(options);
    default: {
      const unknown: never = options.protocol;
      throw new Error(`unknown flood protocol "${String(unknown)}"`);
    }
  }
}
