/** Ways to cut a byte string into pooled buffers, for the framing tests. */
import type { BufferPool, PooledBuffer } from '../../framework/index.js';

/** Chunk sizes for `data` cut at the given offsets (sorted, inside (0, length)). */
export function cutAt(length: number, cuts: readonly number[]): number[] {
  const sizes: number[] = [];
  let at = 0;
  for (const cut of cuts) {
    sizes.push(cut - at);
    at = cut;
  }
  sizes.push(length - at);
  return sizes.filter((s) => s > 0);
}

/** Every layout worth trying for short input: whole, each single cut, each pair of cuts, 1-byte pieces. */
export function layouts(length: number, pairs = true): number[][] {
  const out: number[][] = [[length]];
  for (let a = 1; a < length; a++) out.push(cutAt(length, [a]));
  if (pairs) for (let a = 1; a < length; a++) for (let b = a + 1; b < length; b++) out.push(cutAt(length, [a, b]));
  if (length > 1) out.push(Array.from({ length }, () => 1));
  return out;
}

/** A seeded generator (mulberry32): the same "random" layouts on every run, so failures reproduce. */
export function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random chunk sizes in [1, max] covering `length`. */
export function randomSizes(length: number, max: number, random: () => number): number[] {
  const sizes: number[] = [];
  for (let left = length; left > 0; ) {
    const n = Math.min(left, 1 + Math.floor(random() * max));
    sizes.push(n);
    left -= n;
  }
  return sizes;
}

/** `data` as pooled buffers of the given sizes (the caller owns them). */
export function pooled(pool: BufferPool, data: Uint8Array, sizes: readonly number[]): PooledBuffer[] {
  const out: PooledBuffer[] = [];
  let at = 0;
  for (const size of sizes) {
    out.push(pool.acquireCopy(data.subarray(at, at + size)));
    at += size;
  }
  if (at !== data.length) throw new Error(`sizes cover ${at} of ${data.length} bytes`);
  return out;
}
