import assert from 'node:assert/strict';
import { test } from 'node:test';

// Test data only, never a target: benchmarking (RFC 2544) and documentation (RFC 5737) addresses.
import { ErrorCodes, PorticoError, SourceRanges } from '../../framework/index.js';

test('SourceRanges: IPv4 and IPv6 CIDR, bare addresses, IPv4-mapped IPv6 against IPv4 ranges', () => {
  const ranges = new SourceRanges(['198.18.0.0/15', '192.0.2.7', '2001:db8::/32', '::1', 'fe80::/10']);
  const cases: [string, boolean][] = [
    ['198.19.2.3', true],
    ['198.20.0.1', false],
    ['192.0.2.7', true],
    ['192.0.2.8', false],
    ['::ffff:198.18.9.9', true], // a dual-stack socket's view of an IPv4 peer
    ['::ffff:198.20.0.1', false],
    ['2001:db8:1::5', true],
    ['2001:db9::1', false],
    ['::1', true],
    ['fe80::1234', true],
    ['', false],
    ['not-an-address', false],
  ];
  for (const [address, expected] of cases) assert.equal(ranges.has(address), expected, address);
  assert.equal(new SourceRanges(['0.0.0.0/0']).has('203.0.113.1'), true);
  assert.equal(new SourceRanges(['::/0']).has('2001:db8::1'), true);
});

test('SourceRanges: anything that is not CIDR is a configuration error naming it', () => {
  for (const bad of ['198.18.0.0/33', '::1/129', '198.18.0.0/', '198.18.0/15', '198.18.0.0/15/1', 'example.com', '198.18.0.0/015', '']) {
    assert.throws(
      () => new SourceRanges([bad]),
      (e: unknown) => e instanceof PorticoError && e.code === ErrorCodes.CONFIG && e.message.includes(JSON.stringify(bad)),
      bad,
    );
  }
});

test('SourceRanges: a range with host bits set is a configuration error naming the network it probably meant', () => {
  const cases: [range: string, network: string, address: string][] = [
    ['198.18.0.1/15', '198.18.0.0/15', '198.18.0.1'],
    ['198.51.100.77/24', '198.51.100.0/24', '198.51.100.77'],
    ['203.0.113.77/20', '203.0.112.0/20', '203.0.113.77'],
    ['198.18.0.1/0', '0.0.0.0/0', '198.18.0.1'],
    ['192.0.2.3/31', '192.0.2.2/31', '192.0.2.3'],
    ['2001:db8::1/32', '2001:db8::/32', '2001:db8::1'],
    ['2001:db8:1:2:3:4:5:6/64', '2001:db8:1:2::/64', '2001:db8:1:2:3:4:5:6'],
    ['2001:DB8:0:0:1::/48', '2001:db8::/48', '2001:DB8:0:0:1::'],
    ['::1/64', '::/64', '::1'],
    ['fe80::1%eth0/10', 'fe80::%eth0/10', 'fe80::1%eth0'],
    ['::ffff:198.18.0.1/104', '::ffff:c600:0/104', '::ffff:198.18.0.1'],
    ['1:0:0:2:0:0:0:3/127', '1:0:0:2::2/127', '1:0:0:2:0:0:0:3'],
  ];
  for (const [range, network, address] of cases) {
    assert.throws(
      () => new SourceRanges(['198.18.0.0/15', range]),
      (e: unknown) =>
        e instanceof PorticoError &&
        e.code === ErrorCodes.CONFIG &&
        e.layer === 'layers' &&
        e.message === `address range ${JSON.stringify(range)} has host bits set; did you mean ${network}? (or ${address} alone for that one address)`,
      range,
    );
  }
  // The network itself, any spelling of it, and single addresses are fine.
  for (const good of ['198.18.0.0/15', '192.0.2.2/31', '192.0.2.3/32', '192.0.2.3', '2001:db8::/32', '2001:DB8:0::/32', '::/0', '::1/128', '::1', 'fe80::%eth0/10', '::ffff:198.0.0.0/104']) {
    assert.doesNotThrow(() => new SourceRanges([good]), good);
  }
});
