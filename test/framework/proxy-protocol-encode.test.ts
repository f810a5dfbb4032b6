/**
 * The PROXY protocol encoders and their helpers: CRC-32C against published check values and a bitwise
 * reference; IPv6 text against Node's own formatting; exact v1 lines and v2 bytes for each family
 * decision (IPv4, IPv6, IPv4-mapped, mixed, null, memory, LOCAL); TLVs and CRC32C; argument errors;
 * and encode → parse round trips, fixed and seeded-random.
 */
import assert from 'node:assert/strict';
import { SocketAddress } from 'node:net';
import { test } from 'node:test';
import { ErrorCodes, PorticoError } from '../../framework/core/errors.js';
import type { SocketEndpoint } from '../../framework/transport/transport.js';
import { crc32c } from '../../framework/layers/proxy-protocol/crc32c.js';
import { type ProxyHeaderV2Input, encodeProxyHeaderV1, encodeProxyHeaderV2 } from '../../framework/layers/proxy-protocol/encode-proxy-header.js';
import { formatIPv6, parseIPv6Text } from '../../framework/layers/proxy-protocol/ip-address-text.js';
import { parseProxyHeader } from '../../framework/layers/proxy-protocol/parse-proxy-header.js';
import type { ProxyInfo } from '../../framework/layers/proxy-protocol/proxy-info.js';
import { seeded } from '../helpers/byte-chunks.js';
import { crc32cBitwise, hex, tlv } from '../helpers/proxy-header-bytes.js';

const v4 = (address: string, port: number): SocketEndpoint => ({ address, port, family: 'IPv4' });
const v6 = (address: string, port: number): SocketEndpoint => ({ address, port, family: 'IPv6' });
const memory: SocketEndpoint = { address: 'memory', port: 0, family: 'memory' };

test('crc32c: the standard check value and the RFC 3720 (iSCSI) vectors', () => {
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(0)), 0);
  assert.equal(crc32c(Buffer.alloc(32, 0x00)), 0x8a9136aa);
  assert.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43);
  assert.equal(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => i))), 0x46dd794e);
  assert.equal(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i))), 0x113fdb5c);
});

test('crc32c: equals the bitwise reference on random data, and chains across pieces', () => {
  const random = seeded(7);
  for (let i = 0; i < 200; i++) {
    const data = Buffer.from(Array.from({ length: Math.floor(random() * 600) }, () => Math.floor(random() * 256)));
    const whole = crc32c(data);
    assert.equal(whole, crc32cBitwise(data));
    const cut = Math.floor(random() * (data.length + 1));
    assert.equal(crc32c(data.subarray(cut), crc32c(data.subarray(0, cut))), whole);
    assert.equal(crc32c(data, crc32c(data, 0, 0, cut), cut), whole, 'start/end form');
  }
});

test('IPv6 text: formatted exactly as Node formats it, and parsed back to the same bytes', () => {
  const random = seeded(11);
  // Mostly zero groups, so runs of zeros (and the IPv4-mapped / compatible forms) come up often.
  const groupChoices = [0, 0, 0, 0, 1, 0xffff, 0xabc, 0x1234, -1];
  for (let i = 0; i < 5000; i++) {
    const bytes = new Uint8Array(16);
    for (let g = 0; g < 8; g++) {
      const choice = groupChoices[Math.floor(random() * groupChoices.length)];
      const value = choice === -1 ? Math.floor(random() * 0x10000) : choice;
      bytes[g * 2] = value >> 8;
      bytes[g * 2 + 1] = value & 0xff;
    }
    if (i % 5 === 0) bytes.set([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff], 0);
    const full = Array.from({ length: 8 }, (_, g) => ((bytes[g * 2] << 8) | bytes[g * 2 + 1]).toString(16)).join(':');
    const node = new SocketAddress({ address: full, family: 'ipv6' }).address;
    assert.equal(formatIPv6(bytes), node, full);
    assert.deepEqual(parseIPv6Text(node), bytes, node);
    const hexOnly = formatIPv6(bytes, 0, false);
    assert.ok(!hexOnly.includes('.'), hexOnly);
    assert.deepEqual(parseIPv6Text(hexOnly), bytes, hexOnly);
  }
});

interface EncodeCase {
  readonly name: string;
  readonly input: ProxyHeaderV2Input;
  readonly v1: string;
  readonly v2: string;
}

const SIG = '0d0a0d0a000d0a515549540a';
const LOCAL = `${SIG} 20 00 0000`;

