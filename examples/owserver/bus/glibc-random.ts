/**
 * glibc's random() — the TYPE_3 additive feedback generator (r[i] = r[i-3] + r[i-31]) — re-implemented
 * because owserver's fake adapter draws its device ids from it without seeding (seed 1). Replaying the
 * same stream is what makes `--fake=10,28,05` come out as 10.67C6697351FF, 28.4AEC29CDBAAB and
 * 05.F2FBE3467CC2 here exactly as on the real server.
 */
export class GlibcRandom {
  // The last 34 outputs of the recurrence; enough to reach back 31 and 3 places.
  readonly #ring = new Int32Array(34);
  #position = 0;

  constructor(seed = 1) {
    const r = this.#ring;
    // glibc replaces seed 0 with 1.
    let value = seed === 0 ? 1 : seed | 0;
    const initial: number[] = [value];
    for (let i = 1; i < 31; i++) {
      // 16807 * value mod (2^31 - 1) by Schrage's method, exactly as glibc's srandom_r.
      const hi = Math.trunc(value / 127773);
      const lo = value % 127773;
      value = 16807 * lo - 2836 * hi;
      if (value < 0) value += 2147483647;
      initial.push(value);
    }
    for (let i = 31; i < 34; i++) initial.push(initial[i - 31]!);
    for (let i = 0; i < 34; i++) r[i] = initial[i]!;
    this.#position = 34;
    // srandom_r discards the first 310 outputs.
    for (let i = 34; i < 344; i++) this.#step();
  }

  /** The next random() value, 0 ≤ n < 2^31. */
  next(): number {
    return this.#step() >>> 1;
  }

  /** Uniform in [0, 1). */
  nextFloat(): number {
    return this.next() / 2147483648;
  }

  /** Uniform integer in [0, bound). */
  nextBelow(bound: number): number {
    return Math.floor(this.nextFloat() * bound);
  }

  /** One byte, as owserver takes it: the low 8 bits of random(). */
  nextByte(): number {
    return this.next() & 0xff;
  }

  #step(): number {
    const r = this.#ring;
    const i = this.#position % 34;
    const value = (r[(this.#position - 31) % 34]! + r[(this.#position - 3) % 34]!) | 0;
    r[i] = value;
    this.#position++;
    return value;
  }
}
