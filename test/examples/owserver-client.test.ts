/**
 * OwClient's connection rules (owlib's, reference §5) against servers that misbehave on purpose:
 * a pool for concurrent callers, reuse only of connections still open, no retry after a failed read.
 */
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { test, type TestContext } from 'node:test';
import { OwClient } from '../../examples/owserver/client/ow-client.js';
import { OwClientError } from '../../examples/owserver/client/client-errors.js';
import { HEADER_SIZE, Sg } from '../../examples/owserver/protocol/constants.js';
import { encodeResponse } from '../../examples/owserver/protocol/header.js';
import { RequestFramer } from '../../examples/owserver/protocol/request-framer.js';
import { BufferPool } from '../../framework/index.js';
import { startPortico } from '../helpers/owserver-portico.js';

const T = { timeout: 20_000 };
const pool = new BufferPool();

/** A scripted owserver: `answer(n, sg)` decides what the n-th request (over all connections) gets. */
async function scriptedServer(t: TestContext, answer: (n: number, sg: number, socket: net.Socket) => void): Promise<{ port: number; requests: () => number; connections: () => number }> {
  let requests = 0;
  let connections = 0;
  const server = net.createServer((socket) => {
    connections++;
    const reader = new RequestFramer();
    socket.on('error', () => {});
    socket.on('close', () => reader.clear());
    socket.on('data', (chunk: Buffer) => {
      reader.push(pool.acquireCopy(chunk));
      for (let m = reader.next(); m !== null; m = reader.next()) answer(++requests, m.header.sg, socket);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  t.after(() => {
    server.unref();
  });
  return { port: (server.address() as net.AddressInfo).port, requests: () => requests, connections: () => connections };
}

const value = Buffer.from('          15');
const reply = (sg: number, grant: boolean): Buffer =>
  encodeResponse({ version: 0, payload: value.length, ret: value.length, sg: grant ? sg | Sg.PERSISTENT : sg & ~Sg.PERSISTENT, size: value.length, offset: 0 }, value);

test('concurrent callers: poolSize persistent connections, the rest single-shot (libow rule), then reuse', T, async (t) => {
  const server = await startPortico({ latency: '40ms' }, { t });
  for (const poolSize of [1, 3]) {
    const client = new OwClient({ host: '127.0.0.1', port: server.port, poolSize });
    const read = (): Promise<Buffer> => client.read('/28.4AEC29CDBAAB/temperature');
    await Promise.all([read(), read(), read(), read()]);
    assert.equal(client.stats.connectionsOpened, 4, 'four concurrent callers need four connections');
    await Promise.all(Array.from({ length: poolSize }, read));
    assert.equal(client.stats.connectionsOpened, 4, `the ${poolSize} persistent connection(s) were reused`);
    assert.equal(client.stats.reused, poolSize);
    client.close();
  }
});

test('an idle persistent connection the server closed is not reused: the client reconnects', T, async (t) => {
  let firstClosed!: () => void;
  const closed = new Promise<void>((resolve) => (firstClosed = resolve));
  const server = await scriptedServer(t, (_n, sg, socket) => {
    socket.write(reply(sg, true)); // grants persistence...
    setTimeout(() => socket.end(), 20); // ...then closes the idle connection anyway
    socket.on('close', firstClosed);
  });
  const client = new OwClient({ host: '127.0.0.1', port: server.port });
  assert.equal((await client.read('/settings/timeout/volatile')).toString(), '          15');
  // The server's socket closes once the client has answered its FIN: the client has seen the close.
  await closed;
  assert.equal((await client.read('/settings/timeout/volatile')).toString(), '          15');
  assert.equal(client.stats.reused, 0);
  assert.equal(server.connections(), 2);
  assert.equal(server.requests(), 2);
  client.close();
});

test('a failed read is never retried: one request reaches the server, the caller gets OW_ERR_RECEIVE', T, async (t) => {
  const server = await scriptedServer(t, (n, sg, socket) => {
    if (n === 1) socket.write(reply(sg, true));
    else socket.destroy(); // the second request: connection dies before any answer
  });
  const client = new OwClient({ host: '127.0.0.1', port: server.port });
  await client.read('/settings/timeout/volatile');
  await assert.rejects(client.read('/settings/timeout/volatile'), (e: unknown) => e instanceof OwClientError && e.code === 'OW_ERR_RECEIVE');
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(server.requests(), 2, 'no resend after the read failed');
  client.close();
});

test('a refused grant closes the connection; the next request goes out on a new one', T, async (t) => {
  const server = await scriptedServer(t, (_n, sg, socket) => {
    socket.end(reply(sg, false));
  });
  const client = new OwClient({ host: '127.0.0.1', port: server.port });
  await client.read('/settings/timeout/volatile');
  await client.read('/settings/timeout/volatile');
  assert.equal(client.stats.grantsRefused, 2);
  assert.equal(server.connections(), 2);
  client.close();
});

test('pings are skipped and each one restarts the answer timeout', T, async (t) => {
  const ping = encodeResponse({ version: 0, payload: -1, ret: 0, sg: 0, size: 0, offset: 0 });
  assert.equal(ping.length, HEADER_SIZE);
  const server = await scriptedServer(t, (_n, sg, socket) => {
    // Four pings 150 ms apart: 600 ms in all, longer than the client's 400 ms answer timeout.
    let sent = 0;
    const timer = setInterval(() => {
      if (++sent <= 4) socket.write(ping);
      else {
        clearInterval(timer);
        socket.write(reply(sg, true));
      }
    }, 150);
  });
  const client = new OwClient({ host: '127.0.0.1', port: server.port, timeoutMs: 400 });
  assert.equal((await client.read('/settings/timeout/volatile')).toString(), '          15');
  client.close();
});

test('no answer and no ping within the timeout: OW_ERR_TIMEOUT', T, async (t) => {
  const server = await scriptedServer(t, () => {});
  const client = new OwClient({ host: '127.0.0.1', port: server.port, timeoutMs: 200 });
  await assert.rejects(client.read('/x'), (e: unknown) => e instanceof OwClientError && e.code === 'OW_ERR_TIMEOUT');
  client.close();
});
