import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BufferPool, type CloseReason, type ConnectionCallbacks, ErrorCodes, PorticoError, Shut } from '../../framework/index.js';
import { memoryConnection, until } from '../helpers/memory-connection.js';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

test('posting a second read while one is pending is an error', () => {
  const { conn } = memoryConnection({ onReadCompleted: (_c, b) => b.release() });
  conn.start();
  conn.read();
  assert.throws(() => conn.read(), { code: ErrorCodes.INVALID_STATE });
});

test('bytes that arrive with no read posted wait in the transport, as in a socket, until a read is posted', async () => {
  const seen: string[] = [];
  const { conn, peer } = memoryConnection({ onReadCompleted: (_c, b) => (seen.push(b.data.toString()), b.release()) });
  conn.start();
  peer.write(Buffer.from('early'), () => {});
  await tick();
  await tick();
  assert.deepEqual(seen, [], 'nothing completes without a posted read');
  conn.read();
  assert.deepEqual(seen, [], 'a read posted on TCP completes from the event loop, never inside read()');
  await until(() => seen.length === 1, 1000, 'read completion');
  assert.deepEqual(seen, ['early']);
});

test('with inline reads (FILE_SKIP_COMPLETION_PORT_ON_SUCCESS), a read of waiting bytes completes inside read()', () => {
  const seen: string[] = [];
  const { conn, transport } = memoryConnection({ onReadCompleted: (_c, b) => (seen.push(b.data.toString()), b.release()) }, { inlineReads: true });
  conn.start();
  transport.push(Buffer.from('early'));
  assert.deepEqual(seen, []);
  conn.read();
  assert.deepEqual(seen, ['early'], 'completed inline inside read()');
});

test('leftover bytes from a lower layer are the first read completions, in order', () => {
  const pool = new BufferPool({ bufferSize: 16 });
  const seen: string[] = [];
  const { conn } = memoryConnection({ onReadCompleted: (c, b) => (seen.push(b.data.toString()), b.release(), c.read()) }, { pool });
  conn.start([pool.acquireCopy(Buffer.from('one')), pool.acquireCopy(Buffer.from('two'))]);
  conn.read();
  assert.deepEqual(seen, ['one', 'two']);
  assert.equal(conn.stats.maxStaged, 2);
});

test('write reports over-high-water, then onWritable once the queue drains to the low-water mark', async () => {
  let writable = 0;
  const { conn } = memoryConnection(
    { onReadCompleted: (_c, b) => b.release(), onWritable: () => writable++ },
    { options: { highWaterMark: 10, lowWaterMark: 0 } },
  );
  conn.start();
  assert.equal(conn.write(Buffer.alloc(6)), 'queued');
  assert.equal(conn.write(Buffer.alloc(6)), 'over-high-water');
  assert.equal(conn.queuedBytes, 12);
  await tick();
  assert.equal(conn.queuedBytes, 0);
  assert.equal(writable, 1);
  assert.equal(conn.stats.bytesWritten, 12);
  assert.equal(conn.stats.maxQueuedBytes, 12);
});

test('a pooled buffer passed to write is released once written; writes after shutdown are refused and released', async () => {
  const pool = new BufferPool({ bufferSize: 16 });
  const { conn, peer } = memoryConnection({ onReadCompleted: (_c, b) => b.release() }, { pool });
  const received: string[] = [];
  peer.attach({ onData: (b) => (received.push(b.data.toString()), b.release(), true), onEnd: () => received.push('FIN'), onWriteShut: () => {}, onError: () => {}, onClosed: () => {} });
  peer.resumeReading();
  conn.start();
  assert.equal(conn.write(pool.acquireCopy(Buffer.from('hello'))), 'queued');
  conn.shutdownWrite();
  assert.ok(conn.shutdown.has(Shut.WriteWanted), 'FIN wanted at once');
  assert.equal(conn.write(pool.acquireCopy(Buffer.from('late'))), 'closed');
  await tick();
  assert.ok(conn.shutdown.has(Shut.WriteDone), 'FIN done once the transport says so');
  assert.deepEqual(received, ['hello', 'FIN']);
  assert.equal(pool.outstanding, 0);
});

