/**
 * TlsTransport over real sockets on 127.0.0.1: a Connection works unchanged over TLS (echo with a
 * node:tls client and with our own connector), several MiB both ways with backpressure, the shutdown
 * rules across the two layers (close_notify + FIN after the queue, the peer's end reported once, abort
 * = RST without close_notify), handshake failures reported as PORTICO_ERR_TLS, and bytes a layer below
 * read past its header fed to TLS first. Certificates are made at run time (openssl).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import * as net from 'node:net';
import { test } from 'node:test';
import { type CloseReason, type Connection, type ConnectionCallbacks, ErrorCodes, PorticoError, type TcpReadMode, type TlsTransport, connect } from '../../framework/index.js';
import { echoHandler } from '../../examples/echo/echo-handler.js';
import { selfSignedCert } from '../helpers/self-signed-cert.js';
import { TLS13_ALERT_RECORD_LENGTH, collectTls, tlsClient, tlsRecordLengths } from '../helpers/tls-client.js';
import { type TlsServerRig, startTlsServer } from '../helpers/tls-server-rig.js';

/** Every test is bounded: a transport that never reports its close fails the test instead of hanging it. */
const TEST_MS = 30_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(predicate: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(5);
  }
}

/** A handler that logs every callback and echoes (the default FIN handling unless `onClientClose`). */
function loggingEcho(log: string[], closed: CloseReason[], extra: Partial<ConnectionCallbacks> = {}): ConnectionCallbacks {
  return {
    ...echoHandler,
    onClientClose(conn) {
      log.push('clientClose');
      conn.shutdownWrite();
    },
    onConnectionReset(_conn, error) {
      log.push(`reset:${error.code}`);
    },
    onConnectionClosed(_conn, reason) {
      log.push(`closed:${reason.kind}`);
      closed.push(reason);
    },
    ...extra,
  };
}

function sha(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The test's clients: closed after each test (a failed assertion must not leave one open for the next). */
const clients = new Set<{ destroy(): unknown }>();

async function openClient(port: number, options: Parameters<typeof tlsClient>[1] = {}): ReturnType<typeof tlsClient> {
  const c = await tlsClient(port, options);
  clients.add(c.socket);
  clients.add(c.raw);
  return c;
}

async function withServer(rig: TlsServerRig, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } finally {
    for (const c of clients) c.destroy();
    clients.clear();
    await rig.close();
  }
  await waitFor(() => rig.pool.outstanding === 0, 2000, `pool buffers returned (${rig.pool.outstanding} out)`);
  // Every socket of the test, ours and the client's, is closed: nothing keeps the process alive.
  const open = (): string[] => process.getActiveResourcesInfo().filter((r) => /TCP|TLS/.test(r));
  await waitFor(() => open().length === 0, 2000, `sockets closed (open: ${open().join(', ')})`);
}

for (const readMode of ['onread', 'copy'] as TcpReadMode[]) {
  test(`echo over TLS with a node:tls client (TCP read mode ${readMode}); what the handshake settled is exposed`, { timeout: TEST_MS }, async () => {
    const log: string[] = [];
    const closed: CloseReason[] = [];
    const rig = await startTlsServer({ handler: loggingEcho(log, closed), readMode, tls: { ALPNProtocols: ['portico', 'http/1.1'] } });
    await withServer(rig, async () => {
      const { cert } = selfSignedCert();
      const { socket, raw } = await openClient(rig.port, { ca: cert, ALPNProtocols: ['portico'] });
      const clientPort = raw.localPort;
      const outcome = collectTls(socket);
      socket.write('hello over tls');
      await waitFor(() => rig.accepted[0]?.conn?.stats.bytesWritten === 14, 5000, 'echo written');
      socket.end();
      const got = await outcome;
      assert.equal(got.data.toString(), 'hello over tls');
      assert.equal(got.ended, 'end');
      await waitFor(() => closed.length === 1, 5000, 'onConnectionClosed');
      const t = rig.accepted[0]!.transport;
      assert.equal(t.kind, 'tls');
      assert.equal(t.isSecure, true);
      assert.equal(t.protocol, 'TLSv1.3');
      assert.equal(t.alpnProtocol, 'portico');
      assert.equal(t.servername, 'localhost');
      assert.equal(t.authorized, false, 'no client certificate asked for');
      assert.deepEqual(t.remote, { address: '127.0.0.1', port: clientPort, family: 'IPv4' });
      assert.deepEqual(t.local, { address: '127.0.0.1', port: rig.port, family: 'IPv4' });
      assert.deepEqual(log, ['clientClose', 'closed:peer-close']);
      assert.deepEqual(rig.accepted[0]!.handshakeEvents, ['secure']);
    });
  });
}

