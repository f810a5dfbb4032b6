/**
 * PROXY protocol v2, the binary header: signature, version/command, family/transport, a 16-bit length,
 * the address block, then TLVs. Each fixed byte is judged as soon as it arrives, and the declared
 * length is checked against the limit and the address block before the receiver waits for (or copies)
 * the bytes it announces.
 */
import type { SocketEndpoint } from '../../transport/transport.js';
import { formatIPv4, formatIPv6 } from './ip-address-text.js';
import type { ProxyAddressKind, ProxyInfo } from './proxy-info.js';
import { NEED_MORE, type ProxyParseResult, invalid } from './proxy-parse-result.js';
import {
  V2_ADDRESS_LENGTH_INET,
  V2_ADDRESS_LENGTH_INET6,
  V2_ADDRESS_LENGTH_UNIX,
  V2_COMMAND_LOCAL,
  V2_COMMAND_PROXY,
  V2_FIXED_LENGTH,
  V2_SIGNATURE,
  V2_UNIX_PATH_LENGTH,
  V2_VERSION,
} from './proxy-protocol-constants.js';
import { parseProxyTlvs } from './proxy-v2-tlvs.js';

/** The address block each family/transport byte announces. */
interface AddressLayout {
  readonly kind: ProxyAddressKind;
  readonly length: number;
}

/**
 * 0x11/0x12 TCP/UDP over IPv4, 0x21/0x22 over IPv6, 0x31/0x32 UNIX stream/datagram. A byte with an
 * UNSPEC half (0x00, 0x01, 0x10, ...) is "unknown" with no address block, the spec's fallback for
 * combinations a receiver does not handle; its TLVs (haproxy sends LOCAL 0x00 followed by TLVs) start
 * right after the fixed 16 bytes. Families over 3 and transports over 2 are invalid.
 */
function addressLayout(familyTransport: number): AddressLayout | null {
  const family = familyTransport >> 4;
  const transport = familyTransport & 0x0f;
  if (family > 3 || transport > 2) return null;
  if (family === 0 || transport === 0) return { kind: 'unknown', length: 0 };
  const stream = transport === 1;
  if (family === 1) return { kind: stream ? 'tcp4' : 'udp4', length: V2_ADDRESS_LENGTH_INET };
  if (family === 2) return { kind: stream ? 'tcp6' : 'udp6', length: V2_ADDRESS_LENGTH_INET6 };
  return { kind: stream ? 'unix-stream' : 'unix-dgram', length: V2_ADDRESS_LENGTH_UNIX };
}

/**
 * Parse a v2 header; `input` is known to start with the 12-byte signature. `maxLength` bounds the
 * 16-bit length field (the bytes after the fixed 16).
 */
export function parseProxyV2(input: Uint8Array, maxLength: number): ProxyParseResult {
  const signatureLength = V2_SIGNATURE.length;
  if (input.length <= signatureLength) return NEED_MORE;
  const versionCommand = input[signatureLength];
  if ((versionCommand & 0xf0) !== V2_VERSION) return invalid(`PROXY v2: version ${versionCommand >> 4}, not 2`);
  const command = versionCommand & 0x0f;
  if (command !== V2_COMMAND_LOCAL && command !== V2_COMMAND_PROXY) return invalid(`PROXY v2: command ${command} is neither LOCAL (0) nor PROXY (1)`);
  if (input.length <= signatureLength + 1) return NEED_MORE;
  const familyTransport = input[signatureLength + 1];
  const layout = addressLayout(familyTransport);
  if (layout === null) return invalid(`PROXY v2: family/transport byte 0x${familyTransport.toString(16).padStart(2, '0')} is not defined`);
  if (input.length < V2_FIXED_LENGTH) return NEED_MORE;
  const declared = (input[14] << 8) | input[15];
  if (declared > maxLength) return invalid(`PROXY v2: declared length ${declared} is over the limit of ${maxLength}`);
  if (declared < layout.length) return invalid(`PROXY v2: declared length ${declared} is shorter than the ${layout.length}-byte address block of ${layout.kind}`);
  const total = V2_FIXED_LENGTH + declared;
  if (input.length < total) return NEED_MORE;

  // A copy: the caller's buffer may be pooled and reused, and TLV values are views into this.
  const header = new Uint8Array(total);
  header.set(input.subarray(0, total));

  let addresses: Addresses = { source: null, destination: null, sourcePath: null, destinationPath: null };
  if (command === V2_COMMAND_PROXY) {
    const decoded = decodeAddresses(header, layout.kind);
    if (typeof decoded === 'string') return invalid(`PROXY v2: ${decoded}`);
    addresses = decoded;
  }
  const fields = parseProxyTlvs(header, V2_FIXED_LENGTH + layout.length);
  if (typeof fields === 'string') return invalid(`PROXY v2: ${fields}`);
  const info: ProxyInfo = {
    version: 2,
    command: command === V2_COMMAND_PROXY ? 'proxy' : 'local',
    kind: layout.kind,
    ...addresses,
    ...fields,
  };
  return { kind: 'done', consumed: total, info };
}

interface Addresses {
  readonly source: SocketEndpoint | null;
  readonly destination: SocketEndpoint | null;
  readonly sourcePath: string | null;
  readonly destinationPath: string | null;
}

const utf8 = new TextDecoder('utf-8');

function decodeAddresses(header: Uint8Array, kind: ProxyAddressKind): Addresses | string {
  const at = V2_FIXED_LENGTH;
  const port = (offset: number): number => (header[offset] << 8) | header[offset + 1];
  switch (kind) {
    case 'tcp4':
    case 'udp4':
      return {
        source: { address: formatIPv4(header, at), port: port(at + 8), family: 'IPv4' },
        destination: { address: formatIPv4(header, at + 4), port: port(at + 10), family: 'IPv4' },
        sourcePath: null,
        destinationPath: null,
      };
    case 'tcp6':
    case 'udp6':
      return {
        source: { address: formatIPv6(header, at), port: port(at + 32), family: 'IPv6' },
        destination: { address: formatIPv6(header, at + 16), port: port(at + 34), family: 'IPv6' },
        sourcePath: null,
        destinationPath: null,
      };
    case 'unix-stream':
    case 'unix-dgram': {
      const sourcePath = unixPath(header, at);
      if (sourcePath === null) return 'source UNIX path has no NUL within 108 bytes';
      const destinationPath = unixPath(header, at + V2_UNIX_PATH_LENGTH);
      if (destinationPath === null) return 'destination UNIX path has no NUL within 108 bytes';
      return { source: null, destination: null, sourcePath, destinationPath };
    }
    default:
      return { source: null, destination: null, sourcePath: null, destinationPath: null };
  }
}

/**
 * The path up to the first NUL of a 108-byte sun_path, or null when there is none. A Linux abstract
 * socket (sun_path starting with NUL) reads as "".
 */
function unixPath(header: Uint8Array, at: number): string | null {
  const end = header.subarray(at, at + V2_UNIX_PATH_LENGTH).indexOf(0);
  return end < 0 ? null : utf8.decode(header.subarray(at, at + end));
}
