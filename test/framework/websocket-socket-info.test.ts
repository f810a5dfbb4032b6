/** SocketInfoCache: sockets whose handshakes settled the same things share one frozen info. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type SocketInfo, SocketInfoCache, ownString } from '../../framework/websocket/socket-info.js';

const base: SocketInfo = { version: 13, protocol: null, path: '/echo', query: null, origin: null, extensions: '', perMessageDeflate: null };

test('equal handshakes share one frozen info; any difference makes another', () => {
  const cache = new SocketInfoCache();
  const a = cache.intern({ ...base });
  assert.equal(cache.intern({ ...base }), a);
  assert.ok(Object.isFrozen(a));
  const rows: [string, Partial<SocketInfo>][] = [
    ['version', { version: 8 }],
    ['protocol', { protocol: 'chat' }],
    ['path', { path: '/chat' }],
    ['query', { query: 'a=1' }],
    ['an empty query is not no query', { query: '' }],
    ['origin', { origin: 'http://example.test' }],
    ['extensions', { extensions: 'permessage-deflate', perMessageDeflate: { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 } }],
  ];
  const seen = new Set<SocketInfo>([a]);
  for (const [what, change] of rows) {
    const info = cache.intern({ ...base, ...change });
    assert.ok(!seen.has(info), what);
    seen.add(info);
    assert.deepEqual(info, { ...base, ...change }, what);
  }
  assert.equal(cache.size, rows.length + 1);
});

test('past its limit the cache keeps nothing more: each new handshake gets its own (equal) info', () => {
  const cache = new SocketInfoCache(2);
  cache.intern({ ...base, path: '/1' });
  cache.intern({ ...base, path: '/2' });
  const third = cache.intern({ ...base, path: '/3' });
  assert.notEqual(cache.intern({ ...base, path: '/3' }), third);
  assert.deepEqual(cache.intern({ ...base, path: '/3' }), third);
  assert.equal(cache.size, 2);
});

test('ownString keeps every string exactly, long, short, non-Latin-1 and lone surrogates included', () => {
  for (const s of ['', '/a', '/a-path-longer-than-thirteen', 'http://ünïcödé.example/€', `x${'\ud800'}y-long-enough-string`, null]) {
    assert.equal(ownString(s), s);
  }
});
