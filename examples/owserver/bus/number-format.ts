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

/** How %G prints six significant digits `digits` (trailing zeros already dropped) whose first has decimal exponent `exponent`. */
function layout(digits: string, exponent: number): string {
  if (exponent >= SIGNIFICANT || exponent < -4) {
    const mantissa = digits.length === 1 ? digits : `${digits[0]}.${digits.slice(1)}`;
    return `${mantissa}E${exponent < 0 ? '-' : '+'}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  if (exponent < 0) return `0.${'0'.repeat(-exponent - 1)}${digits}`;
  if (digits.length <= exponent + 1) return digits.padEnd(exponent + 1, '0');
  return `${digits.slice(0, exponent + 1)}.${digits.slice(exponent + 1)}`;
}

const dropTrailingZeros = (digits: string): string => {
  let end = digits.length;
  while (end > 1 && digits.charCodeAt(end - 1) === 0x30) end--;
  return digits.slice(0, end);
};

/** %G of a finite |value| > 0 the exact way: rounding the double's binary value with big integers. */
function exactG(magnitude: number): string {
  // The decimal exponent after rounding to six digits; log10 can be off by one near powers of ten.
  let exponent = Math.floor(Math.log10(magnitude));
  let digits = scaledRound(magnitude, SIGNIFICANT - 1 - exponent);
  if (digits >= TEN ** BigInt(SIGNIFICANT)) {
    exponent++;
    digits = scaledRound(magnitude, SIGNIFICANT - 1 - exponent);
  } else if (digits < TEN ** BigInt(SIGNIFICANT - 1)) {
    exponent--;
    digits = scaledRound(magnitude, SIGNIFICANT - 1 - exponent);
  }
  if (digits >= TEN ** BigInt(SIGNIFICANT)) {
    // 9.999995 rounding up to 10.0000 after the correction above.
    exponent++;
    digits /= TEN;
  }
  return layout(dropTrailingZeros(digits.toString()), exponent);
}

const SMALLEST_NORMAL = 2 ** -1022;

interface Decimal {
  /** Significant digits, no leading or trailing zeros. */
  digits: string;
  /** Decimal exponent of the first digit. */
  exponent: number;
}

/** Read a positive number as JavaScript prints it: "123.456", "0.000123", "1.5e-7", "1e+21", "100.000". */
function readDecimal(text: string): Decimal {
  const e = text.indexOf('e');
  const mantissa = e < 0 ? text : text.slice(0, e);
  const point = mantissa.indexOf('.');
  const whole = point < 0 ? mantissa : mantissa.slice(0, point);
  const all = point < 0 ? mantissa : whole + mantissa.slice(point + 1);
  let lead = 0;
  while (all.charCodeAt(lead) === 0x30) lead++;
  const exponent = whole.length - 1 - lead + (e < 0 ? 0 : Number(text.slice(e + 1)));
  return { digits: dropTrailingZeros(all.slice(lead)), exponent };
}

/** Round up the six digits `digits`, carrying into the exponent at 999999. */
function roundedUp(digits: string, exponent: number): Decimal {
  const up = Number(digits) + 1;
  return up === 10 ** SIGNIFICANT ? { digits: '1', exponent: exponent + 1 } : { digits: dropTrailingZeros(String(up)), exponent };
}

/**
 * Whether the double whose shortest decimal is the seven-digit tie T = digits × 10^(exponent - 6) is
 * T itself, i.e. whether T is a double: D × 10^k needs an odd part D × 5^k under 2^53, D / 10^j needs
 * 5^j to divide D (D ends in 5, so it is odd).
 */
function isExactTie(digits: string, exponent: number): boolean {
  const d = Number(digits);
  const k = exponent - SIGNIFICANT;
  return k >= 0 ? d * 5 ** k < 2 ** 53 : d % 5 ** -k === 0;
}

/**
 * %G of a normal |value| without big integers, from JavaScript's shortest round-trip decimal s
 * (String(value)). Why s rounds as the double does: every number within the double's rounding interval
 * reads back as the double, and s is the shortest such number. A six-digit rounding tie T has seven
 * significant digits, and the interval (under 2^-52 wide, relatively) cannot hold two distinct
 * seven-digit numbers. So with s of eight or more digits T is not in the interval at all, nor is it
 * with seven unless s = T; then the double and s lie on the same side of every tie and round alike —
 * and s of six digits or fewer is already what the rounding gives. When s = T (seven digits ending in
 * 5), either the double is T, an exact tie that glibc rounds to even, or it is not and there is no tie
 * to break, so toPrecision (exact, but rounding ties away from zero) is right. Subnormals have too few
 * bits for the argument and go the exact way.
 */
function shortestG(magnitude: number): string | undefined {
  if (magnitude < SMALLEST_NORMAL) return undefined;
  let { digits, exponent } = readDecimal(String(magnitude));
  if (digits.length > SIGNIFICANT) {
    const next = digits.charCodeAt(SIGNIFICANT) - 0x30;
    const six = digits.slice(0, SIGNIFICANT);
    if (next === 5 && digits.length === SIGNIFICANT + 1) {
      if (!isExactTie(digits, exponent)) ({ digits, exponent } = readDecimal(magnitude.toPrecision(SIGNIFICANT)));
      else if (six.charCodeAt(SIGNIFICANT - 1) % 2 === 1) ({ digits, exponent } = roundedUp(six, exponent));
      else digits = dropTrailingZeros(six);
    } else if (next >= 5) {
      ({ digits, exponent } = roundedUp(six, exponent));
    } else {
      digits = dropTrailingZeros(six);
    }
  }
  return layout(digits, exponent);
}

/** C's `%G`. */
export function formatG(value: number): string {
  if (Number.isNaN(value)) return value < 0 ? '-NAN' : 'NAN';
  if (!Number.isFinite(value)) return value < 0 ? '-INF' : 'INF';
  const sign = value < 0 || Object.is(value, -0) ? '-' : '';
  if (value === 0) return `${sign}0`;
  const magnitude = Math.abs(value);
  // Whole numbers below 10^6 print as themselves; all but subnormals are decided by the shortest
  // decimal, far cheaper than exact rounding with big integers.
  if (magnitude < 1e6 && Number.isInteger(magnitude)) return sign + String(magnitude);
  return sign + (shortestG(magnitude) ?? exactG(magnitude));
}
