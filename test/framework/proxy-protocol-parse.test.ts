/**
 * parseProxyHeader on valid headers: the spec's examples and limits, v1 TCP4/TCP6/UNKNOWN, v2 every
 * family × transport under PROXY and LOCAL, each TLV, CRC32C, the SSL sub-TLVs, haproxy's own regtest
 * bytes; then for every header every split (need-more for each proper prefix, the same `done` at full
 * length), exact `consumed` with bytes after the header, and the options.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCodes, PorticoError } from '../../framework/core/errors.js';
import { type ProxyParseResult, parseProxyHeader } from '../../framework/layers/proxy-protocol/parse-proxy-header.js';
import type { ProxyInfo, ProxyTlv } from '../../framework/layers/proxy-protocol/proxy-info.js';
import { crc32cBitwise, hex, inet, inet6, sunPath, tlv, v2, withCrc } from '../helpers/proxy-header-bytes.js';

/** ProxyInfo with byte fields as hex, for deepEqual against plain expectations. */
function plain(info: ProxyInfo): Record<string, unknown> {
  const tlvs = (list: readonly ProxyTlv[]): { type: number; value: string }[] => list.map((t) => ({ type: t.type, value: Buffer.from(t.value).toString('hex') }));
  return {
    ...info,
    tlvs: tlvs(info.tlvs),
    uniqueId: info.uniqueId === null ? null : Buffer.from(info.uniqueId).toString('hex'),
    ssl: info.ssl === null ? null : { ...info.ssl, tlvs: tlvs(info.ssl.tlvs) },
  };
}

const NONE = {
  command: 'proxy',
  source: null,
  destination: null,
  sourcePath: null,
  destinationPath: null,
  tlvs: [],
  alpn: null,
  authority: null,
  uniqueId: null,
  netns: null,
  ssl: null,
  crcChecked: false,
};

const ep = (address: string, port: number, family: 'IPv4' | 'IPv6') => ({ address, port, family });

function done(result: ProxyParseResult): { consumed: number; info: Record<string, unknown> } {
  if (result.kind !== 'done') assert.fail(`expected done, got ${result.kind}${result.kind === 'invalid' ? `: ${result.error.message}` : ''}`);
  return { consumed: result.consumed, info: plain(result.info) };
}

interface Valid {
  readonly name: string;
  readonly header: Buffer;
  readonly expected: Record<string, unknown>;
}

const v1 = (line: string): Buffer => Buffer.from(line, 'latin1');