test('graceful close waits for the peer FIN, then aborts after lingerMs', async () => {
  let reason: CloseReason | null = null;
  const { conn, clock, wheel, peer } = memoryConnection(
    { onReadCompleted: (_c, b) => b.release(), onConnectionClosed: (_c, r) => (reason = r) },
    { options: { lingerMs: 1000 } },
  );
  peer.attach({ onData: (b) => (b.release(), true), onEnd: () => {}, onWriteShut: () => {}, onError: () => {}, onClosed: () => {} });
  conn.start();
  conn.close();
  clock.advance(900);
  wheel.advance();
  await tick();
  assert.equal(reason, null, 'still lingering');
  clock.advance(200);
  wheel.advance();
  await until(() => reason !== null, 1000, 'close');
  assert.equal((reason as CloseReason | null)?.kind, 'local-close');
  assert.ok(conn.shutdown.has(Shut.AbortWanted), 'the linger deadline aborted it');
});

test('idle timeouts (read / write / all) follow the injected clock through one wheel', async () => {
  for (const which of ['read', 'write', 'all'] as const) {
    let reason: CloseReason | null = null;
    const idle = { readMs: 0, writeMs: 0, allMs: 0, [`${which}Ms`]: 500 };
    const { conn, clock, wheel, transport } = memoryConnection(
      { onConnectionEstablished: (c) => c.read(), onReadCompleted: (c, b) => (b.release(), c.read()), onConnectionClosed: (_c, r) => (reason = r) },
      { options: { idle } },
    );
    conn.start();
    clock.advance(300);
    wheel.advance();
    transport.push(Buffer.from('x')); // a read: resets read and all idleness, not write
    conn.write(Buffer.from('y'));
    await tick(); // the write completes: resets write and all idleness
    clock.advance(300);
    wheel.advance();
    await tick();
    assert.equal(reason, null, `${which}: activity at 300 ms keeps it alive at 600 ms`);
    clock.advance(300);
    wheel.advance();
    await until(() => reason !== null, 1000, `${which} idle`);
    assert.deepEqual(reason, { kind: 'idle', which });
  }
});

test('an onIdle that keeps the connection is called once per period, counted from when it fired (issue 7 #3)', async () => {
  const idles: number[] = [];
  const { conn, clock, wheel } = memoryConnection(
    { onConnectionEstablished: (c) => c.read(), onReadCompleted: (_c, b) => b.release(), onIdle: () => idles.push(clock.now()) },
    { options: { idle: { readMs: 100 } } },
  );
  conn.start();
  clock.advance(5000); // the last read is long past: re-arming from it would fire at every tick
  wheel.advance();
  await tick();
  assert.equal(idles.length, 1, 'one onIdle for the whole silence so far');
  for (let t = 0; t < 1000; t += 10) {
    clock.advance(10);
    wheel.advance();
    await tick();
  }
  assert.ok(idles.length >= 10 && idles.length <= 11, `${idles.length} onIdle calls in 10 periods`);
  for (let i = 1; i < idles.length; i++) assert.ok(idles[i]! - idles[i - 1]! >= 100, `period ${idles[i]! - idles[i - 1]!} ms`);
  assert.equal(conn.lifecycle, 'open', 'kept open');
});

test('cork/uncork hands corked writes to the transport as one chunk; strings are written as UTF-8', async () => {
  const { conn, transport } = memoryConnection({ onReadCompleted: (_c, b) => b.release() });
  conn.start();
  conn.cork();
  conn.write('héllo ');
  conn.cork(); // nests
  conn.write(Buffer.from('corked '));
  conn.uncork();
  assert.equal(transport.written.length, 0, 'still corked: the outer cork holds');
  conn.write('world');
  conn.uncork();
  assert.equal(transport.written.length, 1, 'one writev');
  assert.equal(Buffer.from(transport.written[0]!).toString(), 'héllo corked world');
  await tick();
  assert.equal(conn.stats.writes, 3, 'each write still completes on its own');
  assert.equal(conn.queuedBytes, 0);
});

