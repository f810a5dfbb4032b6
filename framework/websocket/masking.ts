import { createRequire } from 'node:module';

/**
 * WebSocket masking (RFC 6455 section 5.3): payload byte i is XORed with key byte (i mod 4). Pure JS:
 * short runs go byte by byte with the key in four locals; long runs XOR 32-bit words through a
 * Uint32Array over the aligned middle, four bytes per operation (the measured figures are in
 * harness/bench/ws-frame-bench.ts). No native addon is required: no ABI lock-in.
 *
 * Optional acceleration: when the `bufferutil` package (ws's native masking addon) is installed with
 * its native build, unmasking runs of `NATIVE_THRESHOLD` bytes or more go through it, as ws does;
 * below that the call into native code costs more than the loop. Its JS fallback (a byte loop, slower
 * than ours) is never used, and `PORTICO_NO_BUFFERUTIL=1` in the environment turns the acceleration
 * off. The results are the same bytes either way.
 */

/** Runs shorter than this go byte by byte: a typed-array view costs more than it saves below it. */
const WORD_THRESHOLD = 128;
/** Runs of this many bytes or more are unmasked by bufferutil when it is loaded. */
export const NATIVE_THRESHOLD = 128;

type NativeUnmask = (buffer: Uint8Array, mask: Uint8Array) => void;

/** bufferutil's native `unmask`, or null when it is absent, only its JS fallback loads, or PORTICO_NO_BUFFERUTIL is set. */
function loadNativeUnmask(): NativeUnmask | null {
  const off = process.env['PORTICO_NO_BUFFERUTIL'];
  if (off !== undefined && off !== '' && off !== '0') return null;
  try {
    const require = createRequire(import.meta.url);
    const loaded = require('bufferutil') as { unmask?: unknown };
    const fallback = require('bufferutil/fallback') as { unmask?: unknown };
    return typeof loaded.unmask === 'function' && loaded.unmask !== fallback.unmask ? (loaded.unmask as NativeUnmask) : null;
  } catch {
    return null; // not installed: the pure-JS loops
  }
}

const nativeUnmask = loadNativeUnmask();
/** The 4-byte key handed to bufferutil, rewritten for each call (it wants the key as bytes, at phase 0). */
const nativeKey = new Uint8Array(4);

/** What unmasks long runs here: 'bufferutil' (the native addon) or 'js'. */
export const maskingBackend: 'bufferutil' | 'js' = nativeUnmask === null ? 'js' : 'bufferutil';
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Rotate a big-endian key word so its first byte is key byte `phase` (0–3): the key as seen from
 * payload offset `phase` on.
 */
function rotate(key: number, phase: number): number {
  const shift = (phase & 3) * 8;
  return shift === 0 ? key >>> 0 : ((key << shift) | (key >>> (32 - shift))) >>> 0;
}

function byteSwap(word: number): number {
  return (((word & 0xff) << 24) | ((word & 0xff00) << 8) | ((word >>> 8) & 0xff00) | (word >>> 24)) >>> 0;
}

/** XOR `length` bytes of `source` from `from` into `target` at `to` (same array allowed), key starting at byte 0 of the run. */
function xorBytes(source: Uint8Array, from: number, target: Uint8Array, to: number, length: number, key: number): void {
  const k0 = key >>> 24;
  const k1 = (key >>> 16) & 0xff;
  const k2 = (key >>> 8) & 0xff;
  const k3 = key & 0xff;
  let i = 0;
  const whole = length & ~3;
  for (; i < whole; i += 4) {
    target[to + i] = source[from + i]! ^ k0;
    target[to + i + 1] = source[from + i + 1]! ^ k1;
    target[to + i + 2] = source[from + i + 2]! ^ k2;
    target[to + i + 3] = source[from + i + 3]! ^ k3;
  }
  if (i < length) target[to + i] = source[from + i]! ^ k0;
  if (i + 1 < length) target[to + i + 1] = source[from + i + 1]! ^ k1;
  if (i + 2 < length) target[to + i + 2] = source[from + i + 2]! ^ k2;
}

