/**
 * The harness's WebSocket flood client against an independent peer (the npm `ws` server, echoing) and
 * against servers that answer the upgrade wrongly; and from the command line against portico's own
 * WebSocket server, whose endpoints are not on "/".
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { WebSocketServer } from 'ws';
import { websocketAccept } from '../../framework/index.js';
import { runFlood } from '../../harness/flood/flood.js';
import type { FloodOptions } from '../../harness/types.js';
import { assertVerdicts, checkOf, runHarness, small } from '../helpers/harness-run.js';

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

test('a 404 to the upgrade: BAD_HANDSHAKE names the path asked for and how to give another', { timeout: 20_000 }, async (t) => {
  const notFound = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.once('data', () => socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n'));
  });
  await new Promise<void>((r) => notFound.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => notFound.close(() => r())));
  const port = (notFound.address() as AddressInfo).port;
  const result = await runFlood(options(port, { connections: 2, concurrency: 2, connectionTimeoutMs: 2000 }));
  assert.equal(result.errors['BAD_HANDSHAKE'], 2, JSON.stringify(result.errors));
  assert.match(result.errorExamples['BAD_HANDSHAKE'] ?? '', /^the server answered 404, not 101, to GET \/: .*--ws-path .*flood\.protocolOptions\.path/);
  const other = await runFlood(options(port, { connections: 1, concurrency: 1, connectionTimeoutMs: 2000, protocolOptions: { path: '/ws' } }));
  assert.match(other.errorExamples['BAD_HANDSHAKE'] ?? '', /to GET \/ws: /);
});

// ---- from the command line, against portico-websocket (/echo, /chat, /broadcast; nothing on "/") ----

const porticoWebsocket = 'node dist/examples/websocket/main.js';

test('--ws-path /echo floods portico-websocket from the command line; without it the 404 points at --ws-path', { timeout: 60_000 }, async (t) => {
  const run = await runHarness(t, ['--server', porticoWebsocket, '--protocol', 'websocket', '--ws-path', '/echo', ...small]);
  assertVerdicts(run, { result: 'PASS' });
  assert.equal(run.report!.flood!.messagesReceived, 90);
  assert.deepEqual((run.report!.provenance.scenario['flood'] as { protocolOptions?: unknown }).protocolOptions, { path: '/echo' });

  const missing = await runHarness(t, ['--server', porticoWebsocket, '--protocol', 'websocket', ...small]);
  assertVerdicts(missing, { fail: ['flood errors'], result: 'FAIL' });
  assert.match(missing.stdout, /first BAD_HANDSHAKE: the server answered 404, not 101, to GET \/: .*--ws-path/);
});

test('--ws-path overrides a scenario file\'s flood.protocolOptions.path, as other flags override their fields', { timeout: 60_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'portico-harness-test-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'ws.json');
  await writeFile(file, JSON.stringify({ server: porticoWebsocket, flood: { protocol: 'websocket', protocolOptions: { path: '/nothing-here', binary: false } } }));
  const run = await runHarness(t, [file, '--ws-path', '/echo', ...small]);
  assertVerdicts(run, { result: 'PASS' });
  const flood = run.report!.provenance.scenario['flood'] as { protocolOptions: Record<string, unknown> };
  assert.deepEqual(flood.protocolOptions, { path: '/echo', binary: false }, 'the path from the flag, the rest from the file');
  assert.match(checkOf(run.report, 'flood errors').detail, /^0 of 30 connections in error/);
});
