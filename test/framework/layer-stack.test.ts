import assert from 'node:assert/strict';
import type * as net from 'node:net';
import { test } from 'node:test';
import {
  type Connection,
  type ConnectionCallbacks,
  DONE,
  ErrorCodes,
  type HandshakeContext,
  type HandshakeHandler,
  type HandshakeOutcome,
  type HandshakeStep,
  NEED_MORE,
  PorticoError,
  Server,
  type ServerOptions,
  WAIT,
  connect,
  healthCheck,
  tcpRules,
} from '../../framework/index.js';
import { until } from '../helpers/memory-connection.js';
import { collect, connectClient, readBytes } from '../helpers/tcp-client.js';

/** A handshake that expects `prefix` first, consumes it, and hands the rest on. */
function expectPrefix(prefix: string, name = 'prefix'): HandshakeHandler {
  const want = Buffer.from(prefix);
  return {
    name,
    start: () => NEED_MORE,
    onData(_ctx: HandshakeContext, input: Uint8Array): HandshakeStep {
      const n = Math.min(input.length, want.length);
      if (!Buffer.from(input.subarray(0, n)).equals(want.subarray(0, n))) {
        return { kind: 'reject', close: 'reset', error: new PorticoError(ErrorCodes.PROXY_PROTOCOL, 'layers', `${name}: wrong prefix`) };
      }
      return n < want.length ? NEED_MORE : { kind: 'done', consumed: want.length };
    },
  };
}

/** Throws for the first connection only (the server must go on serving the next). */
function throwsOnce(): HandshakeHandler {
  let thrown = false;
  return {
    name: 'thrower',
    start() {
      if (!thrown) {
        thrown = true;
        throw new Error('boom');
      }
      return DONE;
    },
  };
}

interface Rig {
  server: Server;
  port: number;
  established: Connection[];
  failures: HandshakeOutcome[];
  received: string[];
}

/** An echo server behind `handshakes`, recording what reaches the protocol and what fails before it. */
async function startRig(handshakes: readonly HandshakeHandler[], extra: Partial<ServerOptions> = {}): Promise<Rig> {
  const established: Connection[] = [];
  const failures: HandshakeOutcome[] = [];
  const received: string[] = [];
  const handler: ConnectionCallbacks = {
    onConnectionEstablished(conn) {
      established.push(conn);
      conn.read();
    },
    onReadCompleted(conn, buffer) {
      received.push(buffer.data.toString('latin1'));
      conn.write(buffer);
      conn.keepReading();
    },
  };
  const server = new Server({
    handler,
    handshakes,
    ...extra,
    callbacks: { onHandshakeFailed: (_peer, outcome) => failures.push(outcome), ...(extra.callbacks ?? {}) },
  });
  const { port } = await server.listen();
  return { server, port, established, failures, received };
}

async function stopRig(rig: Rig): Promise<void> {
  await rig.server.stop({ deadlineMs: 500 });
}

/**
 * Connect and collect until the stream ends. A connection reset right at accept can reach the client
 * before its connect completes: that counts as the RST it is.
 */
async function connectAndCollect(port: number, send: string | null): Promise<{ ended: string; data: Buffer; errorCode?: string }> {
  let client: net.Socket;
  try {
    client = await connectClient(port, { allowHalfOpen: false });
  } catch (error) {
    return { ended: 'error', data: Buffer.alloc(0), errorCode: (error as NodeJS.ErrnoException).code ?? 'connect' };
  }
  const outcome = collect(client, 3000);
  if (send !== null) client.write(send);
  const seen = await outcome;
  return { ...seen, ended: seen.ended === 'close' ? 'end' : seen.ended };
}

function failureCode(outcome: HandshakeOutcome | undefined): string {
  return outcome?.kind === 'failed' ? outcome.error.code : `(${outcome?.kind ?? 'none'})`;
}

test('a handshake handler consumes its part and the protocol gets the rest as its first read', async (t) => {
  const cases: { name: string; writes: string[] }[] = [
    { name: 'header and data in one segment', writes: ['HELLO\nabc'] },
    { name: 'header alone, then data', writes: ['HELLO\n', 'abc'] },
    { name: 'trickled one byte at a time', writes: [...'HELLO\nabc'] },
  ];
  for (const c of cases) {
    await t.test(c.name, async () => {
      const rig = await startRig([expectPrefix('HELLO\n')]);
      try {
        const client = await connectClient(rig.port);
        for (const w of c.writes) {
          client.write(w);
          await new Promise((r) => setTimeout(r, 5));
        }
        assert.equal((await readBytes(client, 3)).toString(), 'abc');
        assert.equal(rig.established.length, 1);
        assert.equal(rig.received.join(''), 'abc');
        client.destroy();
      } finally {
        await stopRig(rig);
      }
    });
  }
});

