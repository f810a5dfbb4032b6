import type { OwResult } from './bus.js';
import { OwReturnCode, fail, ok } from './return-codes.js';

/**
 * Written values are parsed the way owfs parses them — strtoul, strtod and its own yes/no reader over
 * the data as a C string — so that odd inputs ("7x", " 20", "1e2", "-5", "yes please") are accepted
 * or refused, and read back, exactly as on owserver.
 */

/** The data as C sees it: up to the first NUL. */
export function cString(data: Buffer): string {
  const nul = data.indexOf(0);
  return (nul < 0 ? data : data.subarray(0, nul)).toString('latin1');
}

const C_SPACE = /^[ \t\n\v\f\r]*/;
const UINT64_MAX = (1n << 64n) - 1n;

/** strtoul(text, &end, 10) stored into a 32-bit unsigned, as FS_input_unsigned does. */
export function parseUnsigned(text: string): OwResult<number> {
  const match = /^([+-]?)(\d+)/.exec(text.replace(C_SPACE, ''));
  if (match === null) return fail(OwReturnCode.EINVAL);
  const magnitude = BigInt(match[2]!);
  if (magnitude > UINT64_MAX) return fail(OwReturnCode.ERANGE);
  const value = match[1] === '-' ? (1n << 64n) - magnitude : magnitude;
  return ok(Number(value & 0xffffffffn));
}

const DECIMAL_FLOAT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/;
const HEX_FLOAT = /^([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?\d+))?/;
const SPECIAL_FLOAT = /^([+-]?)(inf(?:inity)?|nan(?:\([0-9A-Za-z_]*\))?)/i;

/** strtod(text, &end): the longest valid prefix; nothing valid → EINVAL, overflow or underflow → ERANGE. */
export function parseFloatPrefix(text: string): OwResult<number> {
  const body = text.replace(C_SPACE, '');
  const special = SPECIAL_FLOAT.exec(body);
  if (special !== null) {
    const negative = special[1] === '-';
    if (special[2]!.toLowerCase().startsWith('inf')) return ok(negative ? -Infinity : Infinity);
    return ok(NaN);
  }
  const hexMatch = HEX_FLOAT.exec(body);
  if (hexMatch !== null && (hexMatch[2]! + (hexMatch[3] ?? '')).length > 0) {
    const digits = hexMatch[2]! + (hexMatch[3] ?? '');
    const fractionBits = 4 * (hexMatch[3]?.length ?? 0);
    const value = Number.parseInt(digits, 16) * 2 ** (Number(hexMatch[4] ?? 0) - fractionBits);
    return rangeChecked(hexMatch[1] === '-' ? -value : value, /[1-9a-fA-F]/.test(digits));
  }
  const decimal = DECIMAL_FLOAT.exec(body);
  if (decimal === null) {
    // "0x" with no hex digits still parses as the "0".
    return hexMatch !== null ? ok(0) : fail(OwReturnCode.EINVAL);
  }
  const mantissa = decimal[0].split(/[eE]/)[0]!;
  return rangeChecked(Number(decimal[0]), /[1-9]/.test(mantissa));
}

function rangeChecked(value: number, nonZeroDigits: boolean): OwResult<number> {
  if (!Number.isFinite(value)) return fail(OwReturnCode.ERANGE);
  if (value === 0 && nonZeroDigits) return fail(OwReturnCode.ERANGE);
  return ok(value);
}

/**
 * owfs's FS_input_yesno: a number (strtol) means its truth; otherwise the first non-blank word must
 * start with y, n, on or off. Nothing but blanks is EFAULT, any other word EINVAL.
 */
export function parseYesNo(text: string): OwResult<boolean> {
  const number = /^([+-]?)(\d+)/.exec(text.replace(C_SPACE, ''));
  // strtol overflow sets errno, which sends owfs down the word path (where a digit is no word).
  if (number !== null && BigInt(number[2]!) <= 0x7fffffffffffffffn + (number[1] === '-' ? 1n : 0n)) {
    return ok(BigInt(number[2]!) !== 0n);
  }
  const word = text.replace(/^[ \t]*/, '');
  if (word === '') return fail(OwReturnCode.EFAULT);
  const lower = word.toLowerCase();
  if (lower.startsWith('y')) return ok(true);
  if (lower.startsWith('n')) return ok(false);
  if (lower.startsWith('on')) return ok(true);
  if (lower.startsWith('off')) return ok(false);
  return fail(OwReturnCode.EINVAL);
}
