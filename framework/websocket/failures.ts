import { ErrorCodes, PorticoError } from '../core/errors.js';

/**
 * @internal The three ways a peer fails a WebSocket connection, each with its close code: the parser,
 * assembler and close-frame decoder raise only these, so a caller maps any of them to a close frame.
 */

/** @internal A framing rule broken (RFC 6455 section 5): 1002. */
export function protocolFailure(message: string): PorticoError {
  return new PorticoError(ErrorCodes.WS_PROTOCOL, 'websocket', message, { closeCode: 1002 });
}

/** @internal Text that is not UTF-8 (a message or a close reason): 1007. */
export function utf8Failure(message: string): PorticoError {
  return new PorticoError(ErrorCodes.WS_INVALID_UTF8, 'websocket', message, { closeCode: 1007 });
}

/** @internal A frame or message over the configured limit: 1009. */
export function tooBigFailure(message: string): PorticoError {
  return new PorticoError(ErrorCodes.WS_MESSAGE_TOO_BIG, 'websocket', message, { closeCode: 1009 });
}
