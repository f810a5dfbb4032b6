import { describeRet } from '../protocol/constants.js';

export type OwClientErrorCode =
  | 'OW_ERR_RESPONSE' // the server answered with a negative ret
  | 'OW_ERR_CONNECT' // could not connect
  | 'OW_ERR_SEND' // sending failed (after the one retry on a reused persistent connection)
  | 'OW_ERR_RECEIVE' // the connection failed or closed before the full answer
  | 'OW_ERR_TIMEOUT' // no answer (nor ping) in time
  | 'OW_ERR_PROTOCOL'; // the answer was malformed

/** A client failure with a stable code; for server answers also the owserver return code. */
export class OwClientError extends Error {
  readonly code: OwClientErrorCode;
  /** The server's negative return code (OW_ERR_RESPONSE only). */
  readonly ret: number | null;

  constructor(code: OwClientErrorCode, message: string, options: { ret?: number; cause?: unknown } = {}) {
    super(message, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'OwClientError';
    this.code = code;
    this.ret = options.ret ?? null;
  }

  static response(ret: number, what: string): OwClientError {
    return new OwClientError('OW_ERR_RESPONSE', `${what}: server returned ${describeRet(ret)}`, { ret });
  }
}
