import assert from 'node:assert/strict';
import * as net from 'node:net';
import { test } from 'node:test';
import { echoPayload, EchoProtocolClient } from '../../harness/flood/echo-client.js';
import { runFlood } from '../../harness/flood/flood.js';
import { LatencyHistogram } from '../../harness/flood/latency-histogram.js';
import { createProgressReporter } from '../../harness/flood/progress-line.js';
import { countTimeWait } from '../../harness/time-wait.js';
import type { FloodOptions, FloodProgress } from '../../harness/types.js';

interface TestServer {
  readonly port: number;
  close(): Promise<void>;
}

/** A node:net server on 127.0.0.1; `onConnection` gets each socket and its 0-based index. */
async function startServer(onConnection: (socket: net.Socket, index: number) => void): Promise<TestServer> {
  const sockets = new Set<net.Socket>();
  let index = 0;
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    onConnection(socket, index++);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

const echo = (socket: net.Socket): void => void socket.pipe(socket);

async function freePort(): Promise<number> {
  const server = await startServer(() => {});
  await server.close();
  return server.port;
}

function options(port: number, overrides: Partial<FloodOptions> = {}): FloodOptions {
  return {
    protocol: 'echo',
    host: '127.0.0.1',
    port,
    connections: 10,
    concurrency: 5,
    messages: 3,
    size: 100,
    sendAfterReceive: true,
    connectRate: 0,
    durationCapMs: 15_000,
    connectionTimeoutMs: 5_000,
    ...overrides,
  };
}

test('ping-pong flood against an echo server: exact counts, no errors, client closes first', { timeout: 30_000 }, async (t) => {
  const clientPorts = new Set<number>();
  const server = await startServer((socket) => {
    clientPorts.add(socket.remotePort!);
    echo(socket);
  });
  t.after(() => server.close());
  const progress: FloodProgress[] = [];
  const result = await runFlood(options(server.port, { connections: 200, concurrency: 20, messages: 5, size: 100 }), {
    onProgress: (p) => progress.push(p),
  });
  assert.equal(result.connectionsPlanned, 200);
  assert.equal(result.connectionsMade, 200);
  assert.equal(result.connectionsFailed, 0);
  assert.equal(result.connectionsReset, 0);
  assert.equal(result.connectionsBad, 0);
  assert.equal(result.messagesSent, 1000);
  assert.equal(result.messagesReceived, 1000);
  assert.equal(result.bytesSent, 100_000);
  assert.equal(result.bytesReceived, 100_000);
  assert.deepEqual(result.errors, {});
  assert.equal(result.latencyMs.count, 1000);
  assert.ok(result.latencyMs.p50 > 0 && result.latencyMs.p50 <= result.latencyMs.p90);
  assert.ok(result.latencyMs.p90 <= result.latencyMs.p99 && result.latencyMs.p99 <= result.latencyMs.max);
  assert.ok(result.latencyMs.mean > 0 && result.latencyMs.mean <= result.latencyMs.max);
  assert.equal(result.cappedByDuration, false);
  assert.ok(result.connectionsPerSecond.length >= 1);
  assert.ok(result.latencyOverTime.length >= 1);
  const last = progress.at(-1);
  assert.equal(last?.connectionsDone, 200);
  assert.equal(last?.messagesReceived, 1000);
  assert.equal(last?.open, 0);
  // FIN first from the client: TIME_WAIT on the clients' ends, none on the server's port.
  // Only this run's connections: the port may still hold an earlier server's TIME_WAIT sockets.
  const timeWait = countTimeWait(server.port, undefined, clientPorts);
  assert.ok(timeWait.client > 0, `client-side TIME_WAIT expected, got ${JSON.stringify(timeWait)}`);
  assert.equal(timeWait.server, 0);
});

test('pipelined flood: every message sent at once, replies checked in order', { timeout: 30_000 }, async (t) => {
  const server = await startServer(echo);
  t.after(() => server.close());
  const result = await runFlood(options(server.port, { connections: 30, concurrency: 10, messages: 20, size: 1000, sendAfterReceive: false }));
  assert.equal(result.connectionsMade, 30);
  assert.equal(result.messagesReceived, 600);
  assert.equal(result.bytesReceived, 600_000);
  assert.equal(result.latencyMs.count, 600);
  assert.deepEqual(result.errors, {});
});

test('a server resetting every 3rd connection: resets counted, the rest fine', { timeout: 30_000 }, async (t) => {
  const server = await startServer((socket, index) => {
    if (index % 3 === 2) socket.resetAndDestroy();
    else echo(socket);
  });
  t.after(() => server.close());
  const result = await runFlood(options(server.port, { connections: 60, concurrency: 5 }));
  assert.equal(result.connectionsMade, 60);
  assert.equal(result.connectionsReset, 20);
  assert.equal(result.connectionsFailed, 0);
  assert.equal(result.connectionsBad, 0);
  assert.equal((result.errors['ECONNRESET'] ?? 0) + (result.errors['EPIPE'] ?? 0), 20);
  assert.equal(result.messagesReceived, 40 * 3);
});

test('a server corrupting the replies of every 2nd connection: bad connections with MISMATCH', { timeout: 30_000 }, async (t) => {
  const server = await startServer((socket, index) => {
    socket.on('data', (chunk: Buffer) => {
      if (index % 2 === 1) chunk[chunk.length - 1]! ^= 0x01;
      socket.write(chunk);
    });
    socket.on('end', () => socket.end());
  });
  t.after(() => server.close());
  const result = await runFlood(options(server.port, { connections: 20, concurrency: 4, messages: 3, size: 50 }));
  assert.equal(result.connectionsMade, 20);
  assert.equal(result.connectionsBad, 10);
  assert.deepEqual(result.errors, { MISMATCH: 10 });
  assert.equal(result.messagesReceived, 10 * 3);
});

test('a server closing before the last reply: bad with EARLY_CLOSE', { timeout: 30_000 }, async (t) => {
  const server = await startServer((socket) => socket.once('data', (chunk: Buffer) => socket.end(chunk)));
  t.after(() => server.close());
  const result = await runFlood(options(server.port, { connections: 6, concurrency: 3, messages: 2 }));
  assert.equal(result.connectionsBad, 6);
  assert.deepEqual(result.errors, { EARLY_CLOSE: 6 });
  assert.equal(result.messagesReceived, 6);
});

test('a closed port: every connection failed with ECONNREFUSED', { timeout: 30_000 }, async () => {
  const port = await freePort();
  const result = await runFlood(options(port, { connections: 10, concurrency: 3 }));
  assert.equal(result.connectionsMade, 0);
  assert.equal(result.connectionsFailed, 10);
  assert.deepEqual(result.errors, { ECONNREFUSED: 10 });
  assert.equal(result.messagesSent, 0);
  assert.equal(result.latencyMs.count, 0);
});

test('the duration cap stops a flood against a server that never replies', { timeout: 30_000 }, async (t) => {
  const server = await startServer((socket) => socket.resume());
  t.after(() => server.close());
  const started = Date.now();
  const result = await runFlood(options(server.port, { connections: 50, concurrency: 5, durationCapMs: 400, connectionTimeoutMs: 60_000 }));
  assert.ok(Date.now() - started < 3_000, 'the flood must stop soon after the cap');
  assert.equal(result.cappedByDuration, true);
  assert.equal(result.connectionsMade, 5);
  assert.equal(result.messagesReceived, 0);
  assert.deepEqual(result.errors, { CAPPED: 5 });
  // Node's timers count whole ms of loop time, so the cap may fire a fraction of a ms before 400 by performance.now().
  assert.ok(result.durationMs >= 399 && result.durationMs < 3_000, `${result.durationMs} ms`);
});

test('the per-connection timeout marks a silent server\'s connections bad with REPLY_TIMEOUT', { timeout: 30_000 }, async (t) => {
  const server = await startServer((socket) => socket.resume());
  t.after(() => server.close());
  const result = await runFlood(options(server.port, { connections: 4, concurrency: 4, connectionTimeoutMs: 300 }));
  assert.equal(result.cappedByDuration, false);
  assert.equal(result.connectionsBad, 4);
  assert.deepEqual(result.errors, { REPLY_TIMEOUT: 4 });
});

test('REPLY_TIMEOUT and EARLY_CLOSE say how many replies are missing of those sent, and how many arrived', { timeout: 30_000 }, async (t) => {
  const raw = { send: 'ping', expectBytes: 4 };
  const cases: { name: string; serve: (socket: net.Socket) => void; pipelined: boolean; code: string; detail: string }[] = [
    {
      name: 'ping-pong, the first reply only: two sent, eight never sent',
      serve: (socket) => socket.once('data', () => socket.write('pong')),
      pipelined: false,
      code: 'REPLY_TIMEOUT',
      detail: '1 of 2 replies missing after 1500 ms (2 sent, 1 received, 8 of 10 not sent yet): 0 of the 4 bytes expected arrived',
    },
    {
      name: 'pipelined, seven replies and half of the eighth',
      serve: (socket) => {
        let got = 0;
        socket.on('data', (chunk: Buffer) => {
          got += chunk.length;
          if (got === 40) socket.write('pong'.repeat(7) + 'po');
        });
      },
      pipelined: true,
      code: 'REPLY_TIMEOUT',
      detail: '3 of 10 replies missing after 1500 ms (10 sent, 7 received): 2 of the 4 bytes expected arrived',
    },
    {
      name: 'pipelined, seven replies and the server closes',
      serve: (socket) => {
        let got = 0;
        socket.on('data', (chunk: Buffer) => {
          got += chunk.length;
          if (got === 40) socket.end('pong'.repeat(7));
        });
      },
      pipelined: true,
      code: 'EARLY_CLOSE',
      detail: 'server closed with 3 of 10 replies missing (10 sent, 7 received): 0 of the 4 bytes expected arrived',
    },
  ];
  for (const c of cases) {
    await t.test(c.name, async () => {
      const server = await startServer(c.serve);
      try {
        const result = await runFlood(options(server.port, { protocol: 'raw', protocolOptions: raw, connections: 1, concurrency: 1, messages: 10, sendAfterReceive: !c.pipelined, connectionTimeoutMs: 1500 }));
        assert.deepEqual(result.errors, { [c.code]: 1 });
        assert.equal(result.messagesReceived, c.pipelined ? 7 : 1);
        assert.equal(result.errorExamples[c.code], c.detail);
      } finally {
        await server.close();
      }
    });
  }
});

test('an abort signal stops the flood and still returns the result', { timeout: 30_000 }, async (t) => {
  const server = await startServer((socket) => socket.resume());
  t.after(() => server.close());
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 200);
  const result = await runFlood(options(server.port, { connections: 10, concurrency: 2, connectionTimeoutMs: 60_000 }), { signal: controller.signal });
  assert.equal(result.cappedByDuration, false);
  assert.deepEqual(result.errors, { ABORTED: 2 });
});

