import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  BufferPool,
  ByteQueue,
  DEFAULT_REQUEST_SINGLETONS,
  ErrorCodes,
  httpErrorStatus,
  RequestHeadParser,
  type RequestHeadParserOptions,
  type RequestHeadResult,
} from '../../framework/index.js';
import { layouts, randomSizes, seeded } from '../helpers/byte-chunks.js';

const latin1 = (text: string): Buffer => Buffer.from(text, 'latin1');
const pool = new BufferPool({ bufferSize: 65536 });

/** A typical browser upgrade head, about 300 bytes. */
const UPGRADE =
  'GET /chat?room=1 HTTP/1.1\r\n' +
  'Host: server.example.com\r\n' +
  'Upgrade: websocket\r\n' +
  'Connection: Upgrade\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
  'Origin: http://example.com\r\n' +
  'Sec-WebSocket-Protocol: chat, superchat\r\n' +
  'Sec-WebSocket-Version: 13\r\n' +
  'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n' +
  'User-Agent: portico-test/1.0\r\n' +
  '\r\n';

/** A comparable picture of a result: what must not depend on how the bytes were cut. */
function summary(result: RequestHeadResult): unknown {
  if (result.kind === 'more') return { kind: 'more' };
  if (result.kind === 'error') return { kind: 'error', code: result.error.code, status: result.status, layer: result.error.layer };
  const { head, consumed } = result;
  return { kind: 'head', consumed, method: head.method, target: head.target, version: head.version, fields: head.fields, contentLength: head.contentLength, chunked: head.chunked };
}

/** Parse `data` given whole as one Buffer. */
function whole(data: Buffer, options?: RequestHeadParserOptions): RequestHeadResult {
  return new RequestHeadParser(options).parse(data);
}

/** Feed `data` as a growing Buffer cut into `sizes`, parsing after each cut, until something other than `more`. */
function growing(data: Buffer, sizes: readonly number[], options?: RequestHeadParserOptions): RequestHeadResult {
  const parser = new RequestHeadParser(options);
  let end = 0;
  let result: RequestHeadResult = { kind: 'more' };
  for (const size of sizes) {
    end += size;
    result = parser.parse(data.subarray(0, end));
    if (result.kind !== 'more') {
      if (result.kind === 'head') assert.ok(result.consumed <= end, 'consumed counts only bytes it was given');
      return result;
    }
  }
  return result;
}

/** Feed `data` into a ByteQueue (no coalescing: every cut stays a buffer boundary), parsing after each append. */
function queued(data: Buffer, sizes: readonly number[], options?: RequestHeadParserOptions): RequestHeadResult {
  const parser = new RequestHeadParser(options);
  const queue = new ByteQueue({ maxBytes: 1 << 20, coalesce: false });
  let at = 0;
  let result: RequestHeadResult = { kind: 'more' };
  try {
    for (const size of sizes) {
      queue.append(pool.acquireCopy(data.subarray(at, (at += size))));
      result = parser.parse(queue);
      if (result.kind === 'head') {
        // The parser never consumes: the caller skips exactly `consumed`, and what is left is the pipelined rest.
        assert.equal(queue.position, 0);
        const rest = data.subarray(result.consumed, at);
        queue.skip(result.consumed);
        assert.deepEqual(queue.peek(0, queue.length), rest);
      }
      if (result.kind !== 'more') return result;
    }
    return result;
  } finally {
    queue.clear();
  }
}

/** Every way of feeding `data` gives the same result as parsing it whole; returns that result. */
function parseAllWays(data: Buffer, options?: RequestHeadParserOptions, everyCut = false): RequestHeadResult {
  const expected = summary(whole(data, options));
  const random = seeded(data.length);
  const cuts: number[][] = [Array.from({ length: data.length }, () => 1)];
  for (let i = 0; i < 6; i++) cuts.push(randomSizes(data.length, 1 + Math.floor(random() * 40), random));
  if (everyCut) cuts.push(...layouts(data.length, false));
  for (const sizes of cuts) {
    assert.deepEqual(summary(growing(data, sizes, options)), expected, `growing Buffer cut ${sizes.slice(0, 8).join(',')}…`);
    assert.deepEqual(summary(queued(data, sizes, options)), expected, `ByteQueue cut ${sizes.slice(0, 8).join(',')}…`);
  }
  return whole(data, options);
}

