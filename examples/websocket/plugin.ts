import { Server, webSocketServer, type WebSocketRoute } from '../../framework/index.js';
import { listenFlags, type ServerPlugin } from '../shared/plugin.js';
import { BroadcastRoom } from './broadcast-room.js';
import { ChatRoom } from './chat-room.js';
import { echoSocket } from './echo-socket.js';
import { pageHtml } from './page.js';

const page = Buffer.from(pageHtml, 'utf8');

export const websocketPlugin: ServerPlugin = {
  name: 'websocket',
  summary: [
    'portico-websocket: a WebSocket server (RFC 6455 version 13 and HyBi version 8) on the portico framework.',
    '  /echo       echoes every message (text stays text, binary stays binary)',
    '  /chat       a broadcast chat room (JSON text: {"type":"chat",...} and {"type":"count",...})',
    '  /broadcast  every message goes as it came to everyone on /broadcast, the sender included',
    '  GET /       a page that talks to /echo and /chat',
  ].join('\n'),
  flags: [
    ...listenFlags,
    // 0 would close every non-empty message with 1009: a server that cannot be used, so it is refused.
    { name: 'max-message', kind: 'integer', description: 'largest message in bytes, 1 or more (0 is refused: it would refuse every message); bigger ones close with 1009', default: 16 * 1024 * 1024, min: 1 },
    { name: 'max-connections', kind: 'integer', description: 'open connections allowed; 0 = unlimited', default: 0, min: 0 },
    { name: 'heartbeat', kind: 'duration', description: 'ping every socket this often and drop one that missed the last pong; 0 = off', default: 0, min: 0 },
    { name: 'handshake-timeout', kind: 'duration', description: 'the request head must arrive within this', default: '10s', min: 1 },
    { name: 'drain-timeout', kind: 'duration', description: 'on SIGTERM, sockets get close 1001; abort those still open after this', default: '5s', min: 0 },
    { name: 'deflate', kind: 'boolean', description: 'offer permessage-deflate (RFC 7692) to version 13 clients; messages from 1 KiB on are compressed', default: false },
  ],
  async start(options) {
    const room = new ChatRoom();
    const relay = new BroadcastRoom();
    const route = (path: string): WebSocketRoute<unknown> | null => {
      if (path === '/echo') return { kind: 'websocket', handler: echoSocket };
      if (path === '/chat') return { kind: 'websocket', handler: room.handler };
      if (path === '/broadcast') return { kind: 'websocket', handler: relay.handler };
      return null;
    };
    const server = new Server({
      host: options['host'] as string,
      port: options['port'] as number,
      backlog: options['backlog'] as number,
      maxConnections: options['max-connections'] as number,
      drainDeadlineMs: options['drain-timeout'] as number,
      handler: webSocketServer({
        maxMessageBytes: options['max-message'] as number,
        heartbeatMs: options['heartbeat'] as number,
        handshakeTimeoutMs: options['handshake-timeout'] as number,
        perMessageDeflate: options['deflate'] === true ? {} : false,
        route(head) {
          const path = head.target.split('?')[0];
          if (head.has('upgrade')) return route(path ?? '');
          if (path === '/') {
            if (head.method === 'GET' || head.method === 'HEAD') {
              return { kind: 'response', status: 200, headers: [['Content-Type', 'text/html; charset=utf-8'], ['Cache-Control', 'no-store']], body: page };
            }
            // The page is there, the method is wrong: 405 with what it takes, not 404 (RFC 9110 §15.5.6).
            return { kind: 'response', status: 405, headers: [['Allow', 'GET, HEAD'], ['Content-Type', 'text/plain; charset=utf-8']], body: 'method not allowed: / takes GET and HEAD\n' };
          }
          return route(path ?? '');
        },
      }),
    });
    const address = await server.listen();
    return {
      host: address.address,
      port: address.port,
      url: `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}/`,
      stop: async () => ({ aborted: (await server.stop()).aborted }),
    };
  },
};
