/**
 * NativeTcpTransport: accepted connections driven on Node's TCP handle with no net.Socket. The
 * ordering suite runs on it (ordering-tcp.test.ts); these are what that table does not reach: which
 * transport a server picks, corked writes and their completions, writes that go async against a peer
 * that does not read, bulk reads into buffers of our own, an RST asked for while a shutdown waits, the
 * fallback where this Node has no stream binding. Real TCP over 127.0.0.1, both transports where the
 * behaviour must be the same.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import * as tls from 'node:tls';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Connection, type ConnectionCallbacks, NativeTcpTransport, Server, type ServerOptions, TcpTransport, tlsHandshake } from '../../framework/index.js';
import { until } from '../helpers/memory-connection.js';
import { selfSignedCert } from '../helpers/self-signed-cert.js';
import { connectClient, readBytes } from '../helpers/tcp-client.js';

async function start(options: Partial<ServerOptions<unknown>> & Pick<ServerOptions<unknown>, 'handler'>): Promise<{ server: Server; port: number }> {
  const server = new Server({ host: '127.0.0.1', port: 0, ...options });
  const { port } = await server.listen();
  return { server, port };
}

/** The transport of the one connection a server holds, once it has it. */
async function onlyConnection(server: Server): Promise<Connection> {
  await until(() => server.connections.size === 1, 3000, 'the connection');
  return [...server.connections][0]! as Connection;
}

const idleHandler: ConnectionCallbacks = {
  onConnectionEstablished: (c) => c.read(),
  onReadCompleted: (c, b) => {
    b.release();
    c.read();
  },
};

const choices: { name: string; options: Partial<ServerOptions<unknown>>; expected: typeof NativeTcpTransport | typeof TcpTransport }[] = [
  { name: 'by default', options: {}, expected: NativeTcpTransport },
  { name: 'with nativeHandles: false', options: { nativeHandles: false }, expected: TcpTransport },
  { name: "with readMode 'copy'", options: { readMode: 'copy' }, expected: TcpTransport },
  { name: "with acceptMode 'server'", options: { acceptMode: 'server' }, expected: TcpTransport },
];

for (const { name, options, expected } of choices) {
  test(`a server accepts as ${expected.name} ${name}`, async () => {
    const { server, port } = await start({ handler: idleHandler, ...options });
    const client = await connectClient(port);
    try {
      const conn = await onlyConnection(server);
      assert.equal(conn.transport.constructor, expected);
    } finally {
      client.destroy();
      await server.stop({ deadlineMs: 500 });
    }
  });
}

test('a server with a TLS handshake layer accepts as net.Socket (TLS needs one): a TLS client is served', async () => {
  const cert = selfSignedCert();
  const echo: ConnectionCallbacks = {
    onConnectionEstablished: (c) => c.read(),
    onReadCompleted: (c, b) => {
      c.write(b);
      c.read();
    },
  };
  const { server, port } = await start({ handler: echo, handshakes: [tlsHandshake({ cert: cert.cert, key: cert.key })] });
  const client = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
  try {
    await once(client, 'secureConnect');
    client.write('over tls');
    const [data] = (await once(client, 'data')) as [Buffer];
    assert.equal(data.toString(), 'over tls');
    const conn = await onlyConnection(server);
    assert.equal(conn.transport.kind, 'tls');
  } finally {
    client.destroy();
    await server.stop({ deadlineMs: 500 });
  }
});