test('keepReading posts a read only if none is posted, and never after the peer FIN was reported', async () => {
  const seen: string[] = [];
  const { conn, peer } = memoryConnection({ onReadCompleted: (_c, b) => (seen.push(b.data.toString()), b.release()), onClientClose: () => seen.push('FIN') });
  conn.start();
  assert.equal(conn.keepReading(), true);
  assert.equal(conn.keepReading(), true, 'idempotent: still one read posted');
  assert.throws(() => conn.read(), { code: ErrorCodes.INVALID_STATE });
  peer.write(Buffer.from('one'), () => {});
  await until(() => seen.length === 1, 1000, 'one completion');
  assert.equal(conn.readPosted, false);
  peer.shutdownWrite();
  assert.equal(conn.keepReading(), true);
  await until(() => seen.length === 2, 1000, 'FIN');
  assert.deepEqual(seen, ['one', 'FIN']);
  assert.equal(conn.keepReading(), false, 'nothing more comes after the FIN');
});

test('a throwing onConnectionClosed is contained and reported, not rethrown', async () => {
  const errors: PorticoError[] = [];
  const { conn, peer } = memoryConnection({
    onReadCompleted: (_c, b) => b.release(),
    onConnectionClosed: () => {
      throw new Error('closed handler bug');
    },
  });
  // Capture what the dispatcher reports for this connection.
  const original = conn.completionFailed.bind(conn);
  conn.completionFailed = (e) => (errors.push(e), original(e));
  conn.start();
  conn.read(); // as with a socket, an RST is noticed while reading
  peer.reset();
  await until(() => errors.length === 1, 1000, 'reported error');
  assert.equal(errors[0]!.code, ErrorCodes.CALLBACK_THREW);
});

test('PorticoError: stable code, layer, cause; instanceof by brand', () => {
  const cause = new Error('root');
  const e = new PorticoError(ErrorCodes.SOCKET, 'transport', 'wrapped', { cause });
  assert.ok(e instanceof PorticoError);
  assert.ok(e instanceof Error);
  assert.equal(e.cause, cause);
  assert.equal(e.layer, 'transport');
  assert.ok(!(new Error('plain') instanceof PorticoError));
});

test('switchHandler inside a completion: every later completion goes to the new handler, the close exactly once', async () => {
  const events: string[] = [];
  const second: ConnectionCallbacks<undefined> = {
    onReadCompleted: (c, b) => {
      events.push(`second read ${b.data.toString()}`);
      b.release();
      c.write(Buffer.from('pong'));
      c.read();
    },
    onWriteCompleted: (_c, n) => events.push(`second wrote ${n}`),
    onClientClose: (c) => (events.push('second FIN'), c.close()),
    onConnectionClosed: () => events.push('second closed'),
  };
  const { conn, peer } = memoryConnection({
    onConnectionEstablished: (c) => c.read(),
    onReadCompleted: (c, b) => {
      events.push(`first read ${b.data.toString()}`);
      b.release();
      c.switchHandler(second);
      c.write(Buffer.from('hi')); // completes after the switch: reported to the second handler
      c.read();
    },
    onWriteCompleted: (_c, n) => events.push(`first wrote ${n}`),
    onConnectionClosed: () => events.push('first closed'),
  });
  peer.attach({ onData: (b) => (b.release(), true), onEnd: () => peer.shutdownWrite(), onWriteShut: () => {}, onError: () => {}, onClosed: () => {} });
  peer.resumeReading();
  conn.start();
  peer.write(Buffer.from('upgrade'), () => {});
  await until(() => events.includes('second wrote 2'), 1000, 'the first write completed');
  peer.write(Buffer.from('frame'), () => {});
  await until(() => events.includes('second wrote 4'), 1000, 'the second write completed');
  peer.shutdownWrite();
  await until(() => events.includes('second closed'), 2000, 'the close');
  assert.deepEqual(events, ['first read upgrade', 'second wrote 2', 'second read frame', 'second wrote 4', 'second FIN', 'second closed']);
});