test('handlers run in order, each handing its leftover to the next', async () => {
  const rig = await startRig([expectPrefix('A:', 'first'), expectPrefix('B:', 'second')]);
  try {
    const client = await connectClient(rig.port);
    client.write('A:B:payload');
    assert.equal((await readBytes(client, 7)).toString(), 'payload');
    client.destroy();
  } finally {
    await stopRig(rig);
  }
});

test('a connection that fails its handshake never reaches the protocol, and says why', async (t) => {
  const cases: {
    name: string;
    handshakes: HandshakeHandler[];
    options?: Partial<ServerOptions>;
    send: string | null;
    client: 'error' | 'end';
    code: string;
  }[] = [
    { name: 'wrong bytes: reset', handshakes: [expectPrefix('HELLO\n')], send: 'GET / HTTP/1.1\r\n\r\n', client: 'error', code: ErrorCodes.PROXY_PROTOCOL },
    { name: 'nothing sent: deadline, then reset', handshakes: [expectPrefix('HELLO\n')], options: { handshakeTimeoutMs: 150 }, send: null, client: 'error', code: ErrorCodes.HANDSHAKE_TIMEOUT },
    { name: 'never finishing, over the byte bound', handshakes: [expectPrefix('x'.repeat(100))], options: { maxHandshakeBytes: 64 }, send: 'x'.repeat(80), client: 'error', code: ErrorCodes.INPUT_TOO_LARGE },
    {
      name: 'a handler that throws',
      handshakes: [throwsOnce()],
      send: null,
      client: 'error',
      code: ErrorCodes.CALLBACK_THREW,
    },
    {
      name: 'reject with close: FIN, not RST',
      handshakes: [{ name: 'closer', start: () => ({ kind: 'reject', close: 'close', error: new PorticoError(ErrorCodes.REJECTED, 'layers', 'no') }) }],
      send: null,
      client: 'end',
      code: ErrorCodes.REJECTED,
    },
    {
      name: 'consumed more than buffered',
      handshakes: [{ name: 'greedy', start: () => NEED_MORE, onData: () => ({ kind: 'done', consumed: 99 }) }],
      send: 'abc',
      client: 'error',
      code: ErrorCodes.INVALID_STATE,
    },
  ];
  for (const c of cases) {
    await t.test(c.name, async () => {
      const rig = await startRig(c.handshakes, c.options ?? {});
      try {
        const seen = await connectAndCollect(rig.port, c.send);
        assert.equal(seen.ended, c.client, `client saw ${seen.ended} ${seen.errorCode ?? ''}`);
        await until(() => rig.failures.length === 1 && rig.server.stats.handshaking === 0, 2000, 'failure reported');
        assert.equal(failureCode(rig.failures[0]), c.code);
        assert.equal(rig.established.length, 0);
        assert.equal(rig.server.stats.handshakeFailed, 1);
        // The server still serves others.
        const other = await connectClient(rig.port);
        other.destroy();
      } finally {
        await stopRig(rig);
      }
    });
  }
});

test('the peer leaving during the handshake is reported as such', async () => {
  const rig = await startRig([expectPrefix('HELLO\n')]);
  try {
    const client = await connectClient(rig.port);
    client.end('HEL');
    await until(() => rig.failures.length === 1, 2000, 'peer-closed reported');
    assert.equal(rig.failures[0]!.kind, 'peer-closed');
    await until(() => rig.server.stats.handshaking === 0, 2000, 'stack gone');
    client.destroy();
  } finally {
    await stopRig(rig);
  }
});

test('a handler can finish later (wait, then settle), also from inside start', async (t) => {
  const later: HandshakeHandler = {
    name: 'later',
    start(ctx) {
      setTimeout(() => ctx.settle(DONE), 30);
      return WAIT;
    },
  };
  const atOnce: HandshakeHandler = {
    name: 'at-once',
    start(ctx) {
      ctx.settle(DONE);
      return WAIT;
    },
  };
  for (const handler of [later, atOnce]) {
    await t.test(handler.name, async () => {
      const rig = await startRig([handler]);
      try {
        const client = await connectClient(rig.port);
        client.write('early bytes');
        assert.equal((await readBytes(client, 11)).toString(), 'early bytes');
        client.destroy();
      } finally {
        await stopRig(rig);
      }
    });
  }
});

