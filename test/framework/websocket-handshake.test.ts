import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { test } from 'node:test';
import WebSocket, { WebSocketServer } from 'ws';
import {
  type AcceptedHandshake,
  buildClientUpgrade,
  checkUpgradeResponse,
  ErrorCodes,
  formatAcceptResponse,
  formatExtensions,
  formatRejectResponse,
  type HandshakeOptions,
  type HandshakeRejection,
  isWebSocketKey,
  parseExtensions,
  type RequestHead,
  RequestHeadParser,
  type ResponseHead,
  ResponseHeadParser,
  validateUpgrade,
  websocketAccept,
} from '../../framework/index.js';

const RFC_KEY = 'dGhlIHNhbXBsZSBub25jZQ=='; // RFC 6455 §1.3: base64 of "the sample nonce"
const RFC_ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo='; // RFC 6455 §1.3 (SHA-1 b37a4f2c c0624f16 90f64606 cf385945 b2bec4ea)

type Fields = Record<string, string | string[] | null>;

/** An upgrade head: the defaults of a v13 request, with fields replaced (null drops one, an array repeats it). */
function head(fields: Fields = {}, requestLine = 'GET /chat?x=1 HTTP/1.1'): RequestHead {
  const all: Fields = {
    Host: 'server.example.com',
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': RFC_KEY,
    'Sec-WebSocket-Version': '13',
    ...fields,
  };
  let text = `${requestLine}\r\n`;
  for (const [name, value] of Object.entries(all)) {
    if (value === null) continue;
    for (const v of Array.isArray(value) ? value : [value]) text += `${name}: ${v}\r\n`;
  }
  const result = new RequestHeadParser().parse(Buffer.from(text + '\r\n', 'latin1'));
  if (result.kind !== 'head') assert.fail(`test head did not parse: ${result.kind === 'error' ? result.error.message : 'more'}`);
  return result.head;
}

function accepted(h: RequestHead, options?: HandshakeOptions): AcceptedHandshake {
  const result = validateUpgrade(h, options);
  if (result.kind !== 'accept') assert.fail(`expected accept, got ${result.rejection.status} ${result.rejection.reason}`);
  return result.handshake;
}

function rejected(h: RequestHead, options?: HandshakeOptions): HandshakeRejection {
  const result = validateUpgrade(h, options);
  if (result.kind !== 'reject') assert.fail('expected a rejection');
  return result.rejection;
}

const key = (bytes: number): string => Buffer.alloc(bytes, 7).toString('base64');

test('RFC 6455 §1.3 sample: key → accept, and the exact 101 bytes', () => {
  assert.equal(websocketAccept(RFC_KEY), RFC_ACCEPT);
  const hs = accepted(head({ 'Sec-WebSocket-Protocol': 'chat, superchat', Origin: 'http://example.com' }), { selectProtocol: () => 'chat' });
  assert.equal(hs.accept, RFC_ACCEPT);
  assert.equal(
    formatAcceptResponse(hs).toString('latin1'),
    `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${RFC_ACCEPT}\r\nSec-WebSocket-Protocol: chat\r\n\r\n`,
  );
  assert.equal(
    formatAcceptResponse({ accept: RFC_ACCEPT, protocol: null }, { extensions: [{ name: 'permessage-deflate', params: [['client_max_window_bits', '15']] }] }).toString('latin1'),
    `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${RFC_ACCEPT}\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=15\r\n\r\n`,
  );
});

