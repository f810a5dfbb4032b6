import type { OwResult } from './bus.js';

/**
 * The negative return codes this bus produces. Path-parse failures are a plain -1 in owserver, not an
 * errno; the rest are negated Linux errnos, as owserver sends them.
 */
export const OwReturnCode = {
  /** Unknown path, absent device, unknown property, bad array index. */
  BAD_PATH: -1,
  /** A yes/no value that was empty or blank. */
  EFAULT: -14,
  /** DIR of a property. */
  ENOTDIR: -20,
  /** READ or WRITE of a directory or device. */
  EISDIR: -21,
  /** A written value that does not parse or is out of range. */
  EINVAL: -22,
  /** A written number too large for strtoul/strtod. */
  ERANGE: -34,
  /** WRITE to a read-only property. */
  EOPNOTSUPP: -95,
} as const;

export function ok<T>(value: T): OwResult<T> {
  return { ok: true, value };
}

export function fail<T>(error: number): OwResult<T> {
  return { ok: false, error };
}
