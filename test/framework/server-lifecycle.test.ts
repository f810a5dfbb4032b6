/**
 * The server and its connections in the orderings that broke before (issue 7): close, abort, drain and
 * stop meeting each other and user code, on real TCP over 127.0.0.1.
 */
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { test } from 'node:test';
import { type CloseReason, type Connection, type ConnectionCallbacks, ErrorCodes, PorticoError, Server, type ServerOptions, type TcpReadMode } from '../../framework/index.js';
import { echoHandler } from '../../examples/echo/echo-handler.js';
import { until } from '../helpers/memory-connection.js';
import { collect, connectClient, readBytes } from '../helpers/tcp-client.js';
import { connectionStates } from '../helpers/tcp-states.js';

async function startServer<U = unknown>(options: ServerOptions<U>): Promise<{ server: Server<U>; port: number }> {
  const server = new Server<U>({ host: '127.0.0.1', port: 0, ...options } as ServerOptions<U>);
  const { port } = await server.listen();
  return { server, port };
}

/** Connect and report how the connection ended: the error code of an RST, whether it came before or after connect. */
async function resetSeen(port: number): Promise<string | undefined> {
  const socket = await connectClient(port).catch((e: NodeJS.ErrnoException) => e);
  if (socket instanceof Error) return (socket as NodeJS.ErrnoException).code;
  return (await collect(socket)).errorCode;
}

/** Run `fn` and fail if the process saw an uncaught exception meanwhile. */
async function noUncaught<T>(fn: () => Promise<T>): Promise<T> {
  const seen: unknown[] = [];
  const onUncaught = (error: unknown): void => {
    seen.push(error);
  };
  process.on('uncaughtException', onUncaught);
  try {
    const result = await fn();
    assert.deepEqual(seen, [], 'no exception escaped to the process');
    return result;
  } finally {
    process.off('uncaughtException', onUncaught);
  }
}

for (const readMode of ['onread', 'copy'] as TcpReadMode[]) {
  test(`shutdownWrite() then abort() in the same callback: one close, RST on the wire, nothing tracked (issue 7 #1, ${readMode})`, async () => {
    const closed: CloseReason[] = [];
    const { server, port } = await startServer({
      readMode,
      handler: {
        onConnectionEstablished: (c) => {
          c.shutdownWrite();
          c.abort();
        },
        onReadCompleted: (_c, b) => b.release(),
        onConnectionClosed: (_c, reason) => closed.push(reason),
      },
    });
    const client = await connectClient(port, { allowHalfOpen: true });
    client.on('error', () => {});
    const clientPort = client.localPort!;
    await new Promise<void>((resolve) => {
      client.once('end', resolve); // the FIN asked for first went out...
      client.resume();
    });
    // ...then the RST: the server end is gone (not left in FIN_WAIT2), the client end is not CLOSE_WAIT.
    await until(() => connectionStates(port, clientPort).server === null, 3000, 'server end gone');
    assert.notEqual(connectionStates(port, clientPort).client, 'CLOSE_WAIT', 'the client end was reset');
    await until(() => closed.length === 1, 3000, 'onConnectionClosed');
    assert.equal(closed[0]!.kind, 'aborted');
    assert.equal(server.connections.size, 0);
    const stopped = await server.stop({ deadlineMs: 1000 });
    assert.equal(stopped.forced, 0);
    assert.equal(server.pool.outstanding, 0);
  });
}

test('stop({ deadlineMs: 0 }) with 400 idle connections resolves, every time, with every connection closed (issue 7 #1)', async () => {
  for (let round = 0; round < 3; round++) {
    const { server, port } = await startServer({ handler: echoHandler });
    const clients = await Promise.all(Array.from({ length: 400 }, () => connectClient(port, { allowHalfOpen: true })));
    for (const c of clients) c.on('error', () => {});
    await until(() => server.connections.size === 400, 5000, 'all accepted');
    const started = Date.now();
    const result = await server.stop({ deadlineMs: 0 });
    assert.ok(Date.now() - started < 3000, `stop took ${Date.now() - started} ms`);
    assert.equal(result.forced, 0, 'no transport had to be closed by force');
    assert.equal(result.closedGracefully + result.aborted, 400);
    assert.equal(server.connections.size, 0);
    assert.equal(server.pool.outstanding, 0);
    for (const c of clients) c.destroy();
  }
});

