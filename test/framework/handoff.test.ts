/**
 * `Server.adopt` and `HandoffReceiver`: a connection handed over (here through an in-process channel,
 * as a `net.Socket`; the examples' tests send raw handles between processes) is taken in as if
 * accepted: the bytes the sender read come first, it counts against `maxConnections` and in the
 * stats, and `stop()` drains it. Refusals leave the connection with the sender.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import * as net from 'node:net';
import { test } from 'node:test';
import { type HandoffAck, type HandoffChannel, HandoffReceiver, handoffMessage, isHandoffAck, Server } from '../../framework/index.js';
import { echoHandler } from '../../examples/echo/echo-handler.js';
import { SocketProbe, withTimeout } from '../helpers/spawn-server.js';

const T = { timeout: 20_000 };

/** A channel like a child's `process`: 'message' events in, `send` out (recorded). */
class FakeChannel extends EventEmitter implements HandoffChannel {
  readonly sent: unknown[] = [];
  override on(event: 'message', listener: (message: unknown, handle: unknown) => void): this {
    return super.on(event, listener);
  }
  override off(event: 'message', listener: (message: unknown, handle: unknown) => void): this {
    return super.off(event, listener);
  }
  send(message: unknown): boolean {
    this.sent.push(message);
    return true;
  }
  get acks(): HandoffAck[] {
    return this.sent.filter(isHandoffAck);
  }
}

/** A client connected to a paused accepting socket (the "front's" copy), nothing read from it. */
async function acceptedPair(t: { after(fn: () => unknown): void }): Promise<{ client: net.Socket; accepted: net.Socket }> {
  const listener = net.createServer({ pauseOnConnect: true });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  t.after(() => listener.close());
  const acceptedP = new Promise<net.Socket>((resolve) => listener.once('connection', resolve));
  const client = net.connect((listener.address() as net.AddressInfo).port, '127.0.0.1');
  t.after(() => client.destroy());
  const accepted = await withTimeout(acceptedP, 5000, 'accept');
  t.after(() => accepted.destroy());
  return { client, accepted };
}

test('an adopted connection gets the leftover bytes first, then reads on; counted and acked', T, async (t) => {
  const server = new Server({ host: '127.0.0.1', port: 0, handler: echoHandler });
  await server.listen();
  t.after(() => server.stop({ deadlineMs: 100 }));
  const channel = new FakeChannel();
  const receiver = new HandoffReceiver(server, { channel });
  const { client, accepted } = await acceptedPair(t);
  const probe = new SocketProbe(client);
  client.write('-world');
  channel.emit('message', handoffMessage(7, Buffer.from('hello')), accepted);
  assert.deepEqual(channel.acks, [{ type: 'portico:handoff-ack', id: 7, accepted: true }]);
  assert.equal((await probe.take(11)).toString(), 'hello-world', 'leftover first, then the socket');
  assert.equal(server.stats.accepted, 1);
  assert.equal(server.stats.active, 1);
  assert.deepEqual(receiver.stats, { received: 1, adopted: 1, refused: 0, ignored: 0 });
  // Drained like an accepted connection.
  const stopped = await server.stop({ deadlineMs: 2000 });
  assert.equal(stopped.aborted, 0);
  await probe.until(() => probe.ended || probe.closed, 5000, 'closed by the drain');
  assert.equal(server.stats.active, 0);
  receiver.close();
});

test('over maxConnections the handoff is refused and the sender still owns the connection', T, async (t) => {
  const server = new Server({ host: '127.0.0.1', port: 0, handler: echoHandler, maxConnections: 1 });
  await server.listen();
  t.after(() => server.stop({ deadlineMs: 100 }));
  const channel = new FakeChannel();
  new HandoffReceiver(server, { channel });
  const first = await acceptedPair(t);
  channel.emit('message', handoffMessage(1, Buffer.alloc(0)), first.accepted);
  // The receiver's copy (here: another accepted socket standing for the dup it would get) is closed on refusal.
  const second = await acceptedPair(t);
  channel.emit('message', handoffMessage(2, Buffer.from('x')), second.accepted);
  assert.deepEqual(channel.acks.map((a) => [a.id, a.accepted, a.reason]), [
    [1, true, undefined],
    [2, false, 'refused'],
  ]);
  assert.equal(server.stats.overLimit, 1);
  assert.equal(server.stats.accepted, 1);
  assert.equal(second.accepted.destroyed, true);
});

