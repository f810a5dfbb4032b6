import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { ErrorCodes, PorticoError } from '../core/errors.js';

/**
 * A set of address ranges in CIDR notation (`10.0.0.0/8`, `::1/128`, or a bare address), IPv4 and
 * IPv6, matched with Node's native `BlockList`. An IPv4-mapped IPv6 address (`::ffff:10.1.2.3`, what a
 * dual-stack socket reports for an IPv4 peer) matches the IPv4 ranges.
 */
export class SourceRanges {
  readonly ranges: readonly string[];
  #list = new BlockList();

  /** Throws PORTICO_ERR_CONFIG naming the first range that is not valid CIDR or has host bits set. */
  constructor(ranges: readonly string[]) {
    this.ranges = [...ranges];
    for (const range of ranges) {
      const [address, prefixText, extra] = range.split('/');
      const family = address !== undefined && isIPv4(address) ? 'ipv4' : address !== undefined && isIPv6(address) ? 'ipv6' : null;
      const max = family === 'ipv4' ? 32 : 128;
      const prefix = prefixText === undefined ? max : /^(0|[1-9][0-9]{0,2})$/.test(prefixText) ? Number(prefixText) : NaN;
      if (family === null || extra !== undefined || !(prefix >= 0 && prefix <= max)) {
        throw new PorticoError(ErrorCodes.CONFIG, 'layers', `not an address range: ${JSON.stringify(range)} (expected CIDR such as 10.0.0.0/8 or ::1/128)`);
      }
      const network = networkOf(address!, prefix, family);
      if (network !== address) {
        // BlockList would quietly widen 10.0.0.1/8 to 10.0.0.0/8: a typo for 10.0.0.1/32, or for a
        // different network, would admit (or refuse) clients nobody meant to.
        throw new PorticoError(ErrorCodes.CONFIG, 'layers', `address range ${JSON.stringify(range)} has host bits set; did you mean ${network}/${prefix}? (or ${address} alone for that one address)`);
      }
      this.#list.addSubnet(address!, prefix, family);
    }
  }

  /** Whether `address` (as a socket reports it) lies in one of the ranges. */
  has(address: string): boolean {
    if (isIPv4(address)) return this.#list.check(address, 'ipv4');
    if (!isIPv6(address)) return false;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped !== null) return this.#list.check(mapped[1]!, 'ipv4');
    return this.#list.check(address, 'ipv6');
  }
}

/**
 * The network `address`/`prefix` lies in: the address with its host bits cleared, written as
 * addresses usually are (IPv6 as RFC 5952 puts it), or `address` itself when no host bit is set.
 */
function networkOf(address: string, prefix: number, family: 'ipv4' | 'ipv6'): string {
  const width = family === 'ipv4' ? 8 : 16;
  const zone = family === 'ipv6' && address.includes('%') ? address.slice(address.indexOf('%')) : '';
  const parts = family === 'ipv4' ? address.split('.').map(Number) : ipv6Words(address.slice(0, address.length - zone.length));
  let hostBits = false;
  const masked = parts.map((part, i) => {
    const kept = Math.min(Math.max(prefix - i * width, 0), width);
    const value = part & (((1 << kept) - 1) << (width - kept));
    if (value !== part) hostBits = true;
    return value;
  });
  if (!hostBits) return address;
  return family === 'ipv4' ? masked.join('.') : formatIpv6(masked) + zone;
}

/** An IPv6 address (as isIPv6 accepts it, without a zone) as its eight 16-bit words. */
function ipv6Words(address: string): number[] {
  let text = address;
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted !== null) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const words = (part: string | undefined): number[] => (part === undefined || part === '' ? [] : part.split(':').map((w) => parseInt(w, 16)));
  const before = words(head);
  const after = words(tail);
  return [...before, ...Array<number>(8 - before.length - after.length).fill(0), ...after];
}

/** Eight 16-bit words as RFC 5952 writes them: lower case, the first longest run of 2+ zero words as `::`. */
function formatIpv6(words: readonly number[]): string {
  let best = { at: -1, length: 1 };
  for (let i = 0; i < words.length; ) {
    let end = i;
    while (end < words.length && words[end] === 0) end++;
    if (end - i > best.length) best = { at: i, length: end - i };
    i = end === i ? i + 1 : end;
  }
  const hex = words.map((w) => w.toString(16));
  if (best.at < 0) return hex.join(':');
  return `${hex.slice(0, best.at).join(':')}::${hex.slice(best.at + best.length).join(':')}`;
}
