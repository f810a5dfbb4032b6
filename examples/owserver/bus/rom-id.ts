import type { DeviceFormat } from './bus.js';
import { dallasCrc8 } from './crc8.js';

// Family, optional dot, 12 hex id digits, then optionally the CRC with or without its dot — every
// spelling owserver accepts in a request path (case-insensitive).
const ROM_PATTERN = /^([0-9A-Fa-f]{2})\.?([0-9A-Fa-f]{12})(?:\.?([0-9A-Fa-f]{2}))?$/;

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex').toUpperCase();

/** A 64-bit 1-Wire ROM id: family byte, six id bytes (as printed), CRC8 of the seven. */
export class RomId {
  /** The 8 ROM bytes in owserver's PRESENT order: family, id, crc. */
  readonly bytes: Buffer;
  // Listings and alias lookups print the same id over and over; each spelling is worked out once.
  #addressHex: string | undefined;
  readonly #formatted = new Map<DeviceFormat, string>();

  private constructor(bytes: Buffer) {
    this.bytes = bytes;
  }

  static fromParts(family: number, id: Uint8Array): RomId {
    const seven = Buffer.from([family, ...id]);
    return new RomId(Buffer.concat([seven, Buffer.from([dallasCrc8(seven)])]));
  }

  /** Parse a path segment such as `28.4AEC29CDBAAB`, `284AEC29CDBAAB95` or `28.4AEC29CDBAAB.95`; a wrong CRC is no match. */
  static parse(text: string): RomId | undefined {
    const match = ROM_PATTERN.exec(text);
    if (match === null) return undefined;
    const rom = RomId.fromParts(parseInt(match[1]!, 16), Buffer.from(match[2]!, 'hex'));
    if (match[3] !== undefined && parseInt(match[3], 16) !== rom.crc) return undefined;
    return rom;
  }

  get family(): number {
    return this.bytes[0]!;
  }

  get crc(): number {
    return this.bytes[7]!;
  }

  get familyHex(): string {
    return hex(this.bytes.subarray(0, 1));
  }

  get idHex(): string {
    return hex(this.bytes.subarray(1, 7));
  }

  get crcHex(): string {
    return hex(this.bytes.subarray(7, 8));
  }

  /** The id bytes reversed, as `r_id` shows them. */
  get reversedIdHex(): string {
    return hex(Buffer.from(this.bytes.subarray(1, 7)).reverse());
  }

  /** All 16 hex digits, `address`. */
  get addressHex(): string {
    return (this.#addressHex ??= hex(this.bytes));
  }

  get reversedAddressHex(): string {
    return hex(Buffer.from(this.bytes).reverse());
  }

  /** The name owserver lists for this device under the request's device-format flag. */
  format(style: DeviceFormat): string {
    let name = this.#formatted.get(style);
    if (name === undefined) this.#formatted.set(style, (name = this.#spell(style)));
    return name;
  }

  #spell(style: DeviceFormat): string {
    const f = this.familyHex;
    const i = this.idHex;
    const c = this.crcHex;
    switch (style) {
      case 'f.i':
        return `${f}.${i}`;
      case 'fi':
        return `${f}${i}`;
      case 'f.i.c':
        return `${f}.${i}.${c}`;
      case 'f.ic':
        return `${f}.${i}${c}`;
      case 'fi.c':
        return `${f}${i}.${c}`;
      case 'fic':
        return `${f}${i}${c}`;
    }
  }

  equals(other: RomId): boolean {
    return this.bytes.equals(other.bytes);
  }
}