test('close() inside onReadCompleted still sees the peer FIN: closed at once, not after lingerMs (issue 7 #2)', async () => {
  const closed: { reason: CloseReason; at: number }[] = [];
  const { server, port } = await startServer({
    connection: { lingerMs: 5000 },
    handler: {
      onConnectionEstablished: (c) => c.read(),
      onReadCompleted: (c, buffer) => {
        c.write(buffer); // reply, then close: the HTTP/1.0 pattern
        c.close();
      },
      onConnectionClosed: (_c, reason) => closed.push({ reason, at: Date.now() }),
    },
  });
  const client = await connectClient(port, { allowHalfOpen: false }); // answers the server's FIN with its own
  const outcome = collect(client);
  const sent = Date.now();
  client.write('request');
  const result = await outcome;
  assert.equal(result.data.toString(), 'request');
  assert.equal(result.ended, 'end', 'the client got a FIN, not an RST');
  await until(() => closed.length === 1, 3000, 'server close');
  assert.deepEqual(closed[0]!.reason, { kind: 'local-close' });
  assert.ok(closed[0]!.at - sent < 1000, `closed ${closed[0]!.at - sent} ms after the request (lingerMs is 5000)`);
  await server.stop();
  assert.equal(server.pool.outstanding, 0);
});

test('user code that throws during accept costs only its connection: factory, createUser, onMaximumConnections (issue 7 #4)', async () => {
  await noUncaught(async () => {
    let n = 0;
    const factory = (): ConnectionCallbacks<{ id: number }> => {
      if (++n === 1) throw new Error('factory bug');
      return echoHandler as ConnectionCallbacks<{ id: number }>;
    };
    let users = 0;
    const { server, port } = await startServer<{ id: number }>({
      handler: factory,
      createUser: () => {
        if (++users === 2) throw new Error('createUser bug');
        return { id: users };
      },
      maxConnections: 2,
      callbacks: {
        onMaximumConnections: () => {
          throw new Error('onMaximumConnections bug');
        },
      },
    });
    const warnings: string[] = [];
    const onWarning = (w: Error): void => {
      warnings.push(w.message);
    };
    process.on('warning', onWarning);
    try {
      // 1: the factory throws → that connection is reset (the RST may beat the client's connect).
      assert.equal(await resetSeen(port), 'ECONNRESET');
      // 2: createUser throws → reset, and never reaches a handler.
      assert.equal(await resetSeen(port), 'ECONNRESET');
      // 3 and 4 fill the limit; 5 is over it and onMaximumConnections throws → still refused, server fine.
      const a = await connectClient(port);
      const b = await connectClient(port);
      await until(() => server.connections.size === 2, 3000, 'two connections');
      assert.equal(await resetSeen(port), 'ECONNRESET');
      a.write('still');
      assert.equal((await readBytes(a, 5)).toString(), 'still');
      b.write('works');
      assert.equal((await readBytes(b, 5)).toString(), 'works');
      await new Promise((r) => setImmediate(r));
      assert.equal(server.stats.callbackErrors, 3, 'each throw counted');
      assert.equal(server.stats.overLimit, 1);
      assert.ok(warnings.some((w) => /createUser threw: createUser bug/.test(w)), warnings.join('\n'));
      assert.ok(warnings.some((w) => /onMaximumConnections threw/.test(w)), warnings.join('\n'));
      a.end();
      b.end();
      await server.stop();
    } finally {
      process.off('warning', onWarning);
    }
  });
});

