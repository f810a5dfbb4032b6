import { isUtf8 } from 'node:buffer';

/**
 * Incremental UTF-8 validation (RFC 3629: no overlong forms, no surrogates U+D800–DFFF, nothing above
 * U+10FFFF, no 0xC0/0xC1/0xF5–0xFF) that fails at the write holding the first bad byte, however the
 * text is cut into writes.
 *
 * Each write is split at its last code-point boundary: the complete prefix goes to Node's native
 * `buffer.isUtf8` (simdutf, several GB/s), and the at most three bytes of an unfinished code point
 * at the end go through a small state machine that carries into the next write. That machine knows
 * the legal range of every continuation byte (E0 A0–BF, ED 80–9F, F0 90–BF, F4 80–8F), so a sequence
 * that can no longer become valid (ED A0, F4 90) fails at once, not when its last byte arrives.
 */
export class Utf8Validator {
  /** Continuation bytes the carried code point still needs (0: at a boundary). */
  #need = 0;
  /** Legal range of the next continuation byte. */
  #low = 0x80;
  #high = 0xbf;
  #failed = false;

  /** True once a write failed; it stays failed until `reset`. */
  get failed(): boolean {
    return this.#failed;
  }

  /** True when the text so far ends on a code-point boundary. */
  get atBoundary(): boolean {
    return this.#need === 0;
  }

  /** Validate the next bytes; false (and failed from then on) if they cannot be part of valid UTF-8. */
  write(bytes: Uint8Array): boolean {
    if (this.#failed) return false;
    const n = bytes.length;
    let i = 0;
    // Finish the code point carried over from the previous write.
    while (this.#need > 0 && i < n) {
      if (!this.#continuation(bytes[i++]!)) return this.#fail();
    }
    if (i === n) return true;
    const cut = lastBoundary(bytes, i);
    if (cut > i && !isUtf8(i === 0 && cut === n ? bytes : bytes.subarray(i, cut))) return this.#fail();
    for (let k = cut; k < n; k++) {
      const b = bytes[k]!;
      if (this.#need === 0 ? !this.#lead(b) : !this.#continuation(b)) return this.#fail();
    }
    return true;
  }

  /** The text is complete: true if it was all valid and did not stop inside a code point. */
  end(): boolean {
    if (this.#need !== 0) this.#failed = true;
    return !this.#failed;
  }

  /** Start over for a new text. */
  reset(): void {
    this.#need = 0;
    this.#low = 0x80;
    this.#high = 0xbf;
    this.#failed = false;
  }

  #lead(b: number): boolean {
    if (b < 0x80) return true;
    if (b < 0xc2) return false; // a continuation byte as a lead, or C0/C1 (always overlong)
    if (b < 0xe0) {
      this.#need = 1;
    } else if (b < 0xf0) {
      this.#need = 2;
      if (b === 0xe0) this.#low = 0xa0; // below: overlong
      else if (b === 0xed) this.#high = 0x9f; // above: surrogates D800–DFFF
    } else if (b < 0xf5) {
      this.#need = 3;
      if (b === 0xf0) this.#low = 0x90; // below: overlong
      else if (b === 0xf4) this.#high = 0x8f; // above: beyond U+10FFFF
    } else {
      return false; // F5–FF: beyond U+10FFFF, or never UTF-8 (FE, FF)
    }
    return true;
  }

  #continuation(b: number): boolean {
    if (b < this.#low || b > this.#high) return false;
    this.#low = 0x80;
    this.#high = 0xbf;
    this.#need--;
    return true;
  }

  #fail(): false {
    this.#failed = true;
    this.#need = 0;
    return false;
  }
}

/**
 * Offset in `bytes` (from `from` on) where an unfinished code point starts at the end, or
 * `bytes.length` if the bytes end on a boundary (or end in bytes that can never finish a code point,
 * which the native check then refuses).
 */
function lastBoundary(bytes: Uint8Array, from: number): number {
  const n = bytes.length;
  const stop = Math.max(from, n - 3);
  for (let j = n - 1; j >= stop; j--) {
    const b = bytes[j]!;
    if ((b & 0xc0) === 0x80) continue; // a continuation byte: the lead is further back
    const length = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return j + length > n ? j : n;
  }
  return n;
}

/** True if `bytes` is complete, valid UTF-8 (close reasons, whole messages). */
export function isValidUtf8(bytes: Uint8Array): boolean {
  return bytes.length === 0 || isUtf8(bytes);
}