test('connectRate paces new connections and onProgress is throttled', { timeout: 30_000 }, async (t) => {
  const server = await startServer(echo);
  t.after(() => server.close());
  let calls = 0;
  const result = await runFlood(options(server.port, { connections: 11, concurrency: 11, messages: 1, connectRate: 20 }), {
    onProgress: () => calls++,
  });
  assert.equal(result.messagesReceived, 11);
  // 11 starts at 20/s: the last one 500 ms after the first.
  assert.ok(result.durationMs >= 480, `took ${result.durationMs} ms`);
  assert.ok(calls >= 2 && calls <= result.durationMs / 250 + 2, `${calls} progress calls in ${result.durationMs} ms`);
});

test('localhost is allowed; non-loopback hosts are refused before any connection', { timeout: 30_000 }, async (t) => {
  const server = await startServer(echo);
  t.after(() => server.close());
  const viaName = await runFlood(options(server.port, { host: 'localhost', connections: 2 }));
  assert.equal(viaName.messagesReceived, 6);
  // Denied targets: the guard refuses them before any socket or DNS lookup, so nothing is sent.
  const deniedTargets = ['10.0.0.1', '192.168.1.10', '8.8.8.8', '::2', 'example.com', '0.0.0.0']; // deny-list under test
  for (const host of deniedTargets) {
    await assert.rejects(runFlood(options(server.port, { host })), new RegExp(`refuses host "${host.replace(/\./g, '\\.')}".*only loopback`));
  }
  const ok = await runFlood(options(server.port, { host: '127.0.0.1', connections: 1 }));
  assert.equal(ok.connectionsMade, 1);
});

