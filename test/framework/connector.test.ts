import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as net from 'node:net';
import { test } from 'node:test';
import { type CloseReason, connect, ErrorCodes, PorticoError, Server } from '../../framework/index.js';
import { echoHandler } from '../../examples/echo/echo-handler.js';
import { until } from '../helpers/memory-connection.js';

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as net.AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

test('connect to a closed port rejects with PORTICO_ERR_CONNECT_REFUSED and calls onConnectionFailed', async () => {
  const port = await freePort();
  const failures: PorticoError[] = [];
  await assert.rejects(
    connect({ host: '127.0.0.1', port, handler: echoHandler, onConnectionFailed: (e) => failures.push(e) }),
    (error: unknown) => error instanceof PorticoError && error.code === ErrorCodes.CONNECT_REFUSED && error.message.includes(`127.0.0.1:${port}`),
  );
  assert.equal(failures.length, 1);
  assert.equal(failures[0]!.layer, 'connector');
});

test('connect to a listener that never accepts times out with PORTICO_ERR_CONNECT_TIMEOUT', async () => {
  // A child whose event loop is blocked: the kernel completes handshakes until the backlog (1) is
  // full, then drops SYNs — the only loopback way to make a connect hang.
  const child = spawn(
    process.execPath,
    [
      '-e',
      `const s = require('net').createServer(); s.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
         process.stdout.write(s.address().port + '\\n');
         Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20000);
       });`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
      child.once('exit', () => reject(new Error('blocked listener exited')));
    });
    const fillers: net.Socket[] = [];
    for (let i = 0; i < 4; i++) {
      const s = net.connect({ host: '127.0.0.1', port });
      s.on('error', () => {});
      fillers.push(s);
    }
    await new Promise((r) => setTimeout(r, 200));
    const started = Date.now();
    await assert.rejects(connect({ host: '127.0.0.1', port, timeoutMs: 300, handler: echoHandler }), { code: ErrorCodes.CONNECT_TIMEOUT });
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 280 && elapsed < 3000, `timed out after ${elapsed} ms`);
    for (const s of fillers) s.destroy();
  } finally {
    child.kill('SIGKILL');
  }
});

test('a connector connection has the same callbacks: established, read, write, client close, closed', async () => {
  const server = new Server({ host: '127.0.0.1', port: 0, handler: echoHandler });
  const { port } = await server.listen();
  const events: string[] = [];
  let received = '';
  let reason: CloseReason | null = null;
  const conn = await connect({
    host: '127.0.0.1',
    port,
    handler: {
      onConnectionEstablished: (c) => {
        events.push('established');
        c.write(Buffer.from('ping'));
        c.read();
      },
      onReadCompleted: (c, buffer) => {
        received += buffer.data.toString();
        buffer.release();
        if (received === 'ping') c.shutdownWrite(); // half-close: the echo server answers with FIN
        c.read();
      },
      onWriteCompleted: (_c, n) => events.push(`wrote ${n}`),
      onClientClose: (c) => (events.push('peer FIN'), c.close()),
      onConnectionClosed: (_c, r) => (reason = r),
    },
  });
  assert.equal(conn.remote.port, port);
  await until(() => reason !== null, 5000, 'close');
  assert.equal(received, 'ping');
  assert.deepEqual(events, ['established', 'wrote 4', 'peer FIN']);
  assert.deepEqual(reason, { kind: 'peer-close' });
  await server.stop();
});

test('user code in an outgoing connection is contained: a throwing handler factory aborts it, a throwing onConnectionFailed still rejects', async (t) => {
  const { server, port } = await (async () => {
    const s = new Server({ host: '127.0.0.1', port: 0, handler: echoHandler });
    return { server: s, port: (await s.listen()).port };
  })();
  t.after(() => server.stop({ deadlineMs: 100 }));
  const closed: CloseReason[] = [];
  const conn = await connect({
    host: '127.0.0.1',
    port,
    handler: () => {
      throw new Error('factory bug');
    },
  });
  await until(() => conn.isClosed, 3000, 'aborted');
  closed.push(conn.closeReason!);
  assert.equal(closed[0]!.kind, 'aborted');
  assert.equal(closed[0]!.kind === 'aborted' ? closed[0]!.error?.code : undefined, ErrorCodes.CALLBACK_THREW);

  const refusedPort = await freePort();
  await assert.rejects(
    connect({
      host: '127.0.0.1',
      port: refusedPort,
      handler: echoHandler,
      onConnectionFailed: () => {
        throw new Error('callback bug');
      },
    }),
    { code: ErrorCodes.CONNECT_REFUSED },
  );
});
