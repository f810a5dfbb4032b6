/**
 * owserver's number formatting: floats through printf("%G") — six significant digits, trailing zeros
 * dropped, exponent form outside 1e-4 ≤ |x| < 1e6 — and everything numeric right-aligned in a field
 * of 12 unless the request asked for TRIM.
 */

export const FIELD_WIDTH = 12;

/** Right-align in owserver's 12-character field, or leave bare when the request set TRIM. */
export function padField(text: string, trim: boolean): string {
  return trim ? text : text.padStart(FIELD_WIDTH, ' ');
}

const SIGNIFICANT = 6;
const TEN = 10n;

/**
 * round(|value| × 10^decimals) with ties to even, computed exactly from the double's bits: glibc rounds
 * the exact binary value, and JavaScript's toFixed breaks exact ties (100.0625 → "100.063") the other way.
 */
function scaledRound(value: number, decimals: number): bigint {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(value));
  const bits = view.getBigUint64(0);
  const exponentBits = Number((bits >> 52n) & 0x7ffn);
  let mantissa = bits & ((1n << 52n) - 1n);
  let exponent: number;
  if (exponentBits === 0) {
    exponent = -1074;
  } else {
    mantissa |= 1n << 52n;
    exponent = exponentBits - 1075;
  }
  let numerator = mantissa;
  let denominator = 1n;
  if (exponent >= 0) numerator <<= BigInt(exponent);
  else denominator <<= BigInt(-exponent);
  if (decimals >= 0) numerator *= TEN ** BigInt(decimals);
  else denominator *= TEN ** BigInt(-decimals);
  const quotient = numerator / denominator;
  const twiceRemainder = (numerator % denominator) * 2n;
  if (twiceRemainder > denominator || (twiceRemainder === denominator && quotient % 2n === 1n)) return quotient + 1n;
  return quotient;
}

const stripZeros = (digits: string): string => (digits.includes('.') ? digits.replace(/\.?0+$/, '') : digits);

/** C's `%G`. */
export function formatG(value: number): string {
  if (Number.isNaN(value)) return value < 0 ? '-NAN' : 'NAN';
  if (!Number.isFinite(value)) return value < 0 ? '-INF' : 'INF';
  const sign = value < 0 || Object.is(value, -0) ? '-' : '';
  if (value === 0) return `${sign}0`;
  // The decimal exponent after rounding to six digits; log10 can be off by one near powers of ten.
  let exponent = Math.floor(Math.log10(Math.abs(value)));
  let digits = scaledRound(value, SIGNIFICANT - 1 - exponent);
  if (digits >= TEN ** BigInt(SIGNIFICANT)) {
    exponent++;
    digits = scaledRound(value, SIGNIFICANT - 1 - exponent);
  } else if (digits < TEN ** BigInt(SIGNIFICANT - 1)) {
    exponent--;
    digits = scaledRound(value, SIGNIFICANT - 1 - exponent);
  }
  if (digits >= TEN ** BigInt(SIGNIFICANT)) {
    // 9.999995 rounding up to 10.0000 after the correction above.
    exponent++;
    digits /= TEN;
  }
  const text = digits.toString();
  if (exponent >= -4 && exponent < SIGNIFICANT) {
    const decimals = SIGNIFICANT - 1 - exponent;
    if (decimals === 0) return sign + text;
    const padded = text.padStart(decimals + 1, '0');
    const point = padded.length - decimals;
    return sign + stripZeros(`${padded.slice(0, point)}.${padded.slice(point)}`);
  }
  const mantissa = stripZeros(`${text[0]}.${text.slice(1)}`);
  const exponentText = String(Math.abs(exponent)).padStart(2, '0');
  return `${sign}${mantissa}E${exponent < 0 ? '-' : '+'}${exponentText}`;
}