for (const nativeHandles of [true, false]) {
  const label = nativeHandles ? 'native handle' : 'net.Socket';

  test(`${label}: corked writes over the high-water mark complete after uncork, and onWritable comes once the handler waits for it`, async () => {
    // The handler learns 'over-high-water' from its last corked write and records that it waits only
    // after uncork returns: a completion delivered inside uncork would be lost and the exchange stall.
    const chunk = Buffer.alloc(3000, 0x61);
    let rounds = 0;
    let waiting = false;
    const handler: ConnectionCallbacks = {
      onConnectionEstablished: (c) => c.read(),
      onReadCompleted: (c, b) => {
        b.release();
        send(c);
      },
      onWritable: (c) => {
        if (!waiting) return;
        waiting = false;
        send(c);
      },
    };
    const send = (c: Connection): void => {
      if (++rounds > 20) {
        c.close();
        return;
      }
      c.cork();
      c.write(chunk);
      const status = c.write(chunk);
      c.uncork();
      if (status === 'over-high-water') waiting = true;
      else send(c);
    };
    const { server, port } = await start({ handler, nativeHandles, connection: { highWaterMark: 4096, lowWaterMark: 1024 } });
    const client = await connectClient(port);
    try {
      client.write('go');
      const bytes = await readBytes(client, 20 * 2 * chunk.length, 5000);
      assert.equal(bytes.length, 20 * 2 * chunk.length);
    } finally {
      client.destroy();
      await server.stop({ deadlineMs: 500 });
    }
  });

  test(`${label}: 8 MiB written to a peer that reads nothing for a while: writes go async, all arrive in order, nothing leaks`, async () => {
    const total = 8 * 1024 * 1024;
    const block = randomBytes(64 * 1024);
    let sawQueued = 0;
    const handler: ConnectionCallbacks<{ sent: number }> = {
      onConnectionEstablished: (c) => c.read(),
      onReadCompleted: (c, b) => {
        b.release();
        pump(c);
      },
      onWritable: (c) => pump(c),
    };
    const pump = (c: Connection<{ sent: number }>): void => {
      while (c.user.sent < total) {
        c.user.sent += block.length;
        const status = c.write(block);
        sawQueued = Math.max(sawQueued, c.transport.writeQueueSize);
        if (status === 'over-high-water') return;
      }
      c.close();
    };
    const { server, port } = await start({ handler: handler as ConnectionCallbacks<unknown>, nativeHandles, createUser: () => ({ sent: 0 }) } as Partial<ServerOptions<unknown>> & Pick<ServerOptions<unknown>, 'handler'>);
    const client = await connectClient(port);
    try {
      client.pause();
      client.write('go');
      await until(() => sawQueued > 0, 5000, 'a write that went async');
      assert.ok(sawQueued > 0, 'the kernel buffers filled: a write went async');
      client.resume();
      const bytes = await readBytes(client, total, 10_000);
      const expected = createHash('sha256');
      for (let i = 0; i < total / block.length; i++) expected.update(block);
      assert.equal(createHash('sha256').update(bytes).digest('hex'), expected.digest('hex'));
    } finally {
      client.destroy();
      await server.stop({ deadlineMs: 1000 });
    }
    assert.equal(server.pool.outstanding, 0, 'no pooled buffer leaked');
  });

  test(`${label}: abort() while our FIN waits behind writes the peer never reads: the handle is closed, not lost`, async () => {
    const block = Buffer.alloc(1024 * 1024, 0x62);
    let conn: Connection | null = null;
    const handler: ConnectionCallbacks = {
      onConnectionEstablished: (c) => {
        conn = c;
        for (let i = 0; i < 8; i++) c.write(block); // far more than the socket buffers hold
        c.shutdownWrite(); // the FIN queues behind them
      },
      onReadCompleted: (_c, b) => b.release(),
      onConnectionReset: (_c, error) => errors.push(error.message),
    };
    const errors: string[] = [];
    const { server, port } = await start({ handler, nativeHandles });
    const client = await connectClient(port);
    client.pause();
    try {
      await until(() => conn !== null, 3000, 'established');
      await new Promise((resolve) => setTimeout(resolve, 100));
      conn!.abort();
      await until(() => server.connections.size === 0, 3000, 'the connection closed');
      const transport = conn!.transport;
      if (transport instanceof NativeTcpTransport) assert.equal(transport.closed, true);
      else {
        const socket = (transport as TcpTransport).socket;
        assert.equal(socket.destroyed, true);
        assert.equal((socket as unknown as { _handle: unknown })._handle, null, "Node's handle is closed and released");
      }
      assert.deepEqual(errors, [], 'no transport error (the handle was not lost)');
    } finally {
      client.destroy();
      await server.stop({ deadlineMs: 500 });
    }
  });
}

