/**
 * The WebSocket server against hostile peers over real TCP on 127.0.0.1 (2 of 3): clients that never
 * read (slow consumers under broadcast, both policies), peers that send but never read their answers,
 * flow control — memory stays bounded and the other clients keep receiving.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import WebSocketClient from 'ws';
import { describe, test } from 'node:test';
import {
  broadcast,
  prepareMessage,
  type WebSocket,
} from '../../framework/index.js';
import { rawFrame } from '../helpers/ws-frames.js';
import { RawClient, serverCloseBytes } from '../helpers/ws-raw-client.js';
import {
  T,
  CLOSE,
  PING,
  type Seen,
  FLOW_COUNT,
  FLOW_SIZE,
  startRig,
  waitFor,
  sleep,
} from '../helpers/ws-bad-input-rig.js';

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
        assert.ok(waited >= 250 && waited < 3000, `terminated ${Math.round(waited)} ms after its 1008`);
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
