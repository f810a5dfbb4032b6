/**
 * The WebSocket server against hostile and broken peers over real TCP on 127.0.0.1: handshakes that
 * never finish or never stop, giant heads, bad keys, absurd frame lengths, message limits, clients
 * that never read, clients that never answer pings, a server drain, connection churn, and handlers
 * that close, abort or throw from inside their callbacks. Every bound (time, bytes, memory) is
 * asserted, and so is what the peer sees at TCP level (FIN or RST).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as net from 'node:net';
import { describe, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import WebSocketClient from 'ws';
import {
  CompletionDispatcher,
  Server,
  broadcast,
  prepareMessage,
  webSocketServer,
  type SendResult,
  type WebSocket,
  type WebSocketHandler,
  type WebSocketServerOptions,
} from '../../framework/index.js';
import { rawFrame, rawFrames } from '../helpers/ws-frames.js';
import { RawClient, serverCloseBytes, upgradeRequest } from '../helpers/ws-raw-client.js';

const T = { timeout: 30_000 };
const TEXT = 1;
const CLOSE = 8;
const PING = 9;

interface Closed {
  code: number;
  reason: string;
  wasClean: boolean;
}

/** What the rig's handlers saw, per socket. */
interface Seen {
  port: number;
  messages: string[];
  closes: Closed[];
  sendResults: SendResult[];
  states: string[];
  /** /flow: sends that said 'over-high-water', and onWritable calls. */
  pauses: number;
  writables: number;
}

interface Rig {
  server: Server;
  port: number;
  sockets: WebSocket<Seen>[];
  /** The sockets opened on /room (broadcast targets). */
  room: Set<WebSocket<Seen>>;
  seen(port: number): Seen;
  stop(): Promise<void>;
}

const FLOW_COUNT = 2000;
const FLOW_SIZE = 8 * 1024;

/** The /flow route's sender: messages carry their number in the first 4 bytes. */
function pump(ws: WebSocket<Seen>): void {
  const sent = ws.stats.messagesOut;
  for (let i = sent; i < FLOW_COUNT; i++) {
    const message = Buffer.alloc(FLOW_SIZE, i & 0xff);
    message.writeUInt32BE(i, 0);
    const result = ws.send(message);
    if (result === 'over-high-water') {
      ws.user.pauses++;
      return;
    }
    if (result !== 'queued') throw new Error(`send ${i}: ${result}`);
  }
}

function newSeen(): Seen {
  return { port: 0, messages: [], closes: [], sendResults: [], states: [], pauses: 0, writables: 0 };
}

/**
 * A server whose routes each exercise one behaviour: /echo, /room (joins the broadcast set, reads
 * and ignores), and handlers that close, abort or throw from inside their callbacks.
 */
async function startRig(options: Partial<WebSocketServerOptions<Seen>> = {}, serverOptions: { dispatcher?: CompletionDispatcher; bufferSize?: number } = {}): Promise<Rig> {
  const sockets: WebSocket<Seen>[] = [];
  const room = new Set<WebSocket<Seen>>();
  const base = (extra: Partial<WebSocketHandler<Seen>> = {}): WebSocketHandler<Seen> => ({
    onOpen(ws) {
      ws.user.port = ws.connection.remote.port;
      sockets.push(ws);
      extra.onOpen?.(ws);
    },
    onMessage(ws, data, isBinary) {
      ws.user.messages.push(typeof data === 'string' ? data : data.toString('latin1'));
      if (extra.onMessage !== undefined) extra.onMessage(ws, data, isBinary);
      else ws.send(data, { binary: isBinary });
    },
    onWritable(ws) {
      extra.onWritable?.(ws);
    },
    onClose(ws, code, reason, wasClean) {
      ws.user.closes.push({ code, reason, wasClean });
      room.delete(ws);
    },
  });
  const handlers: Record<string, WebSocketHandler<Seen>> = {
    '/echo': base(),
    '/room': base({ onOpen: (ws) => room.add(ws), onMessage: () => undefined }),
    '/close-on-open': base({
      onOpen(ws) {
        ws.close(4000, 'bye from onOpen');
        ws.user.sendResults.push(ws.send('after close'));
        ws.user.states.push(ws.state);
      },
    }),
    '/abort-on-open': base({
      onOpen(ws) {
        ws.terminate();
        ws.user.sendResults.push(ws.send('after terminate'));
        ws.user.states.push(ws.state);
      },
    }),
    '/close-on-message': base({
      onMessage(ws, data) {
        if (data === 'close') ws.close(4001, 'closed in onMessage');
        ws.user.sendResults.push(ws.send('reply'));
        ws.user.states.push(ws.state);
      },
    }),
    '/abort-on-message': base({
      onMessage(ws, data) {
        if (data === 'abort') ws.terminate();
        ws.user.sendResults.push(ws.send('reply'));
        ws.user.sendResults.push(ws.ping('p'));
        ws.user.states.push(ws.state);
      },
    }),
    '/flow': base({
      // Send FLOW_COUNT numbered messages as fast as backpressure allows: until a send says
      // 'over-high-water', then again from onWritable.
      onOpen(ws) {
        pump(ws);
      },
      onWritable(ws) {
        ws.user.writables++;
        pump(ws);
      },
    }),
    '/throw-on-message': base({
      onMessage(ws, data) {
        if (data === 'boom') throw new Error('handler failure on purpose');
        ws.send(data);
      },
    }),
    '/throw-on-open': base({
      onOpen() {
        throw new Error('onOpen failure on purpose');
      },
    }),
  };
  const server = new Server({
    host: '127.0.0.1',
    port: 0,
    ...serverOptions,
    handler: webSocketServer<Seen>({
      route(head) {
        const handler = handlers[head.target];
        return handler === undefined ? null : { kind: 'websocket', handler, createUser: newSeen };
      },
      ...options,
    }),
  });
  const address = await server.listen();
  return {
    server,
    port: address.port,
    sockets,
    room,
    seen(port) {
      const ws = sockets.find((s) => s.user.port === port);
      assert.ok(ws !== undefined, `a server socket for client port ${port}`);
      return ws.user;
    },
    async stop() {
      await server.stop({ deadlineMs: 2000 });
    },
  };
}