const ENCODE_CASES: EncodeCase[] = [
  {
    name: 'IPv4 both sides',
    input: { source: v4('198.51.100.1', 56324), destination: v4('198.51.100.11', 443) },
    v1: 'PROXY TCP4 198.51.100.1 198.51.100.11 56324 443\r\n',
    v2: `${SIG} 21 11 000c c6336401 c633640b dc04 01bb`,
  },
  {
    name: 'IPv6 both sides',
    input: { source: v6('2001:db8::1', 1), destination: v6('::1', 65535) },
    v1: 'PROXY TCP6 2001:db8::1 ::1 1 65535\r\n',
    v2: `${SIG} 21 21 0024 20010db8000000000000000000000001 00000000000000000000000000000001 0001 ffff`,
  },
  {
    name: 'IPv4-mapped on both sides (a dual-stack Node server) is sent as TCP4',
    input: { source: v6('::ffff:10.1.2.3', 5000), destination: v6('::FFFF:10.1.2.4', 80) },
    v1: 'PROXY TCP4 10.1.2.3 10.1.2.4 5000 80\r\n',
    v2: `${SIG} 21 11 000c 0a010203 0a010204 1388 0050`,
  },
  {
    name: 'one side IPv4, the other IPv6: both as IPv6, the IPv4 one mapped (hex groups in v1)',
    input: { source: v4('192.0.2.1', 1234), destination: v6('2001:db8::2', 443) },
    v1: 'PROXY TCP6 ::ffff:c000:201 2001:db8::2 1234 443\r\n',
    v2: `${SIG} 21 21 0024 00000000000000000000ffffc0000201 20010db8000000000000000000000002 04d2 01bb`,
  },
  {
    name: 'IPv6 zone id dropped',
    input: { source: v6('fe80::1%eth0', 1), destination: v6('fe80::2%2', 2) },
    v1: 'PROXY TCP6 fe80::1 fe80::2 1 2\r\n',
    v2: `${SIG} 21 21 0024 fe800000000000000000000000000001 fe800000000000000000000000000002 0001 0002`,
  },
  { name: 'null source', input: { source: null, destination: v4('192.0.2.1', 80) }, v1: 'PROXY UNKNOWN\r\n', v2: LOCAL },
  { name: 'null destination', input: { source: v4('192.0.2.1', 80), destination: null }, v1: 'PROXY UNKNOWN\r\n', v2: LOCAL },
  { name: 'memory transport', input: { source: memory, destination: v4('192.0.2.1', 80) }, v1: 'PROXY UNKNOWN\r\n', v2: LOCAL },
  { name: 'command local with addresses', input: { command: 'local', source: v4('192.0.2.1', 1), destination: v4('192.0.2.2', 2) }, v1: 'PROXY UNKNOWN\r\n', v2: LOCAL },
  {
    name: 'TLVs in order after the address block',
    input: { source: v4('192.0.2.1', 1), destination: v4('192.0.2.2', 2), tlvs: [{ type: 0x01, value: Buffer.from('h2') }, { type: 0xe0, value: new Uint8Array(0) }] },
    v1: 'PROXY TCP4 192.0.2.1 192.0.2.2 1 2\r\n',
    v2: `${SIG} 21 11 0014 c0000201 c0000202 0001 0002 01 0002 6832 e0 0000`,
  },
  {
    name: 'LOCAL with TLVs (haproxy health check form)',
    input: { command: 'local', source: null, destination: null, tlvs: [{ type: 0x04, value: Buffer.from([0]) }] },
    v1: 'PROXY UNKNOWN\r\n',
    v2: `${SIG} 20 00 0004 04 0001 00`,
  },
];

test('encoders: exact v1 lines and v2 bytes for each family decision', () => {
  for (const c of ENCODE_CASES) {
    assert.equal(encodeProxyHeaderV1(c.input).toString('latin1'), c.v1, c.name);
    assert.equal(encodeProxyHeaderV2(c.input).toString('hex'), hex(c.v2).toString('hex'), c.name);
  }
});

test('encodeProxyHeaderV2 crc32c: a trailing CRC32C TLV holding the checksum of the header with it zeroed', () => {
  const header = encodeProxyHeaderV2({ source: v4('192.0.2.1', 1), destination: v4('192.0.2.2', 2), tlvs: [{ type: 0x02, value: Buffer.from('example.com') }], crc32c: true });
  assert.equal(header.readUInt16BE(14), 12 + 3 + 11 + 7);
  const crcAt = header.length - 7;
  assert.deepEqual([...header.subarray(crcAt, crcAt + 3)], [0x03, 0x00, 0x04]);
  const zeroed = Buffer.from(header);
  zeroed.writeUInt32BE(0, header.length - 4);
  assert.equal(header.readUInt32BE(header.length - 4), crc32cBitwise(zeroed));
  const parsed = parseProxyHeader(header);
  assert.equal(parsed.kind, 'done');
  assert.equal(parsed.info.crcChecked, true);
  assert.equal(parsed.info.authority, 'example.com');
  // LOCAL with only the CRC.
  const local = encodeProxyHeaderV2({ source: null, destination: null, crc32c: true });
  assert.equal(local.length, 16 + 7);
  const parsedLocal = parseProxyHeader(local);
  assert.equal(parsedLocal.kind, 'done');
  assert.equal(parsedLocal.info.crcChecked, true);
  assert.equal(parsedLocal.info.command, 'local');
});

