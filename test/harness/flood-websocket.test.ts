/** The harness's WebSocket flood client against an independent peer: the npm `ws` server, echoing. */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import * as net from 'node:net';
import { test, type TestContext } from 'node:test';
import { WebSocketServer } from 'ws';
import { websocketAccept } from '../../framework/index.js';
import { runFlood } from '../../harness/flood/flood.js';
import type { FloodOptions } from '../../harness/types.js';

async function wsEcho(t: TestContext): Promise<{ port: number; frames: { binary: boolean; length: number }[] }> {
  const frames: { binary: boolean; length: number }[] = [];
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => {
      const bytes = Buffer.isBuffer(data) ? data : Buffer.concat(data as Buffer[]);
      frames.push({ binary: isBinary, length: bytes.length });
      ws.send(bytes, { binary: isBinary });
    });
    ws.on('error', () => {});
  });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  t.after(() => new Promise<void>((r) => {
    for (const c of wss.clients) c.terminate();
    wss.close(() => r());
  }));
  return { port: (wss.address() as AddressInfo).port, frames };
}

function options(port: number, overrides: Partial<FloodOptions> = {}): FloodOptions {
  return {
    protocol: 'websocket',
    host: '127.0.0.1',
    port,
    connections: 20,
    concurrency: 5,
    messages: 5,
    size: 200,
    sendAfterReceive: true,
    connectRate: 0,
    durationCapMs: 15_000,
    connectionTimeoutMs: 5_000,
    ...overrides,
  };
}

test('websocket flood against the ws echo server: binary and text frames, exact counts', { timeout: 30_000 }, async (t) => {
  const server = await wsEcho(t);
  const binary = await runFlood(options(server.port));
  assert.equal(binary.connectionsMade, 20);
  assert.equal(binary.messagesReceived, 100);
  assert.deepEqual(binary.errors, {});
  const text = await runFlood(options(server.port, { size: 70_000, connections: 3, messages: 2, protocolOptions: { binary: false } }));
  assert.equal(text.messagesReceived, 6);
  assert.equal(text.connectionsBad, 0);
  assert.equal(server.frames.filter((f) => f.binary).length, 100);
  assert.deepEqual(server.frames.filter((f) => !f.binary).map((f) => f.length), Array(6).fill(70_000), '64-bit length frames');
});

test('websocket flood catches a server that answers the upgrade wrongly', { timeout: 20_000 }, async (t) => {
  const bad = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.once('data', () => socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: wrong\r\n\r\n'));
  });
  await new Promise<void>((r) => bad.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => bad.close(() => r())));
  const result = await runFlood(options((bad.address() as AddressInfo).port, { connections: 2, concurrency: 2, connectionTimeoutMs: 2000 }));
  assert.equal(result.connectionsBad, 2);
  assert.equal(result.errors['BAD_HANDSHAKE'], 2);
});

/** A server that completes the handshake properly, then answers the first message with `reply`. */
async function badFrameServer(t: TestContext, reply: Buffer): Promise<number> {
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    let head = '';
    socket.on('data', (chunk: Buffer) => {
      if (head.includes('\r\n\r\n')) return;
      head += chunk.toString('latin1');
      const key = /Sec-WebSocket-Key: (\S+)/i.exec(head)?.[1];
      if (key === undefined || !head.includes('\r\n\r\n')) return;
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${websocketAccept(key)}\r\n\r\n`,
      );
      socket.write(reply);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return (server.address() as AddressInfo).port;
}

test('websocket flood checks every reply frame as strictly as a server checks ours', { timeout: 30_000 }, async (t) => {
  const cases: { name: string; reply: Buffer; code: string }[] = [
    { name: 'a masked server frame', reply: Buffer.from([0x82, 0x81, 1, 2, 3, 4, 0x55]), code: 'BAD_FRAME' },
    { name: 'invalid UTF-8 in a text frame', reply: Buffer.from([0x81, 0x02, 0xc0, 0x80]), code: 'BAD_FRAME' },
    { name: 'a reserved opcode', reply: Buffer.from([0x83, 0x00]), code: 'BAD_FRAME' },
    { name: 'a reply far larger than the request', reply: Buffer.from([0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]), code: 'BAD_FRAME' },
    { name: 'different bytes echoed', reply: Buffer.concat([Buffer.from([0x82, 0x7e, 0x00, 0xc8]), Buffer.alloc(200, 0x41)]), code: 'MISMATCH' },
    { name: 'a text echo of a binary message', reply: Buffer.concat([Buffer.from([0x81, 0x02]), Buffer.from('ok')]), code: 'MISMATCH' },
    { name: 'a close frame', reply: Buffer.from([0x88, 0x02, 0x03, 0xe8]), code: 'WS_CLOSE' },
  ];
  for (const c of cases) {
    const port = await badFrameServer(t, c.reply);
    const result = await runFlood(options(port, { connections: 1, concurrency: 1, messages: 1, connectionTimeoutMs: 2000 }));
    assert.equal(result.connectionsBad, 1, c.name);
    assert.equal(result.errors[c.code], 1, `${c.name}: ${JSON.stringify(result.errors)}`);
  }
});
