/**
 * The TCP proxy example (`TcpProxy`, `ProxyChannel`) in process, over real sockets on 127.0.0.1 with
 * node:net clients and backends: bytes intact both ways, half-close in both orders, flow control's
 * memory bound, resets passed on, the backend down or too slow, the prefix and server-options hooks,
 * and the drain.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type * as net from 'node:net';
import { test, type TestContext } from 'node:test';
import { ErrorCodes, type Connection } from '../../framework/index.js';
import { TcpProxy, type TcpProxyOptions } from '../../examples/proxy/tcp-proxy.js';
import { parseBackendAddress } from '../../examples/proxy/backend-address.js';
import { SocketProbe, connectTo } from '../helpers/spawn-server.js';
import { BytePattern, blackholeListener, closedPort, connectUntilDropped, echoSocket, eventually, peerEnd, stalled, startBackend } from '../helpers/proxy-rig.js';

const T = { timeout: 30_000 };
const MiB = 1024 * 1024;

interface RunningProxy {
  proxy: TcpProxy;
  port: number;
  /** Lines the proxy logged (its stderr in the binary). */
  logs: string[];
}

/** A proxy on an ephemeral port relaying to `backendPort`; stopped (at once) after the test. */
async function startProxy(t: TestContext, backendPort: number, options: Partial<TcpProxyOptions> = {}): Promise<RunningProxy> {
  const logs: string[] = [];
  const proxy = new TcpProxy({
    backend: { host: '127.0.0.1', port: backendPort },
    log: (line) => logs.push(line),
    ...options,
    server: { host: '127.0.0.1', port: 0, ...options.server },
  });
  const { port } = await proxy.listen();
  t.after(() => proxy.stop({ deadlineMs: 0 }));
  return { proxy, port, logs };
}

/** Wait (bounded) until the proxy has no channel left, and return its stats. */
async function allFinished(proxy: TcpProxy): Promise<TcpProxy['stats']> {
  await eventually(() => proxy.stats.active === 0 && proxy.stats.channels > 0, 5_000, () => `channels finished (stats ${JSON.stringify(proxy.stats)})`);
  return proxy.stats;
}

const flowCases = [
  { name: 'default buffers', bufferBytes: undefined, readBuffer: undefined, size: 8 * MiB },
  { name: 'small buffers (1 KiB high water, 512 B reads)', bufferBytes: 1024, readBuffer: 512, size: 2 * MiB },
  { name: 'high water below one read', bufferBytes: 100, readBuffer: 16_384, size: 4 * MiB },
];

for (const c of flowCases) {
  test(`echo through the proxy, ${c.name}: ${c.size / MiB} MiB both ways at once, intact, then FIN for FIN`, T, async (t) => {
    const backend = await startBackend(t, echoSocket);
    const server = c.readBuffer !== undefined ? { bufferSize: c.readBuffer } : {};
    const { proxy, port } = await startProxy(t, backend.port, { ...(c.bufferBytes !== undefined ? { bufferBytes: c.bufferBytes } : {}), server });
    const client = await connectTo(port, { allowHalfOpen: true });
    t.after(() => client.destroy());
    const pattern = new BytePattern();
    const probe = new SocketProbe(client);
    const check = pattern.checker(client);
    await pattern.write(client, c.size);
    client.end();
    await probe.until(() => probe.ended, 20_000, 'the echo and the FIN through the proxy');
    assert.equal(check.received, c.size, 'every byte came back');
    assert.equal(check.mismatchAt, null, `bytes intact (first difference at ${check.mismatchAt})`);
    assert.equal(probe.error, null);
    const stats = await allFinished(proxy);
    assert.equal(stats.bytesUpstream, c.size);
    assert.equal(stats.bytesDownstream, c.size);
    assert.deepEqual([stats.clientResets, stats.backendResets, stats.backendRefused, stats.backendTimedOut, stats.backendFailed], [0, 0, 0, 0, 0]);
    assert.equal(proxy.server.pool.outstanding, 0, 'every read buffer went back to the pool');
  });
}