test('encoders refuse arguments they cannot encode with an INVALID_ARGUMENT PorticoError', () => {
  const ok = { source: v4('192.0.2.1', 1), destination: v4('192.0.2.2', 2) };
  const cases: [string, () => unknown][] = [
    ['IPv4 family with IPv6 text', () => encodeProxyHeaderV1({ ...ok, source: v4('::1', 1) })],
    ['IPv6 family with IPv4 text', () => encodeProxyHeaderV2({ ...ok, destination: v6('192.0.2.2', 2) })],
    ['IPv4 with a leading zero', () => encodeProxyHeaderV1({ ...ok, source: v4('192.0.2.01', 1) })],
    ['host name', () => encodeProxyHeaderV1({ ...ok, source: v4('localhost', 1) })],
    ['port 65536', () => encodeProxyHeaderV1({ ...ok, source: v4('192.0.2.1', 65536) })],
    ['port -1', () => encodeProxyHeaderV2({ ...ok, destination: v4('192.0.2.2', -1) })],
    ['port 1.5', () => encodeProxyHeaderV2({ ...ok, destination: v4('192.0.2.2', 1.5) })],
    ['CRC32C TLV given by hand', () => encodeProxyHeaderV2({ ...ok, tlvs: [{ type: 0x03, value: new Uint8Array(4) }] })],
    ['TLV type 256', () => encodeProxyHeaderV2({ ...ok, tlvs: [{ type: 256, value: new Uint8Array(0) }] })],
    ['TLV value of 65536 bytes', () => encodeProxyHeaderV2({ ...ok, tlvs: [{ type: 0xe0, value: new Uint8Array(65536) }] })],
    ['header over 65535 bytes', () => encodeProxyHeaderV2({ ...ok, tlvs: [{ type: 0xe0, value: new Uint8Array(65000) }, { type: 0xe1, value: new Uint8Array(600) }] })],
  ];
  for (const [name, run] of cases) {
    assert.throws(run, (error: unknown) => error instanceof PorticoError && error.code === ErrorCodes.INVALID_ARGUMENT && error.layer === 'layers', name);
  }
});

/** What parse should report for an encoded header: the addresses as Node would write them. */
function expectRoundTrip(info: ProxyInfo, input: ProxyHeaderV2Input, version: 1 | 2, label: string): void {
  assert.equal(info.version, version, label);
  const canonical = (endpoint: SocketEndpoint): string => {
    const text = endpoint.address.split('%')[0];
    return new SocketAddress({ address: text, family: endpoint.family === 'IPv4' ? 'ipv4' : 'ipv6' }).address;
  };
  const { source, destination } = input;
  if (input.command === 'local' || source === null || destination === null || source.family === 'memory' || destination.family === 'memory') {
    assert.equal(info.kind, 'unknown', label);
    assert.equal(info.command, version === 1 ? 'proxy' : 'local', label);
    assert.equal(info.source, null, label);
    return;
  }
  const mapped = (address: string): string | null => (/^::ffff:\d+\.\d+\.\d+\.\d+$/.test(address) ? address.slice(7) : null);
  const sourceText = canonical(source);
  const destinationText = canonical(destination);
  const sourceV4 = source.family === 'IPv4' ? sourceText : mapped(sourceText);
  const destinationV4 = destination.family === 'IPv4' ? destinationText : mapped(destinationText);
  if (sourceV4 !== null && destinationV4 !== null) {
    assert.equal(info.kind, 'tcp4', label);
    assert.deepEqual(info.source, v4(sourceV4, source.port), label);
    assert.deepEqual(info.destination, v4(destinationV4, destination.port), label);
  } else {
    assert.equal(info.kind, 'tcp6', label);
    assert.deepEqual(info.source, v6(sourceV4 !== null ? `::ffff:${sourceV4}` : sourceText, source.port), label);
    assert.deepEqual(info.destination, v6(destinationV4 !== null ? `::ffff:${destinationV4}` : destinationText, destination.port), label);
  }
  if (version === 2) {
    assert.deepEqual(
      info.tlvs.filter((t) => t.type !== 0x03).map((t) => [t.type, Buffer.from(t.value).toString('hex')]),
      (input.tlvs ?? []).map((t) => [t.type, Buffer.from(t.value).toString('hex')]),
      label,
    );
    assert.equal(info.crcChecked, input.crc32c === true, label);
  }
}

