/**
 * The fd-transfer front, in this process, with real back-end processes and real sockets on
 * 127.0.0.1: routing, the back end started by its first request, the head-only read (the body and
 * the response never pass through the front), the front's own answers (400, 404, 408, 431, 502, 503,
 * 504), a back end dying mid-transfer and with connections open, the in-flight limit, and the relay
 * mode used by the benchmark.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import WebSocket from 'ws';
import { connectTo, SocketProbe } from '../helpers/spawn-server.js';
import { eventually, exchange, get, isAlive, processIo, startFront } from '../helpers/fd-rig.js';
import { defaultConfigJson, parseFrontConfig } from '../../examples/fd-transfer/config.js';

const T = { timeout: 60_000 };
const MiB = 1024 * 1024;

function wsOpen(url: string, options: WebSocket.ClientOptions = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`no open from ${url}`));
    }, 10_000);
    ws.once('open', () => {
      clearTimeout(timer);
      resolve(ws);
    });
    ws.once('unexpected-response', (_req, res) => {
      clearTimeout(timer);
      reject(new Error(`unexpected response ${res.statusCode}`));
    });
    ws.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

function wsEcho(ws: WebSocket, data: string | Buffer): Promise<{ data: Buffer; isBinary: boolean }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no echo')), 10_000);
    ws.once('message', (d: Buffer, isBinary: boolean) => {
      clearTimeout(timer);
      resolve({ data: d, isBinary });
    });
    ws.send(data);
  });
}

function wsClosed(ws: WebSocket): Promise<number> {
  return new Promise((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) resolve(1006);
    else ws.once('close', (code: number) => resolve(code));
  });
}

test('routing by prefix; a back end starts on its first request; no route is a 404 from the front', T, async (t) => {
  const { front, port } = await startFront(t, defaultConfigJson);
  const http = front.backends.get('http')!;
  const ws = front.backends.get('ws')!;
  assert.equal(http.pid, null, 'nothing started before the first request');
  assert.equal(ws.pid, null);
  const hello = await get(port, '/http/hello');
  assert.equal(hello.status, 200);
  assert.equal(hello.body.toString(), `hello from back end ${http.pid}\n`, 'answered by the back-end process');
  assert.notEqual(http.pid, process.pid);
  assert.equal(http.stats.starts, 1);
  assert.equal(ws.pid, null, 'the other back end still not started');
  assert.equal((await get(port, '/http?x=1')).status, 200, '/http?x matches /http');
  for (const path of ['/', '/nope', '/httpx', '/wsx']) {
    const r = await get(port, path);
    assert.equal(r.status, 404, path);
    assert.match(r.body.toString(), /no route/);
  }
  assert.equal(front.stats.answered404, 4);
  assert.equal(http.stats.starts, 1, 'one process served every request');
  assert.equal(http.stats.transferred, 2);
  assert.equal(front.stats.transferred, 2);
});

test('malformed (400), oversized (431) and slow (408) heads are answered by the front; nothing is transferred', T, async (t) => {
  const { front, port } = await startFront(t, defaultConfigJson, { maxHeadBytes: 1024, headTimeoutMs: 300 });
  const bad = await exchange(port, ['GARBAGE\r\n\r\n']);
  assert.equal(bad.status, 400);
  const lf = await exchange(port, ['GET /http HTTP/1.1\nHost: x\n\n']);
  assert.equal(lf.status, 400, 'bare LF');
  const noHost = await exchange(port, ['GET /http HTTP/1.1\r\n\r\n']);
  assert.equal(noHost.status, 400, 'HTTP/1.1 without Host');
  const big = await exchange(port, [`GET /http HTTP/1.1\r\nHost: x\r\n${'X-Filler: 0123456789012345678901234567890123456789\r\n'.repeat(40)}\r\n`]);
  assert.equal(big.status, 431);
  const started = Date.now();
  const slow = await exchange(port, ['GET /http HTTP/1.1\r\nHost: x\r\n']);
  const took = Date.now() - started;
  assert.equal(slow.status, 408);
  assert.ok(took >= 250 && took < 3000, `408 after the head deadline (${took} ms)`);
  assert.equal(front.stats.answered400, 3);
  assert.equal(front.stats.answered431, 1);
  assert.equal(front.stats.answered408, 1);
  assert.equal(front.stats.transferred, 0);
  assert.equal(front.backends.get('http')!.pid, null, 'no back end started for bad requests');
  // A client that leaves mid-head.
  const gone = await connectTo(port);
  gone.end('GET /ht');
  await eventually(() => front.stats.peerGone === 1, 5000, 'peerGone counted');
  await eventually(() => front.stats.open === 0, 5000, () => `no connection left in the front (open ${front.stats.open})`);
});

test('the body is read by the back end, not the front (content-length and chunked)', T, async (t) => {
  const { front, port } = await startFront(t, defaultConfigJson);
  const body = randomBytes(4 * MiB);
  const sha = createHash('sha256').update(body).digest('hex');
  // The head alone first; the body only once the connection is in the back end.
  const head = `POST /http/count HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: ${body.length}\r\n\r\n`;
  const waitTransferred = (n: number) => () => eventually(() => front.stats.transferred === n, 10_000, `transfer ${n}`);
  const counted = await exchange(port, [head, waitTransferred(1), body]);
  assert.equal(counted.status, 200);
  assert.deepEqual(JSON.parse(counted.body.toString()), { bytes: body.length, sha256: sha });
  assert.equal(front.stats.bytesRead, head.length, 'the front read the head and not one byte more');
  // Chunked, in uneven chunks, head and first chunk in one write: the front reads at most that first read.
  const chunkedHead = `POST /http/count HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n`;
  const parts: Buffer[] = [];
  for (let at = 0, size = 1; at < body.length; size = (size * 7 + 13) % 100_000 || 1) {
    const piece = body.subarray(at, at + size);
    parts.push(Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n'));
    at += piece.length;
  }
  parts.push(Buffer.from('0\r\nX-Trailer: yes\r\n\r\n'));
  const encoded = Buffer.concat(parts);
  const before = front.stats.bytesRead;
  const chunked = await exchange(port, [Buffer.concat([Buffer.from(chunkedHead), encoded.subarray(0, 100)]), waitTransferred(2), encoded.subarray(100)]);
  assert.equal(chunked.status, 200);
  assert.deepEqual(JSON.parse(chunked.body.toString()), { bytes: body.length, sha256: sha });
  assert.ok(front.stats.bytesRead - before <= chunkedHead.length + 100, `front read ${front.stats.bytesRead - before} bytes of a ${encoded.length}-byte request`);
  // The echo streams the body back as it arrives.
  const echo = await exchange(port, [`POST /http/echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: ${MiB}\r\n\r\n`, body.subarray(0, MiB)]);
  assert.equal(echo.status, 200);
  assert.equal(echo.headers.get('transfer-encoding'), 'chunked');
  assert.ok(echo.body.equals(body.subarray(0, MiB)));
  const chunkedEcho = await exchange(port, [chunkedHead.replace('/http/count', '/http/echo'), encoded]);
  assert.equal(chunkedEcho.status, 200);
  assert.ok(chunkedEcho.body.equals(body), 'chunked in, chunked out');
  assert.equal(front.stats.bytesWritten, 0, 'the front wrote nothing itself');
});

test('a persistent connection stays with its back end: pipelined requests answered in order, Connection: close ends it', T, async (t) => {
  const { front, port } = await startFront(t, defaultConfigJson);
  const socket = await connectTo(port, { allowHalfOpen: true });
  t.after(() => socket.destroy());
  const probe = new SocketProbe(socket);
  const body = 'twelve bytes';
  // Three requests in one write: the front reads the first head (and the rest of that read, sent along).
  socket.write(
    'GET /http/hello HTTP/1.1\r\nHost: x\r\n\r\n' +
      `POST /http/count HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}` +
      'POST /http/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
  );
  await probe.until(() => /0\r\n\r\n$/.test(probe.data.toString('latin1')), 10_000, 'three answers');
  const text = probe.data.toString('latin1');
  const answers = text.split('HTTP/1.1 200 OK').slice(1);
  assert.equal(answers.length, 3, text);
  assert.match(answers[0]!, /hello from back end \d+/);
  assert.match(answers[1]!, /"bytes":12/);
  assert.match(answers[2]!, /\r\n\r\n3\r\nabc\r\n0\r\n\r\n$/);
  assert.ok(!/Connection: close/i.test(text), 'persistent: no Connection: close');
  // A later request on the same connection goes straight to the back end (the front never sees it).
  socket.write('GET /http/hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  await probe.until(() => probe.ended, 10_000, 'the answer to the last request, then FIN');
  assert.equal(probe.data.toString('latin1').split('HTTP/1.1 200 OK').length - 1, 4);
  assert.equal(front.stats.transferred, 1, 'one hand-off for four requests');
  assert.equal(front.backends.get('http')!.stats.transferred, 1);
});

test('response bytes never pass through the front: 16 MiB from the back end, 0 written by the front', T, async (t) => {
  const { front, port } = await startFront(t, defaultConfigJson);
  await get(port, '/http/hello'); // started
  const io0 = processIo('self');
  const r = await get(port, `/http/bytes/${16 * MiB}`);
  const io1 = processIo('self');
  assert.equal(r.status, 200);
  assert.equal(r.body.length, 16 * MiB);
  assert.equal(r.body.subarray(0, 27).toString(), 'portico fd-transfer stream\n');
  assert.equal(front.stats.bytesWritten, 0, "the front's own writes to clients");
  // This process is the client and the front: it read the 16 MiB (as the client) but wrote only the
  // request head and a small IPC message — the response was written by the back-end process.
  assert.ok(io1.rchar - io0.rchar >= 16 * MiB, 'the client read it');
  assert.ok(io1.wchar - io0.wchar < 64 * 1024, `this process wrote ${io1.wchar - io0.wchar} bytes`);
});

test('WebSocket through the front with the npm ws client: text, binary, 1 MiB, ping; front out of the path', T, async (t) => {
  const { front, port } = await startFront(t, defaultConfigJson);
  const ws = await wsOpen(`ws://127.0.0.1:${port}/ws`);
  const text = await wsEcho(ws, 'hello through a handed-over socket');
  assert.equal(text.isBinary, false);
  assert.equal(text.data.toString(), 'hello through a handed-over socket');
  const big = randomBytes(MiB);
  const bin = await wsEcho(ws, big);
  assert.equal(bin.isBinary, true);
  assert.ok(bin.data.equals(big));
  const pong = new Promise<Buffer>((resolve) => ws.once('pong', resolve));
  ws.ping('p');
  assert.equal((await pong).toString(), 'p');
  await eventually(() => front.backends.get('ws')!.stats.active === 1, 5000, 'active reported by the back end');
  const closed = wsClosed(ws);
  ws.close(1000, 'bye');
  assert.equal(await closed, 1000);
  assert.equal(front.stats.bytesWritten, 0);
  assert.equal(front.backends.get('ws')!.stats.transferred, 1);
  await eventually(() => front.backends.get('ws')!.stats.active === 0, 5000, 'closed reported');
});

test('a back end that dies mid-transfer: 502 from the front, restarted with backoff, next request served', T, async (t) => {
  const config = { ...defaultConfigJson, backends: { ...defaultConfigJson.backends, http: { module: 'http', options: { 'crash-hook': true } } } };
  const { front, port } = await startFront(t, config);
  const http = front.backends.get('http')!;
  const first = await get(port, '/http/hello');
  assert.equal(first.status, 200);
  const pid1 = http.pid!;
  const crashed = await get(port, '/http/hello', 'X-Portico-Crash: handoff\r\n');
  assert.equal(crashed.status, 502, 'the front still owned the connection and answered it');
  assert.equal(http.stats.crashes, 1);
  assert.equal(http.stats.failed, 1);
  assert.equal(front.stats.answered502, 1);
  assert.ok(!isAlive(pid1));
  const after = await get(port, '/http/hello');
  assert.equal(after.status, 200);
  assert.notEqual(http.pid, pid1, 'a new process');
  assert.equal(after.body.toString(), `hello from back end ${http.pid}\n`);
  assert.equal(http.stats.starts, 2);
});

test("connections open in a back end that dies are counted lost; it is restarted and serves again", T, async (t) => {
  const { front, port } = await startFront(t, defaultConfigJson);
  const backend = front.backends.get('ws')!;
  const sockets = await Promise.all([1, 2, 3].map(() => wsOpen(`ws://127.0.0.1:${port}/ws`)));
  await eventually(() => backend.stats.active === 3, 5000, 'three active');
  const pid = backend.pid!;
  const closes = sockets.map(wsClosed);
  process.kill(pid, 'SIGKILL');
  assert.deepEqual(await Promise.all(closes), [1006, 1006, 1006]);
  await eventually(() => backend.stats.crashes === 1, 5000, 'the crash seen');
  assert.equal(backend.stats.lost, 3);
  assert.equal(backend.stats.active, 0);
  await eventually(() => backend.pid !== null && backend.state === 'ready', 5000, 'restarted (eagerly, after the backoff)');
  const again = await wsOpen(`ws://127.0.0.1:${port}/ws`);
  assert.equal((await wsEcho(again, 'x')).data.toString(), 'x');
  assert.notEqual(backend.pid, pid);
  again.terminate();
});

test('a back end at its connection limit refuses: 503 from the front, with Retry-After', T, async (t) => {
  const config = { ...defaultConfigJson, backends: { ...defaultConfigJson.backends, ws: { module: 'websocket-echo', options: { 'max-connections': 1 } } } };
  const { front, port } = await startFront(t, config);
  const one = await wsOpen(`ws://127.0.0.1:${port}/ws`);
  await assert.rejects(wsOpen(`ws://127.0.0.1:${port}/ws`), /unexpected response 503/);
  const raw = await get(port, '/ws');
  assert.equal(raw.status, 503);
  assert.equal(raw.headers.get('retry-after'), '1');
  assert.equal(front.backends.get('ws')!.stats.refused, 2);
  assert.equal(front.stats.answered503, 2);
  assert.equal((await wsEcho(one, 'still here')).data.toString(), 'still here');
  one.close();
});

test('in-flight limit (503), ack timeout (504) and a back end that cannot start (502)', T, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'portico-fd-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'hang.mjs'), 'setInterval(() => {}, 1000);\nprocess.on("disconnect", () => process.exit(0));\n');
  writeFileSync(join(dir, 'exits.mjs'), 'process.exit(3);\n');
  const config = {
    routes: [
      { prefix: '/hang', backend: 'hang' },
      { prefix: '/missing', backend: 'missing' },
    ],
    backends: { hang: { module: './hang.mjs' }, missing: { module: './exits.mjs' } },
  };
  // 2 s: the second request, from this same loop, must reach the front while the first is in flight.
  const { front, port } = await startFront(t, config, { maxInFlight: 1, ackTimeoutMs: 2000 }, dir);
  const started = Date.now();
  const pending = get(port, '/hang');
  await eventually(() => front.backends.get('hang')!.stats.inFlight === 1, 5000, 'one in flight');
  const busy = await get(port, '/hang');
  assert.equal(busy.status, 503, 'over the in-flight limit');
  const late = await pending;
  assert.equal(late.status, 504);
  assert.ok(Date.now() - started >= 1950, 'after the ack timeout');
  const hang = front.backends.get('hang')!.stats;
  assert.equal(hang.busy, 1);
  assert.equal(hang.timedOut, 1);
  const missing = await get(port, '/missing');
  assert.equal(missing.status, 502, 'the back end exited before it was ready');
  assert.equal(front.backends.get('missing')!.stats.failed, 1);
});

test('a back end that keeps crashing is restarted with a doubling backoff, not in a tight loop', T, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'portico-fd-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'exits.mjs'), 'process.exit(3);\n');
  const config = { routes: [{ prefix: '/x', backend: 'x' }], backends: { x: { module: './exits.mjs' } } };
  const { front } = await startFront(t, config, { eager: true, backoff: { minMs: 50, maxMs: 400 } }, dir);
  const x = front.backends.get('x')!;
  await new Promise((r) => setTimeout(r, 1500));
  const { starts, crashes } = x.stats;
  // Restarts after 50, 100, 200, 400, 400 ms (+ each start-up): about 6 in 1.5 s; without backoff, dozens.
  // A loaded machine only lowers the count (slower start-ups), so the upper bound is read at 1.5 s and
  // the lower one waited for.
  assert.ok(starts <= 9, `${starts} starts in 1.5 s`);
  assert.ok(crashes === starts || crashes === starts - 1, `${crashes} crashes, ${starts} starts`);
  await eventually(() => x.stats.starts >= 3, 10_000, 'three starts');
  assert.equal(x.stats.lost, 0, 'it never held a connection');
});

test('relay mode (the comparison path): the same back ends, every byte through the front', T, async (t) => {
  const { front, port } = await startFront(t, defaultConfigJson, { mode: 'relay' });
  const r = await get(port, `/http/bytes/${MiB}`);
  assert.equal(r.status, 200);
  assert.equal(r.body.length, MiB);
  assert.ok(front.stats.bytesWritten >= MiB, 'relayed through the front');
  const body = randomBytes(256 * 1024);
  const echo = await exchange(port, [`POST /http/echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: ${body.length}\r\n\r\n`, body]);
  assert.ok(echo.body.equals(body));
  const ws = await wsOpen(`ws://127.0.0.1:${port}/ws`);
  assert.equal((await wsEcho(ws, 'relayed')).data.toString(), 'relayed');
  ws.close();
  assert.equal(front.stats.relayed, 3);
  assert.equal(front.stats.transferred, 0);
});

test('1000 concurrent WebSocket connections spread over two back-end processes', { timeout: 120_000 }, async (t) => {
  const config = {
    routes: [
      { prefix: '/a', backend: 'a' },
      { prefix: '/b', backend: 'b' },
    ],
    backends: { a: { module: 'websocket-echo' }, b: { module: 'websocket-echo' } },
  };
  const { front, port } = await startFront(t, config, { eager: true });
  await eventually(() => [...front.backends.values()].every((b) => b.state === 'ready'), 10_000, 'both back ends ready');
  const sockets: WebSocket[] = [];
  t.after(() => sockets.forEach((s) => s.terminate()));
  // Opened 100 at a time (the listen backlog is finite), all kept open together.
  for (let batch = 0; batch < 10; batch++) {
    sockets.push(...(await Promise.all(Array.from({ length: 100 }, (_, i) => wsOpen(`ws://127.0.0.1:${port}/${(batch * 100 + i) % 2 === 0 ? 'a' : 'b'}`)))));
  }
  assert.equal(sockets.length, 1000);
  const echoes = await Promise.all(sockets.map((s, i) => wsEcho(s, `message ${i}`)));
  echoes.forEach((e, i) => assert.equal(e.data.toString(), `message ${i}`));
  const a = front.backends.get('a')!;
  const b = front.backends.get('b')!;
  await eventually(() => a.stats.active === 500 && b.stats.active === 500, 10_000, () => `500 active in each (a ${a.stats.active}, b ${b.stats.active})`);
  assert.equal(a.stats.transferred, 500);
  assert.equal(b.stats.transferred, 500);
  assert.notEqual(a.pid, b.pid);
  await eventually(() => front.stats.open === 0, 5000, 'the front holds none of them');
  assert.equal(front.stats.bytesWritten, 0);
  await Promise.all(sockets.map((s) => {
    const closed = wsClosed(s);
    s.close(1000);
    return closed;
  }));
  await eventually(() => a.stats.active === 0 && b.stats.active === 0, 10_000, 'all closed');
});

test('the HTTP back end answers Expect: 100-continue at once, refuses other expectations (417) and codings it cannot decode (501)', T, async (t) => {
  const { port } = await startFront(t, defaultConfigJson);
  const body = randomBytes(64 * 1024);
  const socket = await connectTo(port, { allowHalfOpen: true });
  try {
    const probe = new SocketProbe(socket);
    socket.write(`POST /http/count HTTP/1.1\r\nHost: x\r\nConnection: close\r\nExpect: 100-continue\r\nContent-Length: ${body.length}\r\n\r\n`);
    // curl waits a second for this before sending the body anyway: it must come at once.
    await probe.until(() => probe.data.toString('latin1').startsWith('HTTP/1.1 100 Continue\r\n\r\n'), 2000, 'the 100 Continue');
    socket.write(body);
    await probe.until(() => probe.ended || probe.closed, 10_000, 'the answer');
    const final = probe.data.subarray('HTTP/1.1 100 Continue\r\n\r\n'.length).toString('latin1');
    assert.match(final, /^HTTP\/1\.1 200 /);
    assert.equal(JSON.parse(final.slice(final.indexOf('\r\n\r\n') + 4)).bytes, body.length);
  } finally {
    socket.destroy();
  }
  const magic = await exchange(port, ['POST /http/count HTTP/1.1\r\nHost: x\r\nConnection: close\r\nExpect: magic\r\nContent-Length: 2\r\n\r\nhi']);
  assert.equal(magic.status, 417);
  const gzip = await exchange(port, ['POST /http/count HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n']);
  assert.equal(gzip.status, 501);
});

test('a back-end module that does not exist is a configuration error at startup, not a 502 per request', () => {
  assert.throws(
    () => parseFrontConfig({ routes: [{ prefix: '/x', backend: 'x' }], backends: { x: { module: './no-such-module.mjs' } } }, tmpdir()),
    /backends\.x\.module: .*no-such-module\.mjs does not exist/,
  );
});

test('a misspelt key in the front config is a configuration error naming it and the key it probably meant', () => {
  const backends = { x: { module: 'websocket-echo' } };
  const cases: [unknown, RegExp][] = [
    [{ routes: [{ prefix: '/x', backend: 'x' }], backends, route: [] }, /config: unknown key "route", did you mean "routes"\? \(known: routes, backends\)$/],
    [{ routes: [{ prefix: '/x', backend: 'x' }], backends: { x: { module: 'websocket-echo', option: {} } } }, /config: backends\.x: unknown key "option", did you mean "options"\?/],
    [{ routes: [{ prefix: '/x', backend: 'x', prefx: '/y' }], backends }, /config: routes\[0\]: unknown key "prefx", did you mean "prefix"\?/],
    [{ routes: [{ prefix: '/x', backend: 'x', weight: 2 }], backends }, /config: routes\[0\]: unknown key "weight" \(known: prefix, backend\)$/],
  ];
  for (const [config, message] of cases) assert.throws(() => parseFrontConfig(config, tmpdir()), message, JSON.stringify(config));
  assert.equal(parseFrontConfig({ routes: [{ prefix: '/x', backend: 'x' }], backends }, tmpdir()).routes.length, 1, 'the same without the typo is fine');
});

test('the HTTP back end answers a method a path does not take with 405 and Allow', T, async (t) => {
  const { port } = await startFront(t, defaultConfigJson);
  const post = await exchange(port, ['POST /http/hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n']);
  assert.deepEqual([post.status, post.headers.get('allow')], [405, 'GET, HEAD']);
  const got = await get(port, '/http/count');
  assert.deepEqual([got.status, got.headers.get('allow')], [405, 'POST, PUT']);
  assert.equal((await get(port, '/http/nothing-here')).status, 404);
});

test("the fallback accept path (net.Server's paused sockets' handles): transfers, a 404 from the front, a WebSocket echo, and a stop that completes", T, async (t) => {
  const { front, port } = await startFront(t, defaultConfigJson, { acceptMode: 'server' });
  const hello = await get(port, '/http/hello');
  assert.equal(hello.status, 200);
  assert.match(hello.body.toString(), /^hello from back end \d+\n$/);
  assert.equal((await get(port, '/nope')).status, 404);
  const ws = await wsOpen(`ws://127.0.0.1:${port}/ws`);
  const echoed = await wsEcho(ws, 'through the fallback');
  assert.deepEqual([echoed.data.toString(), echoed.isBinary], ['through the fallback', false]);
  ws.close(1000);
  assert.equal(await wsClosed(ws), 1000);
  assert.equal(front.stats.accepted, 3, 'the GET, the 404 and the WebSocket');
  assert.equal(front.stats.transferred, 2);
  // net.Server counted each socket it built: the stop must not wait for them (their handles moved on).
  const outcome = await Promise.race([front.stop().then(() => 'stopped'), delay(8000).then(() => 'hung')]);
  assert.equal(outcome, 'stopped');
});
