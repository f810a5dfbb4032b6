/**
 * permessage-deflate negotiation (RFC 7692 §7) as a table: a Sec-WebSocket-Extensions offer and the
 * server's options in, the response element (or a decline) and the agreed parameters out. Option
 * checks. No sockets here: websocket-deflate-server.test.ts runs the same over TCP.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  ErrorCodes,
  formatExtensions,
  negotiatePerMessageDeflate,
  parseExtensions,
  resolvePerMessageDeflateOptions,
  sharedZlibGate,
  type PerMessageDeflateOptions,
  type PerMessageDeflateParams,
} from '../../framework/index.js';

function negotiate(offer: string, options: PerMessageDeflateOptions = {}): { response: string; params: PerMessageDeflateParams } | null {
  const offers = parseExtensions(offer);
  assert.ok(offers !== null, `offer ${offer} parses`);
  const agreed = negotiatePerMessageDeflate(offers, resolvePerMessageDeflateOptions(options));
  return agreed === null ? null : { response: formatExtensions([agreed.response]), params: agreed.params };
}

/** [offer, server options, response or null for a decline]. */
const table: [string, PerMessageDeflateOptions, string | null][] = [
  // What clients send.
  ['permessage-deflate', {}, 'permessage-deflate'],
  ['permessage-deflate; client_max_window_bits', {}, 'permessage-deflate'], // ws and browsers
  ['permessage-deflate; client_max_window_bits=10', {}, 'permessage-deflate; client_max_window_bits=10'],
  ['permessage-deflate; client_max_window_bits=15', {}, 'permessage-deflate'],
  ['permessage-deflate; server_max_window_bits=10', {}, 'permessage-deflate; server_max_window_bits=10'],
  ['permessage-deflate; server_max_window_bits=8', {}, 'permessage-deflate; server_max_window_bits=8'],
  ['permessage-deflate; server_max_window_bits=15', {}, 'permessage-deflate; server_max_window_bits=15'],
  ['permessage-deflate; server_no_context_takeover', {}, 'permessage-deflate; server_no_context_takeover'],
  ['permessage-deflate; client_no_context_takeover', {}, 'permessage-deflate; client_no_context_takeover'],
  [
    'permessage-deflate; client_max_window_bits=9; server_max_window_bits=11; client_no_context_takeover; server_no_context_takeover',
    {},
    'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=11; client_max_window_bits=9',
  ],
  ['permessage-deflate; server_max_window_bits="12"', {}, 'permessage-deflate; server_max_window_bits=12'], // quoted values are allowed
  ['permessage-deflate;server_max_window_bits=12 ;client_max_window_bits', {}, 'permessage-deflate; server_max_window_bits=12'],
  // Declined: an undefined parameter, an invalid value, a repeated parameter (RFC 7692 §7).
  ['permessage-deflate; server_max_window_bits', {}, null],
  ['permessage-deflate; server_max_window_bits=7', {}, null],
  ['permessage-deflate; server_max_window_bits=16', {}, null],
  ['permessage-deflate; server_max_window_bits=010', {}, null],
  ['permessage-deflate; server_max_window_bits=1x', {}, null],
  ['permessage-deflate; client_max_window_bits=7', {}, null],
  ['permessage-deflate; client_max_window_bits=16', {}, null],
  ['permessage-deflate; server_no_context_takeover=1', {}, null],
  ['permessage-deflate; client_no_context_takeover=true', {}, null],
  ['permessage-deflate; mux', {}, null],
  ['permessage-deflate; client_max_window_bits; client_max_window_bits', {}, null],
  ['permessage-deflate; server_max_window_bits=10; server_max_window_bits=10', {}, null],
  ['permessage-deflate; server_no_context_takeover; server_no_context_takeover', {}, null],
  ['x-webkit-deflate-frame', {}, null],
  ['', {}, null],
  // The first acceptable offer in the client's order wins; other extensions are skipped.
  ['permessage-deflate; mux, permessage-deflate; server_max_window_bits=12', {}, 'permessage-deflate; server_max_window_bits=12'],
  ['x-webkit-deflate-frame, permessage-deflate; client_no_context_takeover, permessage-deflate', {}, 'permessage-deflate; client_no_context_takeover'],
  ['permessage-deflate; server_max_window_bits=9, permessage-deflate', {}, 'permessage-deflate; server_max_window_bits=9'],
  // Server options.
  ['permessage-deflate', { serverNoContextTakeover: true }, 'permessage-deflate; server_no_context_takeover'],
  ['permessage-deflate', { clientNoContextTakeover: true }, 'permessage-deflate; client_no_context_takeover'],
  ['permessage-deflate', { serverMaxWindowBits: 10 }, 'permessage-deflate; server_max_window_bits=10'],
  ['permessage-deflate; server_max_window_bits=12', { serverMaxWindowBits: 10 }, 'permessage-deflate; server_max_window_bits=10'],
  ['permessage-deflate; server_max_window_bits=9', { serverMaxWindowBits: 10 }, 'permessage-deflate; server_max_window_bits=9'],
  ['permessage-deflate; client_max_window_bits', { clientMaxWindowBits: 10 }, 'permessage-deflate; client_max_window_bits=10'],
  ['permessage-deflate; client_max_window_bits=12', { clientMaxWindowBits: 10 }, 'permessage-deflate; client_max_window_bits=10'],
  ['permessage-deflate; client_max_window_bits=9', { clientMaxWindowBits: 10 }, 'permessage-deflate; client_max_window_bits=9'],
  ['permessage-deflate', { clientMaxWindowBits: 10 }, null], // cannot be held to the limit
  ['permessage-deflate, permessage-deflate; client_max_window_bits', { clientMaxWindowBits: 8 }, 'permessage-deflate; client_max_window_bits=8'],
  [
    'permessage-deflate; client_max_window_bits',
    { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 8, clientMaxWindowBits: 8 },
    'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=8; client_max_window_bits=8',
  ],
];