test('connect({ tls }) resolves after the handshake and echoes through a Connection on both ends', { timeout: TEST_MS }, async () => {
  const rig = await startTlsServer({ handler: echoHandler });
  await withServer(rig, async () => {
    const { cert } = selfSignedCert();
    const received: Buffer[] = [];
    const closed: CloseReason[] = [];
    let clientClose = 0;
    const conn: Connection = await connect({
      host: '127.0.0.1',
      port: rig.port,
      tls: { ca: cert, servername: 'localhost', ALPNProtocols: ['x'] },
      handler: {
        onConnectionEstablished(c) {
          c.read();
          c.write('ping over tls');
        },
        onReadCompleted(c, buffer) {
          received.push(Buffer.from(buffer.data));
          buffer.release();
          if (Buffer.concat(received).length === 13) c.shutdownWrite();
          c.read();
        },
        onClientClose() {
          clientClose++;
        },
        onConnectionClosed(_c, reason) {
          closed.push(reason);
        },
      },
    });
    assert.equal(conn.transport.kind, 'tls');
    const transport = conn.transport as TlsTransport;
    assert.equal(transport.isSecure, true);
    assert.equal(transport.authorized, true);
    assert.equal(transport.servername, 'localhost');
    assert.equal(transport.peerCertificate?.subject.CN, 'localhost');
    assert.deepEqual(conn.remote, { address: '127.0.0.1', port: rig.port, family: 'IPv4' });
    assert.equal(conn.local.address, '127.0.0.1');
    assert.ok(conn.local.port > 0);
    await waitFor(() => closed.length === 1, 5000, 'the client connection closed');
    assert.equal(Buffer.concat(received).toString(), 'ping over tls');
    assert.equal(clientClose, 1);
    assert.equal(closed[0]!.kind, 'peer-close');
  });
});

test('cork holds writes (counted in writeQueueSize) until uncork; the peer gets them in order', { timeout: TEST_MS }, async () => {
  let queuedWhileCorked = -1;
  const rig = await startTlsServer({
    handler: {
      onConnectionEstablished(conn) {
        conn.cork();
        for (const part of ['one ', 'two ', 'three']) conn.write(part);
        queuedWhileCorked = conn.transport.writeQueueSize;
        conn.uncork();
        conn.shutdownWrite();
        conn.read();
      },
      onReadCompleted(conn, buffer) {
        buffer.release();
        conn.read();
      },
      onClientClose() {},
    },
  });
  await withServer(rig, async () => {
    const { cert } = selfSignedCert();
    const { socket } = await openClient(rig.port, { ca: cert });
    const got = await collectTls(socket);
    assert.equal(got.data.toString(), 'one two three');
    assert.equal(got.ended, 'end');
    assert.equal(queuedWhileCorked, 13);
    socket.end();
  });
});

test('several MiB both ways through an echo with backpressure arrive intact', { timeout: TEST_MS }, async () => {
  const log: string[] = [];
  const closed: CloseReason[] = [];
  const rig = await startTlsServer({ handler: loggingEcho(log, closed), connection: { highWaterMark: 64 * 1024, lowWaterMark: 16 * 1024 } });
  await withServer(rig, async () => {
    const { cert } = selfSignedCert();
    const { socket } = await openClient(rig.port, { ca: cert });
    const payload = randomBytes(8 * 1024 * 1024);
    const outcome = collectTls(socket, 30_000);
    // The client writes everything at once and reads all the time: the server's echo has to hold its
    // reads while its writes are over the high-water mark.
    socket.end(payload);
    const got = await outcome;
    assert.equal(got.ended, 'end');
    assert.equal(got.data.length, payload.length);
    assert.equal(sha(got.data), sha(payload));
    await waitFor(() => closed.length === 1, 5000, 'onConnectionClosed');
    const stats = rig.accepted[0]!.conn!.stats;
    assert.equal(stats.bytesRead, payload.length);
    assert.equal(stats.bytesWritten, payload.length);
    assert.ok(stats.maxQueuedBytes <= 64 * 1024 + 16 * 1024 + 16 * 1024, `queued at most high water + a buffer (${stats.maxQueuedBytes})`);
    assert.deepEqual(log, ['clientClose', 'closed:peer-close']);
  });
});

