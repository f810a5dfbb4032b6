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

  /** Throws PORTICO_ERR_CONFIG naming the first range that is not valid CIDR. */
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
