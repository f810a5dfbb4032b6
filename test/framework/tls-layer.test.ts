/**
 * TLS as a handshake layer: alone, after accept-proxy (the PROXY header in clear, then TLS — with the
 * header and the ClientHello in one TCP segment, so the bytes read past the header must reach TLS),
 * and its failures (garbage, silence, a bad certificate at configuration time).
 */
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { test } from 'node:test';
import * as tls from 'node:tls';
import { type Connection, ErrorCodes, type HandshakeOutcome, PorticoError, Server, acceptProxy, connect, sendProxy, tlsClientHandshake, tlsHandshake } from '../../framework/index.js';
import { echoHandler } from '../../examples/echo/echo-handler.js';
import { until } from '../helpers/memory-connection.js';
import { selfSignedCert } from '../helpers/self-signed-cert.js';
import { collect, connectClient } from '../helpers/tcp-client.js';

const HEADER = Buffer.from('PROXY TCP4 198.51.100.20 198.51.100.1 41000 443\r\n');

interface Rig {
  server: Server;
  port: number;
  seen: Connection[];
  failures: HandshakeOutcome[];
}

async function startRig(withProxy: boolean, handshakeTimeoutMs = 5000): Promise<Rig> {
  const { cert, key } = selfSignedCert();
  const seen: Connection[] = [];
  const failures: HandshakeOutcome[] = [];
  const server = new Server({
    handshakes: [...(withProxy ? [acceptProxy()] : []), tlsHandshake({ cert, key })],
    handshakeTimeoutMs,
    handler: {
      ...echoHandler,
      onConnectionEstablished(conn) {
        seen.push(conn);
        echoHandler.onConnectionEstablished?.(conn);
      },
    },
    callbacks: { onHandshakeFailed: (_peer, outcome) => failures.push(outcome) },
  });
  const { port } = await server.listen();
  return { server, port, seen, failures };
}

/** A TLS client over `socket` (already connected); resolves once secure. */
function secureOver(socket: net.Socket): Promise<tls.TLSSocket> {
  const { cert } = selfSignedCert();
  return new Promise((resolve, reject) => {
    const client = tls.connect({ socket, ca: cert, servername: 'localhost' });
    client.once('secureConnect', () => resolve(client));
    client.once('error', reject);
  });
}

function echoOnce(client: tls.TLSSocket, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    client.on('data', (d: Buffer) => {
      got += d.toString();
      if (got.length >= text.length) resolve(got);
    });
    client.once('error', reject);
    client.write(text);
  });
}

/**
 * A relay in front of `port` that writes the PROXY header and the client's first chunk (its
 * ClientHello) in one write — one segment on loopback — then pipes both ways.
 */
async function headerRelay(port: number): Promise<{ port: number; close(): void }> {
  const relay = net.createServer((inbound) => {
    const outbound = net.connect({ host: '127.0.0.1', port });
    outbound.setNoDelay(true);
    inbound.once('data', (first: Buffer) => {
      outbound.write(Buffer.concat([HEADER, first]));
      inbound.pipe(outbound);
      outbound.pipe(inbound);
    });
    inbound.on('error', () => outbound.destroy());
    outbound.on('error', () => inbound.destroy());
  });
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', () => r()));
  return { port: (relay.address() as net.AddressInfo).port, close: () => relay.close() };
}

test('TLS alone: a node:tls client echoes through it; the connection runs over the TLS transport', async () => {
  const rig = await startRig(false);
  try {
    const client = await secureOver(await connectClient(rig.port));
    assert.equal(await echoOnce(client, 'over tls'), 'over tls');
    assert.equal(rig.seen[0]!.transport.kind, 'tls');
    client.destroy();
  } finally {
    await rig.server.stop({ deadlineMs: 500 });
  }
});

test('accept-proxy then TLS: header and ClientHello in one segment, the header in clear, TLS fed the rest', async () => {
  const rig = await startRig(true);
  const relay = await headerRelay(rig.port);
  try {
    const client = await secureOver(await connectClient(relay.port));
    assert.equal(await echoOnce(client, 'hello behind a proxy'), 'hello behind a proxy');
    const conn = rig.seen[0]!;
    assert.deepEqual([conn.remote.address, conn.remote.port, conn.transport.kind], ['198.51.100.20', 41000, 'tls']);
    client.destroy();
  } finally {
    relay.close();
    await rig.server.stop({ deadlineMs: 500 });
  }
});

