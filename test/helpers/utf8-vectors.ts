/**
 * UTF-8 test vectors in the categories of Markus Kuhn's UTF-8 decoder stress test, numbered as the
 * Autobahn cases that send them (6.5–6.23), plus 6.3's invalid message. Built here from the
 * categories' definitions; each is labelled valid or not.
 */

export interface Utf8Vector {
  readonly group: string;
  readonly bytes: Buffer;
  readonly valid: boolean;
}

const b = (...values: number[]): Buffer => Buffer.from(values);
const u = (text: string): Buffer => Buffer.from(text, 'utf8');
const kosme = b(0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xce, 0xbc, 0xce, 0xb5);

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

export function utf8Vectors(): Utf8Vector[] {
  const out: Utf8Vector[] = [];
  const add = (group: string, valid: boolean, ...list: Buffer[]): void => {
    for (const bytes of list) out.push({ group, bytes, valid });
  };
  add('6.3 invalid text (surrogate inside)', false, Buffer.concat([kosme, b(0xed, 0xa0, 0x80), u('edited')]));
  add('6.5 some valid sequences', true, u('hello$world'), u('hello¢world'), u('hello€world'), u('hello𤭢world'), kosme);
  for (let i = 1; i <= kosme.length; i++) {
    // A prefix is valid exactly when it ends on a code point boundary.
    add('6.6 prefixes of κόσμε', [2, 5, 7, 9, 11].includes(i), kosme.subarray(0, i));
  }
  add('6.7 first sequence of each length', true, b(0x00), b(0xc2, 0x80), b(0xe0, 0xa0, 0x80), b(0xf0, 0x90, 0x80, 0x80));
  add('6.8 first 5- and 6-byte forms', false, b(0xf8, 0x88, 0x80, 0x80, 0x80), b(0xfc, 0x84, 0x80, 0x80, 0x80, 0x80));
  add('6.9 last sequence of each length', true, b(0x7f), b(0xdf, 0xbf), b(0xef, 0xbf, 0xbf), b(0xf4, 0x8f, 0xbf, 0xbf));
  add('6.10 last 4-, 5-, 6-byte forms (beyond U+10FFFF)', false, b(0xf7, 0xbf, 0xbf, 0xbf), b(0xfb, 0xbf, 0xbf, 0xbf, 0xbf), b(0xfd, 0xbf, 0xbf, 0xbf, 0xbf, 0xbf));
  add('6.11 other boundaries', true, b(0xed, 0x9f, 0xbf), b(0xee, 0x80, 0x80), b(0xef, 0xbf, 0xbd), b(0xf4, 0x8f, 0xbf, 0xbf));
  add('6.11 other boundaries', false, b(0xf4, 0x90, 0x80, 0x80));
  add('6.12 unexpected continuation bytes', false, b(0x80), b(0xbf), b(0x80, 0xbf), b(0x80, 0xbf, 0x80), b(0x80, 0xbf, 0x80, 0xbf), b(0x80, 0xbf, 0x80, 0xbf, 0x80), b(0x80, 0xbf, 0x80, 0xbf, 0x80, 0xbf), b(...range(0x80, 0xbf)));
  add('6.12 unexpected continuation after valid text', false, Buffer.concat([u('ok'), b(0x80)]));
  for (const [from, to] of [[0xc0, 0xdf], [0xe0, 0xef], [0xf0, 0xf7], [0xf8, 0xfb], [0xfc, 0xfd]] as const) {
    add('6.13 lonely start characters', false, b(...range(from, to).flatMap((lead) => [lead, 0x20])));
  }
  const missing = [b(0xc0), b(0xe0, 0x80), b(0xf0, 0x80, 0x80), b(0xf8, 0x80, 0x80, 0x80), b(0xfc, 0x80, 0x80, 0x80, 0x80), b(0xdf), b(0xef, 0xbf), b(0xf7, 0xbf, 0xbf), b(0xfb, 0xbf, 0xbf, 0xbf), b(0xfd, 0xbf, 0xbf, 0xbf, 0xbf)];
  add('6.14 last continuation byte missing', false, ...missing);
  add('6.14 last continuation byte missing (valid leads)', false, b(0xc2), b(0xe0, 0xa0), b(0xed, 0x9f), b(0xf0, 0x90, 0x80), b(0xf4, 0x8f, 0xbf), Buffer.concat([u('text'), b(0xe2, 0x82)]));
  add('6.15 concatenated incomplete sequences', false, Buffer.concat(missing));
  add('6.16 impossible bytes', false, b(0xfe), b(0xff), b(0xfe, 0xfe, 0xff, 0xff));
  add('6.17 overlong ASCII', false, b(0xc0, 0xaf), b(0xe0, 0x80, 0xaf), b(0xf0, 0x80, 0x80, 0xaf), b(0xf8, 0x80, 0x80, 0x80, 0xaf), b(0xfc, 0x80, 0x80, 0x80, 0x80, 0xaf));
  add('6.18 maximum overlong', false, b(0xc1, 0xbf), b(0xe0, 0x9f, 0xbf), b(0xf0, 0x8f, 0xbf, 0xbf), b(0xf8, 0x87, 0xbf, 0xbf, 0xbf), b(0xfc, 0x83, 0xbf, 0xbf, 0xbf, 0xbf));
  add('6.19 overlong NUL', false, b(0xc0, 0x80), b(0xe0, 0x80, 0x80), b(0xf0, 0x80, 0x80, 0x80), b(0xf8, 0x80, 0x80, 0x80, 0x80), b(0xfc, 0x80, 0x80, 0x80, 0x80, 0x80));
  const singles = [b(0xed, 0xa0, 0x80), b(0xed, 0xad, 0xbf), b(0xed, 0xae, 0x80), b(0xed, 0xaf, 0xbf), b(0xed, 0xb0, 0x80), b(0xed, 0xbe, 0x80), b(0xed, 0xbf, 0xbf)];
  add('6.20 single surrogates', false, ...singles);
  for (const high of singles.slice(0, 4)) for (const low of [b(0xed, 0xb0, 0x80), b(0xed, 0xbf, 0xbf)]) add('6.21 paired surrogates', false, Buffer.concat([high, low]));
  add('6.22 non-characters (valid UTF-8)', true, b(0xef, 0xbf, 0xbe), b(0xef, 0xbf, 0xbf));
  for (const lead of [0xf0, 0xf1, 0xf2, 0xf3, 0xf4]) {
    for (const second of [0x8f, 0x9f, 0xaf, 0xbf]) {
      if (lead === 0xf4 && second !== 0x8f) continue; // beyond U+10FFFF
      if (lead === 0xf0 && second === 0x8f) continue; // overlong
      for (const last of [0xbe, 0xbf]) add('6.22 non-characters (valid UTF-8)', true, b(lead, second, 0xbf, last));
    }
  }
  add('6.23 specials', true, ...range(0xb9, 0xbf).map((last) => b(0xef, 0xbf, last)));
  return out;
}

const fatal = new TextDecoder('utf-8', { fatal: true });
const tails: Buffer[] = [Buffer.alloc(0)];
for (let n = 1; n <= 3; n++) {
  for (const t of tails.filter((x) => x.length === n - 1)) for (const c of [0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf]) tails.push(Buffer.concat([t, b(c)]));
}

function decodes(bytes: Buffer): boolean {
  try {
    fatal.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/**
 * Reference for fail-fast: index of the first byte after which the text can no longer become valid
 * UTF-8 whatever follows (found with TextDecoder over every continuation a code point could still
 * take), or `bytes.length` if every prefix can still be completed (then only the end fails it).
 */
export function firstHopelessByte(bytes: Buffer): number {
  for (let i = 1; i <= bytes.length; i++) {
    const prefix = bytes.subarray(0, i);
    if (!tails.some((t) => decodes(Buffer.concat([prefix, t])))) return i - 1;
  }
  return bytes.length;
}