test('native handle: a 4 MiB upload read in full-buffer reads (into buffers of our own) echoes back intact', async () => {
  const payload = randomBytes(4 * 1024 * 1024);
  const handler: ConnectionCallbacks = {
    onConnectionEstablished: (c) => c.read(),
    onReadCompleted: (c, b) => {
      c.write(b);
      c.read();
    },
  };
  const { server, port } = await start({ handler, bufferSize: 16 * 1024 });
  const client = await connectClient(port);
  try {
    client.write(payload);
    const echoed = await readBytes(client, payload.length, 10_000);
    assert.ok(echoed.equals(payload));
    const conn = await onlyConnection(server);
    assert.ok(conn.transport instanceof NativeTcpTransport);
  } finally {
    client.destroy();
    await server.stop({ deadlineMs: 500 });
  }
  assert.equal(server.pool.outstanding, 0, 'no pooled buffer leaked');
});

test('a Node without the stream binding: the server warns once (PORTICO_NATIVE_FALLBACK) and serves over net.Socket', () => {
  const index = fileURLToPath(new URL('../../framework/index.js', import.meta.url));
  const script = `
    process.binding = undefined;
    const warnings = [];
    process.on('warning', (w) => warnings.push(w.code));
    const { Server, TcpTransport } = await import(${JSON.stringify(index)});
    const net = await import('node:net');
    const kinds = [];
    const handler = { onConnectionEstablished: (c) => { kinds.push(c.transport instanceof TcpTransport); c.read(); }, onReadCompleted: (c, b) => { c.write(b); c.read(); } };
    const server = new Server({ host: '127.0.0.1', port: 0, handler });
    const { port } = await server.listen();
    const echoed = await new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => s.write('ping'));
      s.once('data', (d) => { resolve(d.toString()); s.destroy(); });
      s.once('error', reject);
    });
    await server.stop({ deadlineMs: 200 });
    await new Promise((r) => setImmediate(r));
    console.log(JSON.stringify({ echoed, warnings, kinds }));
  `;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
  const result = JSON.parse(out.trim().split('\n').pop()!) as { echoed: string; warnings: string[]; kinds: boolean[] };
  assert.equal(result.echoed, 'ping');
  assert.deepEqual(result.warnings, ['PORTICO_NATIVE_FALLBACK']);
  assert.deepEqual(result.kinds, [true]);
});

test('PORTICO_NATIVE_HANDLES=0 in the environment turns native handles off for a server that does not set nativeHandles', () => {
  const index = fileURLToPath(new URL('../../framework/index.js', import.meta.url));
  const script = `
    const { Server } = await import(${JSON.stringify(index)});
    const net = await import('node:net');
    const seen = [];
    const handler = { onConnectionEstablished: (c) => { seen.push(c.transport.constructor.name); c.close(); }, onReadCompleted: (c, b) => b.release() };
    for (const nativeHandles of [undefined, true]) {
      const server = new Server({ host: '127.0.0.1', port: 0, handler, ...(nativeHandles === undefined ? {} : { nativeHandles }) });
      const { port } = await server.listen();
      await new Promise((resolve, reject) => { const s = net.connect(port, '127.0.0.1'); s.on('close', resolve); s.on('error', reject); s.resume(); });
      await server.stop({ deadlineMs: 200 });
    }
    console.log(JSON.stringify(seen));
  `;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, PORTICO_NATIVE_HANDLES: '0' } });
  assert.deepEqual(JSON.parse(out.trim().split('\n').pop()!), ['TcpTransport', 'NativeTcpTransport'], 'the variable decides the default only; an explicit option wins');
});
