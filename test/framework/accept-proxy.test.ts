/**
 * The accept-proxy layer on real TCP: good headers of both versions (whole, with data in the same
 * segment, trickled a byte at a time), and every bad input the layers issue lists — each ends its own
 * connection with a reset and a reason, while a bystander connection on the same server keeps echoing.
 */
import assert from 'node:assert/strict';
import type * as net from 'node:net';
import { test } from 'node:test';
import { type Connection, ErrorCodes, type HandshakeOutcome, Server, acceptProxy, connect, sendProxy, tcpRules } from '../../framework/index.js';
import { echoHandler } from '../../examples/echo/echo-handler.js';
import { until } from '../helpers/memory-connection.js';
import { inet, inet6, tlv, v2, withCrc } from '../helpers/proxy-header-bytes.js';
import { collect, connectClient, readBytes } from '../helpers/tcp-client.js';

interface Rig {
  server: Server;
  port: number;
  seen: Connection[];
  failures: HandshakeOutcome[];
}

async function startRig(options: { handshakeTimeoutMs?: number; deny?: string[] } = {}): Promise<Rig> {
  const seen: Connection[] = [];
  const failures: HandshakeOutcome[] = [];
  const server = new Server({
    handshakes: [acceptProxy(), ...(options.deny !== undefined ? [tcpRules({ deny: options.deny })] : [])],
    handshakeTimeoutMs: options.handshakeTimeoutMs ?? 5000,
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

async function send(socket: net.Socket, chunks: readonly Uint8Array[], gapMs: number): Promise<void> {
  for (const chunk of chunks) {
    socket.write(chunk);
    if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
  }
}

const bytesOf = (b: Uint8Array): Uint8Array[] => [...b].map((x) => Uint8Array.of(x));

test('good PROXY headers: the protocol sees the header client, and the bytes after it first', async (t) => {
  const v1 = Buffer.from('PROXY TCP4 192.0.2.10 198.51.100.1 40000 443\r\n');
  const v1six = Buffer.from('PROXY TCP6 2001:db8::1 2001:db8::2 40000 443\r\n');
  const v2four = v2({ body: [inet('192.0.2.10', '198.51.100.1', 40000, 443)] });
  const v2tlv = withCrc(v2({ body: [inet('192.0.2.10', '198.51.100.1', 40000, 443), tlv(0x02, 'example.com'), tlv(0x03, [0, 0, 0, 0])] }));
  const v2six = v2({ familyTransport: 0x21, body: [inet6('20010db8000000000000000000000001', '20010db8000000000000000000000002', 40000, 443)] });
  const cases = [
    { name: 'v1 TCP4, data in the same segment', chunks: [Buffer.concat([v1, Buffer.from('hello')])], address: '192.0.2.10', gap: 0 },
    { name: 'v1 TCP6', chunks: [v1six, Buffer.from('hello')], address: '2001:db8::1', gap: 5 },
    { name: 'v1 trickled a byte at a time', chunks: bytesOf(Buffer.concat([v1, Buffer.from('hello')])), address: '192.0.2.10', gap: 1 },
    { name: 'v2 TCP4', chunks: [Buffer.concat([v2four, Buffer.from('hello')])], address: '192.0.2.10', gap: 0 },
    { name: 'v2 with AUTHORITY and a good CRC32C', chunks: [v2tlv, Buffer.from('hello')], address: '192.0.2.10', gap: 5, authority: 'example.com' },
    { name: 'v2 TCP6', chunks: [v2six, Buffer.from('hello')], address: '2001:db8::1', gap: 0 },
    { name: 'v2 trickled a byte at a time', chunks: bytesOf(Buffer.concat([v2four, Buffer.from('hello')])), address: '192.0.2.10', gap: 1 },
  ];
  const rig = await startRig();
  try {
    for (const c of cases) {
      await t.test(c.name, async () => {
        const client = await connectClient(rig.port);
        await send(client, c.chunks, c.gap);
        assert.equal((await readBytes(client, 5)).toString(), 'hello');
        const conn = rig.seen.at(-1)!;
        assert.equal(conn.remote.address, c.address);
        assert.equal(conn.remote.port, 40000);
        assert.equal(conn.local.port, 443);
        assert.equal(conn.socketRemote.address, '127.0.0.1');
        assert.equal(conn.socketRemote.port, client.localPort);
        if (c.authority !== undefined) {
          assert.equal(conn.proxied?.authority, c.authority);
          assert.equal(conn.proxied?.crcChecked, true);
        }
        client.destroy();
      });
    }
  } finally {
    await rig.server.stop({ deadlineMs: 500 });
  }
});

test('bad input before the protocol: a reset and a reason for that connection, nothing for the others', async (t) => {
  const header = v2({ body: [inet('192.0.2.10', '198.51.100.1', 40000, 443)] });
  const cases: { name: string; chunks: Uint8Array[]; gap?: number; code: string; timeout?: number; deny?: string[] }[] = [
    { name: 'garbage instead of a header', chunks: [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')], code: ErrorCodes.PROXY_PROTOCOL },
    { name: 'TLS ClientHello instead of a header', chunks: [Buffer.from('16030100c4010000c00303', 'hex')], code: ErrorCodes.PROXY_PROTOCOL },
    { name: 'v1 line over 107 bytes', chunks: [Buffer.from(`PROXY TCP4 192.0.2.10 198.51.100.1 40000 443${' '.repeat(80)}`)], code: ErrorCodes.PROXY_PROTOCOL },
    { name: 'v1 with a port out of range', chunks: [Buffer.from('PROXY TCP4 192.0.2.10 198.51.100.1 65536 443\r\n')], code: ErrorCodes.PROXY_PROTOCOL },
    { name: 'v2 length shorter than its address block', chunks: [v2({ body: [inet('192.0.2.10', '198.51.100.1', 1, 2)], length: 6 })], code: ErrorCodes.PROXY_PROTOCOL },
    { name: 'v2 TLV running past the header', chunks: [v2({ body: [inet('192.0.2.10', '198.51.100.1', 1, 2), Buffer.from([0x02, 0x00, 0x40, 0x41])] })], code: ErrorCodes.PROXY_PROTOCOL },
    { name: 'v2 length past the size bound (no wait, no allocation)', chunks: [v2({ body: [], length: 0xffff })], code: ErrorCodes.PROXY_PROTOCOL },
    { name: 'v2 bad CRC32C', chunks: [v2({ body: [inet('192.0.2.10', '198.51.100.1', 1, 2), tlv(0x03, [1, 2, 3, 4])] })], code: ErrorCodes.PROXY_PROTOCOL },
    { name: 'v2 truncated, then silence: the deadline', chunks: [header.subarray(0, 20)], code: ErrorCodes.HANDSHAKE_TIMEOUT, timeout: 1000 },
    { name: 'connects and sends nothing: the deadline', chunks: [], code: ErrorCodes.HANDSHAKE_TIMEOUT, timeout: 1000 },
    { name: 'trickled so slowly the deadline passes', chunks: bytesOf(header), gap: 100, code: ErrorCodes.HANDSHAKE_TIMEOUT, timeout: 1000 },
    { name: 'a deny-listed client (judged by the header)', chunks: [header], code: ErrorCodes.REJECTED, deny: ['192.0.2.0/24'] },
  ];
  for (const c of cases) {
    await t.test(c.name, async () => {
      // Deadlines of 1 s, not less: the bystander's header comes from this same loop, which a loaded
      // machine may hold up past a shorter one.
      const rig = await startRig({ handshakeTimeoutMs: c.timeout ?? 5000, ...(c.deny !== undefined ? { deny: c.deny } : {}) });
      try {
        // A bystander with a good header, echoing throughout.
        const bystander = await connectClient(rig.port);
        bystander.write(Buffer.concat([v2({ body: [inet('198.51.100.7', '198.51.100.1', 40001, 443)] }), Buffer.from('before')]));
        assert.equal((await readBytes(bystander, 6)).toString(), 'before');
        const peer = await connectClient(rig.port);
        const outcome = collect(peer, 5000);
        await send(peer, c.chunks, c.gap ?? 0).catch(() => undefined);
        const seen = await outcome;
        assert.equal(seen.ended, 'error', `the peer was reset (saw ${seen.ended})`);
        assert.equal(seen.data.length, 0, 'nothing was echoed');
        await until(() => rig.failures.length === 1, 2000, 'failure reported');
        const failure = rig.failures[0]!;
        assert.equal(failure.kind, 'failed');
        assert.equal(failure.kind === 'failed' ? failure.error.code : '', c.code);
        assert.equal(rig.seen.length, 1, 'only the bystander reached the protocol');
        bystander.write('after');
        assert.equal((await readBytes(bystander, 5)).toString(), 'after');
        bystander.destroy();
      } finally {
        await rig.server.stop({ deadlineMs: 500 });
      }
    });
  }
});

test('send-proxy on connect() → accept-proxy on the server: v1 and v2 carry the client we name', async (t) => {
  const rig = await startRig();
  try {
    for (const version of [1, 2] as const) {
      await t.test(`v${version}`, async () => {
        const got: string[] = [];
        const conn = await connect({
          host: '127.0.0.1',
          port: rig.port,
          handshakes: [
            sendProxy({ version, source: { address: '203.0.113.5', port: 5555, family: 'IPv4' }, destination: { address: '127.0.0.1', port: rig.port, family: 'IPv4' } }),
          ],
          handler: {
            onConnectionEstablished(c) {
              c.write('hey');
              c.read();
            },
            onReadCompleted(c, buffer) {
              got.push(buffer.data.toString());
              buffer.release();
              c.keepReading();
            },
          },
        });
        await until(() => got.join('') === 'hey', 2000, 'echo');
        const server = rig.seen.at(-1)!;
        assert.deepEqual([server.remote.address, server.remote.port, server.proxied?.version], ['203.0.113.5', 5555, version]);
        conn.abort();
      });
    }
  } finally {
    await rig.server.stop({ deadlineMs: 500 });
  }
});
