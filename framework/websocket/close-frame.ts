import { ErrorCodes, PorticoError } from '../core/errors.js';
import { protocolFailure, utf8Failure } from './failures.js';
import { MAX_CONTROL_PAYLOAD } from './opcodes.js';
import { isValidUtf8 } from './utf8-validator.js';

/** WebSocket close codes (RFC 6455 section 7.4.1 and the IANA registry). */
export const CloseCodes = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  UNSUPPORTED_DATA: 1003,
  /** Reported when a close frame had no code; never sent. */
  NO_STATUS: 1005,
  /** Reported when the connection dropped without a close frame; never sent. */
  ABNORMAL: 1006,
  INVALID_PAYLOAD: 1007,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  MANDATORY_EXTENSION: 1010,
  INTERNAL_ERROR: 1011,
  SERVICE_RESTART: 1012,
  TRY_AGAIN_LATER: 1013,
  BAD_GATEWAY: 1014,
  /** Reported when the TLS handshake failed; never sent. */
  TLS_HANDSHAKE: 1015,
} as const;

/** Longest close reason: a control payload is at most 125 bytes, two of them the code. */
export const MAX_CLOSE_REASON_BYTES = MAX_CONTROL_PAYLOAD - 2;

/**
 * True for a code that may appear in a close frame on the wire: 1000–1003, 1007–1014, 3000–4999.
 * 1012–1014 are accepted: IANA registered them after RFC 6455 (Service Restart, Try Again Later, Bad
 * Gateway), ws accepts them, and Autobahn tests them as neither valid nor invalid. 1004 (reserved),
 * 1005, 1006 and 1015 (reporting only), the unregistered rest of 1016–2999 and everything outside
 * 1000–4999 are refused.
 */
export function isValidCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}

/** A received close frame: the code (1005 when the frame had no payload) and the reason text. */
export interface CloseFrameInfo {
  /** The close code, or 1005 (NO_STATUS) when the frame carried none. */
  readonly code: number;
  /** The reason, '' when there was none. */
  readonly reason: string;
}

const NO_STATUS: CloseFrameInfo = Object.freeze({ code: CloseCodes.NO_STATUS, reason: '' });

/**
 * Decode a close frame's (unmasked) payload. Throws a PorticoError with the close code to fail the
 * connection with: 1002 for a 1-byte payload, a payload over 125 bytes or a code that may not be sent;
 * 1007 for a reason that is not UTF-8.
 */
export function decodeClosePayload(payload: Uint8Array): CloseFrameInfo {
  const n = payload.length;
  if (n === 0) return NO_STATUS;
  if (n === 1) throw protocolFailure('close frame with a 1-byte payload (a code needs 2)');
  if (n > MAX_CONTROL_PAYLOAD) throw protocolFailure(`close frame payload of ${n} bytes (over ${MAX_CONTROL_PAYLOAD})`);
  const code = (payload[0]! << 8) | payload[1]!;
  if (!isValidCloseCode(code)) throw protocolFailure(`close code ${code} may not be sent`);
  const reason = payload.subarray(2);
  if (!isValidUtf8(reason)) throw utf8Failure('close reason is not valid UTF-8');
  return { code, reason: Buffer.from(reason.buffer, reason.byteOffset, reason.length).toString('utf8') };
}

/**
 * Build a close frame's payload: empty without a code, else the code and the UTF-8 reason. Throws
 * INVALID_ARGUMENT for a code that may not be sent (1005, 1006 and 1015 included), a reason without a
 * code, or a reason over 123 bytes.
 */
export function encodeClosePayload(code?: number, reason: string | Uint8Array = ''): Buffer {
  const text = typeof reason === 'string' ? Buffer.from(reason, 'utf8') : reason;
  if (code === undefined) {
    if (text.length > 0) throw invalid('a close reason needs a close code');
    return Buffer.alloc(0);
  }
  if (!Number.isInteger(code) || !isValidCloseCode(code)) throw invalid(`close code ${code} may not be sent`);
  if (text.length > MAX_CLOSE_REASON_BYTES) throw invalid(`close reason of ${text.length} bytes (at most ${MAX_CLOSE_REASON_BYTES})`);
  if (typeof reason !== 'string' && !isValidUtf8(text)) throw invalid('close reason is not valid UTF-8');
  const payload = Buffer.allocUnsafe(2 + text.length);
  payload.writeUInt16BE(code, 0);
  payload.set(text, 2);
  return payload;
}

function invalid(message: string): PorticoError {
  return new PorticoError(ErrorCodes.INVALID_ARGUMENT, 'websocket', message);
}
