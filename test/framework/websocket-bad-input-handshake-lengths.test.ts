/**
 * The WebSocket server against hostile peers over real TCP on 127.0.0.1 (1 of 3): opening handshakes
 * that never finish or never stop, giant heads, bad keys, absurd frame lengths and message limits —
 * every bound (time, bytes, memory) asserted, and what the peer sees at TCP level (FIN or RST).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { rawFrame, rawFrames } from '../helpers/ws-frames.js';
import { RawClient, serverCloseBytes, upgradeRequest } from '../helpers/ws-raw-client.js';
import {
  T,
  TEXT,
  CLOSE,
  startRig,
  waitFor,
  sleep,
  memory,
  MIB,
} from '../helpers/ws-bad-input-rig.js';

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
    assert.ok(elapsed >= 300 && elapsed < 3000, `408 after ${Math.round(elapsed)} ms`);
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
    assert.ok(elapsed >= 300 && elapsed < 3000, `408 after ${Math.round(elapsed)} ms although bytes kept coming`);
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