/** [name, fields, request line or undefined, expected: version + origin when accepted, else status]. */
const cases: [string, Fields, string | undefined, { version: number; origin: string | null } | number][] = [
  ['v13 with Origin', { Origin: 'http://a.example' }, undefined, { version: 13, origin: 'http://a.example' }],
  ['v13 ignores Sec-WebSocket-Origin', { 'Sec-WebSocket-Origin': 'http://b.example' }, undefined, { version: 13, origin: null }],
  ['v8 with Sec-WebSocket-Origin', { 'Sec-WebSocket-Version': '8', 'Sec-WebSocket-Origin': 'http://b.example', Origin: 'http://x' }, undefined, { version: 8, origin: 'http://b.example' }],
  ['v8 without origin', { 'Sec-WebSocket-Version': '8' }, undefined, { version: 8, origin: null }],
  ['v7', { 'Sec-WebSocket-Version': '7', 'Sec-WebSocket-Origin': 'http://c.example' }, undefined, { version: 7, origin: 'http://c.example' }],
  ['v9', { 'Sec-WebSocket-Version': '9' }, undefined, 426],
  ['v12', { 'Sec-WebSocket-Version': '12' }, undefined, 426],
  ['v255', { 'Sec-WebSocket-Version': '255' }, undefined, 426],
  ['version missing', { 'Sec-WebSocket-Version': null }, undefined, 426],
  ['version with a leading zero', { 'Sec-WebSocket-Version': '013' }, undefined, 400],
  ['version not a number', { 'Sec-WebSocket-Version': 'thirteen' }, undefined, 400],
  ['version 256', { 'Sec-WebSocket-Version': '256' }, undefined, 400],
  ['key missing', { 'Sec-WebSocket-Key': null }, undefined, 400],
  ['15-byte key', { 'Sec-WebSocket-Key': key(15) }, undefined, 400],
  ['17-byte key', { 'Sec-WebSocket-Key': key(17) }, undefined, 400],
  ['non-base64 key', { 'Sec-WebSocket-Key': '!!!!!!!!!!!!!!!!!!!!!!==' }, undefined, 400],
  ['unpadded 16-byte key', { 'Sec-WebSocket-Key': RFC_KEY.slice(0, 22) }, undefined, 400],
  ['POST', {}, 'POST /chat HTTP/1.1', 405],
  ['HTTP/1.0', {}, 'GET /chat HTTP/1.0', 400],
  ['Connection: keep-alive, Upgrade', { Connection: 'keep-alive, Upgrade' }, undefined, { version: 13, origin: null }],
  ['Connection over two lines', { Connection: ['keep-alive', 'upgrade'] }, undefined, { version: 13, origin: null }],
  ['Connection: keep-alive only', { Connection: 'keep-alive' }, undefined, 400],
  ['Upgrade: WebSocket casing', { Upgrade: 'WebSocket' }, undefined, { version: 13, origin: null }],
  ['Upgrade list naming websocket', { Upgrade: 'h2c, websocket' }, undefined, { version: 13, origin: null }],
  ['Upgrade without websocket', { Upgrade: 'h2c' }, undefined, 400],
  ['plain GET: neither Upgrade nor Connection upgrade', { Upgrade: null, Connection: null }, undefined, 426],
  ['Upgrade without Connection', { Connection: null }, undefined, 400],
  ['duplicate subprotocols', { 'Sec-WebSocket-Protocol': 'chat, chat' }, undefined, 400],
  ['subprotocol not a token', { 'Sec-WebSocket-Protocol': 'a b' }, undefined, 400],
  ['empty subprotocol field', { 'Sec-WebSocket-Protocol': '' }, undefined, 400],
  ['malformed extensions', { 'Sec-WebSocket-Extensions': 'permessage-deflate; =1' }, undefined, 400],
  ['asterisk-form target', {}, 'GET * HTTP/1.1', 400],
  ['authority-form target', {}, 'GET example.com:80 HTTP/1.1', 400],
  ['absolute-form target', {}, 'GET ws://server.example.com/chat?y HTTP/1.1', { version: 13, origin: null }],
];

for (const [name, fields, requestLine, expected] of cases) {
  test(`handshake: ${name}`, () => {
    const h = head(fields, requestLine);
    if (typeof expected === 'number') {
      const rejection = rejected(h);
      assert.equal(rejection.status, expected, rejection.reason);
      const bytes = formatRejectResponse(rejection).toString('latin1');
      assert.match(bytes, new RegExp(`^HTTP/1\\.1 ${expected} `));
      assert.match(bytes, /\r\nConnection: close/);
      if (expected === 426) {
        assert.match(bytes, /\r\nSec-WebSocket-Version: 13, 8\r\n/);
        assert.match(bytes, /\r\nUpgrade: websocket\r\n/);
      }
      if (expected === 405) assert.match(bytes, /\r\nAllow: GET\r\n/);
    } else {
      const hs = accepted(h);
      assert.equal(hs.version, expected.version);
      assert.equal(hs.origin, expected.origin);
      assert.equal(hs.accept, RFC_ACCEPT);
    }
  });
}

