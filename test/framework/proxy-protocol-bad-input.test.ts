/**
 * parseProxyHeader on input no valid header starts with: each case is invalid, and invalid *as soon as*
 * the offending byte arrives (every shorter prefix is need-more), never later. Then a seeded fuzz loop:
 * random bytes, mutated and truncated valid headers; no throw, one of the three results, and results
 * consistent across prefixes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCodes, PorticoError } from '../../framework/core/errors.js';
import { type ProxyParseOptions, type ProxyParseResult, parseProxyHeader } from '../../framework/layers/proxy-protocol/parse-proxy-header.js';
import { seeded } from '../helpers/byte-chunks.js';
import { SIGNATURE, inet, inet6, sunPath, tlv, v2, withCrc } from '../helpers/proxy-header-bytes.js';

interface Bad {
  readonly name: string;
  readonly input: Buffer;
  /** How many bytes it takes to see the input is invalid: every shorter prefix must be need-more. */
  readonly at: number;
  readonly options?: ProxyParseOptions;
}

const text = (line: string): Buffer => Buffer.from(line, 'latin1');
/** A v1 case whose first bad byte ends the string `upTo`. */
const line = (name: string, input: string, upTo: string): Bad => {
  const index = input.indexOf(upTo);
  assert.ok(index >= 0, `${name}: "${upTo}" not in the input`);
  return { name, input: text(input), at: index + upTo.length };
};
const ADDR4 = inet('192.0.2.1', '192.0.2.2', 1000, 80);
const GOOD_TAIL = ' 192.0.2.2 1000 80\r\n';

