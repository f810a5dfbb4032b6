/**
 * The framework's WebSocket client (`connectWebSocket`) over real TCP on 127.0.0.1: against the
 * independent npm `ws` server (versions 13 and 8) and against portico's own server; refused and
 * unanswered upgrades, refused connections.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import * as net from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import { WebSocketServer } from 'ws';
import { ErrorCodes, PorticoError, Server, connectWebSocket, webSocketServer, type WebSocket, type WebSocketHandler } from '../../framework/index.js';

const T = { timeout: 20_000 };

interface Seen {
  messages: { data: string | Buffer; isBinary: boolean }[];
  pings: Buffer[];
  closes: { code: number; reason: string; wasClean: boolean }[];
}

function recorder(): {
  handler: WebSocketHandler;
  seen: Seen;
  next: () => Promise<{ data: string | Buffer; isBinary: boolean }>;
  closed: () => Promise<void>;
  pinged: () => Promise<void>;
} {
  const seen: Seen = { messages: [], pings: [], closes: [] };
  let wake: (() => void) | null = null;
  const handler: WebSocketHandler = {
    onMessage(_ws, data, isBinary) {
      seen.messages.push({ data, isBinary });
      wake?.();
    },
    onPing(_ws, payload) {
      seen.pings.push(payload);
      wake?.();
    },
    onClose(_ws, code, reason, wasClean) {
      seen.closes.push({ code, reason, wasClean });
      wake?.();
    },
  };
  const waitFor = async (check: () => boolean): Promise<void> => {
    const end = Date.now() + 10_000;
    while (!check()) {
      if (Date.now() > end) throw new Error('timed out');
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 20);
      });
    }
  };
  let taken = 0;
  return {
    handler,
    seen,
    next: async () => {
      await waitFor(() => seen.messages.length > taken);
      return seen.messages[taken++]!;
    },
    closed: () => waitFor(() => seen.closes.length > 0),
    pinged: () => waitFor(() => seen.pings.length > 0),
  };
}

async function wsServer(t: TestContext): Promise<{ port: number; versions: string[]; origins: (string | undefined)[]; server: WebSocketServer }> {
  const versions: string[] = [];
  const origins: (string | undefined)[] = [];
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  server.on('connection', (socket, request) => {
    versions.push(String(request.headers['sec-websocket-version']));
    origins.push((request.headers['origin'] ?? request.headers['sec-websocket-origin']) as string | undefined);
    socket.on('message', (data, isBinary) => {
      const text = isBinary ? '' : (data as Buffer).toString();
      if (text === 'close me') socket.close(4000, 'as asked');
      else if (text === 'ping me') socket.ping(Buffer.from('hello'));
      else socket.send(data as Buffer, { binary: isBinary });
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        for (const c of server.clients) c.terminate();
        server.close(() => resolve());
      }),
  );
  return { port: (server.address() as AddressInfo).port, versions, origins, server };
}

describe('connectWebSocket against the npm ws server', () => {
  for (const version of [13, 8] as const) {
    test(`version ${version}: masked frames ws accepts, echo of every length encoding, ws closes first`, T, async (t) => {
      const peer = await wsServer(t);
      const r = recorder();
      const ws = await connectWebSocket({ host: '127.0.0.1', port: peer.port, path: '/x?y=1', version, origin: 'http://client.test', handler: r.handler });
      assert.equal(peer.versions[0], String(version));
      assert.equal(peer.origins[0], 'http://client.test');
      assert.equal(ws.version, version);
      assert.equal(ws.path, '/x');
      assert.equal(ws.query, 'y=1');
      for (const length of [0, 125, 126, 65535, 65536, 300_000]) {
        ws.send(Buffer.alloc(length, 7));
        const m = await r.next();
        assert.equal(m.isBinary, true);
        assert.ok(Buffer.isBuffer(m.data) && m.data.length === length && m.data.every((b) => b === 7), `binary ${length}`);
      }
      ws.send('héllo');
      assert.deepEqual(await r.next(), { data: 'héllo', isBinary: false });
      ws.send('ping me');
      await r.pinged();
      ws.send('close me');
      await r.closed();
      assert.equal(r.seen.pings[0]?.toString(), 'hello', 'the ping reached the handler (the pong was sent for it)');
      assert.deepEqual(r.seen.closes, [{ code: 4000, reason: 'as asked', wasClean: true }]);
      assert.equal(ws.state, 'closed');
    });
  }

  test('the client closes first: ws echoes code and reason, both ends clean', T, async (t) => {
    const peer = await wsServer(t);
    const r = recorder();
    const ws = await connectWebSocket({ host: '127.0.0.1', port: peer.port, handler: r.handler });
    const serverClosed = new Promise<number>((resolve) => [...peer.server.clients][0]!.once('close', (code) => resolve(code)));
    ws.close(1000, 'bye');
    assert.equal(await serverClosed, 1000);
    await r.closed();
    // onClose reports the peer's close frame: ws echoes the reason too.
    assert.deepEqual(r.seen.closes, [{ code: 1000, reason: 'bye', wasClean: true }]);
    assert.throws(() => ws.sendPrepared({ bytes: Buffer.alloc(2), frameCount: 1 } as never), (e: unknown) => e instanceof PorticoError && e.code === ErrorCodes.INVALID_STATE);
  });
});

describe('connectWebSocket against portico and against servers that do not upgrade', () => {
  test('portico server and portico client, version 8: echo and close', T, async (t) => {
    const echo: WebSocketHandler = { onMessage: (ws, data, isBinary) => void ws.send(data, { binary: isBinary }) };
    const server = new Server({ host: '127.0.0.1', port: 0, handler: webSocketServer({ route: () => ({ kind: 'websocket', handler: echo }) }) });
    const { port } = await server.listen();
    t.after(() => server.stop({ deadlineMs: 1000 }));
    const r = recorder();
    const ws: WebSocket = await connectWebSocket({ host: '127.0.0.1', port, version: 8, handler: r.handler });
    ws.send('both ends portico');
    assert.deepEqual(await r.next(), { data: 'both ends portico', isBinary: false });
    ws.close(4001);
    await r.closed();
    assert.deepEqual(r.seen.closes, [{ code: 4001, reason: '', wasClean: true }]);
  });

  const refusing: { name: string; answer: string | null; match: RegExp }[] = [
    { name: 'a 404', answer: 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n', match: /answered 404/ },
    { name: 'a 101 with a wrong accept key', answer: 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: nope\r\n\r\n', match: /Accept/ },
    { name: 'garbage', answer: 'SSH-2.0-OpenSSH\r\n\r\n', match: /bad response/ },
    { name: 'a close before answering', answer: '', match: /closed/ },
  ];
  for (const c of refusing) {
    test(`rejects ${c.name} with PORTICO_ERR_WEBSOCKET_HANDSHAKE`, T, async (t) => {
      const server = net.createServer((socket) => {
        socket.on('error', () => {});
        socket.once('data', () => {
          if (c.answer === '') socket.end();
          else socket.end(c.answer ?? '');
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
      const r = recorder();
      await assert.rejects(
        connectWebSocket({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, handler: r.handler }),
        (e: unknown) => e instanceof PorticoError && e.code === ErrorCodes.WEBSOCKET_HANDSHAKE && c.match.test(e.message),
      );
      assert.equal(r.seen.closes.length, 0, 'no socket was ever opened, so no onClose');
    });
  }

  test('a server that never answers: rejected after handshakeTimeoutMs', T, async (t) => {
    const held: net.Socket[] = [];
    const server = net.createServer((socket) => {
      held.push(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => {
      for (const s of held) s.destroy();
      server.close(() => resolve());
    }));
    const started = Date.now();
    await assert.rejects(
      connectWebSocket({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, handler: recorder().handler, handshakeTimeoutMs: 300 }),
      (e: unknown) => e instanceof PorticoError && e.code === ErrorCodes.WEBSOCKET_HANDSHAKE && /within 300 ms/.test(e.message),
    );
    assert.ok(Date.now() - started < 3000);
  });

  test('a refused connection: PORTICO_ERR_CONNECT_REFUSED', T, async () => {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    await assert.rejects(connectWebSocket({ host: '127.0.0.1', port, handler: recorder().handler }), (e: unknown) => e instanceof PorticoError && e.code === ErrorCodes.CONNECT_REFUSED);
  });
});