for (const how of ['close_notify and FIN', 'FIN without close_notify'] as const) {
  test(`the peer's end (${how}) is reported once; our side then closes gracefully`, { timeout: TEST_MS }, async () => {
    const log: string[] = [];
    const closed: CloseReason[] = [];
    const rig = await startTlsServer({ handler: loggingEcho(log, closed) });
    await withServer(rig, async () => {
      const { cert } = selfSignedCert();
      const { socket, raw } = await openClient(rig.port, { ca: cert });
      const outcome = collectTls(socket);
      socket.write('last words');
      await waitFor(() => rig.accepted[0]?.conn?.stats.bytesWritten === 10, 5000, 'echo written');
      if (how === 'close_notify and FIN') socket.end();
      else raw.end(); // TCP FIN under TLS, no close_notify
      const got = await outcome;
      assert.equal(got.data.toString(), 'last words');
      assert.equal(got.ended, 'end', 'our close_notify + FIN came back');
      await waitFor(() => closed.length === 1, 5000, 'onConnectionClosed');
      await sleep(50);
      assert.deepEqual(log, ['clientClose', 'closed:peer-close']);
      socket.destroy();
    });
  });
}

test('shutdownWrite with many MiB queued: the peer gets every byte, then close_notify and FIN; onWriteShut after', { timeout: TEST_MS }, async () => {
  const payload = randomBytes(6 * 1024 * 1024);
  const closed: CloseReason[] = [];
  let writeShutAt = -1;
  let writtenWhenShut = -1;
  const rig = await startTlsServer({
    handler: {
      onConnectionEstablished(conn) {
        for (let at = 0; at < payload.length; at += 256 * 1024) conn.write(payload.subarray(at, at + 256 * 1024));
        conn.shutdownWrite();
        conn.read();
      },
      onReadCompleted(conn, buffer) {
        buffer.release();
        conn.read();
      },
      onClientClose() {},
      onConnectionClosed(_conn, reason) {
        closed.push(reason);
      },
    },
  });
  await withServer(rig, async () => {
    const { cert } = selfSignedCert();
    const { socket } = await openClient(rig.port, { ca: cert });
    await waitFor(() => rig.accepted[0]?.conn !== null && rig.accepted[0]?.conn !== undefined, 5000, 'connection');
    const t = rig.accepted[0]!.transport;
    // Wrap the Connection's sink to see when the shutdown completed relative to the bytes written.
    const conn = rig.accepted[0]!.conn!;
    const original = conn.onWriteShut.bind(conn);
    conn.onWriteShut = () => {
      writeShutAt = Date.now();
      writtenWhenShut = conn.stats.bytesWritten;
      original();
    };
    assert.ok(t.writeQueueSize > 0 || conn.queuedBytes > 0, 'bytes are queued when the shutdown is asked for');
    socket.pause();
    await sleep(200); // the peer does not read: TLS records pile up behind the shutdown
    assert.equal(writeShutAt, -1, 'no onWriteShut while the data is still queued');
    const outcome = collectTls(socket, 20_000);
    socket.resume();
    const got = await outcome;
    assert.equal(got.ended, 'end');
    assert.equal(got.data.length, payload.length);
    assert.equal(sha(got.data), sha(payload));
    await waitFor(() => writeShutAt > 0, 5000, 'onWriteShut');
    assert.equal(writtenWhenShut, payload.length, 'every write completed before the shutdown did');
    socket.end();
    await waitFor(() => closed.length === 1, 5000, 'onConnectionClosed');
  });
});

