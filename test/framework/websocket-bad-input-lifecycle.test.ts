/**
 * The WebSocket server against hostile peers over real TCP on 127.0.0.1 (3 of 3): TCP edges, the
 * heartbeat, a server drain, connection churn, and handlers that close, abort or throw from inside
 * their callbacks.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as net from 'node:net';
import { describe, test } from 'node:test';
import WebSocketClient from 'ws';
import {
  CompletionDispatcher,
} from '../../framework/index.js';
import { rawFrame, rawFrames } from '../helpers/ws-frames.js';
import { RawClient, serverCloseBytes, upgradeRequest } from '../helpers/ws-raw-client.js';
import {
  T,
  TEXT,
  CLOSE,
  PING,
  startRig,
  waitFor,
  sleep,
} from '../helpers/ws-bad-input-rig.js';

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
    // Long enough that the answering client, in this same loop, always answers within one beat: after a
    // stall the heartbeat's timer runs before the poll phase that would read its pong.
    const INTERVAL = 1000;
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
    // Ping at 1 interval, terminated at the next beat (2 intervals), each up to a wheel tick (100 ms) late
    // (and a loaded machine's timers later still).
    assert.ok(elapsed >= 2 * INTERVAL && elapsed < 3 * INTERVAL, `terminated after ${Math.round(elapsed)} ms`);
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
    const rig = await startRig({ closeTimeoutMs: 2000 });
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
    await silent.expectRst(5000);
    const [code, reason] = (await wsClosed) as [number, Buffer];
    assert.equal(code, 1001);
    assert.equal(reason.toString(), 'server shutting down');
    const head = await midHandshake.readResponse(2000);
    assert.equal(head.head, '', 'a head never finished gets no answer, just the close');
    const result = await stopped;
    const elapsed = performance.now() - started;
    assert.deepEqual(result, { closedGracefully: 4, aborted: 0, forced: 0 });
    assert.ok(elapsed < 4000, `stop() took ${Math.round(elapsed)} ms (the close timeout is 2 s, the deadline 3 s)`);
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