test('no handle, a malformed message or too many leftover bytes are refused; other messages are ignored', T, async (t) => {
  const server = new Server({ host: '127.0.0.1', port: 0, handler: echoHandler });
  await server.listen();
  t.after(() => server.stop({ deadlineMs: 100 }));
  const channel = new FakeChannel();
  const receiver = new HandoffReceiver(server, { channel, maxLeftoverBytes: 16 });
  let closed = 0;
  const handle = { close: () => closed++ };
  channel.emit('message', handoffMessage(1, Buffer.from('abc')), undefined);
  channel.emit('message', { type: 'portico:handoff', id: 2, leftover: 42 }, handle);
  channel.emit('message', handoffMessage(3, Buffer.alloc(17)), handle);
  channel.emit('message', { type: 'something-else' }, undefined);
  channel.emit('message', 'text', undefined);
  assert.deepEqual(channel.acks.map((a) => [a.id, a.accepted, a.reason]), [
    [1, false, 'no-handle'],
    [2, false, 'bad-message'],
    [3, false, 'too-large'],
  ]);
  assert.equal(closed, 2, 'our copies of refused handles are closed');
  assert.equal(receiver.stats.ignored, 2);
  assert.equal(server.stats.accepted, 0);
});

test('a stopping server refuses handoffs; a handle that is not TCP is refused', T, async (t) => {
  const server = new Server({ host: '127.0.0.1', port: 0, handler: echoHandler });
  await server.listen();
  const channel = new FakeChannel();
  new HandoffReceiver(server, { channel });
  await server.stop({ deadlineMs: 100 });
  const pair = await acceptedPair(t);
  channel.emit('message', handoffMessage(9, Buffer.from('GET')), pair.accepted);
  channel.emit('message', handoffMessage(10, Buffer.from('GET')), { close() {} });
  assert.deepEqual(channel.acks.map((a) => [a.id, a.accepted, a.reason]), [
    [9, false, 'refused'],
    [10, false, 'bad-handle'],
  ]);
});

/** A client connected to a listener whose accepted connection is kept as Node's raw TCP handle (what a handoff from another process carries). */
async function acceptedRawHandle(t: { after(fn: () => unknown): void }): Promise<{ client: net.Socket; handle: unknown }> {
  const listener = net.createServer();
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  t.after(() => listener.close());
  const listening = (listener as unknown as { _handle: { onconnection: (status: number, handle: unknown) => void } })._handle;
  const handleP = new Promise<unknown>((resolve) => {
    listening.onconnection = (_status, handle) => resolve(handle);
  });
  const client = net.connect((listener.address() as net.AddressInfo).port, '127.0.0.1');
  t.after(() => client.destroy());
  return { client, handle: await withTimeout(handleP, 5000, 'accept') };
}

for (const nativeHandles of [true, false]) {
  test(`a raw TCP handle handed over is adopted as ${nativeHandles ? 'a NativeTcpTransport' : 'a TcpTransport (nativeHandles: false)'}, as the server accepts its own`, T, async (t) => {
    const transports: string[] = [];
    const server = new Server({
      host: '127.0.0.1',
      port: 0,
      nativeHandles,
      handler: { ...echoHandler, onConnectionEstablished: (c) => (transports.push(c.transport.constructor.name), echoHandler.onConnectionEstablished!(c)) },
    });
    await server.listen();
    t.after(() => server.stop({ deadlineMs: 100 }));
    const channel = new FakeChannel();
    const receiver = new HandoffReceiver(server, { channel });
    t.after(() => receiver.close());
    const { client, handle } = await acceptedRawHandle(t);
    const probe = new SocketProbe(client);
    client.write('-raw');
    channel.emit('message', handoffMessage(9, Buffer.from('handed')), handle);
    assert.deepEqual(channel.acks, [{ type: 'portico:handoff-ack', id: 9, accepted: true }]);
    assert.equal((await probe.take(10)).toString(), 'handed-raw');
    assert.deepEqual(transports, [nativeHandles ? 'NativeTcpTransport' : 'TcpTransport']);
  });
}
