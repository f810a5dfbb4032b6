/**
 * The bytes `--protocol raw` sends, from one `--send` value: `hex:48 65 6c`, `@file`, `text:…`, or
 * plain text with C escapes (`\r`, `\n`, `\t`, `\0`, `\\`, `\xNN`) — so `'GET / HTTP/1.0\r\n\r\n'`
 * in single quotes on a shell command line is an HTTP request, CRs and all.
 */
import { readFileSync } from 'node:fs';

/** The largest payload a raw flood sends per message (a bigger file is a mistake, not a load). */
export const MAX_RAW_PAYLOAD = 1024 * 1024;

const simpleEscapes: Readonly<Record<string, number>> = { r: 0x0d, n: 0x0a, t: 0x09, '0': 0x00, '\\': 0x5c };

/** Text with C escapes → bytes (UTF-8 for everything that is not an escape). */
export function unescapeText(text: string): Buffer {
  const parts: Buffer[] = [];
  let plain = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c !== '\\') {
      plain += c;
      continue;
    }
    const next = text[i + 1];
    if (next === undefined) throw new Error('a trailing backslash escapes nothing (write \\\\ for a backslash)');
    if (next === 'x') {
      const digits = text.slice(i + 2, i + 4);
      if (!/^[0-9a-fA-F]{2}$/.test(digits)) throw new Error(`\\x needs two hex digits, got "\\x${digits}"`);
      parts.push(Buffer.from(plain, 'utf8'), Buffer.from([parseInt(digits, 16)]));
      plain = '';
      i += 3;
      continue;
    }
    const byte = simpleEscapes[next];
    if (byte === undefined) throw new Error(`unknown escape "\\${next}" (known: \\r \\n \\t \\0 \\\\ \\xNN)`);
    parts.push(Buffer.from(plain, 'utf8'), Buffer.from([byte]));
    plain = '';
    i++;
  }
  parts.push(Buffer.from(plain, 'utf8'));
  return Buffer.concat(parts);
}

/** `hex:` digits, optionally separated by whitespace, two per byte. */
export function parseHex(text: string): Buffer {
  const digits = text.replace(/\s+/g, '');
  if (!/^([0-9a-fA-F]{2})*$/.test(digits)) throw new Error('hex: expects pairs of hex digits (spaces allowed), e.g. hex:48656c6c6f0a');
  return Buffer.from(digits, 'hex');
}

/**
 * `--send`'s value → the payload. `@path` reads the file (relative to the harness's working
 * directory); `hex:` and `text:` say how to read the rest; anything else is text with escapes.
 */
export function parsePayload(spec: string, read: (path: string) => Buffer = (path) => readFileSync(path)): Buffer {
  let payload: Buffer;
  if (spec.startsWith('@')) {
    const path = spec.slice(1);
    if (path === '') throw new Error('@ needs a file name, e.g. @request.bin');
    try {
      payload = read(path);
    } catch (error) {
      throw new Error(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  } else if (spec.startsWith('hex:')) {
    payload = parseHex(spec.slice(4));
  } else {
    payload = unescapeText(spec.startsWith('text:') ? spec.slice(5) : spec);
  }
  if (payload.length === 0) throw new Error('the payload is empty: a raw message must send at least one byte');
  if (payload.length > MAX_RAW_PAYLOAD) throw new Error(`the payload is ${payload.length} bytes; at most ${MAX_RAW_PAYLOAD} per message`);
  return payload;
}
