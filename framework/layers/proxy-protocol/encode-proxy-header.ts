/**
 * PROXY protocol header encoders (the send-proxy side): v1 text lines and v2 binary headers from a
 * connection's endpoints, as haproxy's `make_proxy_line_v1` / `make_proxy_line_v2` build them.
 *
 * Address families, decided the way haproxy does, with one step first for Node's dual-stack sockets:
 * - An IPv4-mapped IPv6 endpoint (`::ffff:1.2.3.4`, what a server listening on `::` reports for an IPv4
 *   client) counts as the IPv4 address it maps.
 * - Both endpoints IPv4: TCP4 / v2 0x11 with plain IPv4 addresses.
 * - Otherwise, both IP: TCP6 / v2 0x21, an IPv4 side mapped to `::ffff:a.b.c.d`.
 * - Anything else (a null endpoint, a `memory` endpoint, or `command: 'local'`): v1 `PROXY UNKNOWN\r\n`;
 *   v2 LOCAL with family UNSPEC (0x00) and no address block. For v2 that is haproxy's choice too, and
 *   the one receivers accept: the spec lets a receiver reject PROXY with UNSPEC, and haproxy does.
 *
 * IPv6 zone ids (`fe80::1%eth0`) are dropped: the protocol carries only the 16 address bytes. v1 writes
 * IPv6 in hex groups only (`::ffff:102:304`, not `::ffff:1.2.3.4`): the spec describes no dotted form.
 */
import { ErrorCodes, PorticoError } from '../../core/errors.js';
import type { SocketEndpoint } from '../../transport/transport.js';
import { crc32c } from './crc32c.js';
import { formatIPv4, formatIPv6, mapIPv4, parseIPv4Text, parseIPv6Text, unmapIPv4 } from './ip-address-text.js';
import type { ProxyTlv } from './proxy-info.js';
import {
  TLV_HEADER_LENGTH,
  TlvType,
  V1_PREFIX,
  V2_ADDRESS_LENGTH_INET,
  V2_ADDRESS_LENGTH_INET6,
  V2_COMMAND_LOCAL,
  V2_COMMAND_PROXY,
  V2_FAMILY_INET,
  V2_FAMILY_INET6,
  V2_FIXED_LENGTH,
  V2_SIGNATURE,
  V2_TRANSPORT_STREAM,
  V2_VERSION,
} from './proxy-protocol-constants.js';

/** The connection a PROXY header describes. */
export interface ProxyHeaderInput {
  /** 'local' (a connection of the proxy's own, e.g. a health check) sends no addresses. Default 'proxy'. */
  readonly command?: 'proxy' | 'local';
  /** The original client. */
  readonly source: SocketEndpoint | null;
  /** The address the client connected to. */
  readonly destination: SocketEndpoint | null;
}

/** A v2 header's input: the connection, TLVs to send in order, and whether to append a CRC32C TLV. */
export interface ProxyHeaderV2Input extends ProxyHeaderInput {
  /** Sent as given, after the address block. PP2_TYPE_CRC32C is refused here: use `crc32c`. */
  readonly tlvs?: readonly ProxyTlv[];
  /** Append a PP2_TYPE_CRC32C TLV holding the checksum of the whole header. Default false. */
  readonly crc32c?: boolean;
}

type ResolvedAddresses =
  | { readonly kind: 'tcp4' | 'tcp6'; readonly source: Uint8Array; readonly destination: Uint8Array; readonly sourcePort: number; readonly destinationPort: number }
  | { readonly kind: 'unknown' };

/**
 * The v1 line for `input`: `PROXY TCP4 ...\r\n`, `PROXY TCP6 ...\r\n` or `PROXY UNKNOWN\r\n`.
 * @throws PorticoError (INVALID_ARGUMENT) for an address that is not valid text of its family, or a port
 * outside 0–65535.
 */
export function encodeProxyHeaderV1(input: ProxyHeaderInput): Buffer {
  const resolved = resolveAddresses(input);
  const prefix = Buffer.from(V1_PREFIX).toString('latin1');
  if (resolved.kind === 'unknown') return Buffer.from(`${prefix}UNKNOWN\r\n`, 'latin1');
  const text = (bytes: Uint8Array): string => (resolved.kind === 'tcp4' ? formatIPv4(bytes) : formatIPv6(bytes, 0, false));
  const protocol = resolved.kind === 'tcp4' ? 'TCP4' : 'TCP6';
  const line = `${prefix}${protocol} ${text(resolved.source)} ${text(resolved.destination)} ${resolved.sourcePort} ${resolved.destinationPort}\r\n`;
  return Buffer.from(line, 'latin1');
}

/**
 * The v2 header for `input`: TCP over IPv4 or IPv6, or LOCAL/UNSPEC, then the TLVs, then the CRC32C TLV
 * if asked for.
 * @throws PorticoError (INVALID_ARGUMENT) as `encodeProxyHeaderV1`, and for a TLV type outside 0–255, a
 * CRC32C TLV in `tlvs`, a value over 65535 bytes or a header over the 16-bit length.
 */