test('websocket floods refuse unknown protocol options before connecting', async () => {
  await assert.rejects(runFlood(options(1, { protocol: 'websocket', protocolOptions: { bogus: 1 } })), /unknown protocolOptions\.bogus/);
  await assert.rejects(runFlood(options(1, { protocol: 'websocket', protocolOptions: { version: 7 } })), /version must be 13 or 8/);
});

test('bad options are refused with the option named', async () => {
  await assert.rejects(runFlood(options(1, { concurrency: 0 })), /concurrency must be an integer >= 1/);
  await assert.rejects(runFlood(options(1, { durationCapMs: Infinity })), /durationCapMs must be a finite number > 0/);
  await assert.rejects(runFlood(options(1, { size: 0 })), /size >= 1/);
});

test('echo sessions: payloads differ per message, split and coalesced replies are recognised', () => {
  assert.notDeepEqual(echoPayload(0, 0, 32), echoPayload(0, 1, 32));
  assert.notDeepEqual(echoPayload(0, 0, 32), echoPayload(1, 0, 32));
  const session = new EchoProtocolClient(10).openSession(7);
  const a = Buffer.from(session.frameRequest(0));
  const b = Buffer.from(session.frameRequest(1));
  const both = Buffer.concat([a, b]);
  assert.deepEqual(session.receive(both.subarray(0, 3)), []);
  assert.deepEqual(session.receive(both.subarray(3, 15)), [{ ok: true }]);
  assert.deepEqual(session.receive(both.subarray(15)), [{ ok: true }]);
  const extra = session.receive(Buffer.from([1]));
  assert.equal(extra[0]?.ok, false);

  const other = new EchoProtocolClient(4).openSession(0);
  const sent = Buffer.from(other.frameRequest(0));
  sent[2]! ^= 0xff;
  const [check] = other.receive(sent);
  assert.ok(check !== undefined && !check.ok && check.code === 'MISMATCH' && check.detail.includes('byte 2'));
});