function expectHead(result: RequestHeadResult): Extract<RequestHeadResult, { kind: 'head' }> {
  if (result.kind !== 'head') assert.fail(`expected a head, got ${JSON.stringify(summary(result))}${result.kind === 'error' ? `: ${result.error.message}` : ''}`);
  return result;
}

test('a WebSocket upgrade head: split at every byte position and in random chunks, the same head and exact consumed count', () => {
  const data = latin1(UPGRADE + 'PIPELINED BYTES');
  const { head, consumed } = expectHead(parseAllWays(data, undefined, true));
  assert.equal(consumed, UPGRADE.length);
  assert.equal(head.method, 'GET');
  assert.equal(head.target, '/chat?room=1');
  assert.equal(head.version, '1.1');
  assert.equal(head.get('HOST'), 'server.example.com');
  assert.equal(head.get('sec-websocket-key'), 'dGhlIHNhbXBsZSBub25jZQ==');
  assert.deepEqual(head.list('Sec-WebSocket-Protocol'), ['chat', 'superchat']);
  assert.ok(head.listHas('connection', 'UPGRADE'));
  assert.equal(head.get('x-absent'), null);
  assert.equal(head.fields.length, 9);
  assert.deepEqual(head.fields[0], ['host', 'server.example.com']);
  assert.equal(head.contentLength, null);
  assert.equal(head.chunked, false);
});

const REQ = 'GET / HTTP/1.1\r\nHost: h\r\n';