const V1_BAD: Bad[] = [
  { name: 'empty-looking garbage: NUL', input: Buffer.from([0]), at: 1 },
  { name: 'garbage: 0xff', input: Buffer.from([0xff, 0xff]), at: 1 },
  { name: 'HTTP request', input: text('GET / HTTP/1.1\r\nHost: a\r\n\r\n'), at: 1 },
  { name: 'TLS ClientHello', input: Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00]), at: 1 },
  { name: 'SSH banner', input: text('SSH-2.0-OpenSSH_9.6\r\n'), at: 1 },
  line('"PROXY" without its space', 'PROXYTCP4 1.2.3.4 5.6.7.8 1 2\r\n', 'PROXYT'),
  line('lower-case "proxy"', 'proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n', 'p'),
  line('lower-case protocol', 'PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n', 'PROXY t'),
  line('protocol TCP5', 'PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n', 'TCP5'),
  line('protocol UDP4', 'PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n', 'PROXY UD'),
  line('UNKNOWN run on', 'PROXY UNKNOWNX\r\n', 'UNKNOWNX'),
  line('two spaces after PROXY', 'PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n', 'PROXY  '),
  line('two spaces between addresses', 'PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n', '1.2.3.4  '),
  line('tab for a space', 'PROXY TCP4\t1.2.3.4 5.6.7.8 1 2\r\n', 'TCP4\t'),
  line('space before CRLF', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n', '1 2 '),
  line('a fifth field', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n', '1 2 '),
  line('a missing field', 'PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n', '8 1\r'),
  line('v1 missing CRLF: bare LF', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2\nGET', '2\n'),
  line('v1 missing CRLF: CR then not LF', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rGET', '2\rG'),
  line('v1 CR CR LF', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n', '2\r\r'),
  line('UNKNOWN with a bare LF', 'PROXY UNKNOWN abc\ndef\r\n', 'abc\n'),
  { name: 'v1 over 107 bytes without CRLF (UNKNOWN and padding)', input: text(`PROXY UNKNOWN ${'a'.repeat(120)}\r\n`), at: 107 },
  { name: 'v1 CRLF as bytes 107 and 108', input: text(`PROXY UNKNOWN ${'a'.repeat(106 - 14)}\r\n`), at: 107 },
  line('port 65536', 'PROXY TCP4 192.0.2.1 192.0.2.2 65536 80\r\n', '65536'),
  line('port 99999', 'PROXY TCP4 192.0.2.1 192.0.2.2 1000 99999\r\n', '99999'),
  line('port 6 digits', 'PROXY TCP4 192.0.2.1 192.0.2.2 100000 80\r\n', '100000'),
  line('port -1', 'PROXY TCP4 192.0.2.1 192.0.2.2 -1 80\r\n', '2 -'),
  line('port +80', 'PROXY TCP4 192.0.2.1 192.0.2.2 1000 +80\r\n', '1000 +'),
  line('port 080', 'PROXY TCP4 192.0.2.1 192.0.2.2 1000 080\r\n', '080'.slice(0, 2)),
  line('port 00', 'PROXY TCP4 192.0.2.1 192.0.2.2 00 80\r\n', '2 00'),
  line('port in hex', 'PROXY TCP4 192.0.2.1 192.0.2.2 0x50 80\r\n', '0x'),
  line('empty port before CRLF', 'PROXY TCP4 192.0.2.1 192.0.2.2 1000 \r\n', '1000 \r'),
  line('IPv4 octet 256', `PROXY TCP4 256.0.0.1${GOOD_TAIL}`, '256'),
  line('IPv4 leading zero', `PROXY TCP4 10.0.0.01${GOOD_TAIL}`, '0.01'),
  line('IPv4 octal-looking 010', `PROXY TCP4 0192.0.2.1${GOOD_TAIL}`, 'TCP4 01'),
  line('IPv4 three octets', `PROXY TCP4 10.0.1${GOOD_TAIL}`, '10.0.1 '),
  line('IPv4 five octets', `PROXY TCP4 192.0.2.1.5${GOOD_TAIL}`, '192.0.2.1.'),
  line('IPv4 empty octet', `PROXY TCP4 10..0.1${GOOD_TAIL}`, '10..'),
  line('IPv4 trailing dot', `PROXY TCP4 10.0.0.${GOOD_TAIL}`, '10.0.0. '),
  line('family mismatch: IPv6 under TCP4', `PROXY TCP4 ::1${GOOD_TAIL}`, 'TCP4 :'),
  line('family mismatch: IPv4 under TCP6', 'PROXY TCP6 192.0.2.1 ::2 1 2\r\n', '192.0.2.1 '),
  line('family mismatch: destination IPv4 under TCP6', 'PROXY TCP6 ::1 192.0.2.2 1 2\r\n', '192.0.2.2 '),
  line('IPv6 zone id', 'PROXY TCP6 fe80::1%eth0 ::2 1 2\r\n', '%'),
  line('IPv6 nine groups', 'PROXY TCP6 1:2:3:4:5:6:7:8:9 ::2 1 2\r\n', '8:9 '),
  line('IPv6 seven groups without ::', 'PROXY TCP6 1:2:3:4:5:6:7 ::2 1 2\r\n', '6:7 '),
  line('IPv6 :::', 'PROXY TCP6 :::1 ::2 1 2\r\n', ':::'),
  line('IPv6 two ::', 'PROXY TCP6 1::2::3 ::2 1 2\r\n', '1::2::'),
  line('IPv6 group of 5 hex digits', 'PROXY TCP6 12345::1 ::2 1 2\r\n', '12345::1 '),
  line('IPv6 non-hex', 'PROXY TCP6 g::1 ::2 1 2\r\n', 'TCP6 g'),
  line('IPv6 leading single colon', 'PROXY TCP6 :1:2:3:4:5:6:7 ::2 1 2\r\n', ':7 '),
  { name: 'IPv6 text over 45 characters', input: text(`PROXY TCP6 ${'0:'.repeat(23)}1 ::2 1 2\r\n`), at: 11 + 46 },
  line('IPv6 bad embedded IPv4', 'PROXY TCP6 ::ffff:1.2.3.04 ::2 1 2\r\n', '.04 '),
];

const v2Bad = (name: string, input: Buffer, at: number, options?: ProxyParseOptions): Bad => ({ name, input, at, ...(options ? { options } : {}) });
const crcHeader = withCrc(v2({ body: [ADDR4, tlv(0x01, 'h2'), tlv(0x03, [0, 0, 0, 0])] }));
const badCrc = Buffer.from(crcHeader);
badCrc[badCrc.length - 1] ^= 0x01;
const tamperedAfterCrc = Buffer.from(crcHeader);
tamperedAfterCrc[16 + 12 + 3] ^= 0x20; // "h2" -> "H2": the checksum no longer matches

const V2_BAD: Bad[] = [
  v2Bad('signature wrong at byte 5', Buffer.from([...SIGNATURE.slice(0, 4), 0x01, ...SIGNATURE.slice(5), 0x21, 0x11, 0, 0]), 5),
  v2Bad('signature wrong at byte 12', Buffer.from([...SIGNATURE.slice(0, 11), 0x0d, 0x21, 0x11, 0, 0]), 12),
  v2Bad('CRLF CRLF (an HTTP/0.9-ish blank line)', Buffer.from('\r\n\r\nGET'), 5),
  v2Bad('version nibble 1', v2({ versionCommand: 0x11, body: [ADDR4] }), 13),
  v2Bad('version nibble 3', v2({ versionCommand: 0x31, body: [ADDR4] }), 13),
  v2Bad('version nibble 0', v2({ versionCommand: 0x01, body: [ADDR4] }), 13),
  v2Bad('command 2', v2({ versionCommand: 0x22, body: [ADDR4] }), 13),
  v2Bad('command 0xF', v2({ versionCommand: 0x2f, body: [ADDR4] }), 13),
  v2Bad('family 4', v2({ familyTransport: 0x41, body: [ADDR4] }), 14),
  v2Bad('family 0xF', v2({ familyTransport: 0xf1, body: [ADDR4] }), 14),
  v2Bad('transport 3', v2({ familyTransport: 0x13, body: [ADDR4] }), 14),
  v2Bad('family/transport 0xFF under LOCAL', v2({ versionCommand: 0x20, familyTransport: 0xff }), 14),
  v2Bad('length 11 for a 12-byte IPv4 block', v2({ familyTransport: 0x11, body: [ADDR4.subarray(0, 11)] }), 16),
  v2Bad('length 0 for TCP4', v2({ familyTransport: 0x11 }), 16),
  v2Bad('length 35 for a 36-byte IPv6 block', v2({ familyTransport: 0x21, length: 35, body: [Buffer.alloc(35)] }), 16),
  v2Bad('length 215 for a 216-byte UNIX block', v2({ familyTransport: 0x31, length: 215, body: [Buffer.alloc(215)] }), 16),
  v2Bad('length shorter than the address block under LOCAL too', v2({ versionCommand: 0x20, familyTransport: 0x21, length: 12, body: [Buffer.alloc(12)] }), 16),
  v2Bad('length over the default maxV2Length (1025)', v2({ length: 1025, body: [Buffer.alloc(1025)] }), 16),
  v2Bad('length 0xFFFF', v2({ length: 0xffff }), 16),
  v2Bad('length over a configured maxV2Length', v2({ body: [ADDR4, tlv(0x04, 'x')] }), 16, { maxV2Length: 15 }),
  v2Bad('TLV value past the end of the header', v2({ body: [ADDR4, Buffer.from([0x02, 0x00, 0x0a, 0x31, 0x32, 0x33, 0x34, 0x35])] }), 16 + 12 + 8),
  // haproxy reg-tests/connection/proxy_protocol_tlv_validation.vtc, client c3: TLV of 10 in a header of 20
  v2Bad('haproxy regtest c3: TLV longer than the header', Buffer.from('0d0a0d0a000d0a515549540a211100147F0000017F000001002A053902000A31323334353132333435', 'hex'), 36),
  v2Bad('TLV value one byte past the end', v2({ body: [ADDR4, tlv(0x01, 'h2').subarray(0, 4)] }), 16 + 12 + 4),
  // haproxy reg-tests/connection/proxy_protocol_tlv_validation.vtc, client c4: length 20 over 19 bytes of
  // address and TLV, so the request's "G" is read as a cut TLV header
  v2Bad(
    'haproxy regtest c4: TLVs not ending with the header',
    Buffer.concat([Buffer.from('0d0a0d0a000d0a515549540a211100147F0000017F000001002A0539' + '02000431323334', 'hex'), text('GET / HTTP/1.1\r\n\r\n')]),
    16 + 20,
  ),
  v2Bad('TLV header cut by the end (2 bytes left)', v2({ body: [ADDR4, tlv(0x04, 'x'), Buffer.from([0x04, 0x00])] }), 16 + 12 + 4 + 2),
  v2Bad('TLV header cut by the end (1 byte left)', v2({ body: [ADDR4, Buffer.from([0x04])] }), 16 + 12 + 1),
  v2Bad('CRC32C mismatch', badCrc, badCrc.length),
  v2Bad('CRC32C over bytes changed after it was computed', tamperedAfterCrc, tamperedAfterCrc.length),
  v2Bad('CRC32C TLV of 3 bytes', v2({ body: [ADDR4, tlv(0x03, [0, 0, 0])] }), 16 + 12 + 6),
  v2Bad('CRC32C TLV of 5 bytes', v2({ body: [ADDR4, tlv(0x03, [0, 0, 0, 0, 0])] }), 16 + 12 + 8),
  v2Bad('UNIQUE_ID of 129 bytes', v2({ body: [ADDR4, tlv(0x05, Buffer.alloc(129, 1))] }), 16 + 12 + 3 + 129),
  v2Bad('SSL TLV shorter than client + verify', v2({ body: [ADDR4, tlv(0x20, [1, 0, 0, 0])] }), 16 + 12 + 3 + 4),
  v2Bad('SSL sub-TLV past the end of the SSL TLV', v2({ body: [ADDR4, tlv(0x20, [1, 0, 0, 0, 0, 0x21, 0x00, 0x09, 0x54, 0x4c, 0x53])] }), 16 + 12 + 3 + 11),
  v2Bad('SSL sub-TLV header cut', v2({ body: [ADDR4, tlv(0x20, [1, 0, 0, 0, 0, 0x21, 0x00])] }), 16 + 12 + 3 + 7),
  v2Bad('UNIX source path without NUL', v2({ familyTransport: 0x31, body: [sunPath('s'.repeat(108)), sunPath('/d')] }), 16 + 216),
  v2Bad('UNIX destination path without NUL', v2({ familyTransport: 0x32, body: [sunPath('/s'), sunPath('d'.repeat(108))] }), 16 + 216),
  v2Bad('v2 where only v1 is accepted', v2({ body: [ADDR4] }), 1, { versions: [1] }),
  v2Bad('v1 where only v2 is accepted', text('PROXY UNKNOWN\r\n'), 1, { versions: [2] }),
  v2Bad('IPv6 block then a truncated TLV', v2({ familyTransport: 0x21, body: [inet6('00'.repeat(16), '00'.repeat(16), 1, 2), Buffer.from([0x01, 0x00, 0x05, 0x61])] }), 16 + 36 + 4),
];

function describe(result: ProxyParseResult): string {
  return result.kind === 'invalid' ? `invalid (${result.error.message})` : result.kind;
}

test('bad input is invalid exactly when its first bad byte arrives, with a PROXY_PROTOCOL error', () => {
  for (const c of [...V1_BAD, ...V2_BAD]) {
    for (let n = 0; n < c.at; n++) {
      const result = parseProxyHeader(c.input.subarray(0, n), c.options);
      assert.equal(result.kind, 'need-more', `${c.name}: ${n} bytes gave ${describe(result)}`);
    }
    for (const n of [c.at, c.input.length]) {
      const result = parseProxyHeader(c.input.subarray(0, n), c.options);
      assert.equal(result.kind, 'invalid', `${c.name}: ${n} bytes gave ${describe(result)}`);
      assert.ok(result.error instanceof PorticoError, c.name);
      assert.equal(result.error.code, ErrorCodes.PROXY_PROTOCOL, c.name);
      assert.equal(result.error.layer, 'layers', c.name);
      assert.ok(result.error.message.startsWith('PROXY'), c.name);
    }
  }
});

test('a v1 line cut short waits for more, however long it would still need (within 107 bytes)', () => {
  for (const partial of ['PROXY TCP4 1.2.3.4 5.6.7.8 1 2', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r', 'PROXY TCP6 ::1 ', 'PROXY UNKNOWN', `PROXY UNKNOWN ${'x'.repeat(92)}`]) {
    assert.equal(parseProxyHeader(text(partial)).kind, 'need-more', partial);
  }
  assert.equal(parseProxyHeader(text(`PROXY UNKNOWN ${'x'.repeat(93)}`)).kind, 'invalid', '107 bytes and no CR');
});

/** Valid headers the fuzz loop mutates. */
const SEEDS: Buffer[] = [
  text('PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n'),
  text('PROXY TCP6 2001:db8::1 ::ffff:1.2.3.4 65535 0\r\n'),
  text('PROXY UNKNOWN\r\n'),
  v2({ body: [ADDR4] }),
  v2({ versionCommand: 0x20, familyTransport: 0 }),
  v2({ familyTransport: 0x21, body: [inet6('20010db8'.padEnd(32, '0'), '0'.repeat(31) + '1', 1, 2), tlv(0x01, 'h2'), tlv(0x20, [1, 0, 0, 0, 0, 0x21, 0, 1, 0x41])] }),
  v2({ familyTransport: 0x31, body: [sunPath('/a'), sunPath('/b'), tlv(0x05, 'id')] }),
  crcHeader,
];

function checkResult(input: Uint8Array, result: ProxyParseResult, label: string): void {
  switch (result.kind) {
    case 'need-more':
      return;
    case 'done':
      assert.ok(Number.isInteger(result.consumed) && result.consumed > 0 && result.consumed <= input.length, `${label}: consumed ${result.consumed} of ${input.length}`);
      assert.ok(result.info.version === 1 || result.info.version === 2, label);
      return;
    case 'invalid':
      assert.ok(result.error instanceof PorticoError && result.error.code === ErrorCodes.PROXY_PROTOCOL, label);
      return;
    default:
      assert.fail(`${label}: result of no known kind`);
  }
}

test('fuzz: 20,000 seeded inputs never throw, always answer one of the three kinds, consistently across prefixes', () => {
  const random = seeded(0x9e3779b9);
  const int = (n: number): number => Math.floor(random() * n);
  const counts = { 'need-more': 0, done: 0, invalid: 0 };
  for (let i = 0; i < 20_000; i++) {
    let input: Buffer;
    const mode = i % 4;
    if (mode === 0) {
      input = Buffer.from(Array.from({ length: int(300) }, () => int(256)));
    } else if (mode === 1) {
      // A signature, then random bytes: reaches the v2 field checks and the TLV walk.
      input = Buffer.concat([Buffer.from(SIGNATURE), Buffer.from([0x20 | int(3), int(0x40), 0, int(256)]), Buffer.from(Array.from({ length: int(300) }, () => int(256)))]);
    } else {
      input = Buffer.from(SEEDS[int(SEEDS.length)]);
      const edits = 1 + int(4);
      for (let e = 0; e < edits; e++) {
        const at = int(input.length);
        const what = int(4);
        if (what === 0) input[at] = int(256);
        else if (what === 1) input[at] ^= 1 << int(8);
        else if (what === 2) input = input.subarray(0, at);
        else input = Buffer.concat([input.subarray(0, at), Buffer.from([int(256)]), input.subarray(at)]);
      }
      if (mode === 3) input = Buffer.concat([input, Buffer.from(Array.from({ length: int(40) }, () => int(256)))]);
    }
    const options: ProxyParseOptions | undefined = i % 7 === 0 ? { maxV2Length: int(400) } : undefined;
    let result: ProxyParseResult;
    try {
      result = parseProxyHeader(input, options);
    } catch (error) {
      assert.fail(`input ${i} (${input.toString('hex')}) threw: ${String(error)}`);
    }
    checkResult(input, result, `input ${i} (${input.toString('hex')})`);
    counts[result.kind]++;
    if (i % 20 === 0 && input.length > 0) {
      // Consistency: a done header parses the same from exactly its own bytes; need-more stays need-more
      // on a shorter prefix; invalid stays invalid with more bytes.
      if (result.kind === 'done') {
        const again = parseProxyHeader(input.subarray(0, result.consumed), options);
        assert.equal(again.kind, 'done', `input ${i}`);
        assert.equal(again.consumed, result.consumed, `input ${i}`);
        assert.equal(parseProxyHeader(input.subarray(0, result.consumed - 1), options).kind, 'need-more', `input ${i}`);
      } else if (result.kind === 'need-more') {
        assert.equal(parseProxyHeader(input.subarray(0, int(input.length)), options).kind, 'need-more', `input ${i}`);
      } else {
        assert.equal(parseProxyHeader(Buffer.concat([input, Buffer.from([int(256)])]), options).kind, 'invalid', `input ${i}`);
      }
    }
  }
  // The loop must have reached every outcome, or it tested less than it claims.
  for (const [kind, count] of Object.entries(counts)) assert.ok(count > 100, `only ${count} ${kind} results`);
});