test('health check answers monitors and closes; other sources pass to the protocol', async (t) => {
  const cases = [
    { name: 'every connection, text', options: {}, expect: 'OK\n' },
    { name: 'loopback as monitor net, http', options: { sources: ['127.0.0.0/8'], response: 'http' as const }, expect: 'HTTP/1.0 200 OK\r\n' },
    { name: 'monitor net elsewhere: passes through', options: { sources: ['10.0.0.0/8', '::1/128'] }, expect: null },
  ];
  for (const c of cases) {
    await t.test(c.name, async () => {
      const rig = await startRig([healthCheck(c.options)]);
      try {
        const client = await connectClient(rig.port, { allowHalfOpen: false });
        if (c.expect === null) {
          client.write('ping');
          assert.equal((await readBytes(client, 4)).toString(), 'ping');
          client.destroy();
          assert.equal(rig.server.stats.handshakeAnswered, 0);
          return;
        }
        const seen = await collect(client, 3000);
        assert.equal(seen.ended, 'end');
        assert.ok(seen.data.toString().startsWith(c.expect), seen.data.toString());
        assert.ok(seen.data.toString().endsWith('OK\n'));
        assert.equal(rig.established.length, 0);
        await until(() => rig.server.stats.handshakeAnswered === 1 && rig.server.stats.handshaking === 0, 2000, 'answered');
      } finally {
        await stopRig(rig);
      }
    });
  }
});

test('an HTTP probe that sent a request still gets the whole answer (input read and dropped, no RST)', async () => {
  const rig = await startRig([healthCheck({ response: 'http' })]);
  try {
    const client = await connectClient(rig.port, { allowHalfOpen: false });
    client.write('GET /health HTTP/1.0\r\nHost: x\r\n\r\n');
    const seen = await collect(client, 3000);
    assert.equal(seen.ended, 'end');
    assert.match(seen.data.toString(), /^HTTP\/1\.0 200 OK\r\n[\s\S]*\r\n\r\nOK\n$/);
  } finally {
    await stopRig(rig);
  }
});

test('tcp rules: deny and allow by CIDR, a cap per source', async (t) => {
  const refusedBy = async (options: Parameters<typeof tcpRules>[0]): Promise<{ seen: string; code: string }> => {
    const rig = await startRig([tcpRules(options)]);
    try {
      const seen = await connectAndCollect(rig.port, 'x');
      await until(() => rig.failures.length === 1, 2000, 'refusal');
      return { seen: seen.ended, code: failureCode(rig.failures[0]) };
    } finally {
      await stopRig(rig);
    }
  };
  await t.test('deny 127.0.0.0/8 resets', async () => {
    assert.deepEqual(await refusedBy({ deny: ['127.0.0.0/8'] }), { seen: 'error', code: ErrorCodes.REJECTED });
  });
  await t.test('allow only ::1 refuses 127.0.0.1 (with FIN when asked)', async () => {
    assert.deepEqual(await refusedBy({ allow: ['::1'], refuse: 'close' }), { seen: 'end', code: ErrorCodes.REJECTED });
  });
  await t.test('bad CIDR is a config error', () => {
    assert.throws(() => tcpRules({ deny: ['10.0.0.0/33'] }), (e: unknown) => e instanceof PorticoError && e.code === ErrorCodes.CONFIG);
    assert.throws(() => tcpRules({ allow: ['not-an-address'] }), (e: unknown) => e instanceof PorticoError && e.code === ErrorCodes.CONFIG);
  });
  await t.test('maxPerSource 2: the third is refused until one closes', async () => {
    const rules = tcpRules({ maxPerSource: 2 });
    const rig = await startRig([rules]);
    const clients: net.Socket[] = [];
    try {
      for (let i = 0; i < 2; i++) clients.push(await connectClient(rig.port));
      await until(() => rig.established.length === 2, 2000, 'two admitted');
      assert.equal((await connectAndCollect(rig.port, null)).ended, 'error');
      assert.equal(rules.stats.overSourceCap, 1);
      clients.shift()!.destroy();
      await until(() => rig.server.connections.size === 1, 2000, 'one closed');
      const fourth = await connectClient(rig.port);
      clients.push(fourth);
      fourth.write('ok');
      assert.equal((await readBytes(fourth, 2)).toString(), 'ok');
      assert.equal(rules.stats.sources, 1);
    } finally {
      for (const c of clients) c.destroy();
      await stopRig(rig);
    }
    assert.equal(rules.stats.sources, 0, 'every count released');
  });
});

