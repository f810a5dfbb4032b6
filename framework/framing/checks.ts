import { type ErrorCode, ErrorCodes, type ErrorLayer, PorticoError } from '../core/errors.js';
import type { PooledBuffer } from '../buffers/pooled-buffer.js';

/**
 * @internal Throw INVALID_ARGUMENT unless `value` is an integer in [min, max]. Callers keep the
 * message lazy: it is only built on the error path.
 */
export function checkRange(value: number, min: number, max: number, what: string, layer: ErrorLayer): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new PorticoError(ErrorCodes.INVALID_ARGUMENT, layer, `${what} must be an integer in [${min}, ${max}], got ${value}`);
  }
}

/** @internal A peer-caused framing error (INPUT_TOO_LARGE or BAD_FRAME), raised in the protocol layer. */
export function framingError(code: ErrorCode, message: string): PorticoError {
  return new PorticoError(code, 'protocol', message);
}

/**
 * @internal Release every buffer even if one release throws (someone else released it: a caller bug);
 * the first error is rethrown after all the others were returned, so one bad buffer leaks nothing.
 */
export function releaseAll(held: readonly { readonly buffer: PooledBuffer }[]): void {
  let first: unknown = null;
  for (let i = 0; i < held.length; i++) {
    try {
      held[i]!.buffer.release();
    } catch (error) {
      first ??= error;
    }
  }
  if (first !== null) throw first;
}