test('half-close, client first: the client FINs, the backend sees it, and its reply still reaches the client', T, async (t) => {
  let backendSawFin = false;
  const backend = await startBackend(t, (socket) => {
    let got = 0;
    socket.on('data', (d: Buffer) => (got += d.length));
    socket.on('end', () => {
      backendSawFin = true;
      // Answer only after the FIN: the reply can only arrive if the proxy kept backend → client open.
      const reply = Buffer.alloc(MiB, 0x42);
      socket.write(`got ${got}\n`);
      socket.end(reply);
    });
  });
  const { proxy, port } = await startProxy(t, backend.port);
  const client = await connectTo(port, { allowHalfOpen: true });
  t.after(() => client.destroy());
  const probe = new SocketProbe(client);
  client.end(Buffer.alloc(300_000, 0x41));
  await probe.until(() => probe.ended, 10_000, 'reply and FIN after our FIN');
  assert.ok(backendSawFin);
  const data = probe.data;
  const head = `got 300000\n`;
  assert.equal(data.subarray(0, head.length).toString(), head);
  assert.equal(data.length, head.length + MiB);
  assert.ok(data.subarray(head.length).equals(Buffer.alloc(MiB, 0x42)));
  await probe.until(() => probe.closed, 5_000, 'closed');
  assert.equal(probe.error, null);
  const stats = await allFinished(proxy);
  assert.equal(stats.bytesUpstream, 300_000);
  assert.equal(stats.clientResets + stats.backendResets, 0);
});

test('half-close, backend first: the backend FINs after a banner, the client keeps sending and the backend gets it all', T, async (t) => {
  const received: { bytes: number; ended: boolean; error: string | null } = { bytes: 0, ended: false, error: null };
  const backend = await startBackend(t, (socket) => {
    socket.on('data', (d: Buffer) => (received.bytes += d.length));
    socket.on('end', () => (received.ended = true));
    socket.on('error', (e: NodeJS.ErrnoException) => (received.error = e.code ?? e.message));
    socket.end('banner, and that is all from me\n');
  });
  const { proxy, port } = await startProxy(t, backend.port);
  const client = await connectTo(port, { allowHalfOpen: true });
  t.after(() => client.destroy());
  const probe = new SocketProbe(client);
  await probe.until(() => probe.ended, 5_000, 'the banner and the backend FIN');
  assert.equal(probe.data.toString(), 'banner, and that is all from me\n');
  // The backend is done talking; we are not.
  const pattern = new BytePattern();
  await pattern.write(client, 3 * MiB);
  client.end();
  await eventually(() => received.ended, 10_000, () => `the backend gets our FIN (received ${received.bytes})`);
  assert.equal(received.bytes, 3 * MiB);
  assert.equal(received.error, null);
  await probe.until(() => probe.closed, 5_000, 'client closed');
  assert.equal(probe.error, null);
  const stats = await allFinished(proxy);
  assert.equal(stats.bytesUpstream, 3 * MiB);
  assert.equal(stats.clientResets + stats.backendResets, 0);
});

const slowReaderCases = [
  { name: 'backend floods, client reads nothing', flood: 'backend' as const },
  { name: 'client floods, backend reads nothing', flood: 'client' as const },
];

for (const c of slowReaderCases) {
  test(`flow control: ${c.name} — the proxy queues at most high water + one read buffer, then all arrives intact`, T, async (t) => {
    const bufferBytes = 16_384;
    const readBuffer = 4_096;
    const total = 48 * MiB;
    const pattern = new BytePattern();
    let flooding: Promise<void> = Promise.resolve();
    const backend = await startBackend(t, (socket) => {
      if (c.flood === 'backend') flooding = pattern.write(socket, total).then(() => void socket.end());
      else socket.pause();
    });
    const { proxy, port } = await startProxy(t, backend.port, { bufferBytes, server: { bufferSize: readBuffer } });
    const client = await connectTo(port, { allowHalfOpen: true });
    t.after(() => client.destroy());
    client.on('error', () => {}); // the proxy's RST when the test stops it
    let reader: net.Socket;
    if (c.flood === 'backend') {
      client.pause();
      reader = client;
    } else {
      flooding = pattern.write(client, total).then(() => void client.end());
      reader = await backend.accepted();
    }
    await eventually(() => proxy.channels.size === 1 && [...proxy.channels][0]!.backend !== null, 5_000, 'the channel is up');
    const channel = [...proxy.channels][0]!;
    const flow = c.flood === 'backend' ? channel.downstream : channel.upstream;
    // The reader does not read: the proxy must stop reading the flooding side, so what it relays stalls.
    const relayed = await stalled(() => flow.bytes, 400, 15_000, 'the relayed byte count');
    assert.ok(relayed < total, `the proxy stopped relaying (${relayed} of ${total} bytes) while nobody read`);
    await eventually(() => flow.waitingForSink, 5_000, 'the flow waiting for the slow side to drain');
    const bound = bufferBytes + readBuffer;
    assert.ok(proxy.peakQueuedBytes <= bound, `queued at most ${bound} bytes per connection, saw ${proxy.peakQueuedBytes}`);
    // Now read everything: it all arrives, in order, and the bound held throughout.
    const check = pattern.checker(reader);
    const done = new Promise<void>((resolve) => reader.once('end', () => resolve()));
    reader.resume();
    await Promise.race([done, new Promise((_, reject) => setTimeout(() => reject(new Error(`only ${check.received} bytes arrived`)), 20_000))]);
    await flooding;
    assert.equal(check.received, total);
    assert.equal(check.mismatchAt, null);
    assert.ok(proxy.peakQueuedBytes <= bound, `bound held to the end: ${proxy.peakQueuedBytes}`);
    process.stdout.write(`# ${c.flood} flood: stalled after relaying ${(relayed / MiB).toFixed(1)} MiB; peak queued ${proxy.peakQueuedBytes} B (bound ${bound})\n`);
  });
}

