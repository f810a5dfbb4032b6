/**
 * IP address text ↔ bytes for the PROXY protocol. v1 carries addresses as text with stricter rules than
 * `inet_aton` (no leading zeros: "010" could be read as octal), and both versions hand addresses to the
 * framework as text, so every address is normalised here to the form Node gives `socket.remoteAddress`
 * (libuv's `inet_ntop`): a v1 "0:0::FFFF:1.2.3.4" and the same 16 bytes from v2 read the same.
 */

const DIGITS = /^(?:0|[1-9][0-9]{0,2})$/;
const HEX_GROUP = /^[0-9A-Fa-f]{1,4}$/;

/** A dotted quad of four decimal numbers 0–255 without leading zeros, as 4 bytes; null if it is not one. */
export function parseIPv4Text(text: string): Uint8Array | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = parts[i];
    if (!DIGITS.test(part)) return null;
    const value = Number(part);
    if (value > 255) return null;
    bytes[i] = value;
  }
  return bytes;
}

/**
 * IPv6 text as `inet_pton` takes it (1–4 hex digits per group, at most one "::", an optional dotted quad
 * in the last 32 bits) as 16 bytes; null otherwise. Zone ids ("%eth0") are refused: the PROXY protocol
 * has no place for them.
 */
export function parseIPv6Text(text: string): Uint8Array | null {
  if (text.length === 0 || text.length > 45) return null;
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] === '' ? [] : halves[0].split(':');
  const tail = halves.length === 2 ? (halves[1] === '' ? [] : halves[1].split(':')) : [];
  const last = halves.length === 2 ? tail : head;
  let v4: Uint8Array | null = null;
  if (last.length > 0 && last[last.length - 1].includes('.')) {
    v4 = parseIPv4Text(last.pop() ?? '');
    if (v4 === null) return null;
  }
  const words: number[] = [];
  for (const group of [...head, ...tail]) {
    if (!HEX_GROUP.test(group)) return null;
    words.push(parseInt(group, 16));
  }
  const wordSlots = v4 === null ? 8 : 6;
  if (halves.length === 2 ? words.length >= wordSlots : words.length !== wordSlots) return null;
  const bytes = new Uint8Array(16);
  const headWords = halves.length === 2 ? head.length : words.length;
  const tailStart = wordSlots - (words.length - headWords);
  for (let i = 0; i < words.length; i++) {
    const slot = i < headWords ? i : tailStart + (i - headWords);
    bytes[slot * 2] = words[i] >>> 8;
    bytes[slot * 2 + 1] = words[i] & 0xff;
  }
  if (v4 !== null) bytes.set(v4, 12);
  return bytes;
}

/** `bytes[offset, offset + 4)` as a dotted quad. */
export function formatIPv4(bytes: Uint8Array, offset = 0): string {
  return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
}

/**
 * `bytes[offset, offset + 16)` as libuv (and so Node) writes IPv6: lowercase, no leading zeros, the first
 * longest run of two or more zero groups as "::", and — unless `dottedQuad` is false — a dotted quad for
 * IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d) addresses.
 */
export function formatIPv6(bytes: Uint8Array, offset = 0, dottedQuad = true): string {
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push((bytes[offset + i * 2] << 8) | bytes[offset + i * 2 + 1]);
  let bestBase = -1;
  let bestLength = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLength) {
      bestBase = i;
      bestLength = j - i;
    }
    i = j;
  }
  if (bestLength < 2) bestBase = -1;
  const parts: string[] = [];
  for (let i = 0; i < 8; i++) {
    if (i === bestBase) {
      parts.push(i === 0 ? ':' : '');
      i += bestLength - 1;
      if (i === 7) parts.push('');
      continue;
    }
    if (dottedQuad && i === 6 && bestBase === 0 && (bestLength === 6 || (bestLength === 5 && words[5] === 0xffff))) {
      parts.push(formatIPv4(bytes, offset + 12));
      break;
    }
    parts.push(words[i].toString(16));
  }
  return parts.join(':');
}

/** The IPv4 address inside an IPv4-mapped IPv6 address (::ffff:a.b.c.d), or null. */
export function unmapIPv4(bytes16: Uint8Array): Uint8Array | null {
  for (let i = 0; i < 10; i++) if (bytes16[i] !== 0) return null;
  if (bytes16[10] !== 0xff || bytes16[11] !== 0xff) return null;
  return bytes16.subarray(12, 16);
}

/** The IPv4-mapped IPv6 form (::ffff:a.b.c.d) of 4 IPv4 bytes. */
export function mapIPv4(bytes4: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(16);
  bytes[10] = 0xff;
  bytes[11] = 0xff;
  bytes.set(bytes4, 12);
  return bytes;
}

/** Whether `text` can still grow into a valid dotted quad (for failing a partial v1 line early). */
export function isIPv4TextPrefix(text: string): boolean {
  const parts = text.split('.');
  if (parts.length > 4) return false;
  return parts.every((part, i) => (i === parts.length - 1 && part === '') || (DIGITS.test(part) && Number(part) <= 255));
}

/**
 * A cheap necessary condition for `text` to grow into valid IPv6 text: the right characters, not too
 * long, no ":::" and at most one "::". The full check runs once the address is complete.
 */
export function isIPv6TextPrefix(text: string): boolean {
  if (text.length > 45 || !/^[0-9A-Fa-f:.]*$/.test(text) || text.includes(':::')) return false;
  return text.split('::').length <= 2;
}
