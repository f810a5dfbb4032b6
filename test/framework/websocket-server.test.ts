/**
 * The WebSocket server layer over real TCP on 127.0.0.1, against independent clients: the npm `ws`
 * client (versions 13 and 8), WebSocket-Node (version 8), and raw sockets for what no client library
 * sends (protocol errors, trickled and oversized heads, the close handshake byte by byte).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import * as net from 'node:net';
import { after, before, describe, test } from 'node:test';
import WebSocketClient from 'ws';
import {
  Server,
  broadcast,
  webSocketServer,
  type WebSocket,
  type WebSocketHandler,
  type WebSocketServerOptions,
} from '../../framework/index.js';

const require = createRequire(import.meta.url);
const WebSocketNode = require('websocket') as { client: new (config?: Record<string, unknown>) => WsNodeClient };
interface WsNodeConnection {
  on(event: 'message', fn: (m: { type: string; utf8Data?: string; binaryData?: Buffer }) => void): void;
  on(event: 'close', fn: (code: number, reason: string) => void): void;
  sendUTF(text: string): void;
  close(code?: number): void;
}
interface WsNodeClient {
  on(event: 'connect', fn: (c: WsNodeConnection) => void): void;
  on(event: 'connectFailed', fn: (e: Error) => void): void;
  connect(url: string, protocols?: string | string[] | null, origin?: string): void;
}

const T = { timeout: 20_000 };

interface Closed {
  code: number;
  reason: string;
  wasClean: boolean;
}

/** A server with an /echo route (recording what the handler saw) and a /room broadcast route. */
async function startServer(extra: Partial<WebSocketServerOptions> = {}): Promise<{
  server: Server;
  port: number;
  closes: Closed[];
  opened: WebSocket[];
  room: Set<WebSocket>;
  origins: (string | null)[];
}> {
  const closes: Closed[] = [];
  const opened: WebSocket[] = [];
  const origins: (string | null)[] = [];
  const room = new Set<WebSocket>();
  const echo: WebSocketHandler = {
    onOpen(ws) {
      opened.push(ws);
      origins.push(ws.origin);
    },
    onMessage(ws, data, isBinary) {
      ws.send(data, { binary: isBinary });
    },
    onClose(_ws, code, reason, wasClean) {
      closes.push({ code, reason, wasClean });
    },
  };
  const roomHandler: WebSocketHandler = {
    onOpen(ws) {
      room.add(ws);
    },
    onMessage(_ws, data) {
      broadcast(room, data);
    },
    onClose(ws) {
      room.delete(ws);
    },
  };
  const server = new Server({
    host: '127.0.0.1',
    port: 0,
    handler: webSocketServer({
      route(head) {
        if (head.target === '/echo') return { kind: 'websocket', handler: echo };
        if (head.target === '/room') return { kind: 'websocket', handler: roomHandler };
        if (head.target === '/') return { kind: 'response', status: 200, headers: [['Content-Type', 'text/plain']], body: 'hello' };
        return null;
      },
      ...extra,
    }),
  });
  const address = await server.listen();
  return { server, port: address.port, closes, opened, room, origins };
}

function wsOpen(url: string, options: WebSocketClient.ClientOptions = {}): Promise<WebSocketClient> {
  const client = new WebSocketClient(url, options);
  return new Promise((resolve, reject) => {
    client.once('open', () => resolve(client));
    client.once('error', reject);
  });
}

function nextMessage(client: WebSocketClient): Promise<{ data: Buffer; isBinary: boolean }> {
  return new Promise((resolve) => client.once('message', (data: Buffer, isBinary: boolean) => resolve({ data, isBinary })));
}