test('round trip: encode then parse gives back the endpoints (fixed cases)', () => {
  for (const c of ENCODE_CASES) {
    const one = encodeProxyHeaderV1(c.input);
    const parsedOne = parseProxyHeader(Buffer.concat([one, Buffer.from('rest')]));
    assert.equal(parsedOne.kind, 'done', c.name);
    assert.equal(parsedOne.consumed, one.length, c.name);
    expectRoundTrip(parsedOne.info, c.input, 1, c.name);
    for (const crc of [false, true]) {
      const two = encodeProxyHeaderV2({ ...c.input, crc32c: crc });
      const parsedTwo = parseProxyHeader(Buffer.concat([two, Buffer.from('rest')]));
      assert.equal(parsedTwo.kind, 'done', c.name);
      assert.equal(parsedTwo.consumed, two.length, c.name);
      expectRoundTrip(parsedTwo.info, { ...c.input, crc32c: crc }, 2, c.name);
    }
  }
});

test('round trip: 3,000 seeded random endpoint pairs, TLV sets and CRC choices', () => {
  const random = seeded(2024);
  const int = (n: number): number => Math.floor(random() * n);
  const randomEndpoint = (): SocketEndpoint | null => {
    const port = int(65536);
    switch (int(6)) {
      case 0:
        return v4(Array.from({ length: 4 }, () => int(256)).join('.'), port);
      case 1:
        return v6(`::ffff:${Array.from({ length: 4 }, () => int(256)).join('.')}`, port);
      case 2:
        return v6(Array.from({ length: 8 }, () => (int(3) === 0 ? 0 : int(0x10000)).toString(16)).join(':'), port);
      case 3:
        return v6(`fe80::${int(0x10000).toString(16)}%eth${int(3)}`, port);
      case 4:
        return int(4) === 0 ? null : memory;
      default:
        return v4(`10.${int(256)}.${int(256)}.${int(256)}`, port);
    }
  };
  for (let i = 0; i < 3000; i++) {
    const tlvs = Array.from({ length: int(4) }, () => ({ type: [0x01, 0x02, 0x04, 0x05, 0x30, 0xe0, 0xf0][int(7)], value: Buffer.from(Array.from({ length: int(40) }, () => int(256))) }));
    const input: ProxyHeaderV2Input = { command: int(10) === 0 ? 'local' : 'proxy', source: randomEndpoint(), destination: randomEndpoint(), tlvs, crc32c: int(2) === 0 };
    const label = `case ${i}: ${JSON.stringify({ ...input, tlvs: tlvs.map((t) => t.type) })}`;
    const one = parseProxyHeader(encodeProxyHeaderV1(input));
    assert.equal(one.kind, 'done', label);
    expectRoundTrip(one.info, input, 1, label);
    const two = parseProxyHeader(encodeProxyHeaderV2(input));
    assert.equal(two.kind, 'done', label);
    expectRoundTrip(two.info, input, 2, label);
  }
});

test('round trip of every TLV kind the parser exposes', () => {
  const ssl = Buffer.concat([Buffer.from([0x03, 0, 0, 0, 1]), tlv(0x21, 'TLSv1.2'), tlv(0x22, 'cn'), tlv(0x23, 'AES'), tlv(0x24, 'RSA-SHA256'), tlv(0x25, 'EC256')]);
  const header = encodeProxyHeaderV2({
    source: v6('2001:db8::10', 443),
    destination: v6('2001:db8::20', 8443),
    tlvs: [
      { type: 0x01, value: Buffer.from('http/1.1') },
      { type: 0x02, value: Buffer.from('exämple.org') },
      { type: 0x05, value: Buffer.alloc(128, 7) },
      { type: 0x20, value: ssl },
      { type: 0x30, value: Buffer.from('ns1') },
    ],
    crc32c: true,
  });
  const parsed = parseProxyHeader(header);
  assert.equal(parsed.kind, 'done');
  const { info } = parsed;
  assert.equal(info.alpn, 'http/1.1');
  assert.equal(info.authority, 'exämple.org');
  assert.deepEqual(info.uniqueId, new Uint8Array(128).fill(7));
  assert.equal(info.netns, 'ns1');
  assert.deepEqual(
    { ...info.ssl, tlvs: info.ssl?.tlvs.length },
    { client: 3, verify: 1, version: 'TLSv1.2', commonName: 'cn', cipher: 'AES', sigAlg: 'RSA-SHA256', keyAlg: 'EC256', tlvs: 5 },
  );
  assert.equal(info.crcChecked, true);
});