const resetCases = [
  { name: 'client resets mid-transfer → the backend is reset', resetting: 'client' as const },
  { name: 'backend resets mid-transfer → the client is reset', resetting: 'backend' as const },
];

for (const c of resetCases) {
  test(c.name, T, async (t) => {
    const pattern = new BytePattern();
    const backend = await startBackend(t, (socket) => {
      // The backend streams towards the client for as long as it can.
      void pattern.write(socket, 256 * MiB);
      socket.resume();
    });
    const { proxy, port } = await startProxy(t, backend.port);
    const client = await connectTo(port, { allowHalfOpen: true });
    t.after(() => client.destroy());
    const clientProbe = new SocketProbe(client);
    const backendSocket = await backend.accepted();
    const backendProbe = new SocketProbe(backendSocket);
    client.write(Buffer.alloc(100_000, 1)); // the other direction is busy too
    await clientProbe.until(() => clientProbe.received >= MiB, 10_000, 'a first MiB through the proxy');
    const [resetter, victim] = c.resetting === 'client' ? [client, backendProbe] : [backendSocket, clientProbe];
    const started = Date.now();
    resetter.resetAndDestroy();
    await victim.until(() => victim.closed || victim.ended, 5_000, `the ${c.resetting === 'client' ? 'backend' : 'client'} side's peer gone`);
    assert.ok(Date.now() - started < 2_000, `passed on promptly (${Date.now() - started} ms)`);
    assert.equal(peerEnd(victim.socket, victim.error, victim.ended), 'reset', `reset, not a clean FIN: error ${victim.error?.code ?? 'none'}, ended ${victim.ended}`);
    const stats = await allFinished(proxy);
    assert.equal(c.resetting === 'client' ? stats.clientResets : stats.backendResets, 1, JSON.stringify(stats));
  });
}

test('backend down: the client is reset at once, one JSON line on the log says refused, and it is counted', T, async (t) => {
  const port = await closedPort();
  const { proxy, port: proxyPort, logs } = await startProxy(t, port);
  for (let i = 0; i < 3; i++) {
    const started = Date.now();
    // Reset, so the client cannot take it for an empty answer.
    assert.equal(await connectUntilDropped(proxyPort, 5_000, 'anyone there?'), 'reset');
    assert.ok(Date.now() - started < 1_000, `promptly: ${Date.now() - started} ms`);
  }
  await allFinished(proxy);
  assert.equal(proxy.stats.backendRefused, 3);
  assert.equal(logs.length, 3, logs.join('\n'));
  const line = JSON.parse(logs[0]!) as Record<string, unknown>;
  assert.equal(line['event'], 'backend-error');
  assert.equal(line['server'], 'proxy');
  assert.equal(line['reason'], 'refused');
  assert.equal(line['backend'], `127.0.0.1:${port}`);
  assert.match(String(line['client']), /^127\.0\.0\.1:\d+$/);
  assert.equal(line['code'], ErrorCodes.CONNECT_REFUSED);
  assert.ok(!logs[0]!.includes('\n'));
});

