/**
 * The Dallas/Maxim 1-Wire CRC8 (x^8 + x^5 + x^4 + 1, bit-reflected), which every ROM id carries in its
 * last byte and every scratchpad in its ninth.
 */
export function dallasCrc8(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    let bits = byte;
    for (let i = 0; i < 8; i++) {
      const mix = (crc ^ bits) & 1;
      crc >>= 1;
      if (mix !== 0) crc ^= 0x8c;
      bits >>= 1;
    }
  }
  return crc;
}