test('abort in the middle of a large write: the peer sees ECONNRESET and no close_notify', { timeout: TEST_MS }, async () => {
  const closed: CloseReason[] = [];
  const rig = await startTlsServer({
    handler: {
      onConnectionEstablished(conn) {
        const chunk = randomBytes(256 * 1024);
        for (let i = 0; i < 32; i++) conn.write(chunk);
        setTimeout(() => conn.abort(), 100);
      },
      onReadCompleted(_conn, buffer) {
        buffer.release();
      },
      onConnectionClosed(_conn, reason) {
        closed.push(reason);
      },
    },
  });
  await withServer(rig, async () => {
    const { cert } = selfSignedCert();
    const { socket, raw, received } = await openClient(rig.port, { ca: cert, tap: true });
    raw.pause(); // let the server's writes queue, so the abort drops some
    await waitFor(() => closed.length === 1, 5000, 'onConnectionClosed');
    assert.equal(closed[0]!.kind, 'aborted');
    const outcome = collectTls(socket);
    raw.resume();
    const got = await outcome;
    let code = got.errorCode;
    if (got.ended === 'end') {
      // libuv reports end of stream for an RST behind data it read in part (POLLHUP after a partial
      // read): a write tells — ECONNRESET = an RST with no FIN before it (EPIPE would mean FIN first).
      code = await new Promise<string>((resolve) => {
        const timer = setTimeout(() => resolve('no error from a probe write'), 2000);
        raw.once('error', (error: NodeJS.ErrnoException) => {
          clearTimeout(timer);
          resolve(error.code ?? error.message);
        });
        raw.write('probe');
      });
    }
    assert.equal(code, 'ECONNRESET', `the peer saw ${got.ended} ${code ?? ''}`);
    assert.ok(got.data.length < 32 * 256 * 1024, 'queued bytes were dropped');
    const records = tlsRecordLengths(Buffer.concat(received));
    assert.ok(records.length > 10, 'records arrived');
    assert.ok(!records.includes(TLS13_ALERT_RECORD_LENGTH), `no alert record (close_notify) among ${records.length} records`);
    const t = rig.accepted[0]!.transport;
    assert.equal(t.remote.address, '127.0.0.1', 'the peer address survives the RST');
    socket.destroy();
  });
});

test('plain HTTP sent to the TLS port: onError PORTICO_ERR_TLS (layer tls), then onClosed exactly once', { timeout: TEST_MS }, async () => {
  const rig = await startTlsServer({ handler: echoHandler });
  await withServer(rig, async () => {
    const client = net.connect({ host: '127.0.0.1', port: rig.port });
    clients.add(client);
    client.on('error', () => {});
    client.on('data', () => {});
    await new Promise<void>((resolve) => client.once('connect', resolve));
    client.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await waitFor(() => rig.accepted[0]?.handshakeEvents.includes('closed') === true, 5000, 'the TLS transport closed');
    await sleep(50);
    const entry = rig.accepted[0]!;
    assert.deepEqual(entry.handshakeEvents, ['secure-failed:PORTICO_ERR_TLS', 'error:PORTICO_ERR_TLS', 'closed']);
    assert.ok(entry.handshakeError instanceof PorticoError);
    assert.equal(entry.handshakeError.layer, 'tls');
    assert.equal(entry.conn, null);
    await new Promise<void>((resolve) => (client.destroyed ? resolve() : client.once('close', () => resolve())));
  });
});

test('a client that does not trust the server: connect({ tls }) rejects with PORTICO_ERR_TLS; the server sees a TLS failure', { timeout: TEST_MS }, async () => {
  const rig = await startTlsServer({ handler: echoHandler });
  await withServer(rig, async () => {
    const other = selfSignedCert('not-the-server');
    const failures: PorticoError[] = [];
    await assert.rejects(
      connect({ host: '127.0.0.1', port: rig.port, tls: { ca: other.cert, servername: 'localhost' }, handler: echoHandler, onConnectionFailed: (e) => failures.push(e) }),
      (error: unknown) => error instanceof PorticoError && error.code === ErrorCodes.TLS && error.layer === 'tls',
    );
    assert.equal(failures.length, 1);
    await waitFor(() => rig.accepted[0]?.handshakeEvents.includes('closed') === true, 5000, 'the server side closed');
    const events = rig.accepted[0]!.handshakeEvents;
    assert.ok(events[0] === 'secure-failed:PORTICO_ERR_TLS' || events[0] === 'secure', `server events: ${events.join(' ')}`);
    assert.equal(events.filter((e) => e === 'closed').length, 1);
  });
});