test("backend down with onBackendError 'close': the client gets a FIN instead of RST", T, async (t) => {
  const port = await closedPort();
  const { proxy, port: proxyPort, logs } = await startProxy(t, port, { onBackendError: 'close' });
  const client = await connectTo(proxyPort, { allowHalfOpen: true });
  t.after(() => client.destroy());
  const probe = new SocketProbe(client);
  await probe.until(() => probe.ended, 5_000, 'FIN from the proxy');
  client.end();
  await probe.until(() => probe.closed, 5_000, 'closed');
  assert.equal(probe.error, null);
  await allFinished(proxy);
  assert.equal(proxy.stats.backendRefused, 1);
  assert.equal(logs.length, 1);
});

test('backend connect timeout: a backend that completes no handshake → the client is reset after connectTimeoutMs, logged as timeout', T, async (t) => {
  const port = await blackholeListener(t);
  // 1.5 s: the checks below, in this same loop, must come before it on a loaded machine too.
  const { proxy, port: proxyPort, logs } = await startProxy(t, port, { connectTimeoutMs: 1500 });
  // Timed from before the connect: the proxy's timer starts at its accept.
  const started = Date.now();
  const client = await connectTo(proxyPort, { allowHalfOpen: true });
  t.after(() => client.destroy());
  const probe = new SocketProbe(client);
  client.write('early bytes wait in the kernel');
  await new Promise((r) => setTimeout(r, 100));
  const channel = [...proxy.channels][0]!;
  assert.equal(channel.state, 'connecting');
  assert.equal(channel.client.stats.bytesRead, 0, 'nothing is read from the client before the backend is connected');
  await probe.until(() => probe.closed || probe.ended, 5_000, 'the client closed by the proxy');
  const took = Date.now() - started;
  assert.ok(took >= 1400 && took < 5_000, `closed after the connect timeout: ${took} ms`);
  assert.equal(peerEnd(client, probe.error, probe.ended), 'reset');
  await allFinished(proxy);
  assert.equal(proxy.stats.backendTimedOut, 1);
  const line = JSON.parse(logs[0]!) as Record<string, unknown>;
  assert.equal(line['reason'], 'timeout');
  assert.equal(line['code'], ErrorCodes.CONNECT_TIMEOUT);
  assert.ok(Number(line['ms']) >= 250, `ms ${String(line['ms'])}`);
});

test('prefix hook: its bytes reach the backend before any client byte, even bytes the client sent at once', T, async (t) => {
  const seen: Connection<undefined>[] = [];
  const backend = await startBackend(t, echoSocket);
  const { port } = await startProxy(t, backend.port, {
    prefix: (client) => {
      seen.push(client);
      return new TextEncoder().encode(`HELLO ${client.remote.port}\r\n`);
    },
  });
  const client = await connectTo(port);
  t.after(() => client.destroy());
  const probe = new SocketProbe(client);
  client.write('first client bytes');
  const expected = `HELLO ${client.localPort}\r\nfirst client bytes`;
  const back = await probe.take(expected.length, 5_000);
  assert.equal(back.toString(), expected);
  assert.equal(seen.length, 1);
  assert.equal(seen[0]!.remote.port, client.localPort, 'the builder gets the client connection');
});

test('a prefix builder returning null writes nothing', T, async (t) => {
  const backend = await startBackend(t, echoSocket);
  const { port } = await startProxy(t, backend.port, { prefix: () => null });
  const client = await connectTo(port);
  t.after(() => client.destroy());
  const probe = new SocketProbe(client);
  client.write('plain');
  assert.equal((await probe.take(5, 5_000)).toString(), 'plain');
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(probe.received, 0);
});

test('server options pass through: maxConnections 1 resets a second client, and callbacks are called', T, async (t) => {
  const backend = await startBackend(t, echoSocket);
  const refusedPeers: number[] = [];
  const { proxy, port } = await startProxy(t, backend.port, {
    server: { maxConnections: 1, callbacks: { onMaximumConnections: (peer) => refusedPeers.push(peer.port) } },
  });
  const first = await connectTo(port);
  t.after(() => first.destroy());
  const firstProbe = new SocketProbe(first);
  first.write('one');
  assert.equal((await firstProbe.take(3)).toString(), 'one');
  const second = await connectTo(port).catch((e: NodeJS.ErrnoException) => e);
  if (!(second instanceof Error)) {
    t.after(() => second.destroy());
    const probe = new SocketProbe(second);
    await probe.until(() => probe.closed, 5_000, 'over-limit client closed');
    assert.equal(probe.received, 0);
  }
  assert.equal(proxy.server.stats.overLimit, 1);
  assert.equal(refusedPeers.length, 1);
  assert.equal(backend.sockets.length, 1, 'no backend connection for a refused client');
});