test('a custom onDrain finishes the in-flight request: read() keeps reading during the drain (issue 7 #5)', async () => {
  const drained: number[] = [];
  const { server, port } = await startServer<{ line: string; draining: boolean }>({
    createUser: () => ({ line: '', draining: false }),
    handler: {
      onConnectionEstablished: (c) => c.read(),
      onReadCompleted: (c, buffer) => {
        c.user.line += buffer.data.toString();
        buffer.release();
        if (!c.user.line.endsWith('\n')) {
          c.read(); // the rest of the request: must still be read while draining
          return;
        }
        c.write(`done: ${c.user.line}`);
        c.user.line = '';
        if (c.user.draining) c.close();
        else c.read();
      },
      onDrain: (c) => {
        drained.push(c.id);
        c.user.draining = true; // finish the request in flight, then close
      },
    },
  });
  const client = await connectClient(port, { allowHalfOpen: false });
  const outcome = collect(client);
  client.write('first half, ');
  await until(() => server.connections.size === 1, 3000, 'accepted');
  await new Promise((r) => setTimeout(r, 50));
  const stopping = server.stop({ deadlineMs: 3000 });
  await until(() => drained.length === 1, 3000, 'onDrain');
  client.write('second half\n');
  const result = await outcome;
  assert.equal(result.data.toString(), 'done: first half, second half\n');
  assert.equal(result.ended, 'end');
  assert.deepEqual(await stopping, { closedGracefully: 1, aborted: 0, forced: 0 });
});

test("overLimit 'close' bounds the refusals closing at once; the rest are reset, and lingering ones are reset on the wheel (issue 7 #6)", async () => {
  const { server, port } = await startServer({ handler: echoHandler, maxConnections: 2, overLimit: 'close', maxClosingRefusals: 8, connection: { lingerMs: 300 } });
  const kept = [await connectClient(port), await connectClient(port)];
  await until(() => server.connections.size === 2, 3000, 'two connections');
  // 40 more that never close their side: each refusal would wait for a FIN that never comes.
  const outcomes: Promise<string>[] = [];
  const extra: net.Socket[] = [];
  for (let i = 0; i < 40; i++) {
    const s = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    extra.push(s);
    outcomes.push(
      new Promise<string>((resolve) => {
        s.on('end', () => resolve('FIN'));
        s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
      }),
    );
    s.resume();
  }
  await until(() => server.stats.overLimit === 40, 5000, 'all refused');
  assert.ok(server.closingRefusals <= 8, `${server.closingRefusals} refusals closing at once`);
  const seen = await Promise.all(outcomes);
  assert.equal(seen.filter((s) => s === 'FIN').length, 8, 'the first 8 refusals were closed with FIN');
  assert.equal(seen.filter((s) => s === 'ECONNRESET').length, 32, 'the rest were reset');
  await until(() => server.closingRefusals === 0, 3000, 'lingering refusals reset at their deadline');
  for (const s of [...kept, ...extra]) s.destroy();
  await server.stop();
});

test('stop() during listen(): listen() rejects, stop() resolves, nothing listens (issue 7 #8)', async () => {
  const server = new Server({ host: '127.0.0.1', port: 0, handler: echoHandler });
  const listening = server.listen();
  const stopping = server.stop();
  await assert.rejects(listening, (e: unknown) => e instanceof PorticoError && e.code === ErrorCodes.INVALID_STATE);
  assert.deepEqual(await stopping, { closedGracefully: 0, aborted: 0, forced: 0 });
  assert.equal(server.state, 'stopped');
  await assert.rejects(server.listen(), { code: ErrorCodes.INVALID_STATE });
});

test('a connection whose transport never reports its close does not hang stop(): closed by force after the deadline', async () => {
  let conn: Connection | null = null;
  const { server, port } = await startServer({
    handler: { onConnectionEstablished: (c) => ((conn = c), c.read()), onReadCompleted: (_c, b) => b.release() },
  });
  const client = await connectClient(port);
  client.on('error', () => {});
  await until(() => conn !== null, 3000, 'established');
  // Simulate a transport that loses its close report (what Node did after a refused RST).
  const transport = (conn as unknown as Connection).transport;
  transport.reset = () => {};
  transport.destroy = () => {};
  const started = Date.now();
  const result = await server.stop({ deadlineMs: 100 });
  assert.deepEqual(result, { closedGracefully: 0, aborted: 1, forced: 1 });
  assert.ok(Date.now() - started < 5000);
  assert.equal(server.connections.size, 0);
  client.destroy();
});

