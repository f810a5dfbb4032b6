#!/usr/bin/env node
/**
 * The WebSocket baseline: the npm `ws` package (8.23.1) as its users run it — a node:http server
 * whose 'upgrade' event routes by path to `WebSocketServer({ noServer: true })`s (ws's README
 * pattern for several endpoints on one server), with ws's native `bufferutil` loaded — held to the
 * portico server contract so websocket-bench drives it exactly like portico-websocket: `--port`, a
 * JSON ready line on stdout, SIGTERM → exit 0. The routes are portico-websocket's:
 *
 *   /echo       every message back as it came (text stays text, binary stays binary)
 *   /broadcast  every message, as it came, to every client on /broadcast, the sender included
 *               (ws's README broadcast loop: `client.send(data, { binary: isBinary })` per client)
 *
 * perMessageDeflate is off (portico has no permessage-deflate yet; it is ws's server default too),
 * maxPayload is portico's 16 MiB default. The ready line says what ws runs with: the bufferutil it
 * loaded ("native" = the prebuilt addon, "absent" = ws's pure-JS masking loops) and its UTF-8
 * check (on Node ≥ 18.14 ws uses `buffer.isUtf8` and never loads utf-8-validate).
 *
 *   node dist/harness/bench/ws-baseline-server.js [--port N]
 */
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createRequire } from 'node:module';
import { WebSocket, WebSocketServer } from 'ws';
import { flagsHelp, type IntFlag, parseIntFlags } from './flags.js';
import { isMain } from './paths.js';

const HOST = '127.0.0.1';
const MAX_PAYLOAD = 16 * 1024 * 1024;
const specs: readonly IntFlag<'port'>[] = [{ name: 'port', description: 'TCP port; 0 picks a free one', default: 0, min: 0, max: 65535 }];

const require = createRequire(import.meta.url);

/** What ws loaded, read from the module cache after `import 'ws'` (ws requires its addons when it loads). */
export function wsAccelerators(): { ws: string; bufferutil: 'native' | 'fallback' | 'absent'; utf8: 'buffer.isUtf8' | 'utf-8-validate (native)' | 'utf-8-validate (fallback)' | 'pure JS' } {
  const cached = Object.keys(require.cache);
  const loaded = (name: string): boolean => cached.some((file) => file.includes(`/node_modules/${name}/`));
  const native = (name: string): boolean => cached.some((file) => file.includes(`/node_modules/${name}/`) && file.endsWith('.node'));
  const bufferutil = native('bufferutil') ? 'native' : loaded('bufferutil') ? 'fallback' : 'absent';
  // ws's lib/validation.js prefers Node's own isUtf8 (simdutf) and only then tries utf-8-validate.
  const hasIsUtf8 = typeof (require('node:buffer') as { isUtf8?: unknown }).isUtf8 === 'function';
  const utf8 = hasIsUtf8 ? 'buffer.isUtf8' : native('utf-8-validate') ? 'utf-8-validate (native)' : loaded('utf-8-validate') ? 'utf-8-validate (fallback)' : 'pure JS';
  const version = (require('ws/package.json') as { version: string }).version;
  return { ws: version, bufferutil, utf8 };
}

function main(): void {
  const { help, values } = parseIntFlags(process.argv.slice(2), specs);
  if (help) {
    process.stdout.write(flagsHelp('node dist/harness/bench/ws-baseline-server.js [options]', specs));
    return;
  }
  const options = { noServer: true, perMessageDeflate: false, maxPayload: MAX_PAYLOAD } as const;
  const echo = new WebSocketServer(options);
  const room = new WebSocketServer(options);
  echo.on('connection', (ws) => {
    ws.on('error', () => ws.terminate());
    ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
  });
  room.on('connection', (ws) => {
    ws.on('error', () => ws.terminate());
    ws.on('message', (data, isBinary) => {
      for (const client of room.clients) if (client.readyState === WebSocket.OPEN) client.send(data as Buffer, { binary: isBinary });
    });
  });

  const server = http.createServer((_req, res) => {
    res.writeHead(404, { 'Content-Type': 'text/plain', Connection: 'close' }).end('not found\n');
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
    const path = (req.url ?? '').split('?')[0];
    const wss = path === '/echo' ? echo : path === '/broadcast' ? room : null;
    if (wss === null) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });
  server.listen({ host: HOST, port: values.port }, () => {
    const { port } = server.address() as AddressInfo;
    process.stdout.write(JSON.stringify({ event: 'listening', server: 'ws', host: HOST, port, ...wsAccelerators() }) + '\n');
  });
  server.on('error', (error) => {
    process.stderr.write(`ws-baseline: ${error.message}\n`);
    process.exit(1);
  });
  const stop = (): void => {
    // The bench stops us after its clients are gone; anything left is dropped, not drained.
    for (const ws of [...echo.clients, ...room.clients]) ws.terminate();
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (isMain(import.meta.url)) main();