/** XOR the first `length` bytes of `bytes` in place, key starting at byte 0 (one array: fewer bounds checks than `xorBytes`). */
function xorInPlace(bytes: Uint8Array, length: number, key: number): void {
  const k0 = key >>> 24;
  const k1 = (key >>> 16) & 0xff;
  const k2 = (key >>> 8) & 0xff;
  const k3 = key & 0xff;
  let i = 0;
  const whole = length & ~3;
  for (; i < whole; i += 4) {
    bytes[i] ^= k0;
    bytes[i + 1] ^= k1;
    bytes[i + 2] ^= k2;
    bytes[i + 3] ^= k3;
  }
  if (i < length) bytes[i] ^= k0;
  if (i + 1 < length) bytes[i + 1] ^= k1;
  if (i + 2 < length) bytes[i + 2] ^= k2;
}

/**
 * Unmask (or mask: XOR is its own inverse) `bytes` in place. `key` is the 4-byte masking key as a
 * big-endian unsigned 32-bit number; `phase` is the payload offset of `bytes[0]` (any non-negative
 * integer; only its value mod 4 matters), so a payload that arrives in pieces is unmasked piece by
 * piece. Long runs go through bufferutil when it is installed (see above).
 */
export function unmaskInPlace(bytes: Uint8Array, key: number, phase: number): void {
  const n = bytes.length;
  if (nativeUnmask !== null && n >= NATIVE_THRESHOLD) {
    const k = rotate(key, phase);
    nativeKey[0] = k >>> 24;
    nativeKey[1] = (k >>> 16) & 0xff;
    nativeKey[2] = (k >>> 8) & 0xff;
    nativeKey[3] = k & 0xff;
    nativeUnmask(bytes, nativeKey);
    return;
  }
  unmaskInPlaceJs(bytes, key, phase);
}

/** @internal `unmaskInPlace` in pure JS whatever is installed (what runs without bufferutil; tests hold both to the reference). */
export function unmaskInPlaceJs(bytes: Uint8Array, key: number, phase: number): void {
  const n = bytes.length;
  let k = rotate(key, phase);
  if (n < WORD_THRESHOLD) {
    xorInPlace(bytes, n, k);
    return;
  }
  // Byte-wise up to the first 4-byte-aligned address, so the Uint32Array view below is legal.
  const head = (4 - (bytes.byteOffset & 3)) & 3;
  xorInPlace(bytes, head, k);
  k = rotate(k, head);
  const words = (n - head) >>> 2;
  const view = new Uint32Array(bytes.buffer, bytes.byteOffset + head, words);
  // In memory the word's first byte must meet key byte 0: on little-endian that is the low byte.
  const w = LITTLE_ENDIAN ? byteSwap(k) : k;
  // Unrolled by four: about 1.8x the plain word loop at 16 KiB (V8 keeps fewer bounds checks).
  const unrolled = words & ~3;
  let i = 0;
  for (; i < unrolled; i += 4) {
    view[i] ^= w;
    view[i + 1] ^= w;
    view[i + 2] ^= w;
    view[i + 3] ^= w;
  }
  for (; i < words; i++) view[i] ^= w;
  const done = head + words * 4;
  if (done < n) xorBytes(bytes, done, bytes, done, n - done, k);
}

/**
 * Write `source` masked with `key` (big-endian 32-bit, phase 0) into `target` at `offset`: the client
 * side of framing, which must not change the caller's payload.
 */
export function maskInto(source: Uint8Array, key: number, target: Uint8Array, offset: number): void {
  const n = source.length;
  if (n < WORD_THRESHOLD) {
    xorBytes(source, 0, target, offset, n, key);
    return;
  }
  target.set(source, offset);
  unmaskInPlace(target.subarray(offset, offset + n), key, 0);
}