test('accept modes: handle (one socket per connection, default) and server (fallback) both serve', async () => {
  for (const acceptMode of ['handle', 'server'] as const) {
    const { server, port } = await startServer({ handler: echoHandler, acceptMode });
    assert.equal(server.acceptMode, acceptMode);
    const c = await connectClient(port, { allowHalfOpen: false });
    const outcome = collect(c);
    c.end('mode ' + acceptMode);
    assert.equal((await outcome).data.toString(), 'mode ' + acceptMode);
    await server.stop();
    assert.equal(server.pool.outstanding, 0);
  }
});

test('close({ waitForPeer: false }): reply, FIN, the socket released at once; the peer is answered with RST afterwards', async (t) => {
  const closedAt: number[] = [];
  const { server, port } = await startServer({
    connection: { lingerMs: 5000 },
    handler: {
      onConnectionEstablished: (c) => c.read(),
      onReadCompleted: (c, buffer) => {
        c.write(buffer);
        c.close({ waitForPeer: false });
      },
      onConnectionClosed: () => closedAt.push(Date.now()),
    },
  });
  t.after(() => server.stop({ deadlineMs: 100 }));
  const client = await connectClient(port, { allowHalfOpen: true }); // never closes its side by itself
  const clientPort = client.localPort!;
  const ended = new Promise<string>((resolve) => client.once('end', () => resolve('FIN')));
  const data = readBytes(client, 'request'.length);
  const sent = Date.now();
  client.write('request');
  assert.equal((await data).toString(), 'request');
  assert.equal(await ended, 'FIN');
  await until(() => closedAt.length === 1, 2000, 'server close');
  assert.ok(closedAt[0]! - sent < 1000, `released ${closedAt[0]! - sent} ms after the request, not after lingerMs`);
  assert.equal(server.connections.size, 0);
  // The kernel still holds our half-closed end (FIN_WAIT2) until the peer answers; its next bytes get an RST.
  const outcome = new Promise<string>((resolve) => client.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error')));
  client.write('late');
  await new Promise((r) => setTimeout(r, 50));
  client.write('later');
  assert.match(await outcome, /^(ECONNRESET|EPIPE)$/);
  await until(() => connectionStates(port, clientPort).server === null, 3000, 'server end gone after the RST');
  assert.equal(server.pool.outstanding, 0);
});

test('close({ waitForPeer: false }) with input left unread: the kernel resets the connection', async (t) => {
  const { server, port } = await startServer({
    handler: {
      onConnectionEstablished: (c) => c.read(),
      onReadCompleted: (c, buffer) => {
        buffer.release();
        setTimeout(() => c.close({ waitForPeer: false }), 50); // the second message arrives meanwhile, unread
      },
    },
  });
  t.after(() => server.stop({ deadlineMs: 100 }));
  const client = await connectClient(port, { allowHalfOpen: true });
  client.on('error', () => {});
  const clientPort = client.localPort!;
  const ended = new Promise<void>((resolve) => client.once('end', resolve));
  client.resume();
  client.write('first');
  await new Promise((r) => setTimeout(r, 20));
  client.write('second, never read');
  await ended; // the FIN asked for went out first...
  // ...then closing with unread input made the kernel reset: no FIN_WAIT2 left here, no CLOSE_WAIT there.
  await until(() => connectionStates(port, clientPort).server === null, 3000, 'server end gone');
  assert.notEqual(connectionStates(port, clientPort).client, 'CLOSE_WAIT', 'the client end was reset');
  await until(() => server.connections.size === 0, 2000, 'server close');
});
