/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of the PROXY protocol v2
 * PP2_TYPE_CRC32C TLV (RFC 4960 appendix B). Table-driven, one byte per step: headers are at most a
 * few hundred bytes, so slicing-by-8 would not pay for its 8 KiB of tables.
 */

const TABLE = buildTable();

function buildTable(): Uint32Array {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

/**
 * The CRC-32C of `data[start, end)`. Pass the result of a previous call as `previous` to continue the
 * checksum over data that follows (so a header can be checksummed around a field without copying it).
 */
export function crc32c(data: Uint8Array, previous = 0, start = 0, end = data.length): number {
  let crc = ~previous >>> 0;
  for (let i = start; i < end; i++) crc = TABLE[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  return ~crc >>> 0;
}