async function waitFor(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// A full collection before each measurement, so garbage does not pass for (or hide) an allocation.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** External memory (ArrayBuffers, where Buffers live) and heap, after a full collection. */
function memory(): number {
  gc();
  const m = process.memoryUsage();
  return m.arrayBuffers + m.heapUsed;
}

const MIB = 1024 * 1024;

// ---- the opening handshake ---------------------------------------------------------------------------

describe('bad handshakes', () => {
  test('a request head never finished: 408 at handshakeTimeoutMs, then the server closes (FIN)', T, async (t) => {
    const rig = await startRig({ handshakeTimeoutMs: 300 });
    t.after(() => rig.stop());
    // Timed from before the connect: the server's deadline starts at its accept, which may run first.
    const started = performance.now();
    const client = await RawClient.connect(rig.port);
    client.write('GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n');
    const response = await client.readResponse(3000);
    const elapsed = performance.now() - started;
    assert.match(response.head, /^HTTP\/1\.1 408 Request Timeout\r\n/);
    assert.match(response.head, /\r\nConnection: close\r\n/);
    assert.equal(response.end, 'fin');
    // The wheel ticks every 100 ms: the deadline fires up to a tick late, never early.
    assert.ok(elapsed >= 300 && elapsed < 1000, `408 after ${Math.round(elapsed)} ms`);
    await client.expectFin();
    await waitFor(() => rig.server.connections.size === 0, 2000, 'the connection to close');
  });

  test('a trickling client (a byte every 20 ms) gets 408 at the deadline, not later', T, async (t) => {
    const rig = await startRig({ handshakeTimeoutMs: 300 });
    t.after(() => rig.stop());
    const { request } = upgradeRequest();
    const started = performance.now();
    const client = await RawClient.connect(rig.port);
    let stop = false;
    const trickle = (async () => {
      for (let i = 0; i < request.length - 2 && !stop && client.end === null; i++) {
        client.write(request[i]!);
        await sleep(20);
      }
    })();
    const response = await client.readResponse(3000);
    stop = true;
    await trickle;
    const elapsed = performance.now() - started;
    assert.match(response.head, /^HTTP\/1\.1 408 /);
    assert.ok(elapsed >= 300 && elapsed < 1000, `408 after ${Math.round(elapsed)} ms although bytes kept coming`);
    assert.equal(response.end, 'fin');
    client.destroy();
    await waitFor(() => rig.server.connections.size === 0, 2000, 'the connection to close');
  });

  test('a giant head (16 MiB of one header): 431 at the limit, closed, nothing buffered beyond it', T, async (t) => {
    const rig = await startRig();
    t.after(() => rig.stop());
    const client = await RawClient.connect(rig.port);
    const before = memory();
    const outstandingBefore = rig.server.pool.stats.highWater;
    client.write('GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Giant: ');
    const chunk = Buffer.alloc(64 * 1024, 'a');
    // Keep sending until the server answers (it must, long before 16 MiB) or 16 MiB are out.
    let sent = 0;
    while (sent < 16 * MIB && client.totalReceived === 0 && client.end === null) {
      await client.writeAll(chunk);
      sent += chunk.length;
    }
    const response = await client.readResponse(5000);
    assert.match(response.head, /^HTTP\/1\.1 431 /);
    assert.equal(response.end, 'fin');
    const grown = memory() - before;
    assert.ok(grown < 8 * MIB, `memory grew by ${(grown / MIB).toFixed(1)} MiB while ${(sent / MIB).toFixed(1)} MiB of head were sent`);
    // Read buffers held at once: a couple of reads, never the head's worth.
    assert.ok(rig.server.pool.stats.highWater - outstandingBefore <= 4, `pool high water ${rig.server.pool.stats.highWater}`);
    client.destroy();
    await waitFor(() => rig.server.connections.size === 0, 6000, 'the connection to close');
  });

  test('a head of 10 000 small fields: refused (431), closed', T, async (t) => {
    const rig = await startRig();
    t.after(() => rig.stop());
    const client = await RawClient.connect(rig.port);
    const fields = Array.from({ length: 10_000 }, (_, i) => `X-F${i}: v\r\n`).join('');
    client.write(`GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\n${fields}\r\n`);
    const response = await client.readResponse(3000);
    assert.match(response.head, /^HTTP\/1\.1 431 /);
    assert.equal(response.end, 'fin');
    client.destroy();
  });

  for (const [name, key] of [
    ['not base64', 'not a key!'],
    ['15 bytes', Buffer.alloc(15, 1).toString('base64')],
    ['17 bytes', Buffer.alloc(17, 1).toString('base64')],
    ['empty', ''],
  ] as const) {
    test(`an invalid Sec-WebSocket-Key (${name}): 400, never a 101, closed`, T, async (t) => {
      const rig = await startRig();
      t.after(() => rig.stop());
      const client = await RawClient.connect(rig.port);
      client.write(upgradeRequest({ key }).request);
      const response = await client.readResponse(3000);
      assert.match(response.head, /^HTTP\/1\.1 400 /);
      assert.ok(!response.head.includes('Sec-WebSocket-Accept'));
      assert.equal(response.end, 'fin');
      assert.equal(rig.sockets.length, 0, 'no socket opened');
      client.destroy();
    });
  }
});

// ---- frame lengths and message limits ----------------------------------------------------------------

/** A masked frame header declaring `length` with the 64-bit encoding, and no payload. */
function header64(opcode: number, length: bigint): Buffer {
  const head = Buffer.alloc(14);
  head[0] = 0x80 | opcode;
  head[1] = 0x80 | 127;
  head.writeBigUInt64BE(length, 2);
  head.writeUInt32BE(0x11223344, 10);
  return head;
}

describe('frame lengths', () => {
  for (const [name, length, code] of [
    ['2^63 (top bit set)', 2n ** 63n, 1002],
    ['2^64 - 1', 2n ** 64n - 1n, 1002],
    ['2^62', 2n ** 62n, 1009],
    ['2^53 (beyond a safe integer)', 2n ** 53n, 1009],
  ] as const) {
    test(`a 64-bit length of ${name}: close ${code} at the header, nothing allocated`, T, async (t) => {
      const rig = await startRig();
      t.after(() => rig.stop());
      const client = await RawClient.open(rig.port);
      const before = memory();
      client.write(header64(2, length));
      const frame = await client.nextFrame(2000);
      assert.ok(frame !== null);
      assert.deepEqual(frame.raw, serverCloseBytes(code));
      await client.expectFin();
      assert.ok(memory() - before < 4 * MIB, 'memory did not jump');
      await waitFor(() => rig.seen(client.port).closes.length === 1, 2000, 'onClose');
      assert.deepEqual(rig.seen(client.port).closes, [{ code, reason: '', wasClean: false }]);
    });
  }

  test('50 sockets each declaring a 16 MiB frame and sending 1 byte of it: memory does not follow the declared lengths', T, async (t) => {
    const rig = await startRig();
    t.after(() => rig.stop());
    const clients = await Promise.all(Array.from({ length: 50 }, () => RawClient.open(rig.port)));
    const before = memory();
    for (const c of clients) c.write(Buffer.concat([header64(2, 16n * BigInt(MIB)), Buffer.from([0x42])]));
    // Every socket is now inside its frame: wait until the server has read each byte.
    const sent = upgradeRequest().request.length + 15; // the key is always 24 characters
    await waitFor(() => rig.server.connections.size === 50 && [...rig.server.connections].every((conn) => conn.stats.bytesRead === sent), 3000, 'the bytes to arrive');
    await sleep(50);
    const grown = memory() - before;
    assert.ok(grown < 16 * MIB, `memory grew by ${(grown / MIB).toFixed(1)} MiB for 800 MiB declared`);
    for (const c of clients) c.destroy();
    await waitFor(() => rig.server.connections.size === 0, 3000, 'the connections to close');
    assert.equal(rig.server.pool.outstanding, 0, 'dropped mid-frame: every read buffer released');
    assert.ok(rig.sockets.every((ws) => ws.user.closes.length === 1 && ws.user.closes[0]!.code === 1006), 'onClose 1006 once each');
  });

  test('a server reading 4 MiB at a time (bufferSize) takes a 16 MiB message: one read is not refused as too much input', T, async (t) => {
    const rig = await startRig({}, { bufferSize: 4 * MIB });
    t.after(() => rig.stop());
    const client = await RawClient.open(rig.port);
    const payload = Buffer.alloc(16 * MIB, 0x5a);
    await client.writeAll(rawFrame({ opcode: 2, payload }));
    const echoed = await client.expectMessage(2, 15_000);
    assert.ok(echoed.equals(payload));
    assert.equal(rig.server.stats.callbackErrors, 0);
    client.write(rawFrame({ opcode: CLOSE, payload: Buffer.from([0x03, 0xe8]) }));
    assert.deepEqual((await client.nextFrame())?.raw, serverCloseBytes(1000));
    await client.expectFin();
  });

  test('maxMessageBytes: at the limit echoed; one over fails with 1009 at the header (single frame, 16- and 64-bit lengths, fragments)', T, async (t) => {
    const rig = await startRig({ maxMessageBytes: 1000 });
    t.after(() => rig.stop());
    const atLimit = await RawClient.open(rig.port);
    atLimit.write(rawFrame({ opcode: TEXT, payload: 'x'.repeat(1000) }));
    assert.equal((await atLimit.expectMessage(1)).toString(), 'x'.repeat(1000));
    atLimit.destroy();

    const cases: [string, Buffer, string | null][] = [
      // Only the header goes out: the 1009 must not wait for a payload.
      ['16-bit length 1001, header only', rawFrame({ opcode: TEXT, payload: 'x'.repeat(1001) }).subarray(0, 8), null],
      ['64-bit length 1001, header only', rawFrame({ opcode: 2, payload: Buffer.alloc(1001), encoding: 64 }).subarray(0, 14), null],
      ['fragments 600 + 401', rawFrames({ opcode: TEXT, payload: 'y'.repeat(600), fin: false }, { opcode: 0, payload: 'y'.repeat(401) }), null],
      ['a message at the limit, then one over', rawFrames({ opcode: TEXT, payload: 'z'.repeat(1000) }, { opcode: TEXT, payload: 'z'.repeat(1001) }), 'z'.repeat(1000)],
    ];
    for (const [name, bytes, echoed] of cases) {
      const client = await RawClient.open(rig.port);
      client.write(bytes);
      if (echoed !== null) assert.equal((await client.expectMessage(1)).toString(), echoed, name);
      const frame = await client.nextFrame(2000);
      assert.ok(frame !== null, name);
      assert.deepEqual(frame.raw, serverCloseBytes(1009), name);
      await client.expectFin();
      await waitFor(() => rig.seen(client.port).closes.length === 1, 2000, 'onClose');
      assert.deepEqual(rig.seen(client.port).closes, [{ code: 1009, reason: '', wasClean: false }], name);
    }
  });
});

// ---- clients that do not read -------------------------------------------------------------------------

/** A raw client on /room that never reads: its socket is paused right after the handshake. */
async function nonReader(port: number): Promise<RawClient> {
  const client = await RawClient.open(port, { path: '/room' });
  client.socket.pause();
  return client;
}

/** A ws client on /room counting what it receives. */
async function reader(port: number): Promise<{ client: WebSocketClient; received: () => number }> {
  const client = new WebSocketClient(`ws://127.0.0.1:${port}/room`, { perMessageDeflate: false });
  let count = 0;
  client.on('message', () => count++);
  await once(client, 'open');
  return { client, received: () => count };
}

describe('slow consumers', () => {
  const MESSAGE = 16 * 1024;
  const MAX_BUFFERED = 256 * 1024;
  const COUNT = 600; // 9.6 MiB to each socket: more than the kernel buffers of a socket that never reads

  for (const policy of ['drop', 'close'] as const) {
    test(`slowConsumer '${policy}': a client that never reads stays bounded; the others keep receiving`, T, async (t) => {
      const rig = await startRig({ maxBufferedBytes: MAX_BUFFERED, slowConsumer: policy, closeTimeoutMs: 300 });
      t.after(() => rig.stop());
      const slow = await nonReader(rig.port);
      const fast = await reader(rig.port);
      await waitFor(() => rig.room.size === 2, 2000, 'both in the room');
      const slowWs = rig.sockets.find((s) => s.user.port === slow.port)!;
      const frame = prepareMessage(Buffer.alloc(MESSAGE, 0x61));
      let maxBuffered = 0;
      let closedAt = -1;
      let closedTime = 0;
      const outcomes = { sent: 0, dropped: 0, closed: 0 };
      for (let i = 0; i < COUNT; i++) {
        const result = broadcast([slowWs, ...[...rig.room].filter((s) => s !== slowWs)], frame);
        outcomes.sent += result.sent;
        outcomes.dropped += result.dropped;
        outcomes.closed += result.closed;
        if (slowWs.state !== 'closed') maxBuffered = Math.max(maxBuffered, slowWs.bufferedAmount);
        if (closedAt < 0 && slowWs.state !== 'open') {
          closedAt = i;
          closedTime = performance.now();
        }
        // Let the reader read (and the kernel move bytes) between sends.
        if (i % 8 === 7) await new Promise((r) => setImmediate(r));
      }
      await waitFor(() => fast.received() === COUNT, 10_000, `the reader to get all ${COUNT} messages (has ${fast.received()})`);
      assert.ok(maxBuffered <= MAX_BUFFERED + frame.bytes.length + 2 + 18, `the slow socket queued at most ${maxBuffered} bytes`);
      if (policy === 'drop') {
        assert.ok(slowWs.stats.dropped > 0, 'some messages were dropped');
        assert.equal(slowWs.stats.dropped + slowWs.stats.messagesOut, COUNT, 'every message was either queued or dropped and counted');
        assert.equal(outcomes.dropped, slowWs.stats.dropped);
        assert.equal(outcomes.sent, COUNT * 2 - slowWs.stats.dropped);
        assert.equal(slowWs.state, 'open', 'dropping does not close');
        // Now it reads: whole messages only, exactly those that were not dropped, then a clean close.
        slow.socket.resume();
        for (let i = 0; i < slowWs.stats.messagesOut; i++) {
          const m = await slow.expectMessage(2, 5000);
          assert.equal(m.length, MESSAGE);
        }
        slow.write(rawFrame({ opcode: CLOSE, payload: Buffer.from([0x03, 0xe8]) }));
        assert.deepEqual((await slow.nextFrame())?.raw, serverCloseBytes(1000));
        await slow.expectFin();
      } else {
        assert.ok(closedAt >= 0, 'the slow socket was closed');
        assert.equal(outcomes.closed, COUNT - closedAt, 'after its close every broadcast counts it as closed');
        assert.equal(slowWs.stats.dropped, 0);
        // It never reads, so it never answers the 1008: terminated (RST) after closeTimeoutMs.
        await waitFor(() => slowWs.state === 'closed', 3000, 'the slow socket to be terminated');
        const waited = performance.now() - closedTime;
        // closeTimeoutMs (300) on a wheel of 100 ms ticks; the broadcast loop may have run a little past it.
        assert.ok(waited >= 250 && waited < 1200, `terminated ${Math.round(waited)} ms after its 1008`);
        // A paused socket does not read, so it cannot see the RST: read what the kernel holds, then it.
        slow.socket.resume();
        await slow.expectRst(5000);
        assert.deepEqual(slowWs.user.closes, [{ code: 1006, reason: '', wasClean: false }], 'no close handshake: 1006, as ws and browsers report');
        // The reader is unaffected, and still open.
        assert.equal(fast.client.readyState, WebSocketClient.OPEN);
        const more = broadcast(rig.room, 'still here');
        assert.deepEqual(more, { sent: 1, dropped: 0, closed: 0 });
        await waitFor(() => fast.received() === COUNT + 1, 2000, 'one more message');
      }
      fast.client.close();
      slow.destroy();
    });
  }

  test("slowConsumer 'close': the 1008 close frame is what the slow client reads once it reads again", T, async (t) => {
    const rig = await startRig({ maxBufferedBytes: MAX_BUFFERED, slowConsumer: 'close', closeTimeoutMs: 5000 });
    t.after(() => rig.stop());
    const slow = await nonReader(rig.port);
    await waitFor(() => rig.room.size === 1, 2000, 'in the room');
    const slowWs = [...rig.room][0]!;
    const frame = prepareMessage(Buffer.alloc(MESSAGE, 0x62));
    let n = 0;
    while (slowWs.state === 'open' && n < COUNT * 2) {
      slowWs.sendPrepared(frame);
      n++;
      if (n % 8 === 0) await new Promise((r) => setImmediate(r));
    }
    assert.equal(slowWs.state, 'closing');
    assert.equal(slowWs.sendPrepared(frame), 'closed', 'nothing is queued after the close');
    slow.socket.resume();
    for (let i = 0; i < slowWs.stats.messagesOut; i++) assert.equal((await slow.expectMessage(2, 5000)).length, MESSAGE);
    assert.deepEqual((await slow.nextFrame(3000))?.raw, serverCloseBytes(1008, 'slow consumer'));
    slow.write(rawFrame({ opcode: CLOSE, payload: Buffer.from([0x03, 0xf0]) }));
    await slow.expectFin();
    await waitFor(() => slowWs.user.closes.length === 1, 2000, 'onClose');
    assert.deepEqual(slowWs.user.closes, [{ code: 1008, reason: '', wasClean: true }], "the peer's close code, as ws reports it");
  });
});

/** Wait until the server has read nothing new for 200 ms (it paused reading, or read everything). */
async function serverStopsReading(ws: WebSocket<Seen>): Promise<void> {
  let last = -1;
  let since = performance.now();
  await waitFor(
    () => {
      const read = ws.connection.stats.bytesRead;
      if (read !== last) {
        last = read;
        since = performance.now();
      }
      return read > 0 && performance.now() - since >= 200;
    },
    10_000,
    'the server to stop reading',
  );
}

describe('peers that send but do not read their answers', () => {
  test('echo traffic from a client that never reads: the server stops reading, its queue stays near the high-water mark, nothing is lost', T, async (t) => {
    const rig = await startRig();
    t.after(() => rig.stop());
    const client = await RawClient.open(rig.port);
    client.socket.pause();
    const COUNT = 128;
    const SIZE = 64 * 1024;
    for (let i = 0; i < COUNT; i++) client.socket.write(rawFrame({ opcode: 2, payload: Buffer.alloc(SIZE, i) })); // 8 MiB, never waiting for drain
    const ws = rig.sockets[0]!;
    await serverStopsReading(ws);
    assert.ok(ws.connection.stats.bytesRead < COUNT * SIZE, `the server read ${ws.connection.stats.bytesRead} of ${COUNT * SIZE} bytes and stopped`);
    const hwm = ws.connection.options.highWaterMark;
    // Over the mark at most by the echoes of one read: one 64 KiB message here.
    assert.ok(ws.connection.stats.maxQueuedBytes <= hwm + SIZE + 10, `queued at most ${ws.connection.stats.maxQueuedBytes} bytes`);
    client.socket.resume();
    for (let i = 0; i < COUNT; i++) {
      const m = await client.expectMessage(2, 5000);
      assert.ok(m.length === SIZE && m[0] === (i & 0xff) && m[SIZE - 1] === (i & 0xff), `echo ${i} intact and in order`);
    }
    assert.ok(ws.connection.stats.maxQueuedBytes <= hwm + SIZE + 10, `queued at most ${ws.connection.stats.maxQueuedBytes} bytes`);
    client.write(rawFrame({ opcode: CLOSE, payload: Buffer.from([0x03, 0xe8]) }));
    assert.deepEqual((await client.nextFrame())?.raw, serverCloseBytes(1000));
    await client.expectFin();
  });

  test('a ping flood from a client that never reads: pongs stay bounded the same way, every ping answered in order', T, async (t) => {
    const rig = await startRig();
    t.after(() => rig.stop());
    const client = await RawClient.open(rig.port);
    client.socket.pause();
    const COUNT = 64_000; // 8 MiB of pongs: more than the kernel holds for a socket that does not read
    const pings: Buffer[] = [];
    for (let i = 0; i < COUNT; i++) pings.push(rawFrame({ opcode: PING, payload: Buffer.concat([Buffer.from(String(i).padStart(8, '0')), Buffer.alloc(117, 0x70)]) }));
    const all = Buffer.concat(pings);
    client.socket.write(all);
    const ws = rig.sockets[0]!;
    await serverStopsReading(ws);
    assert.ok(ws.connection.stats.bytesRead < all.length, `the server read ${ws.connection.stats.bytesRead} of ${all.length} bytes and stopped`);
    const hwm = ws.connection.options.highWaterMark;
    const oneRead = rig.server.pool.bufferSize;
    assert.ok(ws.connection.stats.maxQueuedBytes <= hwm + oneRead, `queued at most ${ws.connection.stats.maxQueuedBytes} bytes`);
    client.socket.resume();
    for (let i = 0; i < COUNT; i++) {
      const pong = await client.expectFrame(10, 5000);
      assert.equal(pong.payload.subarray(0, 8).toString(), String(i).padStart(8, '0'));
    }
    assert.ok(ws.connection.stats.maxQueuedBytes <= hwm + oneRead, `queued at most ${ws.connection.stats.maxQueuedBytes} bytes`);
    client.write(rawFrame({ opcode: CLOSE, payload: Buffer.from([0x03, 0xe8]) }));
    assert.deepEqual((await client.nextFrame())?.raw, serverCloseBytes(1000));
    await client.expectFin();
  });
});

describe('flow control', () => {
  test("send() says 'over-high-water', onWritable says when to go on: a slow reader gets every message, in order, and the queue stays near the mark", T, async (t) => {
    const rig = await startRig();
    t.after(() => rig.stop());
    const client = await RawClient.open(rig.port, { path: '/flow' });
    for (let i = 0; i < FLOW_COUNT; i++) {
      const m = await client.expectMessage(2, 5000);
      assert.equal(m.length, FLOW_SIZE);
      assert.equal(m.readUInt32BE(0), i, 'in order, none lost');
      if (i % 200 === 0) await sleep(20); // a slow reader: the server's queue must fill and drain
    }
    const ws = rig.sockets[0]!;
    assert.equal(ws.stats.messagesOut, FLOW_COUNT);
    assert.ok(ws.user.pauses >= 2, `paused ${ws.user.pauses} times`);
    assert.equal(ws.user.writables, ws.user.pauses, 'one onWritable per pause');
    const hwm = ws.connection.options.highWaterMark;
    assert.ok(ws.connection.stats.maxQueuedBytes <= hwm + FLOW_SIZE + 4, `queued at most ${ws.connection.stats.maxQueuedBytes} bytes`);
    client.write(rawFrame({ opcode: CLOSE, payload: Buffer.from([0x03, 0xe8]) }));
    assert.deepEqual((await client.nextFrame())?.raw, serverCloseBytes(1000));
    await client.expectFin();
  });
});

describe('TCP edges', () => {
  test('frames right behind the upgrade request, in the same write: 101, then their answers', T, async (t) => {
    const rig = await startRig();
    t.after(() => rig.stop());
    for (const version of [13, 8] as const) {
      const client = await RawClient.connect(rig.port);
      const frames = rawFrames({ opcode: TEXT, payload: 'early' }, { opcode: PING, payload: 'early ping' }, { opcode: CLOSE, payload: Buffer.from([0x03, 0xe8]) }, { opcode: TEXT, payload: 'after close' });
      client.write(Buffer.concat([Buffer.from(upgradeRequest({ version }).request, 'latin1'), frames]));
      assert.match(await client.readHead(), /^HTTP\/1\.1 101 /);
      assert.equal((await client.expectMessage(1)).toString(), 'early');
      assert.equal((await client.expectFrame(10)).payload.toString(), 'early ping');
      assert.deepEqual((await client.nextFrame())?.raw, serverCloseBytes(1000));
      await client.expectFin();
    }
  });

  test('close and FIN at once (the client half-closes): the close is still answered, then FIN, no RST', T, async (t) => {
    const rig = await startRig();
    t.after(() => rig.stop());
    const client = await RawClient.open(rig.port);
    client.socket.end(rawFrame({ opcode: CLOSE, payload: Buffer.from([0x0b, 0xb8]) })); // 3000
    assert.deepEqual((await client.nextFrame())?.raw, serverCloseBytes(3000));
    await client.waitEnd();
    assert.equal(client.end, 'fin');
    await client.closed();
    assert.equal(client.errorCode, null);
    const seen = rig.seen(client.port);
    await waitFor(() => seen.closes.length === 1, 2000, 'onClose');
    assert.deepEqual(seen.closes, [{ code: 3000, reason: '', wasClean: true }]);
  });

  test('FIN without a close frame: the server closes too (FIN), onClose 1006 not clean', T, async (t) => {
    const rig = await startRig();
    t.after(() => rig.stop());
    const client = await RawClient.open(rig.port);
    client.socket.end(rawFrame({ opcode: TEXT, payload: 'last words' }));
    assert.equal((await client.expectMessage(1)).toString(), 'last words');
    await client.waitEnd();
    assert.equal(client.end, 'fin');
    await client.closed();
    const seen = rig.seen(client.port);
    await waitFor(() => seen.closes.length === 1, 2000, 'onClose');
    assert.deepEqual(seen.closes, [{ code: 1006, reason: '', wasClean: false }]);
  });
});

// ---- heartbeat --------------------------------------------------------------------------------------

describe('heartbeat', () => {
  test('a client that answers pings stays; a raw socket that never answers is terminated after about 2 intervals', T, async (t) => {
    const INTERVAL = 250;
    const rig = await startRig({ heartbeatMs: INTERVAL });
    t.after(() => rig.stop());
    const good = new WebSocketClient(`ws://127.0.0.1:${rig.port}/echo`, { perMessageDeflate: false });
    let pings = 0;
    good.on('ping', () => pings++);
    await once(good, 'open');
    // Timed from before the upgrade: the server arms the heartbeat when it sends the 101.
    const opened = performance.now();
    const silent = await RawClient.open(rig.port);
    // It reads (and sees the pings) but never answers them.
    const first = await silent.expectFrame(PING, 2 * INTERVAL);
    assert.equal(first.payload.length, 0);
    await silent.expectRst(4 * INTERVAL);
    const elapsed = performance.now() - opened;
    // Ping at 1 interval, terminated at the next beat (2 intervals), each up to a wheel tick (100 ms) late.
    assert.ok(elapsed >= 2 * INTERVAL && elapsed < 2 * INTERVAL + 400, `terminated after ${Math.round(elapsed)} ms`);
    const silentWs = rig.sockets.find((s) => s.user.port === silent.port)!;
    await waitFor(() => silentWs.user.closes.length === 1, 2000, 'onClose');
    assert.deepEqual(silentWs.user.closes, [{ code: 1006, reason: '', wasClean: false }]);
    // The answering client has been pinged all along and is still open, several intervals later.
    await sleep(3 * INTERVAL);
    assert.equal(good.readyState, WebSocketClient.OPEN);
    assert.ok(pings >= 3, `the good client was pinged ${pings} times`);
    const goodWs = rig.sockets.find((s) => s !== silentWs)!;
    assert.equal(goodWs.state, 'open');
    assert.ok(goodWs.stats.pingsSent >= pings && goodWs.stats.pingsSent <= pings + 1, `pings sent ${goodWs.stats.pingsSent}, received ${pings}`);
    assert.equal(goodWs.stats.messagesOut, 0, 'pings are not messages');
    good.close();
    await once(good, 'close');
  });
});

// ---- server drain -----------------------------------------------------------------------------------

describe('server drain', () => {
  test('stop() sends 1001 to every open socket, waits for the close handshakes, and finishes', T, async () => {
    const rig = await startRig({ closeTimeoutMs: 400 });
    const wsClient = new WebSocketClient(`ws://127.0.0.1:${rig.port}/echo`, { perMessageDeflate: false });
    await once(wsClient, 'open');
    const wsClosed = once(wsClient, 'close');
    const answering = await RawClient.open(rig.port, { version: 8 });
    const silent = await RawClient.open(rig.port);
    const midHandshake = await RawClient.connect(rig.port);
    midHandshake.write('GET /echo HTTP/1.1\r\nHost: x\r\n');
    await waitFor(() => rig.server.connections.size === 4, 2000, 'four connections');
    const started = performance.now();
    const stopped = rig.server.stop({ deadlineMs: 3000 });
    const goingAway = serverCloseBytes(1001, 'server shutting down');
    assert.deepEqual((await answering.nextFrame())?.raw, goingAway);
    answering.write(rawFrame({ opcode: CLOSE, payload: Buffer.from([0x03, 0xe9]) }));
    await answering.expectFin();
    assert.deepEqual((await silent.nextFrame())?.raw, goingAway);
    await silent.expectRst(2000);
    const [code, reason] = (await wsClosed) as [number, Buffer];
    assert.equal(code, 1001);
    assert.equal(reason.toString(), 'server shutting down');
    const head = await midHandshake.readResponse(2000);
    assert.equal(head.head, '', 'a head never finished gets no answer, just the close');
    const result = await stopped;
    const elapsed = performance.now() - started;
    assert.deepEqual(result, { closedGracefully: 4, aborted: 0, forced: 0 });
    assert.ok(elapsed < 1500, `stop() took ${Math.round(elapsed)} ms`);
    assert.equal(rig.server.connections.size, 0);
    const closes = rig.sockets.map((s) => s.user.closes);
    assert.deepEqual(closes.map((c) => c.length), [1, 1, 1]);
    assert.deepEqual(closes[0], [{ code: 1001, reason: 'server shutting down', wasClean: true }], 'ws echoes code and reason');
    assert.deepEqual(closes[1], [{ code: 1001, reason: '', wasClean: true }]);
    assert.deepEqual(closes[2], [{ code: 1006, reason: '', wasClean: false }], 'never answered: 1006');
    assert.equal(rig.server.pool.outstanding, 0);
    answering.destroy();
    silent.destroy();
    midHandshake.destroy();
  });
});

// ---- churn ------------------------------------------------------------------------------------------

describe('connection churn', () => {
  test('10 000 connections upgraded then dropped (FIN or RST): count back to 0, dispatcher, wheel and pool clean', { timeout: 120_000 }, async (t) => {
    const dispatcher = new CompletionDispatcher();
    const rig = await startRig({}, { dispatcher });
    t.after(() => rig.stop());
    const TOTAL = 10_000;
    const CONCURRENCY = 32;
    const started = performance.now();
    let next = 0;
    let upgraded = 0;
    const worker = async (): Promise<void> => {
      while (next < TOTAL) {
        const i = next++;
        const socket = net.connect({ host: '127.0.0.1', port: rig.port });
        socket.setNoDelay(true);
        socket.write(upgradeRequest({ version: i % 2 === 0 ? 13 : 8 }).request);
        const head = await new Promise<string>((resolve, reject) => {
          let text = '';
          const timer = setTimeout(() => reject(new Error(`connection ${i}: no 101 within 5 s`)), 5000);
          socket.on('data', (chunk: Buffer) => {
            text += chunk.toString('latin1');
            if (text.includes('\r\n\r\n')) {
              clearTimeout(timer);
              resolve(text);
            }
          });
          socket.once('error', (error) => {
            clearTimeout(timer);
            reject(error);
          });
        });
        assert.match(head, /^HTTP\/1\.1 101 /);
        upgraded++;
        if (i % 3 === 0) socket.resetAndDestroy();
        else if (i % 3 === 1) socket.destroy();
        else socket.end(rawFrame({ opcode: TEXT, payload: 'bye' })); // a message, then FIN without a close frame
        socket.on('error', () => undefined); // an RST from the server closing under us is fine here
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    assert.equal(upgraded, TOTAL);
    await waitFor(() => rig.server.connections.size === 0, 15_000, `the connections to close (${rig.server.connections.size} open)`);
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 90_000, `${TOTAL} connections in ${Math.round(elapsed)} ms`);
    assert.equal(rig.server.stats.accepted, TOTAL);
    assert.equal(rig.server.stats.active, 0);
    assert.equal(rig.server.stats.closed, TOTAL);
    assert.equal(rig.server.stats.callbackErrors, 0);
    await waitFor(() => dispatcher.queuedNow === 0, 2000, 'the dispatcher queues to empty');
    assert.equal(dispatcher.stats.errors, 0, 'no completion threw');
    assert.equal(rig.server.wheel.size, 0, 'no timer left on the wheel (handshake deadlines, linger, close timers)');
    assert.equal(rig.server.pool.outstanding, 0, 'every read buffer released');
    assert.equal(rig.sockets.length, TOTAL);
    const closes = rig.sockets.map((s) => s.user.closes.length);
    assert.ok(closes.every((n) => n === 1), 'onClose exactly once for each');
  });
});

// ---- handlers that close, abort or throw ------------------------------------------------------------

describe('handlers acting from inside their callbacks', () => {
  test('close() in onOpen: the close frame follows the 101, send() after it says closed', T, async (t) => {
    const rig = await startRig();
    t.after(() => rig.stop());
    const client = await RawClient.open(rig.port, { path: '/close-on-open' });
    assert.deepEqual((await client.nextFrame())?.raw, serverCloseBytes(4000, 'bye from onOpen'));
    client.write(rawFrame({ opcode: CLOSE, payload: Buffer.from([0x0f, 0xa0]) }));
    await client.expectFin();
    const seen = rig.seen(client.port);
    await waitFor(() => seen.closes.length === 1, 2000, 'onClose');
    assert.deepEqual(seen.sendResults, ['closed']);
    assert.deepEqual(seen.states, ['closing']);
    assert.deepEqual(seen.closes, [{ code: 4000, reason: '', wasClean: true }]);
  });

  test('terminate() in onOpen: RST, no frame, send() after it says closed, onClose 1006 once', T, async (t) => {
    const rig = await startRig();
    t.after(() => rig.stop());
    const client = await RawClient.open(rig.port, { path: '/abort-on-open' });
    await client.expectRst();
    assert.equal(client.buffered, 0, 'no frame after the 101');
    const seen = rig.seen(client.port);
    await waitFor(() => seen.closes.length === 1, 2000, 'onClose');
    assert.deepEqual(seen.sendResults, ['closed']);
    assert.notEqual(seen.states[0], 'open', 'a terminated socket does not say open');
    assert.deepEqual(seen.closes, [{ code: 1006, reason: '', wasClean: false }]);
    client.destroy();
  });

  test('close() in onMessage: the close frame and no reply; a message already behind it is seen (as ws does) but nothing more is sent', T, async (t) => {
    const rig = await startRig();
    t.after(() => rig.stop());
    const client = await RawClient.open(rig.port, { path: '/close-on-message' });
    client.write(rawFrames({ opcode: TEXT, payload: 'hello' }, { opcode: TEXT, payload: 'close' }, { opcode: TEXT, payload: 'late' }));
    assert.equal((await client.expectMessage(1)).toString(), 'reply');
    assert.deepEqual((await client.nextFrame())?.raw, serverCloseBytes(4001, 'closed in onMessage'));
    client.write(rawFrame({ opcode: CLOSE, payload: Buffer.from([0x0f, 0xa1]) }));
    await client.expectFin();
    const seen = rig.seen(client.port);
    await waitFor(() => seen.closes.length === 1, 2000, 'onClose');
    assert.deepEqual(seen.messages, ['hello', 'close', 'late']);
    assert.deepEqual(seen.sendResults, ['queued', 'closed', 'closed']);
    assert.deepEqual(seen.states, ['open', 'closing', 'closing']);
    assert.deepEqual(seen.closes, [{ code: 4001, reason: '', wasClean: true }]);
  });

  test('terminate() in onMessage: RST, nothing sent after it, onClose 1006 once', T, async (t) => {
    const rig = await startRig();
    t.after(() => rig.stop());
    const client = await RawClient.open(rig.port, { path: '/abort-on-message' });
    client.write(rawFrames({ opcode: TEXT, payload: 'hello' }, { opcode: TEXT, payload: 'abort' }, { opcode: TEXT, payload: 'late' }));
    assert.equal((await client.expectMessage(1)).toString(), 'reply');
    assert.equal((await client.expectFrame(PING)).payload.toString(), 'p');
    await client.expectRst();
    assert.equal(client.buffered, 0, 'nothing after the abort');
    const seen = rig.seen(client.port);
    await waitFor(() => seen.closes.length === 1, 2000, 'onClose');
    assert.deepEqual(seen.sendResults.slice(0, 4), ['queued', 'queued', 'closed', 'closed']);
    assert.ok(seen.sendResults.slice(2).every((r) => r === 'closed'));
    assert.ok(seen.states.slice(1).every((s) => s !== 'open'), `states after terminate: ${seen.states.join(', ')}`);
    assert.equal(rig.sockets[0]!.stats.pingsSent, 1, 'a ping refused after terminate is not counted');
    assert.deepEqual(seen.closes, [{ code: 1006, reason: '', wasClean: false }]);
    client.destroy();
  });

  test('a handler that throws: its connection is aborted (RST), others keep going', T, async (t) => {
    const rig = await startRig();
    t.after(() => rig.stop());
    const other = await RawClient.open(rig.port);
    const thrower = await RawClient.open(rig.port, { path: '/throw-on-message' });
    thrower.write(rawFrame({ opcode: TEXT, payload: 'fine' }));
    assert.equal((await thrower.expectMessage(1)).toString(), 'fine');
    other.write(rawFrame({ opcode: TEXT, payload: 'before' }));
    assert.equal((await other.expectMessage(1)).toString(), 'before');
    thrower.write(rawFrames({ opcode: TEXT, payload: 'boom' }, { opcode: TEXT, payload: 'never echoed' }));
    await thrower.expectRst();
    assert.equal(thrower.buffered, 0);
    other.write(rawFrame({ opcode: TEXT, payload: 'after' }));
    assert.equal((await other.expectMessage(1)).toString(), 'after');
    const seen = rig.seen(thrower.port);
    await waitFor(() => seen.closes.length === 1, 2000, 'onClose');
    assert.deepEqual(seen.closes, [{ code: 1006, reason: '', wasClean: false }]);
    assert.equal(rig.server.stats.callbackErrors, 1);
    // onOpen throwing: aborted just the same.
    const openThrower = await RawClient.open(rig.port, { path: '/throw-on-open' });
    await openThrower.expectRst();
    assert.equal(rig.server.stats.callbackErrors, 2);
    other.write(rawFrame({ opcode: PING, payload: 'alive?' }));
    assert.equal((await other.expectFrame(10)).payload.toString(), 'alive?');
    other.write(rawFrame({ opcode: CLOSE, payload: Buffer.from([0x03, 0xe8]) }));
    assert.deepEqual((await other.nextFrame())?.raw, serverCloseBytes(1000));
    await other.expectFin();
    thrower.destroy();
    openThrower.destroy();
  });
});