test('stop(): an idle channel holds the drain until the deadline, then both sides are aborted', T, async (t) => {
  const backend = await startBackend(t, echoSocket);
  const { proxy, port } = await startProxy(t, backend.port);
  const client = await connectTo(port);
  t.after(() => client.destroy());
  const probe = new SocketProbe(client);
  client.write('x');
  await probe.take(1);
  const backendProbe = new SocketProbe(await backend.accepted());
  const started = Date.now();
  const result = await proxy.stop({ deadlineMs: 300 });
  const took = Date.now() - started;
  assert.ok(took >= 250 && took < 4_000, `waited for the deadline: ${took} ms`);
  assert.equal(result.aborted, 1);
  assert.equal(proxy.channels.size, 0, 'the channel is over when stop() resolves');
  await probe.until(() => probe.closed, 5_000, 'client closed');
  await backendProbe.until(() => backendProbe.closed || backendProbe.ended, 5_000, 'backend closed');
  assert.equal(peerEnd(backendProbe.socket, backendProbe.error, backendProbe.ended), 'reset', 'the backend was reset, not FINed');
});

test('stop(): a channel that finishes within the deadline is not aborted', T, async (t) => {
  const backend = await startBackend(t, (socket) => {
    // Answer the FIN half a second later.
    socket.resume();
    socket.on('end', () => setTimeout(() => socket.end('bye'), 500));
  });
  const { proxy, port } = await startProxy(t, backend.port);
  const client = await connectTo(port, { allowHalfOpen: true });
  t.after(() => client.destroy());
  const probe = new SocketProbe(client);
  await eventually(() => proxy.stats.backendConnected === 1, 5_000, 'backend connected');
  client.end('request');
  const result = await proxy.stop({ deadlineMs: 3_000 });
  assert.equal(result.aborted, 0);
  await probe.until(() => probe.ended, 5_000, 'the reply and FIN');
  assert.equal(probe.data.toString(), 'bye');
  assert.ok(probe.ended);
  assert.equal(probe.error, null);
});

test('parseBackendAddress: HOST:PORT and [IPv6]:PORT; anything else is a CONFIG error naming the flag', () => {
  assert.deepEqual(parseBackendAddress('127.0.0.1:7007'), { host: '127.0.0.1', port: 7007 });
  assert.deepEqual(parseBackendAddress('backend.local:80'), { host: 'backend.local', port: 80 });
  assert.deepEqual(parseBackendAddress('[::1]:8080'), { host: '::1', port: 8080 });
  for (const bad of ['', 'host', 'host:', ':80', 'host:0', 'host:65536', 'host:80x', '::1:80', 'a b:80']) {
    assert.throws(() => parseBackendAddress(bad), { code: ErrorCodes.CONFIG, message: /^--backend: / }, bad);
  }
});

test('bad options are refused at construction', () => {
  assert.throws(() => new TcpProxy({ backend: { host: '127.0.0.1', port: 1 }, connectTimeoutMs: 0 }), { code: ErrorCodes.INVALID_ARGUMENT });
  assert.throws(() => new TcpProxy({ backend: { host: '127.0.0.1', port: 1 }, bufferBytes: 0 }), { code: ErrorCodes.INVALID_ARGUMENT });
});

test('random sizes, many clients at once: every one gets exactly its own bytes back', T, async (t) => {
  const backend = await startBackend(t, echoSocket);
  const { proxy, port } = await startProxy(t, backend.port, { bufferBytes: 8_192, server: { bufferSize: 2_048 } });
  const clients = 20;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      const payload = randomBytes(1 + Math.floor(Math.random() * 300_000));
      const socket = await connectTo(port, { allowHalfOpen: true });
      t.after(() => socket.destroy());
      const probe = new SocketProbe(socket);
      socket.end(payload);
      await probe.until(() => probe.ended, 15_000, 'echo and FIN');
      assert.ok(probe.data.equals(payload));
    }),
  );
  const stats = await allFinished(proxy);
  assert.equal(stats.finished, clients);
  assert.equal(stats.bytesUpstream, stats.bytesDownstream);
});
