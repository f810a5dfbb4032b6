/**
 * `--protocol raw`: the payload syntax, what a reply is (N bytes, or a regex match over the bytes
 * since the send, in a bounded buffer), and runs through `portico-harness run` against servers that
 * are not portico (Python's http.server, the ten-line asyncio echo).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runFlood } from '../../harness/flood/flood.js';
import type { ReplyCheck } from '../../harness/flood/protocol-client.js';
import { RawProtocolClient, rawFloodSettings, showBytes } from '../../harness/flood/raw-client.js';
import { parsePayload, unescapeText } from '../../harness/flood/raw-payload.js';
import type { FloodOptions } from '../../harness/types.js';
import { assertVerdicts, checkOf, harness, runHarness } from '../helpers/harness-run.js';
import { runToExit } from '../helpers/spawn-server.js';

const T = { timeout: 60_000 };
const asyncioEcho = 'python3 test/fixtures/asyncio_echo.py {port}';
const httpServer = 'python3 -u -m http.server {port} --bind 127.0.0.1';
const b = (text: string): Buffer => Buffer.from(text, 'latin1');
const oks = (checks: readonly ReplyCheck[]): number => checks.filter((c) => c.ok).length;

// ---- the payload ---------------------------------------------------------------------------------

test('--send: text with C escapes, hex:, text:, @file; bad input refused with the reason', async (t) => {
  assert.deepEqual(parsePayload('GET / HTTP/1.0\\r\\n\\r\\n'), b('GET / HTTP/1.0\r\n\r\n'));
  assert.deepEqual(unescapeText('a\\tb\\0\\\\\\x7f\\xFFé'), Buffer.concat([b('a\tb\0\\\x7f\xff'), Buffer.from('é', 'utf8')]));
  assert.deepEqual(parsePayload('hex:00 01 fe\nFF'), Buffer.from([0, 1, 0xfe, 0xff]));
  assert.deepEqual(parsePayload('text:hex:@x'), b('hex:@x'));
  const dir = await mkdtemp(join(tmpdir(), 'portico-raw-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'req.bin'), Buffer.from([1, 2, 3, 0]));
  assert.deepEqual(parsePayload(`@${join(dir, 'req.bin')}`), Buffer.from([1, 2, 3, 0]));

  for (const [spec, why] of [
    ['', /empty/],
    ['hex:', /empty/],
    ['hex:abc', /pairs of hex digits/],
    ['hex:zz', /pairs of hex digits/],
    ['a\\q', /unknown escape "\\q"/],
    ['a\\x4', /\\x needs two hex digits/],
    ['a\\', /trailing backslash/],
    ['@', /needs a file name/],
    [`@${join(dir, 'missing.bin')}`, /cannot read .*missing\.bin: ENOENT/],
  ] as const) {
    assert.throws(() => parsePayload(spec), why, JSON.stringify(spec));
  }
  assert.throws(() => parsePayload('@big', () => Buffer.alloc(1024 * 1024 + 1)), /at most 1048576/);
});

test('raw options: exactly one of expectBytes / expectRegex; a regex matching the empty reply is refused', () => {
  const settings = (o: Record<string, string | number | boolean>): unknown => rawFloodSettings({ protocolOptions: o });
  assert.throws(() => settings({ expectBytes: 4 }), /give the bytes to send/);
  assert.throws(() => settings({ send: 'x' }), /exactly one of --expect-bytes N or --expect-regex RE/);
  assert.throws(() => settings({ send: 'x', expectBytes: 1, expectRegex: 'x' }), /exactly one of/);
  assert.throws(() => settings({ send: 'x', expectBytes: 0 }), /--expect-bytes must be an integer >= 1/);
  assert.throws(() => settings({ send: 'x', expectRegex: 'a*' }), /matches an empty reply/);
  assert.throws(() => settings({ send: 'x', expectRegex: '(' }), /--expect-regex: Invalid regular expression/);
  assert.throws(() => settings({ send: 'x', expectRegex: 'x', maxReplyBytes: 0 }), /--max-reply must be/);
  assert.throws(() => settings({ send: 'x', expectBytes: 1, bogus: 1 }), /unknown protocolOptions\.bogus/);
});

// ---- what a reply is -----------------------------------------------------------------------------

test('--expect-bytes N: the next N bytes, split or coalesced; a byte more with nothing outstanding is UNEXPECTED_DATA', () => {
  const session = new RawProtocolClient({ protocolOptions: { send: 'ping', expectBytes: 4 } }).openSession();
  assert.deepEqual(session.frameRequest(0), b('ping'));
  session.frameRequest(1);
  session.frameRequest(2);
  assert.equal(oks(session.receive(b('po'))), 0);
  assert.match(session.pendingReply!(), /2 of the 4 bytes expected arrived/);
  assert.equal(oks(session.receive(b('ngpongp'))), 1 + 1);
  const last = session.receive(b('ongX'));
  assert.equal(last.length, 2);
  assert.deepEqual(last[0], { ok: true });
  assert.equal(last[1]!.ok, false);
  assert.equal(last[1]!.ok === false && last[1]!.code, 'UNEXPECTED_DATA');
});

test('--expect-regex: complete once the bytes since the send match; the tail is dropped; pipelined replies split at each match', () => {
  const client = new RawProtocolClient({ protocolOptions: { send: 'GET / HTTP/1.0\\r\\n\\r\\n', expectRegex: 'HTTP/1\\.[01] 200' } });
  const pingPong = client.openSession();
  pingPong.frameRequest(0);
  assert.deepEqual(pingPong.receive(b('HTTP/1.')), []);
  assert.match(pingPong.pendingReply!(), /does not match what arrived: "HTTP\/1\."/);
  assert.deepEqual(pingPong.receive(b('0 200 OK\r\nServer: x\r\n')), [{ ok: true }]);
  // Nothing outstanding: the rest of that reply (headers, body) is not the next reply.
  assert.deepEqual(pingPong.receive(b('\r\n<html>HTTP/1.0 200</html>')), []);
  pingPong.frameRequest(1);
  assert.deepEqual(pingPong.receive(b('HTTP/1.0 500 oops')), []);
  assert.deepEqual(pingPong.receive(b(' HTTP/1.1 200')), [{ ok: true }], 'matched anywhere in the bytes since the send');

  const lines = new RawProtocolClient({ protocolOptions: { send: 'n\\n', expectRegex: '\\d+\\n' } }).openSession();
  for (let i = 0; i < 3; i++) lines.frameRequest(i);
  assert.equal(oks(lines.receive(b('1\n22\n3'))), 2);
  assert.equal(oks(lines.receive(b('33\n'))), 1);
  // Binary: one character per byte.
  const binary = new RawProtocolClient({ protocolOptions: { send: 'hex:01', expectRegex: '\\x00\\xff' } }).openSession();
  binary.frameRequest(0);
  assert.equal(oks(binary.receive(Buffer.from([7, 0]))), 0);
  assert.equal(oks(binary.receive(Buffer.from([0xff]))), 1);
});

test('--expect-regex: no match within --max-reply bytes is REPLY_TOO_LONG at once, showing what arrived', () => {
  const session = new RawProtocolClient({ protocolOptions: { send: 'x', expectRegex: 'OK', maxReplyBytes: 16 } }).openSession();
  session.frameRequest(0);
  assert.deepEqual(session.receive(b('0123456789')), []);
  const [check] = session.receive(b('abcdefOK'));
  assert.ok(check !== undefined && !check.ok);
  assert.equal(check.code, 'REPLY_TOO_LONG', 'the match at bytes 16-17 is past the bound');
  assert.match(check.detail, /\/OK\/ did not match within the first 16 bytes of the reply \(--max-reply\): "0123456789abcdef"/);
});

test('--expect-regex with UTF-8 text: a non-ASCII character matches its UTF-8 bytes, split across reads or not; counts stay in bytes', () => {
  const utf8 = (text: string): Buffer => Buffer.from(text, 'utf8');
  const client = new RawProtocolClient({ protocolOptions: { send: 'héllo\\n', expectRegex: 'héllo\\n' } });
  assert.deepEqual(client.settings.payload, utf8('héllo\n'));
  const echo = client.openSession();
  echo.frameRequest(0);
  echo.frameRequest(1);
  // The echo of both, cut inside each é (c3 | a9).
  const stream = utf8('héllo\nhéllo\n');
  assert.deepEqual(echo.receive(stream.subarray(0, 2)), []);
  assert.match(echo.pendingReply!(), /^\/héllo\\n\/ does not match what arrived: "h\\xc3"$/);
  assert.equal(oks(echo.receive(stream.subarray(2, 9))), 1);
  assert.equal(oks(echo.receive(stream.subarray(9))), 1);

  const session = (expectRegex: string, maxReplyBytes?: number): ReturnType<RawProtocolClient['openSession']> => {
    const s = new RawProtocolClient({ protocolOptions: { send: 'x', expectRegex, ...(maxReplyBytes === undefined ? {} : { maxReplyBytes }) } }).openSession();
    s.frameRequest(0);
    return s;
  };
  const cases: { name: string; expectRegex: string; reply: Buffer; ok: boolean; maxReplyBytes?: number }[] = [
    { name: 'a quantifier repeats the whole character', expectRegex: '^é{2}!', reply: utf8('éé!'), ok: true },
    { name: 'an escaped non-ASCII character is the character', expectRegex: '\\é', reply: utf8('é'), ok: true },
    { name: 'four-byte characters too', expectRegex: 'ok 👍', reply: utf8('ok 👍'), ok: true },
    { name: 'é is not the latin1 byte e9', expectRegex: 'é', reply: Buffer.from([0xe9, 0x0a]), ok: false },
    { name: '\\xNN is still one byte', expectRegex: '\\xe9', reply: Buffer.from([0xe9]), ok: true },
    { name: '. is one byte: two for é', expectRegex: '^h..llo', reply: utf8('héllo'), ok: true },
    { name: 'ASCII classes are unchanged', expectRegex: '^[0-9]+ é$', reply: utf8('42 é'), ok: true },
    { name: '--max-reply counts bytes: héllo is 6', expectRegex: 'héllo', reply: utf8('héllo'), maxReplyBytes: 6, ok: true },
  ];
  for (const c of cases) assert.equal(oks(session(c.expectRegex, c.maxReplyBytes).receive(c.reply)), c.ok ? 1 : 0, c.name);

  const [tooLong] = session('héllo', 5).receive(utf8('héllo'));
  assert.ok(tooLong !== undefined && !tooLong.ok);
  assert.equal(tooLong.code, 'REPLY_TOO_LONG');
  assert.match(tooLong.detail, /^\/héllo\/ did not match within the first 5 bytes of the reply \(--max-reply\): "h\\xc3\\xa9ll"$/);
  assert.throws(() => session('[éè]'), /--expect-regex: "é" inside \[\.\.\.\]: a class matches one byte and this character is 2 bytes in UTF-8; write it outside the class, e\.g\. \(\?:é\|è\)/);
  assert.equal(oks(session('[a\\]]é').receive(utf8(']é'))), 1, 'an escaped ] does not end the class');
});

test('raw vs an echo server on 127.0.0.1 that sends each reply a byte at a time: --send héllo --expect-regex héllo matches', T, async (t) => {
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    socket.on('error', () => {});
    // One write per byte, a tick apart: the client reads é's two bytes in separate chunks.
    const queue: number[] = [];
    let writing = false;
    const drip = (): void => {
      const byte = queue.shift();
      if (byte === undefined || socket.destroyed) {
        writing = false;
        return;
      }
      socket.write(Buffer.from([byte]));
      setTimeout(drip, 1);
    };
    socket.on('data', (chunk: Buffer) => {
      queue.push(...chunk);
      if (!writing) {
        writing = true;
        drip();
      }
    });
    socket.on('end', () => socket.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const result = await runFlood({
    protocol: 'raw',
    host: '127.0.0.1',
    port: (server.address() as net.AddressInfo).port,
    connections: 4,
    concurrency: 4,
    messages: 3,
    size: 1,
    sendAfterReceive: true,
    connectRate: 0,
    durationCapMs: 20_000,
    connectionTimeoutMs: 15_000,
    protocolOptions: { send: 'héllo\\n', expectRegex: '^héllo\\n$' },
  });
  assert.deepEqual(result.errors, {});
  assert.equal(result.messagesReceived, 12);
  assert.equal(result.bytesReceived, 12 * 7, 'héllo LF is 7 bytes');
});

test('what arrived is shown escaped: control and non-ASCII bytes as \\xNN, quotes escaped, cut at 80 bytes', () => {
  assert.equal(showBytes('\x00\xffab"\r\n'), '"\\x00\\xffab\\"\\r\\n"');
  assert.equal(showBytes('z'.repeat(100)), `"${'z'.repeat(80)}"… (100 bytes)`);
});

test('a server that streams bytes that never match: REPLY_TOO_LONG long before the reply deadline, not a hang', T, async (t) => {
  const junk = Buffer.alloc(4096, 'z');
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.once('data', () => {
      const timer = setInterval(() => socket.write(junk), 5);
      socket.on('close', () => clearInterval(timer));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const options: FloodOptions = {
    protocol: 'raw',
    host: '127.0.0.1',
    port: (server.address() as net.AddressInfo).port,
    connections: 3,
    concurrency: 3,
    messages: 1,
    size: 1,
    sendAfterReceive: true,
    connectRate: 0,
    durationCapMs: 20_000,
    connectionTimeoutMs: 15_000,
    protocolOptions: { send: 'hello', expectRegex: 'never' },
  };
  const started = performance.now();
  const result = await runFlood(options);
  assert.ok(performance.now() - started < 5_000, `took ${Math.round(performance.now() - started)} ms`);
  assert.deepEqual(result.errors, { REPLY_TOO_LONG: 3 });
  assert.equal(result.connectionsBad, 3);
  assert.match(result.errorExamples['REPLY_TOO_LONG'] ?? '', /within the first 65536 bytes .*"zzzz/);
});

// ---- through portico-harness run, against servers that are not portico --------------------------

test('raw vs Python http.server: GET / with --expect-regex "HTTP/1\\.[01] 200", one request per connection, PASS', T, async (t) => {
  const run = await runHarness(t, [
    '--server', httpServer, '--ready', 'regex:Serving HTTP', '--accept-exit-codes', '0,143',
    '--protocol', 'raw', '--send', 'GET / HTTP/1.0\\r\\n\\r\\n', '--expect-regex', 'HTTP/1\\.[01] 200',
    '--connections', '40', '--concurrency', '4', '--messages', '1', '--quiet',
  ]);
  assertVerdicts(run, { result: 'PASS' });
  const flood = run.report!.flood!;
  assert.equal(flood.protocol, 'raw');
  assert.equal(flood.messagesReceived, 40);
  assert.equal(flood.bytesSent, 40 * 18, 'GET / HTTP/1.0 CR LF CR LF is 18 bytes');
  assert.equal(flood.settings.size, 18, 'a raw message is its payload');
  assert.ok(flood.bytesReceived > 40 * 100, 'the headers and the body after the match are received too');
});

test('raw vs Python http.server, a path that 404s: every connection bad, and the summary shows what arrived instead', T, async (t) => {
  const run = await runHarness(t, [
    '--server', httpServer, '--ready', 'regex:Serving HTTP', '--accept-exit-codes', '0,143',
    '--protocol', 'raw', '--send', 'GET /missing HTTP/1.0\\r\\n\\r\\n', '--expect-regex', 'HTTP/1\\.[01] 200',
    '--connections', '6', '--concurrency', '2', '--messages', '1', '--quiet',
  ]);
  assertVerdicts(run, { fail: ['flood errors'], result: 'FAIL' });
  assert.deepEqual(run.report!.flood!.errors, { EARLY_CLOSE: 6 });
  assert.match(run.stdout, /^first EARLY_CLOSE: server closed with 1 of 1 replies missing \(1 sent, 0 received\): \/HTTP\\\/1\\\.\[01\] 200\/ does not match what arrived: "HTTP\/1\.0 404 /m);
  assert.match(run.stdout, /^latency: +no replies were measured$/m);
});

test('raw vs the asyncio echo: binary payload, --expect-bytes, pipelined, exact counts', T, async (t) => {
  const run = await runHarness(t, [
    '--server', asyncioEcho, '--ready', 'regex:serving', '--accept-exit-codes', '0,143',
    '--protocol', 'raw', '--send', 'hex:00ff00ff0d0a', '--expect-bytes', '6', '--pipeline',
    '--connections', '10', '--concurrency', '5', '--messages', '20', '--quiet',
  ]);
  assertVerdicts(run, { result: 'PASS' });
  const flood = run.report!.flood!;
  assert.equal(flood.messagesReceived, 200);
  assert.equal(flood.bytesReceived, 1200);
});

test('raw flags are checked before anything runs: exit 2 naming the fix', T, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'portico-harness-test-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const raw = ['--protocol', 'raw'];
  const cases: [string[], RegExp][] = [
    [['--send', 'x', '--expect-bytes', '1'], /flood\.protocolOptions\.send: only for --protocol raw .*this flood's protocol is echo/],
    [[...raw, '--expect-bytes', '1'], /give the bytes to send: --send TEXT, --send hex:HEX or --send @file/],
    [[...raw, '--send', 'x'], /exactly one of --expect-bytes N or --expect-regex RE/],
    [[...raw, '--send', 'x', '--expect-regex', '.*'], /matches an empty reply/],
    [[...raw, '--send', 'x\\d', '--expect-bytes', '1'], /unknown escape "\\d"/],
    [[...raw, '--send', '@no/such/file', '--expect-bytes', '1'], /cannot read no\/such\/file: ENOENT/],
    [[...raw, '--send', 'x', '--expect-bytes', '1', '--size', '10'], /flood\.size: a raw message is the --send payload/],
    [[...raw, '--send', 'x', '--expect-bytes', 'many'], /--expect-bytes: expected a non-negative integer/],
  ];
  for (const [args, message] of cases) {
    const run = await runToExit(process.execPath, [harness, 'run', '--server', asyncioEcho, ...args, '--report', join(dir, 'r')], { t });
    assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, message, args.join(' '));
  }
});

test('a scenario file takes the raw protocol under flood.protocolOptions', T, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'portico-harness-test-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'raw-echo.json');
  await writeFile(
    file,
    JSON.stringify({
      server: asyncioEcho,
      ready: 'regex:serving',
      flood: { protocol: 'raw', connections: 4, concurrency: 2, messages: 5, protocolOptions: { send: 'hello\\n', expectRegex: 'hello\\n' } },
      thresholds: { acceptExitCodes: [0, 143] },
    }),
  );
  const run = await runHarness(t, [file, '--quiet']);
  assertVerdicts(run, { result: 'PASS' });
  assert.equal(run.report!.flood!.messagesReceived, 20);
  assert.match(checkOf(run.report, 'flood errors').detail, /^0 of 4 connections in error/);
});