test('refusal bytes are exact: status line, Connection: close, text body with its length', () => {
  const rejection = rejected(head({ 'Sec-WebSocket-Version': '9' }));
  assert.equal(
    formatRejectResponse(rejection).toString('latin1'),
    'HTTP/1.1 426 Upgrade Required\r\nConnection: close, Upgrade\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 37\r\n' +
      'Upgrade: websocket\r\nSec-WebSocket-Version: 13, 8\r\n\r\nWebSocket version 9 is not supported\n',
  );
  const forbidden = formatRejectResponse(rejected(head({ Origin: 'http://evil' }), { checkOrigin: () => false })).toString('latin1');
  assert.equal(forbidden, 'HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 19\r\n\r\norigin not allowed\n');
  assert.match(formatRejectResponse(rejected(head({ 'Sec-WebSocket-Key': null }))).toString('latin1'), /^HTTP\/1\.1 400 Bad Request\r\n/);
  // Values are checked: nothing can split the response.
  assert.throws(() => formatAcceptResponse({ accept: RFC_ACCEPT, protocol: null }, { headers: [['X', 'a\r\nInjected: 1']] }), { code: ErrorCodes.INVALID_ARGUMENT });
});

test('origin hook: sees the version-specific origin (null when absent); false is a 403', () => {
  const seen: (string | null)[] = [];
  const checkOrigin = (origin: string | null): boolean => (seen.push(origin), origin === 'https://good.example');
  assert.equal(rejected(head({ Origin: 'https://evil.example' }), { checkOrigin }).status, 403);
  accepted(head({ Origin: 'https://good.example' }), { checkOrigin });
  assert.equal(rejected(head({ 'Sec-WebSocket-Version': '8', Origin: 'https://good.example' }), { checkOrigin }).status, 403);
  accepted(head({ 'Sec-WebSocket-Version': '8', 'Sec-WebSocket-Origin': 'https://good.example' }), { checkOrigin });
  assert.deepEqual(seen, ['https://evil.example', 'https://good.example', null, 'https://good.example']);
});

test('subprotocol selection: one of the offered, none by default, a wrong pick throws', () => {
  const offered = head({ 'Sec-WebSocket-Protocol': ['chat', 'superchat, v2.json'] });
  assert.deepEqual(accepted(offered).protocols, ['chat', 'superchat', 'v2.json']);
  assert.equal(accepted(offered).protocol, null, 'no hook: nothing selected');
  assert.equal(accepted(offered, { selectProtocol: (p) => p.find((x) => x.startsWith('v2')) ?? null }).protocol, 'v2.json');
  assert.equal(accepted(offered, { selectProtocol: () => null }).protocol, null);
  assert.throws(() => validateUpgrade(offered, { selectProtocol: () => 'other' }), { code: ErrorCodes.INVALID_ARGUMENT });
  let called = false;
  accepted(head(), { selectProtocol: () => ((called = true), null) });
  assert.equal(called, false, 'not called when nothing is offered');
});

test('extension offers: parameters, quoted values, bare client_max_window_bits, repeats kept', () => {
  const hs = accepted(
    head({
      'Sec-WebSocket-Extensions': [
        'permessage-deflate; client_max_window_bits; server_max_window_bits="10"',
        'permessage-deflate ;client_no_context_takeover ; server_max_window_bits = 12 , x-ext; a="b\\c"; a=d',
      ],
    }),
  );
  assert.deepEqual(hs.extensions, [
    { name: 'permessage-deflate', params: [['client_max_window_bits', true], ['server_max_window_bits', '10']] },
    { name: 'permessage-deflate', params: [['client_no_context_takeover', true], ['server_max_window_bits', '12']] },
    { name: 'x-ext', params: [['a', 'bc'], ['a', 'd']] },
  ]);
  assert.deepEqual(parseExtensions(' , x ,, '), [{ name: 'x', params: [] }]);
  for (const bad of ['x; a="b c"', 'x; a="open', ';x', 'x;', 'x; a=', 'x y', 'x; a=b c', 'x, "y"']) assert.equal(parseExtensions(bad), null, bad);
  assert.equal(formatExtensions([{ name: 'x', params: [['a', true], ['b', '1'], ['c', 'needs quoting']] }]), 'x; a; b=1; c="needs quoting"');
});