/** [name, head text, expected status (an error), or [status, the reason's pattern], or a check of the head]. */
const cases: [string, string, number | [number, RegExp] | ((r: Extract<RequestHeadResult, { kind: 'head' }>) => void)][] = [
  ['HTTP/1.0 without Host', 'GET / HTTP/1.0\r\n\r\n', (r) => assert.equal(r.head.version, '1.0')],
  ['HTTP/1.1 without Host', 'GET / HTTP/1.1\r\nX: y\r\n\r\n', [400, /without Host/]],
  ['empty Host is allowed', 'GET / HTTP/1.1\r\nHost:\r\n\r\n', (r) => assert.equal(r.head.get('host'), '')],
  ['IPv6 Host with port', 'GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n', (r) => assert.equal(r.head.get('host'), '[::1]:8080')],
  ['invalid Host value', 'GET / HTTP/1.1\r\nHost: a b\r\n\r\n', 400],
  ['duplicate Host', REQ + 'Host: h\r\n\r\n', [400, /duplicate host/]],
  ['duplicate Sec-WebSocket-Key', REQ + 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n', [400, /duplicate sec-websocket-key/]],
  ['duplicate Sec-WebSocket-Version', REQ + 'Sec-WebSocket-Version: 13\r\nsec-websocket-version: 13\r\n\r\n', 400],
  ['duplicate Origin', REQ + 'Origin: a\r\nOrigin: b\r\n\r\n', 400],
  [
    'list fields combined in order',
    REQ + 'Connection: keep-alive\r\nConnection: Upgrade\r\nSec-WebSocket-Protocol: a\r\nSec-WebSocket-Protocol: b, c\r\nSec-WebSocket-Extensions: x\r\nSec-WebSocket-Extensions: y; p="1,2"\r\n\r\n',
    (r) => {
      assert.equal(r.head.get('connection'), 'keep-alive, Upgrade');
      assert.deepEqual(r.head.list('connection'), ['keep-alive', 'Upgrade']);
      assert.deepEqual(r.head.list('sec-websocket-protocol'), ['a', 'b', 'c']);
      assert.deepEqual(r.head.list('sec-websocket-extensions'), ['x', 'y; p="1,2"'], 'commas inside quotes do not split');
      assert.equal(r.head.fields.length, 7, 'field lines stay uncombined');
    },
  ],
  ['Cookie lines joined with "; "', REQ + 'Cookie: a=1\r\nCookie: b=2\r\n\r\n', (r) => assert.equal(r.head.get('cookie'), 'a=1; b=2')],
  ['empty list elements dropped', REQ + 'Connection: , upgrade ,, \r\n\r\n', (r) => assert.deepEqual(r.head.list('connection'), ['upgrade'])],
  ['OWS trimmed around values, HTAB kept inside', REQ + 'X:  \t a \t b\t \r\nY:\r\n\r\n', (r) => (assert.equal(r.head.get('x'), 'a \t b'), assert.equal(r.head.get('y'), ''))],
  ['obs-text in a value is kept (latin1)', REQ + 'X: caf\xe9\r\n\r\n', (r) => assert.equal(r.head.get('x'), 'caf\xe9')],
  ['one leading empty line', '\r\n' + REQ + '\r\n', (r) => assert.equal(r.consumed, REQ.length + 4)],
  ['two leading empty lines', '\r\n\r\n' + REQ + '\r\n', (r) => assert.equal(r.consumed, REQ.length + 6)],
  ['three leading empty lines', '\r\n\r\n\r\n' + REQ + '\r\n', 400],
  ['obs-fold', REQ + 'X: a\r\n b: c\r\n\r\n', [400, /obs-fold/]],
  ['obs-fold with HTAB', REQ + 'X: a\r\n\tb\r\n\r\n', [400, /obs-fold/]],
  ['whitespace between the request line and the first field', 'GET / HTTP/1.1\r\n Host: h\r\n\r\n', [400, /whitespace/]],
  ['space before the colon', 'GET / HTTP/1.1\r\nHost : h\r\n\r\n', [400, /before its colon/]],
  ['HTAB before the colon', REQ + 'X\t: y\r\n\r\n', 400],
  ['bare CR inside a value', REQ + 'X: a\rb\r\n\r\n', [400, /bare CR/]],
  ['bare CR before CRLF', REQ + 'X: a\r\r\n\r\n', 400],
  ['bare CR in the request line', 'GET /\r HTTP/1.1\r\nHost: h\r\n\r\n', 400],
  ['bare LF line ends', 'GET / HTTP/1.1\nHost: h\n\n', [400, /bare LF/]],
  ['one bare LF among CRLFs', REQ + 'X: y\n\r\n', 400],
  ['bare LF ending the head', REQ + '\n', 400],
  ['NUL in a value', REQ + 'X: a\0b\r\n\r\n', [400, /control byte/]],
  ['control byte in a value', REQ + 'X: a\x01b\r\n\r\n', 400],
  ['DEL in a value', REQ + 'X: a\x7fb\r\n\r\n', 400],
  ['invalid token byte in the method', 'G(T / HTTP/1.1\r\nHost: h\r\n\r\n', 400],
  ['non-ASCII method', 'G\xc9T / HTTP/1.1\r\nHost: h\r\n\r\n', 400],
  ['extension method is a token', 'M-SEARCH * HTTP/1.1\r\nHost: h\r\n\r\n', (r) => (assert.equal(r.head.method, 'M-SEARCH'), assert.equal(r.head.target, '*'))],
  ['invalid token byte in a field name', REQ + 'X@Y: z\r\n\r\n', 400],
  ['non-ASCII field name', REQ + 'X\xe9: z\r\n\r\n', 400],
  ['empty field name', REQ + ': z\r\n\r\n', 400],
  ['field line without a colon', REQ + 'Xz\r\nY: w\r\n\r\n', [400, /without a colon/]],
  ['HTTP/2.0', 'GET / HTTP/2.0\r\nHost: h\r\n\r\n', 505],
  ['HTTP/1.2', 'GET / HTTP/1.2\r\nHost: h\r\n\r\n', 505],
  ['HTTP/0.9 named', 'GET / HTTP/0.9\r\n\r\n', 505],
  ['HTTP/0.9 style, no version', 'GET /\r\n\r\n', 400],
  ['lower-case http', 'GET / http/1.1\r\nHost: h\r\n\r\n', 400],
  ['two-digit minor', 'GET / HTTP/1.10\r\nHost: h\r\n\r\n', 400],
  ['garbage version', 'GET / FOO\r\nHost: h\r\n\r\n', 400],
  ['two spaces after the method', 'GET  / HTTP/1.1\r\nHost: h\r\n\r\n', 400],
  ['trailing space after the version', 'GET / HTTP/1.1 \r\nHost: h\r\n\r\n', 400],
  ['HTAB as separator', 'GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n', 400],
  ['leading space before the method', ' GET / HTTP/1.1\r\nHost: h\r\n\r\n', 400],
  ['non-ASCII request-target', 'GET /caf\xe9 HTTP/1.1\r\nHost: h\r\n\r\n', 400],
  ['Content-Length', REQ + 'Content-Length: 42\r\n\r\n', (r) => assert.equal(r.head.contentLength, 42)],
  ['identical Content-Length duplicates', REQ + 'Content-Length: 5\r\nContent-Length: 5, 5\r\n\r\n', (r) => assert.equal(r.head.contentLength, 5)],
  ['differing Content-Length', REQ + 'Content-Length: 5\r\nContent-Length: 6\r\n\r\n', 400],
  ['non-numeric Content-Length', REQ + 'Content-Length: -1\r\n\r\n', 400],
  ['empty Content-Length', REQ + 'Content-Length:\r\n\r\n', 400],
  ['chunked', REQ + 'Transfer-Encoding: gzip, Chunked\r\n\r\n', (r) => (assert.equal(r.head.chunked, true), assert.equal(r.head.contentLength, null))],
  ['Transfer-Encoding with Content-Length', REQ + 'Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n', 400],
  ['Transfer-Encoding not ending in chunked', REQ + 'Transfer-Encoding: chunked, gzip\r\n\r\n', 400],
  ['chunked twice', REQ + 'Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n', 400],
  ['Transfer-Encoding in HTTP/1.0', 'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n', 400],
];

for (const [name, text, expected] of cases) {
  test(`request head: ${name}`, () => {
    const result = parseAllWays(latin1(text));
    if (typeof expected === 'number' || Array.isArray(expected)) {
      const [status, reason] = typeof expected === 'number' ? [expected, /./] : expected;
      assert.ok(result.kind === 'error', `expected ${status}, got ${JSON.stringify(summary(result))}`);
      assert.equal(result.status, status);
      assert.match(result.error.message, reason);
    } else {
      expected(expectHead(result));
    }
  });
}

/** A head of exactly `size` bytes: REQ, a padding field, the final CRLF. */
function headOfSize(size: number): Buffer {
  const pad = size - REQ.length - 'X: \r\n'.length - 2;
  return latin1(REQ + 'X: ' + 'a'.repeat(pad) + '\r\n\r\n');
}

test('head size limit: exactly at the limit parses, one byte past fails 431 as soon as the limit is buffered', () => {
  for (const max of [64, 8192]) {
    const options = { maxHeadSize: max };
    const at = headOfSize(max);
    assert.equal(at.length, max);
    assert.equal(expectHead(parseAllWays(Buffer.concat([at, latin1('GET / HTTP/1.1\r\n')]), options)).consumed, max);
    const past = headOfSize(max + 1);
    const result = parseAllWays(past, options);
    assert.equal(result.kind === 'error' && result.status, 431);
    assert.equal(result.kind === 'error' && result.error.code, ErrorCodes.HTTP_HEAD_TOO_LARGE);
    // The error needs no more than the limit: the parser never waits for bytes beyond it.
    assert.equal(new RequestHeadParser(options).parse(past.subarray(0, max)).kind, 'error');
    assert.equal(new RequestHeadParser(options).parse(past.subarray(0, max - 1)).kind, 'more');
  }
  // The default is 8 KiB.
  assert.equal(whole(headOfSize(8192)).kind, 'head');
  assert.equal(whole(headOfSize(8193)).kind, 'error');
});

test('a start line filling the limit: no space yet 501, a long target 414, a long version 400', () => {
  const options = { maxHeadSize: 64 };
  const check = (text: string, status: number, code: string): void => {
    const result = parseAllWays(latin1(text), options);
    assert.equal(result.kind === 'error' && result.status, status, text);
    assert.equal(result.kind === 'error' && result.error.code, code);
  };
  check('A'.repeat(80), 501, ErrorCodes.HTTP_NOT_IMPLEMENTED);
  check('GET /' + 'a'.repeat(80), 414, ErrorCodes.HTTP_URI_TOO_LONG);
  check('GET / HTTP/1.1' + 'a'.repeat(80), 400, ErrorCodes.HTTP_BAD_REQUEST);
});

test('field count limit: exactly maxFields parses, one more is 431', () => {
  const fields = (n: number): Buffer => latin1('GET / HTTP/1.1\r\nHost: h\r\n' + Array.from({ length: n - 1 }, (_, i) => `X-${i}: v\r\n`).join('') + '\r\n');
  assert.equal(expectHead(whole(fields(100))).head.fields.length, 100);
  const over = whole(fields(101));
  assert.equal(over.kind === 'error' && over.status, 431);
  const small = { maxFields: 3 };
  assert.equal(parseAllWays(fields(3), small).kind, 'head');
  const small4 = parseAllWays(fields(4), small);
  assert.equal(small4.kind === 'error' && small4.status, 431);
});

test('fail fast: binary input and a bare CR are refused before any line end arrives', () => {
  const hello = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]);
  const tls = new RequestHeadParser().parse(hello);
  assert.equal(tls.kind === 'error' && tls.status, 400);
  assert.equal(new RequestHeadParser().parse(latin1('GET / HTTP/1.1\rX')).kind, 'error');
  assert.equal(new RequestHeadParser().parse(latin1('GE(')).kind, 'error');
  assert.equal(new RequestHeadParser().parse(latin1(REQ + 'X: a\0')).kind, 'error', 'a NUL in an unfinished field line');
  // A CR as the last byte so far may still get its LF.
  assert.equal(new RequestHeadParser().parse(latin1('GET / HTTP/1.1\r')).kind, 'more');
});