async function waitFor(check: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('WebSocket server with the npm ws client', () => {
  let s: Awaited<ReturnType<typeof startServer>>;
  before(async () => {
    s = await startServer();
  });
  after(async () => {
    await s.server.stop({ deadlineMs: 1000 });
  });

  for (const version of [13, 8] as const) {
    test(`version ${version}: text and binary echo, every length encoding, clean close`, T, async () => {
      const client = await wsOpen(`ws://127.0.0.1:${s.port}/echo`, { protocolVersion: version, origin: 'http://example.test', perMessageDeflate: false });
      assert.equal(s.origins.at(-1), 'http://example.test', 'origin read from the header of this version');
      for (const length of [0, 1, 125, 126, 127, 128, 65535, 65536, 200_000]) {
        const text = 'é'.repeat(Math.floor(length / 2)) + (length % 2 === 1 ? 'a' : '');
        const got = nextMessage(client);
        client.send(text);
        const m = await got;
        assert.equal(m.isBinary, false);
        assert.equal(m.data.toString('utf8'), text, `text of ${length} bytes`);
        const bytes = Buffer.alloc(length, length & 0xff);
        const gotBinary = nextMessage(client);
        client.send(bytes);
        const b = await gotBinary;
        assert.equal(b.isBinary, true);
        assert.ok(b.data.equals(bytes), `binary of ${length} bytes`);
      }
      const closes = s.closes.length;
      client.close(4001, 'bye');
      const [code, reason] = (await once(client, 'close')) as [number, Buffer];
      assert.equal(code, 4001, 'the server echoes the close code');
      assert.equal(reason.toString(), '');
      await waitFor(() => s.closes.length > closes, 5000, 'onClose');
      assert.deepEqual(s.closes.at(-1), { code: 4001, reason: 'bye', wasClean: true });
    });
  }

  test('server-initiated close: the client echoes, the server closes TCP, onClose is clean', T, async () => {
    const client = await wsOpen(`ws://127.0.0.1:${s.port}/echo`);
    const ws = s.opened.at(-1)!;
    const closes = s.closes.length;
    ws.close(1000, 'done');
    const [code, reason] = (await once(client, 'close')) as [number, Buffer];
    assert.equal(code, 1000);
    assert.equal(reason.toString(), 'done');
    await waitFor(() => s.closes.length > closes, 5000, 'onClose');
    assert.deepEqual(s.closes.at(-1), { code: 1000, reason: 'done', wasClean: true });
    assert.equal(ws.send('late'), 'closed');
  });

  test('broadcast: one message framed once reaches every member', T, async () => {
    const clients = await Promise.all([1, 2, 3].map(() => wsOpen(`ws://127.0.0.1:${s.port}/room`)));
    await waitFor(() => s.room.size === 3, 5000, 'three members');
    const got = clients.map((c) => nextMessage(c));
    clients[0]!.send('to all');
    for (const m of await Promise.all(got)) assert.equal(m.data.toString(), 'to all');
    for (const c of clients) c.close();
    await waitFor(() => s.room.size === 0, 5000, 'room empty');
  });

  test('plain HTTP routes: a response, a 404, a refused upgrade (426 with the versions)', T, async () => {
    const get = async (head: string): Promise<string> => {
      const socket = net.connect(s.port, '127.0.0.1');
      socket.end(head);
      const chunks: Buffer[] = [];
      for await (const chunk of socket) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString('latin1');
    };
    const ok = await get('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.match(ok, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(ok, /\r\n\r\nhello$/);
    assert.match(await get('GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n'), /^HTTP\/1\.1 404 /);
    const refused = await get('GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 9\r\n\r\n');
    assert.match(refused, /^HTTP\/1\.1 426 /);
    assert.match(refused, /\r\nSec-WebSocket-Version: 13, 8\r\n/);
    assert.match(await get('GET /echo HTTP/1.1\r\nHost: x\r\n x\r\n\r\n'), /^HTTP\/1\.1 400 /);
  });
});

describe('messages kept without a copy over real sockets', () => {
  test('20 connections pipeline distinct 2–24 KiB binary messages: every echo and every message the handler kept stays intact', T, async () => {
    const kept: { data: Buffer; expected: Buffer }[] = [];
    const keeper: WebSocketHandler = {
      onMessage(ws, data, isBinary) {
        const bytes = data as Buffer;
        kept.push({ data: bytes, expected: Buffer.from(bytes) }); // the bytes as delivered, and a reference copy
        ws.send(data, { binary: isBinary });
      },
    };
    const server = new Server({ host: '127.0.0.1', port: 0, handler: webSocketServer({ route: () => ({ kind: 'websocket', handler: keeper }) }) });
    const { port } = await server.listen();
    const clients: WebSocketClient[] = [];
    try {
      clients.push(...(await Promise.all(Array.from({ length: 20 }, () => wsOpen(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false })))));
      await Promise.all(
        clients.map(async (client, c) => {
          const sent: Buffer[] = [];
          const echoes: Buffer[] = [];
          const done = new Promise<void>((resolve) =>
            client.on('message', (data: Buffer) => {
              echoes.push(data);
              if (echoes.length === 30) resolve();
            }),
          );
          for (let i = 0; i < 30; i++) {
            const bytes = Buffer.alloc(2048 + ((c * 7919 + i * 104729) % 22_000));
            for (let j = 0; j + 4 <= bytes.length; j += 512) bytes.writeUInt32BE(((c << 16) | (i << 8)) ^ j, j);
            sent.push(bytes);
            client.send(bytes); // pipelined: reads carry several messages and split them
          }
          await done;
          assert.deepEqual(echoes, sent, `connection ${c}: echoes in order, byte for byte`);
          client.close();
        }),
      );
      assert.equal(kept.length, 600);
      for (const { data, expected } of kept) assert.ok(data.equals(expected), 'a message kept by the handler was not overwritten by later reads');
    } finally {
      for (const client of clients) client.terminate(); // a failed check must not leave sockets open
      await server.stop({ deadlineMs: 1000 });
    }
  });
});

describe('WebSocket server with WebSocket-Node (version 8)', () => {
  test('version 8 handshake with Sec-WebSocket-Origin, echo, close', T, async (t) => {
    const s = await startServer();
    t.after(() => s.server.stop({ deadlineMs: 1000 }));
    const client = new WebSocketNode.client({ webSocketVersion: 8 });
    const conn = await new Promise<WsNodeConnection>((resolve, reject) => {
      client.on('connect', resolve);
      client.on('connectFailed', reject);
      client.connect(`ws://127.0.0.1:${s.port}/echo`, null, 'http://v8.example');
    });
    assert.equal(s.origins.at(-1), 'http://v8.example');
    const echoed = new Promise<string>((resolve) => conn.on('message', (m) => resolve(m.utf8Data ?? '')));
    conn.sendUTF('hybi-08');
    assert.equal(await echoed, 'hybi-08');
    const closed = new Promise<number>((resolve) => conn.on('close', (code) => resolve(code)));
    conn.close(1000);
    assert.equal(await closed, 1000);
    await waitFor(() => s.closes.length === 1, 5000, 'onClose');
    assert.equal(s.closes[0]!.wasClean, true);
  });
});