test('connections in their handshake count against maxConnections', async () => {
  const rig = await startRig([expectPrefix('HELLO\n')], { maxConnections: 1 });
  try {
    const first = await connectClient(rig.port);
    await until(() => rig.server.stats.handshaking === 1, 2000, 'handshaking');
    assert.equal((await connectAndCollect(rig.port, null)).ended, 'error');
    assert.equal(rig.server.stats.overLimit, 1);
    first.destroy();
  } finally {
    await stopRig(rig);
  }
});

test('stop(): a handshake finishing during the drain is drained; one that never finishes is reset at the deadline', async () => {
  const rig = await startRig([expectPrefix('HELLO\n')]);
  const finishing = await connectClient(rig.port);
  const stuck = await connectClient(rig.port);
  finishing.write('HEL');
  stuck.write('H');
  await until(() => rig.server.stats.handshaking === 2, 2000, 'both handshaking');
  const stopped = rig.server.stop({ deadlineMs: 2000 });
  const finishingSeen = collect(finishing, 6000);
  const stuckSeen = collect(stuck, 6000);
  finishing.write('LO\nhi');
  const started = Date.now();
  const result = await stopped;
  const elapsed = Date.now() - started;
  assert.equal(rig.established.length, 1, 'the finishing one reached the protocol');
  assert.equal(rig.received.join(''), 'hi');
  assert.equal((await finishingSeen).data.toString(), 'hi');
  assert.equal((await stuckSeen).ended, 'error', 'the stuck one was reset');
  assert.ok(elapsed < 6000, `stop took ${elapsed} ms`);
  assert.equal(rig.server.stats.handshaking, 0);
  assert.equal(result.forced, 0);
  assert.equal(result.aborted, 1, 'the handshake reset at the deadline counts as aborted');
});

test('connect() runs outgoing handshakes before the handler: a greeting written first', async () => {
  const rig = await startRig([expectPrefix('HELLO\n')]);
  try {
    const greet: HandshakeHandler = {
      name: 'greet',
      start(ctx) {
        assert.equal(ctx.direction, 'outgoing');
        ctx.write(Buffer.from('HELLO\n'));
        return DONE;
      },
    };
    const got: string[] = [];
    const conn = await connect({
      host: '127.0.0.1',
      port: rig.port,
      handshakes: [greet],
      handler: {
        onConnectionEstablished(c) {
          c.write('data');
          c.read();
        },
        onReadCompleted(c, buffer) {
          got.push(buffer.data.toString());
          buffer.release();
          c.keepReading();
        },
      },
    });
    await until(() => got.join('') === 'data', 2000, 'echo through the server');
    conn.abort();
  } finally {
    await stopRig(rig);
  }
});

test('connect() rejects when an outgoing handshake fails', async () => {
  const rig = await startRig([]);
  try {
    const refuse: HandshakeHandler = {
      name: 'refuse',
      start: () => ({ kind: 'reject', close: 'reset', error: new PorticoError(ErrorCodes.REJECTED, 'layers', 'refused by test') }),
    };
    await assert.rejects(
      connect({ host: '127.0.0.1', port: rig.port, handshakes: [refuse], handler: { onReadCompleted: (_c, b) => b.release() } }),
      (e: unknown) => e instanceof PorticoError && e.code === ErrorCodes.REJECTED,
    );
  } finally {
    await stopRig(rig);
  }
});

test('the peer resetting during the handshake (after part of a header): failed with the reset, nothing left behind', async () => {
  const rig = await startRig([expectPrefix('HELLO\n')]);
  try {
    const client = await connectClient(rig.port);
    client.write('HEL');
    await until(() => rig.server.stats.handshaking === 1, 2000, 'handshaking');
    await new Promise((r) => setTimeout(r, 20)); // the partial header read first
    client.resetAndDestroy();
    await until(() => rig.failures.length === 1 && rig.server.stats.handshaking === 0, 2000, 'reset reported');
    assert.equal(failureCode(rig.failures[0]), ErrorCodes.CONNECTION_RESET);
    assert.equal(rig.established.length, 0);
    assert.equal(rig.server.pool.stats.outstanding, 0, 'the buffered partial header was released');
  } finally {
    await stopRig(rig);
  }
});
