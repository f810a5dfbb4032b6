/** Close payloads: which codes may be on the wire, decoding (1002 / 1007 failures) and encoding (what may never be sent). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CloseCodes, ErrorCodes, MAX_CLOSE_REASON_BYTES, decodeClosePayload, encodeClosePayload, isValidCloseCode } from '../../framework/index.js';

const VALID = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999];
const INVALID = [0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535];

test('valid close codes: 1000–1003, 1007–1014, 3000–4999; everything else is not', () => {
  for (const code of VALID) assert.equal(isValidCloseCode(code), true, `${code}`);
  for (const code of INVALID) assert.equal(isValidCloseCode(code), false, `${code}`);
  let valid = 0;
  for (let code = 0; code <= 0xffff; code++) if (isValidCloseCode(code)) valid++;
  assert.equal(valid, 4 + 8 + 2000);
});

test('decodeClosePayload: empty is 1005, one byte and bad codes are 1002, a bad reason is 1007', () => {
  assert.deepEqual(decodeClosePayload(Buffer.alloc(0)), { code: CloseCodes.NO_STATUS, reason: '' });
  for (const code of VALID) assert.deepEqual(decodeClosePayload(Buffer.from([code >> 8, code & 0xff])), { code, reason: '' });
  assert.deepEqual(decodeClosePayload(Buffer.concat([Buffer.from([0x0f, 0xa0]), Buffer.from('going — away', 'utf8')])), { code: 4000, reason: 'going — away' });
  const protocol = { code: ErrorCodes.WS_PROTOCOL, closeCode: 1002 };
  for (const code of INVALID) assert.throws(() => decodeClosePayload(Buffer.from([code >> 8, code & 0xff])), protocol, `${code}`);
  assert.throws(() => decodeClosePayload(Buffer.from([0x03])), protocol);
  assert.throws(() => decodeClosePayload(Buffer.from([0x0c])), protocol);
  assert.throws(() => decodeClosePayload(Buffer.concat([Buffer.from([3, 0xe8]), Buffer.alloc(124, 0x61)])), protocol);
  assert.deepEqual(decodeClosePayload(Buffer.concat([Buffer.from([3, 0xe8]), Buffer.alloc(123, 0x61)])).reason.length, 123);
  for (const bad of [[0xff], [0xed, 0xa0, 0x80], [0xc0, 0x80], [0xe2, 0x82]]) {
    assert.throws(() => decodeClosePayload(Buffer.from([3, 0xe8, ...bad])), { code: ErrorCodes.WS_INVALID_UTF8, closeCode: 1007 });
  }
});

test('encodeClosePayload: never 1005, 1006 or 1015; reasons need a code and fit 123 bytes', () => {
  assert.deepEqual(encodeClosePayload(), Buffer.alloc(0));
  assert.deepEqual(encodeClosePayload(1000), Buffer.from([0x03, 0xe8]));
  assert.deepEqual(encodeClosePayload(4999, 'é'), Buffer.from([0x13, 0x87, 0xc3, 0xa9]));
  assert.deepEqual(encodeClosePayload(1001, 'x'.repeat(MAX_CLOSE_REASON_BYTES)).length, 125);
  const invalid = { code: ErrorCodes.INVALID_ARGUMENT };
  for (const code of [...INVALID, 1000.5, Number.NaN]) assert.throws(() => encodeClosePayload(code), invalid, `${code}`);
  assert.throws(() => encodeClosePayload(1000, 'x'.repeat(124)), invalid);
  assert.throws(() => encodeClosePayload(1000, 'é'.repeat(62)), invalid, '124 bytes in 62 characters');
  assert.throws(() => encodeClosePayload(undefined, 'why'), invalid);
  assert.throws(() => encodeClosePayload(1000, Buffer.from([0xff])), invalid);
  for (const code of VALID) assert.deepEqual(decodeClosePayload(encodeClosePayload(code, 'r')), { code, reason: 'r' });
});