test('accept-proxy then TLS: header alone first, the handshake after', async () => {
  const rig = await startRig(true);
  try {
    const socket = await connectClient(rig.port);
    socket.write(HEADER);
    await new Promise((r) => setTimeout(r, 20));
    const client = await secureOver(socket);
    assert.equal(await echoOnce(client, 'two segments'), 'two segments');
    assert.equal(rig.seen[0]!.remote.address, '198.51.100.20');
    client.destroy();
  } finally {
    await rig.server.stop({ deadlineMs: 500 });
  }
});

test('TLS garbage and TLS silence fail only their own connection, with a reason', async (t) => {
  const cases = [
    { name: 'plain HTTP to the TLS layer', send: 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', code: ErrorCodes.TLS, timeout: 5000 },
    // Long enough for the next client's full handshake, in this same loop, on a loaded machine.
    { name: 'connects and sends nothing', send: null, code: ErrorCodes.HANDSHAKE_TIMEOUT, timeout: 1500 },
  ];
  for (const c of cases) {
    await t.test(c.name, async () => {
      const rig = await startRig(false, c.timeout);
      try {
        const socket = await connectClient(rig.port);
        const outcome = collect(socket, 5000);
        if (c.send !== null) socket.write(c.send);
        await outcome;
        await until(() => rig.failures.length === 1 && rig.server.stats.handshaking === 0, 3000, 'failure reported');
        const failure = rig.failures[0]!;
        assert.equal(failure.kind === 'failed' ? failure.error.code : failure.kind, c.code);
        assert.equal(failure.handler, 'tls');
        // Another client is served.
        const client = await secureOver(await connectClient(rig.port));
        assert.equal(await echoOnce(client, 'still here'), 'still here');
        client.destroy();
      } finally {
        await rig.server.stop({ deadlineMs: 500 });
      }
    });
  }
});

test('a certificate or key that does not load is a configuration error when the layer is made', () => {
  assert.throws(
    () => tlsHandshake({ cert: Buffer.from('not a certificate'), key: Buffer.from('not a key') }),
    (e: unknown) => e instanceof PorticoError && e.code === ErrorCodes.CONFIG,
  );
  assert.throws(() => tlsHandshake({}), (e: unknown) => e instanceof PorticoError && e.code === ErrorCodes.CONFIG);
});

test('connect() with send-proxy then TLS (haproxy "send-proxy-v2 ssl"): the header in clear, TLS over the same socket', async () => {
  const rig = await startRig(true);
  const { cert } = selfSignedCert();
  try {
    const got: string[] = [];
    const conn = await connect({
      host: '127.0.0.1',
      port: rig.port,
      handshakes: [
        sendProxy({ version: 2, source: { address: '203.0.113.9', port: 9999, family: 'IPv4' }, destination: { address: '127.0.0.1', port: rig.port, family: 'IPv4' } }),
        tlsClientHandshake({ ca: cert, servername: 'localhost' }),
      ],
      handler: {
        onConnectionEstablished(c) {
          c.write('proxied and encrypted');
          c.read();
        },
        onReadCompleted(c, buffer) {
          got.push(buffer.data.toString());
          buffer.release();
          c.keepReading();
        },
      },
    });
    await until(() => got.join('') === 'proxied and encrypted', 3000, 'the echo');
    assert.equal(conn.transport.kind, 'tls');
    const server = rig.seen[0]!;
    assert.deepEqual([server.remote.address, server.remote.port, server.transport.kind], ['203.0.113.9', 9999, 'tls']);
    conn.close();
  } finally {
    await rig.server.stop({ deadlineMs: 500 });
  }
});

test('connect() with a TLS layer rejects with PORTICO_ERR_TLS when the server certificate does not verify', async () => {
  const rig = await startRig(false);
  try {
    await assert.rejects(
      connect({ host: '127.0.0.1', port: rig.port, handshakes: [tlsClientHandshake({ servername: 'localhost' })], handler: { onReadCompleted: (_c, b) => b.release() } }),
      (e: unknown) => e instanceof PorticoError && e.code === ErrorCodes.TLS,
    );
  } finally {
    await rig.server.stop({ deadlineMs: 500 });
  }
});