test('pipelined heads: consumed is exact, and the parser is ready for the next head', () => {
  const first = REQ + 'Connection: keep-alive\r\n\r\n';
  const second = 'GET /two HTTP/1.1\r\nHost: h\r\n\r\n';
  const data = latin1(first + second + 'GET /thr');
  const parser = new RequestHeadParser();
  const queue = new ByteQueue({ maxBytes: 4096 });
  queue.append(pool.acquireCopy(data));
  const one = expectHead(parser.parse(queue));
  assert.equal(one.consumed, first.length);
  queue.skip(one.consumed);
  const two = expectHead(parser.parse(queue));
  assert.equal(two.consumed, second.length);
  assert.equal(two.head.target, '/two');
  queue.skip(two.consumed);
  assert.equal(parser.parse(queue).kind, 'more');
  assert.equal(queue.length, 'GET /thr'.length, 'the parser consumed nothing');
  // A queue that moved under a partial head (here: cleared) makes the parser start over.
  queue.clear();
  queue.append(pool.acquireCopy(latin1(second)));
  assert.equal(expectHead(parser.parse(queue)).head.target, '/two');
  queue.clear();
});

test('errors carry the status to answer, and are not sticky: the next parse starts over', () => {
  const parser = new RequestHeadParser();
  const bad = parser.parse(latin1('GET / HTTP/1.1\r\nHost : h\r\n\r\n'));
  assert.ok(bad.kind === 'error');
  assert.equal(bad.error.layer, 'http');
  assert.equal(httpErrorStatus(bad.error.code), bad.status);
  assert.equal(httpErrorStatus(ErrorCodes.HTTP_VERSION), 505);
  assert.equal(httpErrorStatus(ErrorCodes.BAD_FRAME), null);
  assert.equal(parser.parse(latin1(REQ + '\r\n')).kind, 'head');
});