test('connect({ tls }) to a closed port rejects with PORTICO_ERR_CONNECT_REFUSED, not a TLS error', { timeout: TEST_MS }, async () => {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  await assert.rejects(
    connect({ host: '127.0.0.1', port, tls: { ca: selfSignedCert().cert, servername: 'localhost' }, handler: echoHandler }),
    (error: unknown) => error instanceof PorticoError && error.code === ErrorCodes.CONNECT_REFUSED && error.layer === 'connector',
  );
  const open = (): string[] => process.getActiveResourcesInfo().filter((r) => /TCP|TLS/.test(r));
  await waitFor(() => open().length === 0, 2000, `sockets closed (open: ${open().join(', ')})`);
});

for (const readMode of ['onread', 'copy'] as TcpReadMode[]) {
  test(`bytes read past a header (the ClientHello in the same segment) are fed to TLS first (read mode ${readMode})`, { timeout: TEST_MS }, async () => {
    const log: string[] = [];
    const closed: CloseReason[] = [];
    const rig = await startTlsServer({ handler: loggingEcho(log, closed), readMode, headerLayer: true });
    await withServer(rig, async () => {
      const { cert } = selfSignedCert();
      const header = Buffer.from('PROXY TCP4 192.0.2.1 192.0.2.2 56324 443\r\n');
      const { socket } = await openClient(rig.port, { ca: cert, prefix: header });
      const outcome = collectTls(socket);
      socket.end('after the header');
      const got = await outcome;
      assert.equal(got.data.toString(), 'after the header');
      const entry = rig.accepted[0]!;
      assert.ok(entry.firstRead !== null && entry.firstRead.length > header.length, 'the header and the ClientHello came in one read');
      assert.equal(entry.leftover![0], 0x16, 'what followed the header is a TLS handshake record');
      await waitFor(() => closed.length === 1, 5000, 'onConnectionClosed');
      assert.deepEqual(log, ['clientClose', 'closed:peer-close']);
    });
  });
}

test('client certificates: requestCert verifies against ca; a client without one is refused with PORTICO_ERR_TLS', { timeout: TEST_MS }, async () => {
  const client = selfSignedCert('client');
  const rig = await startTlsServer({ handler: echoHandler, tls: { requestCert: true, ca: client.cert } });
  await withServer(rig, async () => {
    const { cert } = selfSignedCert();
    const good = await openClient(rig.port, { ca: cert, cert: client.cert, key: client.key });
    const echoed = collectTls(good.socket);
    good.socket.end('with a certificate');
    assert.equal((await echoed).data.toString(), 'with a certificate');
    const first = rig.accepted[0]!.transport;
    assert.equal(first.authorized, true);
    assert.equal(first.peerCertificate?.subject.CN, 'client');

    const bare = await openClient(rig.port, { ca: cert, noWait: true });
    const outcome = await collectTls(bare.socket);
    // TLS 1.3: the client finished its handshake before the server checked it; the alert comes after.
    assert.equal(outcome.errorCode, 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED');
    bare.socket.destroy(); // node:tls leaves a socket open after an alert past the handshake
    await waitFor(() => rig.accepted[1]?.handshakeEvents.includes('closed') === true, 5000, 'the refused connection closed');
    assert.ok(rig.accepted[1]!.handshakeEvents.includes('error:PORTICO_ERR_TLS'), rig.accepted[1]!.handshakeEvents.join(' '));
    assert.equal(rig.accepted[1]!.conn, null);

    // A certificate that does not chain to ca: the handshake itself succeeds (OpenSSL leaves the check
    // to the application), and the transport refuses the connection before anyone uses it.
    const stranger = selfSignedCert('stranger');
    const wrong = await openClient(rig.port, { ca: cert, cert: stranger.cert, key: stranger.key, noWait: true });
    await collectTls(wrong.socket);
    wrong.socket.destroy();
    await waitFor(() => rig.accepted[2]?.handshakeEvents.includes('closed') === true, 5000, 'the stranger closed');
    const refused = rig.accepted[2]!;
    assert.deepEqual(refused.handshakeEvents, ['secure-failed:PORTICO_ERR_TLS', 'error:PORTICO_ERR_TLS', 'closed']);
    assert.match(refused.handshakeError!.message, /client certificate rejected/);
    assert.equal(refused.transport.authorized, false);
    assert.ok(refused.transport.authorizationError !== null);
    assert.equal(refused.conn, null);
  });
});
