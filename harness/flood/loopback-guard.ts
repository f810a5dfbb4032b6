/**
 * The flood is a load generator: pointed anywhere but this machine it is a denial-of-service tool.
 * This guard refuses every target that is not a loopback address, before any socket is opened.
 */
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

/** True for 127.0.0.0/8 and ::1 (IPv4-mapped forms included); names are not resolved here. */
export function isLoopbackAddress(address: string): boolean {
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  const family = isIP(bare);
  if (family === 4) return loopback.check(bare, 'ipv4');
  if (family === 6) return loopback.check(bare, 'ipv6');
  return false;
}

/**
 * Returns the loopback address to connect to, or throws. `localhost` is resolved once here — both to
 * spare each connection a lookup and because /etc/hosts could point it elsewhere.
 */
export async function resolveLoopbackTarget(host: string): Promise<string> {
  if (isLoopbackAddress(host)) return host.startsWith('[') ? host.slice(1, -1) : host;
  if (host.toLowerCase() !== 'localhost') {
    throw new Error(`flood refuses host "${host}": only loopback targets are allowed (127.0.0.0/8, ::1, localhost)`);
  }
  const addresses = await lookup(host, { all: true });
  const first = addresses[0];
  const foreign = addresses.find((a) => !isLoopbackAddress(a.address));
  if (first === undefined || foreign !== undefined) {
    throw new Error(`flood refuses host "localhost": it resolves to ${foreign?.address ?? 'nothing'}, which is not loopback`);
  }
  // Servers print 127.0.0.1 as their host; prefer IPv4 when localhost resolves to both.
  return (addresses.find((a) => a.family === 4) ?? first).address;
}
