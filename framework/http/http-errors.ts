import { type ErrorCode, ErrorCodes, PorticoError } from '../core/errors.js';

/** The status a server answers a refused request head with. */
export type HttpErrorStatus = 400 | 414 | 431 | 501 | 505;

/**
 * The status to answer a `PORTICO_ERR_HTTP_*` request error with, or null for any other code. Each
 * code has exactly one status, so the status travels with the error wherever it is rethrown.
 */
export function httpErrorStatus(code: ErrorCode): HttpErrorStatus | null {
  switch (code) {
    case ErrorCodes.HTTP_BAD_REQUEST:
      return 400;
    case ErrorCodes.HTTP_URI_TOO_LONG:
      return 414;
    case ErrorCodes.HTTP_HEAD_TOO_LARGE:
      return 431;
    case ErrorCodes.HTTP_NOT_IMPLEMENTED:
      return 501;
    case ErrorCodes.HTTP_VERSION:
      return 505;
    default:
      return null;
  }
}

/** @internal A peer-caused HTTP error, raised in the http layer. */
export function httpError(code: ErrorCode, message: string): PorticoError {
  return new PorticoError(code, 'http', message);
}

/** @internal Shorthand for the commonest one: a 400. */
export function badRequest(message: string): PorticoError {
  return new PorticoError(ErrorCodes.HTTP_BAD_REQUEST, 'http', message);
}