test('latency histogram: bounded buckets, percentiles within 1 %', () => {
  const histogram = new LatencyHistogram();
  for (let ms = 1; ms <= 10_000; ms++) histogram.record(ms / 10);
  const summary = histogram.summary();
  assert.equal(summary.count, 10_000);
  assert.ok(Math.abs(summary.p50 - 500) / 500 < 0.01, `p50 ${summary.p50}`);
  assert.ok(Math.abs(summary.p99 - 990) / 990 < 0.01, `p99 ${summary.p99}`);
  assert.equal(summary.max, 1000);
  assert.ok(Math.abs(summary.mean - 500.05) < 1e-6);
  histogram.record(1e9); // clamped bucket, exact max
  assert.equal(histogram.summary().max, 1e9);
});

function fakeStream(isTTY: boolean): { stream: NodeJS.WriteStream; writes: string[] } {
  const writes: string[] = [];
  const stream = { isTTY, columns: 40, write: (s: string) => writes.push(s) > 0 };
  return { stream: stream as unknown as NodeJS.WriteStream, writes };
}

const sampleProgress = (started: number): FloodProgress => ({
  elapsedMs: 1500,
  connectionsStarted: started,
  connectionsDone: started,
  connectionsPlanned: 100,
  open: 3,
  messagesReceived: 10,
  messagesPerSecond: 20,
  errors: 0,
  refused: 0,
  warmingUp: false,
});

test('progress line: rewritten in place on a TTY, throttled plain lines otherwise', () => {
  const tty = fakeStream(true);
  const onTty = createProgressReporter(tty.stream);
  onTty.update(sampleProgress(1));
  onTty.update(sampleProgress(2));
  onTty.done();
  assert.equal(tty.writes.length, 3);
  assert.ok(tty.writes[0]!.startsWith('\r\x1b[2K') && tty.writes[1]!.startsWith('\r\x1b[2K'));
  assert.ok(tty.writes[1]!.length - 5 < 40, 'cut to the terminal width');
  assert.equal(tty.writes[2], '\n');

  const plain = fakeStream(false);
  const onPlain = createProgressReporter(plain.stream);
  onPlain.update(sampleProgress(1));
  onPlain.update(sampleProgress(2));
  onPlain.update(sampleProgress(3));
  assert.equal(plain.writes.length, 1);
  assert.match(plain.writes[0]!, /^flood 1\/100 conns .*\n$/);
  onPlain.done();
  assert.equal(plain.writes.length, 2);
  assert.match(plain.writes[1]!, /^flood 3\/100 conns/);
});