test('options: singletons are configurable but Host stays single; limits are validated', () => {
  const text = latin1(REQ + 'Content-Type: a\r\nContent-Type: b\r\n\r\n');
  assert.equal(whole(text).kind, 'error');
  const lax = whole(text, { singletonFields: [] });
  assert.equal(expectHead(lax).head.get('content-type'), 'a, b');
  assert.equal(whole(latin1(REQ + 'Host: h\r\n\r\n'), { singletonFields: [] }).kind, 'error');
  assert.ok(DEFAULT_REQUEST_SINGLETONS.includes('sec-websocket-key'));
  assert.throws(() => new RequestHeadParser({ maxHeadSize: 10 }), { code: ErrorCodes.INVALID_ARGUMENT });
  assert.throws(() => new RequestHeadParser({ maxFields: -1 }), { code: ErrorCodes.INVALID_ARGUMENT });
});

test('speed: a 300-byte upgrade head parses in a few microseconds (coarse bound, not a benchmark)', () => {
  const data = latin1(UPGRADE);
  const parser = new RequestHeadParser();
  for (let i = 0; i < 2000; i++) parser.parse(data);
  const n = 20_000;
  const started = process.hrtime.bigint();
  for (let i = 0; i < n; i++) parser.parse(data);
  const perHeadUs = Number(process.hrtime.bigint() - started) / n / 1000;
  // Generous (shared cores, coverage instrumentation); per-byte string building would be far slower.
  assert.ok(perHeadUs < 50, `${perHeadUs.toFixed(2)} µs per head`);
});