test('path and query from the request-target', () => {
  const at = (target: string): [string, string | null] => {
    const hs = accepted(head({}, `GET ${target} HTTP/1.1`));
    return [hs.path, hs.query];
  };
  assert.deepEqual(at('/chat?x=1&y'), ['/chat', 'x=1&y']);
  assert.deepEqual(at('/'), ['/', null]);
  assert.deepEqual(at('/a?'), ['/a', '']);
  assert.deepEqual(at('/a%20b'), ['/a%20b', null]);
  assert.deepEqual(at('http://h.example'), ['/', null]);
  assert.deepEqual(at('wss://h.example:8443/p?q'), ['/p', 'q']);
  assert.equal(rejected(head({}, 'GET /a#frag HTTP/1.1')).status, 400);
});

test('client helper: injected randomness, origin field by version, and a round trip through the server side', () => {
  assert.equal(isWebSocketKey(RFC_KEY), true);
  for (const version of [13, 8] as const) {
    const upgrade = buildClientUpgrade({ host: 'h.example:80', path: '/s?q', version, origin: 'http://o.example', protocols: ['a', 'b'], randomBytes: () => Buffer.from('the sample nonce') });
    assert.equal(upgrade.key, RFC_KEY);
    assert.equal(upgrade.accept, RFC_ACCEPT);
    const parsed = new RequestHeadParser().parse(upgrade.request);
    assert.ok(parsed.kind === 'head' && parsed.consumed === upgrade.request.length);
    assert.equal(parsed.head.get(version === 13 ? 'origin' : 'sec-websocket-origin'), 'http://o.example');
    assert.equal(parsed.head.has(version === 13 ? 'sec-websocket-origin' : 'origin'), false);
    const hs = accepted(parsed.head, { selectProtocol: (p) => p[1]! });
    assert.deepEqual([hs.version, hs.origin, hs.path, hs.query, hs.protocol], [version, 'http://o.example', '/s', 'q', 'b']);

    const answer = (bytes: Buffer): ResponseHead => {
      const result = new ResponseHeadParser().parse(bytes);
      if (result.kind !== 'head') assert.fail('response did not parse');
      return result.head;
    };
    const ok = checkUpgradeResponse(upgrade, answer(formatAcceptResponse(hs)));
    assert.deepEqual(ok, { kind: 'accept', protocol: 'b', extensions: [] });
    const wrongKey = checkUpgradeResponse(upgrade, answer(formatAcceptResponse({ accept: websocketAccept(key(16)), protocol: null })));
    assert.ok(wrongKey.kind === 'reject' && wrongKey.error.code === ErrorCodes.WEBSOCKET_HANDSHAKE);
    assert.equal(checkUpgradeResponse(upgrade, answer(formatAcceptResponse({ accept: hs.accept, protocol: 'c' }))).kind, 'reject');
    assert.equal(checkUpgradeResponse(upgrade, answer(formatAcceptResponse(hs, { extensions: 'permessage-deflate' }))).kind, 'reject');
    assert.equal(checkUpgradeResponse(upgrade, answer(formatRejectResponse(rejected(head({ 'Sec-WebSocket-Version': '9' }))))).kind, 'reject');
  }
  assert.throws(() => buildClientUpgrade({ host: 'h', randomBytes: () => new Uint8Array(8) }), { code: ErrorCodes.INVALID_ARGUMENT });
  assert.throws(() => buildClientUpgrade({ host: 'h\r\nX: y' }), { code: ErrorCodes.INVALID_ARGUMENT });
});