export function encodeProxyHeaderV2(input: ProxyHeaderV2Input): Buffer {
  const resolved = resolveAddresses(input);
  const tlvs = input.tlvs ?? [];
  const addressLength = resolved.kind === 'tcp4' ? V2_ADDRESS_LENGTH_INET : resolved.kind === 'tcp6' ? V2_ADDRESS_LENGTH_INET6 : 0;
  let tlvLength = 0;
  for (const tlv of tlvs) {
    if (!Number.isInteger(tlv.type) || tlv.type < 0 || tlv.type > 0xff) throw argumentError(`TLV type ${tlv.type} is not a byte`);
    if (tlv.type === TlvType.CRC32C) throw argumentError('a CRC32C TLV is computed, not given: set crc32c: true');
    if (tlv.value.length > 0xffff) throw argumentError(`TLV 0x${tlv.type.toString(16)} value of ${tlv.value.length} bytes is over 65535`);
    tlvLength += TLV_HEADER_LENGTH + tlv.value.length;
  }
  const crcLength = input.crc32c === true ? TLV_HEADER_LENGTH + 4 : 0;
  const length = addressLength + tlvLength + crcLength;
  if (length > 0xffff) throw argumentError(`header of ${length} bytes after the fixed part is over 65535`);

  const header = Buffer.alloc(V2_FIXED_LENGTH + length);
  header.set(V2_SIGNATURE, 0);
  if (resolved.kind === 'unknown') {
    header[12] = V2_VERSION | V2_COMMAND_LOCAL;
    header[13] = 0x00;
  } else {
    header[12] = V2_VERSION | V2_COMMAND_PROXY;
    header[13] = (resolved.kind === 'tcp4' ? V2_FAMILY_INET : V2_FAMILY_INET6) | V2_TRANSPORT_STREAM;
  }
  header.writeUInt16BE(length, 14);
  let offset = V2_FIXED_LENGTH;
  if (resolved.kind !== 'unknown') {
    header.set(resolved.source, offset);
    header.set(resolved.destination, offset + resolved.source.length);
    offset += 2 * resolved.source.length;
    header.writeUInt16BE(resolved.sourcePort, offset);
    header.writeUInt16BE(resolved.destinationPort, offset + 2);
    offset += 4;
  }
  for (const tlv of tlvs) {
    header[offset] = tlv.type;
    header.writeUInt16BE(tlv.value.length, offset + 1);
    header.set(tlv.value, offset + TLV_HEADER_LENGTH);
    offset += TLV_HEADER_LENGTH + tlv.value.length;
  }
  if (input.crc32c === true) {
    header[offset] = TlvType.CRC32C;
    header.writeUInt16BE(4, offset + 1);
    // The spec: checksum the whole header with the field zeroed (Buffer.alloc zeroed it), then fill it in.
    header.writeUInt32BE(crc32c(header), offset + TLV_HEADER_LENGTH);
  }
  return header;
}

function resolveAddresses(input: ProxyHeaderInput): ResolvedAddresses {
  const { source, destination } = input;
  if (input.command === 'local' || source === null || destination === null) return { kind: 'unknown' };
  if (source.family === 'memory' || destination.family === 'memory') return { kind: 'unknown' };
  const sourceBytes = addressBytes(source, 'source');
  const destinationBytes = addressBytes(destination, 'destination');
  const sourcePort = checkPort(source.port, 'source');
  const destinationPort = checkPort(destination.port, 'destination');
  if (sourceBytes.length === 4 && destinationBytes.length === 4) {
    return { kind: 'tcp4', source: sourceBytes, destination: destinationBytes, sourcePort, destinationPort };
  }
  const as6 = (bytes: Uint8Array): Uint8Array => (bytes.length === 4 ? mapIPv4(bytes) : bytes);
  return { kind: 'tcp6', source: as6(sourceBytes), destination: as6(destinationBytes), sourcePort, destinationPort };
}

/** 4 bytes for IPv4 and IPv4-mapped IPv6, 16 for other IPv6. */
function addressBytes(endpoint: SocketEndpoint, which: string): Uint8Array {
  if (endpoint.family === 'IPv4') {
    const bytes = parseIPv4Text(endpoint.address);
    if (bytes === null) throw argumentError(`${which} address ${JSON.stringify(endpoint.address)} is not IPv4`);
    return bytes;
  }
  const zone = endpoint.address.indexOf('%');
  const bytes = parseIPv6Text(zone < 0 ? endpoint.address : endpoint.address.slice(0, zone));
  if (bytes === null) throw argumentError(`${which} address ${JSON.stringify(endpoint.address)} is not IPv6`);
  return unmapIPv4(bytes) ?? bytes;
}

function checkPort(port: number, which: string): number {
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw argumentError(`${which} port ${port} is not 0-65535`);
  return port;
}

function argumentError(message: string): PorticoError {
  return new PorticoError(ErrorCodes.INVALID_ARGUMENT, 'layers', `PROXY: ${message}`);
}