const V1_CASES: Valid[] = [
  {
    // The spec's example line (section 2.1), its addresses swapped for documentation ones (RFC 5737).
    name: 'spec example (section 2.1)',
    header: v1('PROXY TCP4 198.51.100.1 198.51.100.11 56324 443\r\n'),
    expected: { ...NONE, version: 1, kind: 'tcp4', source: ep('198.51.100.1', 56324, 'IPv4'), destination: ep('198.51.100.11', 443, 'IPv4') },
  },
  {
    name: 'spec longest TCP4 line (56 bytes)',
    header: v1('PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n'),
    expected: { ...NONE, version: 1, kind: 'tcp4', source: ep('255.255.255.255', 65535, 'IPv4'), destination: ep('255.255.255.255', 65535, 'IPv4') },
  },
  {
    name: 'TCP4 zeros',
    header: v1('PROXY TCP4 0.0.0.0 192.0.2.1 0 0\r\n'),
    expected: { ...NONE, version: 1, kind: 'tcp4', source: ep('0.0.0.0', 0, 'IPv4'), destination: ep('192.0.2.1', 0, 'IPv4') },
  },
  {
    name: 'spec longest TCP6 line (104 bytes)',
    header: v1(`PROXY TCP6 ${Array(8).fill('ffff').join(':')} ${Array(8).fill('FFFF').join(':')} 65535 65535\r\n`),
    expected: {
      ...NONE,
      version: 1,
      kind: 'tcp6',
      source: ep('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 65535, 'IPv6'),
      destination: ep('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 65535, 'IPv6'),
    },
  },
  {
    name: 'TCP6 written long, read as Node writes it',
    header: v1('PROXY TCP6 2001:0DB8:0000:0000:0000:0000:0000:0001 0:0:0:0:0:0:0:1 1234 80\r\n'),
    expected: { ...NONE, version: 1, kind: 'tcp6', source: ep('2001:db8::1', 1234, 'IPv6'), destination: ep('::1', 80, 'IPv6') },
  },
  {
    name: 'TCP6 IPv4-mapped, dotted and hex',
    header: v1('PROXY TCP6 ::ffff:192.0.2.1 ::ffff:c000:202 40000 443\r\n'),
    expected: { ...NONE, version: 1, kind: 'tcp6', source: ep('::ffff:192.0.2.1', 40000, 'IPv6'), destination: ep('::ffff:192.0.2.2', 443, 'IPv6') },
  },
  { name: 'UNKNOWN short form (15 bytes)', header: v1('PROXY UNKNOWN\r\n'), expected: { ...NONE, version: 1, kind: 'unknown' } },
  {
    name: 'spec worst case: UNKNOWN with two IPv6 addresses (107 bytes)',
    header: v1(`PROXY UNKNOWN ${Array(8).fill('ffff').join(':')} ${Array(8).fill('ffff').join(':')} 65535 65535\r\n`),
    expected: { ...NONE, version: 1, kind: 'unknown' },
  },
  { name: 'UNKNOWN followed by anything up to CRLF', header: v1('PROXY UNKNOWN  \x00junk\x7f\xff here\r\n'), expected: { ...NONE, version: 1, kind: 'unknown' } },
];

const ADDR4 = inet('192.0.2.1', '198.51.100.2', 40000, 443);
const ADDR6 = inet6('20010db8000000000000000000000001', '20010db8000000000000000000000002', 1, 65535);
const UNIX = Buffer.concat([sunPath('/run/client.sock'), sunPath('/run/server.sock')]);
const SRC4 = ep('192.0.2.1', 40000, 'IPv4');
const DST4 = ep('198.51.100.2', 443, 'IPv4');
const SRC6 = ep('2001:db8::1', 1, 'IPv6');
const DST6 = ep('2001:db8::2', 65535, 'IPv6');
const V2 = { ...NONE, version: 2 };
const SSL_VALUE = Buffer.concat([
  Buffer.from([0x07, 0, 0, 0, 0]),
  tlv(0x21, 'TLSv1.3'),
  tlv(0x22, 'client.example'),
  tlv(0x23, 'TLS_AES_128_GCM_SHA256'),
  tlv(0x24, 'RSA-SHA256'),
  tlv(0x25, 'RSA2048'),
  tlv(0x26, 'X25519'),
  tlv(0x27, 'rsa_pss_rsae_sha256'),
  tlv(0x28, [0x30, 0x82]),
]);
/** A CRC32C TLV before another: the checksum field sits at 16 + 12 + 3. */
const CRC_FIRST = (() => {
  const header = v2({ body: [ADDR4, tlv(0x03, [0, 0, 0, 0]), tlv(0x02, 'a')] });
  header.writeUInt32BE(crc32cBitwise(header), 16 + 12 + 3);
  return header;
})();

/** v2: every family × transport byte, PROXY then LOCAL (LOCAL keeps the kind, drops the addresses). */
const FAMILY_CASES: { byte: number; body: Buffer; kind: string; addresses: Record<string, unknown> }[] = [
  { byte: 0x00, body: Buffer.alloc(0), kind: 'unknown', addresses: {} },
  { byte: 0x01, body: Buffer.alloc(0), kind: 'unknown', addresses: {} },
  { byte: 0x02, body: Buffer.alloc(0), kind: 'unknown', addresses: {} },
  { byte: 0x10, body: Buffer.alloc(0), kind: 'unknown', addresses: {} },
  { byte: 0x11, body: ADDR4, kind: 'tcp4', addresses: { source: SRC4, destination: DST4 } },
  { byte: 0x12, body: ADDR4, kind: 'udp4', addresses: { source: SRC4, destination: DST4 } },
  { byte: 0x20, body: Buffer.alloc(0), kind: 'unknown', addresses: {} },
  { byte: 0x21, body: ADDR6, kind: 'tcp6', addresses: { source: SRC6, destination: DST6 } },
  { byte: 0x22, body: ADDR6, kind: 'udp6', addresses: { source: SRC6, destination: DST6 } },
  { byte: 0x30, body: Buffer.alloc(0), kind: 'unknown', addresses: {} },
  { byte: 0x31, body: UNIX, kind: 'unix-stream', addresses: { sourcePath: '/run/client.sock', destinationPath: '/run/server.sock' } },
  { byte: 0x32, body: UNIX, kind: 'unix-dgram', addresses: { sourcePath: '/run/client.sock', destinationPath: '/run/server.sock' } },
];

const V2_CASES: Valid[] = [
  ...FAMILY_CASES.map((c) => ({
    name: `PROXY family/transport 0x${c.byte.toString(16).padStart(2, '0')}`,
    header: v2({ familyTransport: c.byte, body: [c.body] }),
    expected: { ...V2, kind: c.kind, ...c.addresses },
  })),
  ...FAMILY_CASES.map((c) => ({
    name: `LOCAL family/transport 0x${c.byte.toString(16).padStart(2, '0')}`,
    header: v2({ versionCommand: 0x20, familyTransport: c.byte, body: [c.body] }),
    expected: { ...V2, command: 'local', kind: c.kind },
  })),
  {
    name: 'LOCAL as haproxy sends it (UNSPEC, no addresses, then a TLV)',
    header: v2({ versionCommand: 0x20, familyTransport: 0x00, body: [tlv(0x04, [])] }),
    expected: { ...V2, command: 'local', kind: 'unknown', tlvs: [{ type: 4, value: '' }] },
  },
  {
    // reg-tests/connection/proxy_protocol_tlv_validation.vtc, client c1 (haproxy answers 200, echo 3132333435)
    name: 'haproxy regtest: TCP4 127.0.0.1:42 -> 127.0.0.1:1337 with AUTHORITY "12345"',
    header: hex('0d 0a 0d 0a 00 0d 0a 51 55 49 54 0a 21 11 00 14 7F 00 00 01 7F 00 00 01 00 2A 05 39 02 00 05 31 32 33 34 35'),
    expected: { ...V2, kind: 'tcp4', source: ep('127.0.0.1', 42, 'IPv4'), destination: ep('127.0.0.1', 1337, 'IPv4'), authority: '12345', tlvs: [{ type: 2, value: '3132333435' }] },
  },
  {
    // reg-tests/stream/unique-id-from-proxy.vtc
    name: 'haproxy regtest: UNIQUE_ID "12345"',
    header: hex('0d 0a 0d 0a 00 0d 0a 51 55 49 54 0a 21 11 00 14 7F 00 00 01 7F 00 00 01 00 2A 05 39 05 00 05 31 32 33 34 35'),
    expected: { ...V2, kind: 'tcp4', source: ep('127.0.0.1', 42, 'IPv4'), destination: ep('127.0.0.1', 1337, 'IPv4'), uniqueId: '3132333435', tlvs: [{ type: 5, value: '3132333435' }] },
  },
  {
    name: 'TLVs: ALPN, AUTHORITY, NOOP, UNIQUE_ID of 128 bytes, NETNS, custom 0xE0, kept in order',
    header: v2({ body: [ADDR4, tlv(0x01, 'h2'), tlv(0x02, 'example.com'), tlv(0x04, [0, 0, 0]), tlv(0x05, Buffer.alloc(128, 0xab)), tlv(0x30, 'blue'), tlv(0xe0, [1, 2])] }),
    expected: {
      ...V2,
      kind: 'tcp4',
      source: SRC4,
      destination: DST4,
      alpn: 'h2',
      authority: 'example.com',
      uniqueId: 'ab'.repeat(128),
      netns: 'blue',
      tlvs: [
        { type: 1, value: '6832' },
        { type: 2, value: Buffer.from('example.com').toString('hex') },
        { type: 4, value: '000000' },
        { type: 5, value: 'ab'.repeat(128) },
        { type: 0x30, value: Buffer.from('blue').toString('hex') },
        { type: 0xe0, value: '0102' },
      ],
    },
  },
  {
    name: 'SSL with every sub-TLV',
    header: v2({ body: [ADDR4, tlv(0x20, SSL_VALUE)] }),
    expected: {
      ...V2,
      kind: 'tcp4',
      source: SRC4,
      destination: DST4,
      ssl: {
        client: 7,
        verify: 0,
        version: 'TLSv1.3',
        commonName: 'client.example',
        cipher: 'TLS_AES_128_GCM_SHA256',
        sigAlg: 'RSA-SHA256',
        keyAlg: 'RSA2048',
        tlvs: [
          [0x21, 'TLSv1.3'],
          [0x22, 'client.example'],
          [0x23, 'TLS_AES_128_GCM_SHA256'],
          [0x24, 'RSA-SHA256'],
          [0x25, 'RSA2048'],
          [0x26, 'X25519'],
          [0x27, 'rsa_pss_rsae_sha256'],
        ].map(([type, text]) => ({ type, value: Buffer.from(text as string).toString('hex') })).concat([{ type: 0x28, value: '3082' }]),
      },
      tlvs: [{ type: 0x20, value: SSL_VALUE.toString('hex') }],
    },
  },
  {
    name: 'a type sent twice: the fields take the first (as haproxy does), tlvs keep both',
    header: v2({ body: [ADDR4, tlv(0x01, 'h2'), tlv(0x20, [1, 0, 0, 0, 0]), tlv(0x01, 'h3'), tlv(0x20, [2, 0, 0, 0, 0]), tlv(0x30, 'a'), tlv(0x30, 'b')] }),
    expected: {
      ...V2,
      kind: 'tcp4',
      source: SRC4,
      destination: DST4,
      alpn: 'h2',
      netns: 'a',
      ssl: { client: 1, verify: 0, version: null, commonName: null, cipher: null, sigAlg: null, keyAlg: null, tlvs: [] },
      tlvs: [
        { type: 0x01, value: '6832' },
        { type: 0x20, value: '0100000000' },
        { type: 0x01, value: '6833' },
        { type: 0x20, value: '0200000000' },
        { type: 0x30, value: '61' },
        { type: 0x30, value: '62' },
      ],
    },
  },
  {
    name: 'SSL without sub-TLVs, verify failed (big-endian 32 bits)',
    header: v2({ body: [ADDR4, tlv(0x20, [0x01, 0x80, 0x00, 0x00, 0x02])] }),
    expected: { ...V2, kind: 'tcp4', source: SRC4, destination: DST4, ssl: { client: 1, verify: 0x80000002, version: null, commonName: null, cipher: null, sigAlg: null, keyAlg: null, tlvs: [] }, tlvs: [{ type: 0x20, value: '0180000002' }] },
  },
  {
    name: 'CRC32C that matches (checksum from the bitwise reference)',
    header: withCrc(v2({ body: [ADDR4, tlv(0x01, 'h2'), tlv(0x03, [0, 0, 0, 0])] })),
    expected: {
      ...V2,
      kind: 'tcp4',
      source: SRC4,
      destination: DST4,
      alpn: 'h2',
      crcChecked: true,
      tlvs: [
        { type: 1, value: '6832' },
        { type: 3, value: crc32cBitwise(v2({ body: [ADDR4, tlv(0x01, 'h2'), tlv(0x03, [0, 0, 0, 0])] })).toString(16).padStart(8, '0') },
      ],
    },
  },
  {
    name: 'CRC32C first among the TLVs',
    header: CRC_FIRST,
    expected: {
      ...V2,
      kind: 'tcp4',
      source: SRC4,
      destination: DST4,
      authority: 'a',
      crcChecked: true,
      tlvs: [
        { type: 3, value: CRC_FIRST.subarray(31, 35).toString('hex') },
        { type: 2, value: '61' },
      ],
    },
  },
  {
    name: 'IPv6 zero runs and IPv4-mapped, as Node formats them',
    header: v2({ familyTransport: 0x21, body: [inet6('00010000000000010000000000000001', '00000000000000000000ffffc0000201', 0, 1)] }),
    expected: { ...V2, kind: 'tcp6', source: ep('1:0:0:1::1', 0, 'IPv6'), destination: ep('::ffff:192.0.2.1', 1, 'IPv6') },
  },
  {
    name: 'UNIX paths: empty, abstract (leading NUL) and 107 bytes',
    header: v2({ familyTransport: 0x31, body: [sunPath(Buffer.from([0, 0x61, 0x62])), sunPath('p'.repeat(107))] }),
    expected: { ...V2, kind: 'unix-stream', sourcePath: '', destinationPath: 'p'.repeat(107) },
  },
];

const ALL = [...V1_CASES, ...V2_CASES];

test('valid headers parse to the expected ProxyInfo, consuming exactly the header', () => {
  for (const c of ALL) {
    const result = done(parseProxyHeader(c.header));
    assert.equal(result.consumed, c.header.length, c.name);
    assert.deepEqual(result.info, c.expected, c.name);
  }
});

test('the bytes after the header are not consumed, whatever they are', () => {
  const trailers = [Buffer.from('GET / HTTP/1.1\r\nHost: 192.168.0.11\r\n\r\n'), Buffer.from('\r\n'), Buffer.from(v2()), Buffer.from('PROXY UNKNOWN\r\n'), Buffer.alloc(300, 0xff)];
  for (const c of ALL) {
    const alone = done(parseProxyHeader(c.header));
    for (const trailer of trailers) {
      const result = done(parseProxyHeader(Buffer.concat([c.header, trailer])));
      assert.equal(result.consumed, c.header.length, c.name);
      assert.deepEqual(result.info, alone.info, c.name);
    }
  }
});

test('every proper prefix of a valid header is need-more; the full header gives the same done', () => {
  for (const c of ALL) {
    const whole = done(parseProxyHeader(c.header));
    for (let n = 0; n < c.header.length; n++) {
      const result = parseProxyHeader(c.header.subarray(0, n));
      assert.equal(result.kind, 'need-more', `${c.name}: prefix of ${n} bytes gave ${result.kind}${result.kind === 'invalid' ? ` (${result.error.message})` : ''}`);
    }
    // The same bytes arriving in a buffer at an offset (as from a pool) and cut anywhere: the caller
    // re-parses all it has, so each cut is a prefix followed by the rest.
    const pooled = Buffer.alloc(c.header.length + 64, 0xee);
    c.header.copy(pooled, 32);
    assert.deepEqual(done(parseProxyHeader(pooled.subarray(32, 32 + c.header.length))), whole, c.name);
  }
});

test('the result owns its bytes: reusing the input buffer afterwards changes nothing', () => {
  const header = v2({ body: [ADDR4, tlv(0x05, 'id-1'), tlv(0xe1, [9, 9])] });
  const result = parseProxyHeader(header);
  assert.equal(result.kind, 'done');
  const before = plain(result.info);
  header.fill(0);
  assert.deepEqual(plain(result.info), before);
});

test('versions option: only the allowed versions parse; the other is invalid at its first byte', () => {
  const one = v1('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n');
  const two = v2({ body: [ADDR4] });
  assert.equal(parseProxyHeader(one, { versions: [1] }).kind, 'done');
  assert.equal(parseProxyHeader(two, { versions: [2] }).kind, 'done');
  for (const [bytes, versions] of [[one, [2]], [two, [1]]] as const) {
    const result = parseProxyHeader(bytes.subarray(0, 1), { versions });
    assert.equal(result.kind, 'invalid');
    assert.equal(result.error.code, ErrorCodes.PROXY_PROTOCOL);
  }
});

test('maxV2Length: a declared length at the limit waits for its bytes, one over is invalid at the 16th byte', () => {
  const body = [ADDR4, tlv(0x04, Buffer.alloc(100 - 12 - 3))];
  const header = v2({ body });
  assert.equal(header.readUInt16BE(14), 100);
  assert.equal(parseProxyHeader(header, { maxV2Length: 100 }).kind, 'done');
  assert.equal(parseProxyHeader(header.subarray(0, 16), { maxV2Length: 100 }).kind, 'need-more');
  const over = parseProxyHeader(header.subarray(0, 16), { maxV2Length: 99 });
  assert.equal(over.kind, 'invalid');
  // The default (1024): 1024 is allowed, 1025 is refused before any byte of it arrives.
  assert.equal(parseProxyHeader(v2({ length: 1024 }).subarray(0, 16)).kind, 'need-more');
  assert.equal(parseProxyHeader(v2({ length: 1025 }).subarray(0, 16)).kind, 'invalid');
  assert.equal(parseProxyHeader(v2({ length: 0xffff }).subarray(0, 16), { maxV2Length: 0xffff }).kind, 'need-more');
});

test('options that are not valid throw a CONFIG error; input never does', () => {
  for (const options of [{ versions: [] }, { versions: [3] }, { maxV2Length: -1 }, { maxV2Length: 1.5 }, { maxV2Length: 65536 }, { maxV2Length: Number.NaN }]) {
    assert.throws(
      () => parseProxyHeader(Buffer.from('PROXY '), options as never),
      (error: unknown) => error instanceof PorticoError && error.code === ErrorCodes.CONFIG && error.layer === 'layers',
      JSON.stringify(options),
    );
  }
});

test('empty input is need-more', () => {
  assert.equal(parseProxyHeader(new Uint8Array(0)).kind, 'need-more');
});
