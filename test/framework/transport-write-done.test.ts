/**
 * A write made without its own `done` completes through the sink's `onWriteDone` (what a Connection
 * uses: no completion closure per connection), in order with writes that carry their own callback —
 * plain, corked, and cancelled by a close. Both TCP transports, on raw accepted handles over 127.0.0.1.
 * Also: where NativeTcpTransport keeps its owner on the handle (Node's owner slot, or its own property
 * when that slot is taken), and that it gives the slot back at the close.
 */
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { test } from 'node:test';
import { BufferPool, NativeTcpTransport, type PorticoError, TcpTransport, type Transport, type TransportSink } from '../../framework/index.js';
import type { NativeTcpHandle } from '../../framework/server/accept-handles.js';
import { takeOverAccepts } from '../../framework/server/accept-handles.js';
import type { NativeStreamHandle } from '../../framework/transport/native-stream.js';
import { until } from '../helpers/memory-connection.js';
import { connectClient, readBytes } from '../helpers/tcp-client.js';

const pool = new BufferPool({ bufferSize: 16 * 1024 });

/** A listener whose accepted connections arrive as raw handles (no net.Socket made for them). */
async function rawListener(): Promise<{ port: number; next: () => Promise<NativeTcpHandle>; close: () => Promise<void> }> {
  const server = net.createServer();
  const waiting: NativeTcpHandle[] = [];
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const why = takeOverAccepts(server, (status, handle) => {
    if (status === 0 && handle !== undefined) waiting.push(handle);
  });
  assert.equal(why, null);
  return {
    port: (server.address() as net.AddressInfo).port,
    next: async () => {
      await until(() => waiting.length > 0, 3000, 'an accepted handle');
      return waiting.shift()!;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

interface Recorder extends TransportSink {
  readonly events: string[];
}

function recorder(): Recorder {
  const events: string[] = [];
  return {
    events,
    onData: (buffer) => (buffer.release(), true),
    onEnd: () => events.push('end'),
    onWriteShut: () => events.push('write-shut'),
    onError: (error: PorticoError) => events.push(`error ${error.code}`),
    onClosed: () => events.push('closed'),
    onWriteDone: (error) => events.push(`sink ${error ? 'failed' : 'ok'}`),
  };
}

const kinds: { name: string; make: (handle: NativeTcpHandle) => Transport }[] = [
  { name: 'NativeTcpTransport', make: (handle) => NativeTcpTransport.fromHandle(handle as unknown as NativeStreamHandle, pool)! },
  { name: 'TcpTransport (net.Socket)', make: (handle) => TcpTransport.fromHandle(handle, pool, 'onread') },
];

for (const { name, make } of kinds) {
  test(`${name}: writes without a callback complete on the sink, in order with those that have one`, async () => {
    const listener = await rawListener();
    const client = await connectClient(listener.port);
    try {
      const transport = make(await listener.next());
      const sink = recorder();
      transport.attach(sink);
      const own = (tag: string) => (error?: Error | null) => sink.events.push(`${tag} ${error ? 'failed' : 'ok'}`);
      transport.write(Buffer.from('a'), own('own-1'));
      transport.write(Buffer.from('b'));
      transport.cork();
      transport.write(Buffer.from('c'));
      transport.write(Buffer.from('d'), own('own-4'));
      transport.uncork();
      transport.write(Buffer.from('e'));
      assert.equal((await readBytes(client, 5)).toString(), 'abcde');
      await until(() => sink.events.length === 5, 2000, 'five completions');
      assert.deepEqual(sink.events, ['own-1 ok', 'sink ok', 'sink ok', 'own-4 ok', 'sink ok']);
      // After the close, a write without a callback still completes once on the sink — failed, and never inside write().
      transport.destroy();
      await until(() => sink.events.includes('closed'), 2000, 'the close');
      const before = sink.events.length;
      transport.write(Buffer.from('late'));
      assert.equal(sink.events.length, before, 'not inside write()');
      await until(() => sink.events.length === before + 1, 2000, 'the late write completed');
      assert.equal(sink.events.at(-1), 'sink failed');
    } finally {
      client.destroy();
      await listener.close();
    }
  });
}

test('NativeTcpTransport: a write the kernel cannot take whole keeps its own request while others write through the shared one', async () => {
  // Writes the kernel takes whole share one request object (Node leaves it untouched); one that goes
  // to libuv's queue binds it. If that request were handed to the next write, the queued write's
  // completion would reach whichever transport wrote last. Three transports, table-driven order:
  // A's write queued (its peer not reading), then B and C write while it waits, then A's peer reads.
  const listener = await rawListener();
  const clients = [await connectClient(listener.port), await connectClient(listener.port), await connectClient(listener.port)];
  try {
    const transports = [];
    for (let i = 0; i < 3; i++) transports.push(NativeTcpTransport.fromHandle((await listener.next()) as unknown as NativeStreamHandle, pool)!);
    const sinks = transports.map((t) => {
      const sink = recorder();
      t.attach(sink);
      return sink;
    });
    const [a, b, c] = transports as [NativeTcpTransport, NativeTcpTransport, NativeTcpTransport];
    clients[0]!.pause();
    const big = Buffer.alloc(16 * 1024 * 1024, 0x61);
    a.write(big); // more than the socket buffers hold: queued in libuv
    a.write(Buffer.from('!')); // behind it
    assert.deepEqual(sinks[0]!.events, [], 'nothing of A completed yet');
    for (let i = 0; i < 50; i++) {
      b.write(Buffer.from('b'));
      c.write(Buffer.from('c'), (error) => sinks[2]!.events.push(`own ${error ? 'failed' : 'ok'}`));
    }
    assert.equal((await readBytes(clients[1]!, 50)).toString(), 'b'.repeat(50));
    assert.equal((await readBytes(clients[2]!, 50)).toString(), 'c'.repeat(50));
    await until(() => sinks[1]!.events.length === 50 && sinks[2]!.events.length === 50, 2000, "B's and C's completions");
    assert.ok(sinks[1]!.events.every((e) => e === 'sink ok'));
    assert.ok(sinks[2]!.events.every((e) => e === 'own ok'));
    assert.deepEqual(sinks[0]!.events, [], "A's writes still queued, none of B's or C's completions reported to A");
    clients[0]!.resume();
    const got = await readBytes(clients[0]!, big.length + 1);
    assert.equal(got.subarray(-1).toString(), '!');
    assert.equal(got.subarray(0, big.length).equals(big), true);
    await until(() => sinks[0]!.events.length === 2, 5000, "A's two completions");
    assert.deepEqual(sinks[0]!.events, ['sink ok', 'sink ok']);
    assert.equal(sinks[1]!.events.length, 50, 'B got none of them');
    assert.equal(sinks[2]!.events.length, 50, 'C got none of them');
    for (const t of transports) t.destroy();
  } finally {
    for (const client of clients) client.destroy();
    await listener.close();
  }
});

test("NativeTcpTransport keeps its owner in Node's owner slot when it is free, its own property when not; the slot is freed at the close", async () => {
  const listener = await rawListener();
  const clients = [await connectClient(listener.port), await connectClient(listener.port)];
  try {
    const free = await listener.next();
    const taken = await listener.next();
    const slot = Object.getOwnPropertySymbols(free).find((s) => s.description === 'owner_symbol');
    assert.ok(slot !== undefined, "this Node's TCP handles have an owner_symbol slot");
    const slots = (h: NativeTcpHandle): Record<symbol, unknown> => h as unknown as Record<symbol, unknown>;
    const someoneElse = { owner: 'someone else' };
    slots(taken)[slot] = someoneElse;
    const symbolsBefore = Object.getOwnPropertySymbols(free).length;
    const transports = [free, taken].map((h) => NativeTcpTransport.fromHandle(h as unknown as NativeStreamHandle, pool)!);
    assert.equal(slots(free)[slot], transports[0], 'the free slot holds the transport');
    assert.equal(Object.getOwnPropertySymbols(free).length, symbolsBefore, 'no property added');
    assert.equal(slots(taken)[slot], someoneElse, 'a taken slot is left alone');
    // Both read: each read completion finds its own transport.
    const got: string[][] = [[], []];
    transports.forEach((t, i) => {
      t.attach({ ...recorder(), onData: (b) => (got[i]!.push(b.data.toString()), b.release(), true) });
      t.resumeReading();
    });
    clients[0]!.write('one');
    clients[1]!.write('two');
    await until(() => got[0]!.join('') === 'one' && got[1]!.join('') === 'two', 2000, 'both reads');
    transports.forEach((t) => t.destroy());
    await until(() => slots(free)[slot] === null, 2000, 'the slot freed');
    assert.equal(slots(taken)[slot], someoneElse, 'the other owner is still there');
  } finally {
    for (const c of clients) c.destroy();
    await listener.close();
  }
});
