/**
 * PROXY protocol headers built by hand for the codec tests, independent of the encoders under test:
 * a v2 builder that takes the fields as numbers, and a bitwise CRC-32C (no table) to checksum with.
 */

/** The 12-byte v2 signature, written out from the spec. */
export const SIGNATURE = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a] as const;

/** Bytes from hex text; spaces ignored. */
export function hex(text: string): Buffer {
  return Buffer.from(text.replace(/\s+/g, ''), 'hex');
}

/** One TLV: type, 16-bit length, value. */
export function tlv(type: number, value: Uint8Array | string | readonly number[]): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
  return Buffer.concat([Buffer.from([type, bytes.length >> 8, bytes.length & 0xff]), bytes]);
}

export interface V2Fields {
  /** Version/command byte; default 0x21 (v2, PROXY). */
  readonly versionCommand?: number;
  /** Family/transport byte; default 0x11. */
  readonly familyTransport?: number;
  /** Address block, then TLVs; the length field counts both. */
  readonly body?: readonly Uint8Array[];
  /** Length field to write instead of the body's length. */
  readonly length?: number;
}

/** A v2 header from its fields. */
export function v2(fields: V2Fields = {}): Buffer {
  const body = Buffer.concat(fields.body ?? []);
  const length = fields.length ?? body.length;
  return Buffer.concat([Buffer.from(SIGNATURE), Buffer.from([fields.versionCommand ?? 0x21, fields.familyTransport ?? 0x11, length >> 8, length & 0xff]), body]);
}

/** An IPv4 address block: "a.b.c.d" twice and two ports. */
export function inet(source: string, destination: string, sourcePort: number, destinationPort: number): Buffer {
  const quad = (text: string): number[] => text.split('.').map(Number);
  return Buffer.from([...quad(source), ...quad(destination), sourcePort >> 8, sourcePort & 0xff, destinationPort >> 8, destinationPort & 0xff]);
}

/** An IPv6 address block from two 32-hex-digit addresses and two ports. */
export function inet6(sourceHex: string, destinationHex: string, sourcePort: number, destinationPort: number): Buffer {
  return Buffer.concat([hex(sourceHex), hex(destinationHex), Buffer.from([sourcePort >> 8, sourcePort & 0xff, destinationPort >> 8, destinationPort & 0xff])]);
}

/** A 108-byte sun_path holding `path` and NUL padding (no NUL at all when `path` fills it). */
export function sunPath(path: string | Buffer): Buffer {
  const bytes = typeof path === 'string' ? Buffer.from(path, 'utf8') : path;
  const out = Buffer.alloc(108);
  bytes.copy(out);
  return out;
}

/** CRC-32C bit by bit (reflected polynomial 0x82F63B78), as a reference for the table-driven one. */
export function crc32cBitwise(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/**
 * `header` (a v2 header whose length field already counts a trailing 7-byte CRC32C TLV, value zero)
 * with that TLV's value set to the checksum of the whole header, per the spec.
 */
export function withCrc(header: Buffer): Buffer {
  const out = Buffer.from(header);
  out.writeUInt32BE(crc32cBitwise(out), out.length - 4);
  return out;
}