/** A node:net server answering upgrades with the parser and the handshake; records what it accepted. */
async function tinyServer(seen: AcceptedHandshake[]): Promise<{ server: net.Server; port: number }> {
  const server = net.createServer((socket) => {
    const parser = new RequestHeadParser();
    let buffered = Buffer.alloc(0);
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const result = parser.parse(buffered);
      if (result.kind === 'more') return;
      socket.removeAllListeners('data');
      if (result.kind === 'error') return void socket.end(formatRejectResponse({ status: 400, reason: result.error.message, headers: [] }));
      const decision = validateUpgrade(result.head, { selectProtocol: (p) => p[0]! });
      if (decision.kind === 'reject') return void socket.end(formatRejectResponse(decision.rejection));
      seen.push(decision.handshake);
      socket.write(formatAcceptResponse(decision.handshake));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as net.AddressInfo).port };
}

test('interop: the npm ws client (protocolVersion 13 and 8) completes the handshake with our server side', { timeout: 15_000 }, async () => {
  const seen: AcceptedHandshake[] = [];
  const { server, port } = await tinyServer(seen);
  try {
    for (const protocolVersion of [13, 8]) {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/echo?v=${protocolVersion}`, ['proto-a', 'proto-b'], { protocolVersion, origin: 'http://origin.example', handshakeTimeout: 5000 });
      const upgraded = once(ws, 'upgrade');
      await once(ws, 'open');
      const [response] = (await upgraded) as [{ statusCode: number }];
      assert.equal(response.statusCode, 101);
      assert.equal(ws.protocol, 'proto-a');
      const closed = once(ws, 'close');
      ws.terminate();
      await closed;
    }
  } finally {
    server.close();
  }
  assert.deepEqual(
    seen.map((h) => [h.version, h.origin, h.path, h.query, h.protocols]),
    [
      [13, 'http://origin.example', '/echo', 'v=13', ['proto-a', 'proto-b']],
      [8, 'http://origin.example', '/echo', 'v=8', ['proto-a', 'proto-b']],
    ],
  );
  // ws offers permessage-deflate with a bare client_max_window_bits by default.
  assert.deepEqual(seen[0]!.extensions, [{ name: 'permessage-deflate', params: [['client_max_window_bits', true]] }]);
});

test('interop: our client helper (13 and 8) against the npm ws server', { timeout: 15_000 }, async () => {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: (protocols) => (protocols.has('b') ? 'b' : false) });
  await once(wss, 'listening');
  const { port } = wss.address() as net.AddressInfo;
  const origins: (string | undefined)[] = [];
  wss.on('connection', (_socket, request) => origins.push(request.headers.origin ?? request.headers['sec-websocket-origin']?.toString()));
  try {
    for (const version of [13, 8] as const) {
      const upgrade = buildClientUpgrade({ host: `127.0.0.1:${port}`, version, origin: `http://v${version}.example`, protocols: ['a', 'b'] });
      const socket = net.connect(port, '127.0.0.1');
      // A server that never answers fails the test instead of leaving the socket (and the file) open.
      const guard = setTimeout(() => socket.destroy(new Error('no 101 within 5 s')), 5000);
      socket.write(upgrade.request);
      const parser = new ResponseHeadParser();
      let buffered = Buffer.alloc(0);
      for await (const chunk of socket) {
        buffered = Buffer.concat([buffered, chunk as Buffer]);
        const result = parser.parse(buffered);
        if (result.kind === 'more') continue;
        assert.ok(result.kind === 'head', result.kind === 'error' ? result.error.message : '');
        assert.deepEqual(checkUpgradeResponse(upgrade, result.head), { kind: 'accept', protocol: 'b', extensions: [] });
        assert.equal(result.consumed, buffered.length, 'ws sends nothing after its 101');
        break;
      }
      clearTimeout(guard);
      socket.destroy();
    }
  } finally {
    for (const client of wss.clients) client.terminate();
    wss.close();
  }
  assert.deepEqual(origins, ['http://v13.example', 'http://v8.example']);
});