describe('permessage-deflate negotiation', () => {
  for (const [offer, options, response] of table) {
    test(`${JSON.stringify(offer)} with ${JSON.stringify(options)} → ${response ?? 'declined'}`, () => {
      const agreed = negotiate(offer, options);
      assert.equal(agreed === null ? null : agreed.response, response);
    });
  }

  test('agreed parameters: what each side compresses with', () => {
    assert.deepEqual(negotiate('permessage-deflate; client_max_window_bits')!.params, {
      serverNoContextTakeover: false,
      clientNoContextTakeover: false,
      serverMaxWindowBits: 15,
      clientMaxWindowBits: 15,
    });
    assert.deepEqual(negotiate('permessage-deflate; server_max_window_bits=9; client_max_window_bits=11; client_no_context_takeover')!.params, {
      serverNoContextTakeover: false,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 9,
      clientMaxWindowBits: 11,
    });
    assert.deepEqual(negotiate('permessage-deflate; server_no_context_takeover; client_max_window_bits', { clientMaxWindowBits: 12, serverMaxWindowBits: 13 })!.params, {
      serverNoContextTakeover: true,
      clientNoContextTakeover: false,
      serverMaxWindowBits: 13,
      clientMaxWindowBits: 12,
    });
  });

  test('options: defaults, ranges, and one shared gate per concurrency limit', () => {
    const resolved = resolvePerMessageDeflateOptions({});
    assert.equal(resolved.threshold, 1024);
    assert.equal(resolved.serverMaxWindowBits, 15);
    assert.equal(resolved.clientMaxWindowBits, 15);
    assert.equal(resolved.memLevel, 8);
    assert.equal(resolved.level, -1);
    assert.equal(resolved.gate.limit, 10);
    assert.equal(resolved.gate, sharedZlibGate(10));
    assert.equal(resolvePerMessageDeflateOptions({ concurrency: 3 }).gate, resolvePerMessageDeflateOptions({ concurrency: 3 }).gate);
    for (const bad of [
      { serverMaxWindowBits: 7 },
      { serverMaxWindowBits: 16 },
      { clientMaxWindowBits: 7.5 },
      { threshold: -1 },
      { level: 10 },
      { memLevel: 0 },
      { concurrency: 0 },
    ] as PerMessageDeflateOptions[]) {
      assert.throws(() => resolvePerMessageDeflateOptions(bad), { code: ErrorCodes.INVALID_ARGUMENT }, JSON.stringify(bad));
    }
  });
});
