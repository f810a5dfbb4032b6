/**
 * One error class for the whole framework, with stable string codes and the layer that raised it
 * (the ws / undici pattern). Callers switch on `code`, never on the message.
 */
export const ErrorCodes = {
  CALLBACK_THREW: 'PORTICO_ERR_CALLBACK_THREW',
  CONNECTION_RESET: 'PORTICO_ERR_CONNECTION_RESET',
  SOCKET: 'PORTICO_ERR_SOCKET',
  CONNECT_REFUSED: 'PORTICO_ERR_CONNECT_REFUSED',
  CONNECT_TIMEOUT: 'PORTICO_ERR_CONNECT_TIMEOUT',
  CONNECT_FAILED: 'PORTICO_ERR_CONNECT_FAILED',
  IDLE_TIMEOUT: 'PORTICO_ERR_IDLE_TIMEOUT',
  LINGER_TIMEOUT: 'PORTICO_ERR_LINGER_TIMEOUT',
  MAX_CONNECTIONS: 'PORTICO_ERR_MAX_CONNECTIONS',
  DRAIN_DEADLINE: 'PORTICO_ERR_DRAIN_DEADLINE',
  INVALID_STATE: 'PORTICO_ERR_INVALID_STATE',
  INVALID_ARGUMENT: 'PORTICO_ERR_INVALID_ARGUMENT',
  BUFFER_RELEASED: 'PORTICO_ERR_BUFFER_RELEASED',
  LISTEN: 'PORTICO_ERR_LISTEN',
  WRITE_AFTER_SHUTDOWN: 'PORTICO_ERR_WRITE_AFTER_SHUTDOWN',
  CONFIG: 'PORTICO_ERR_CONFIG',
  LOCK_TIMEOUT: 'PORTICO_ERR_LOCK_TIMEOUT',
  LOCK_ABORTED: 'PORTICO_ERR_LOCK_ABORTED',
  LOCK_RECURSION: 'PORTICO_ERR_LOCK_RECURSION',
  DEADLOCK: 'PORTICO_ERR_DEADLOCK',
  /** Peer input over a configured size limit (declared frame length, line length, bytes buffered). */
  INPUT_TOO_LARGE: 'PORTICO_ERR_INPUT_TOO_LARGE',
  /** A frame header whose declared length is not a non-negative integer. */
  BAD_FRAME: 'PORTICO_ERR_BAD_FRAME',
  /** An HTTP head that breaks RFC 9112 / RFC 9110 syntax or framing rules: answer 400. */
  HTTP_BAD_REQUEST: 'PORTICO_ERR_HTTP_BAD_REQUEST',
  /** An HTTP head over the size or field-count limit: answer 431. */
  HTTP_HEAD_TOO_LARGE: 'PORTICO_ERR_HTTP_HEAD_TOO_LARGE',
  /** A request-target that alone fills the head size limit: answer 414 (RFC 9112 §3). */
  HTTP_URI_TOO_LONG: 'PORTICO_ERR_HTTP_URI_TOO_LONG',
  /** A method longer than any the parser allows for (RFC 9112 §3): answer 501. */
  HTTP_NOT_IMPLEMENTED: 'PORTICO_ERR_HTTP_NOT_IMPLEMENTED',
  /** A well-formed HTTP version other than 1.0 and 1.1: answer 505. */
  HTTP_VERSION: 'PORTICO_ERR_HTTP_VERSION',
  /** A response head a client cannot use (malformed, or over a limit). */
  HTTP_BAD_RESPONSE: 'PORTICO_ERR_HTTP_BAD_RESPONSE',
  /** A WebSocket server's answer to our upgrade request that does not complete the handshake. */
  WEBSOCKET_HANDSHAKE: 'PORTICO_ERR_WEBSOCKET_HANDSHAKE',
  /** A WebSocket peer broke the framing rules (RFC 6455 section 5): close code 1002. */
  WS_PROTOCOL: 'PORTICO_ERR_WS_PROTOCOL',
  /** A WebSocket text message or close reason that is not valid UTF-8: close code 1007. */
  WS_INVALID_UTF8: 'PORTICO_ERR_WS_INVALID_UTF8',
  /** A WebSocket frame or message over the configured size limit: close code 1009. */
  WS_MESSAGE_TOO_BIG: 'PORTICO_ERR_WS_MESSAGE_TOO_BIG',
  /**
   * permessage-deflate failed: a peer's compressed message that does not inflate (close code 1007), or
   * our own compression failing (1011).
   */
  WS_DEFLATE: 'PORTICO_ERR_WS_DEFLATE',
  /** A PROXY protocol header (v1 or v2) that is missing, malformed, truncated or over its size limit. */
  PROXY_PROTOCOL: 'PORTICO_ERR_PROXY_PROTOCOL',
  /** A connection's handshake layers (PROXY, TLS, ...) did not finish within their deadline. */
  HANDSHAKE_TIMEOUT: 'PORTICO_ERR_HANDSHAKE_TIMEOUT',
  /** A connection refused by a rule (source address denied, per-source connection cap). */
  REJECTED: 'PORTICO_ERR_REJECTED',
  /** TLS failed: handshake error, bad certificate or key, or a TLS alert from the peer. */
  TLS: 'PORTICO_ERR_TLS',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** The architectural layer an error was raised in. */
export type ErrorLayer = 'dispatcher' | 'buffers' | 'transport' | 'connection' | 'server' | 'connector' | 'sync' | 'protocol' | 'http' | 'websocket' | 'layers' | 'tls' | 'host';

const brand = Symbol.for('portico.error');

/** Options of a `PorticoError`. */
export interface PorticoErrorOptions {
  /** The underlying error. */
  cause?: unknown;
  /** For a WebSocket failure: the close code to fail the connection with (1002, 1007, 1009). */
  closeCode?: number;
}

export class PorticoError extends Error {
  readonly code: ErrorCode;
  readonly layer: ErrorLayer;
  /** The WebSocket close code the failure calls for; undefined for errors that are not about a WebSocket peer. */
  readonly closeCode: number | undefined;

  constructor(code: ErrorCode, layer: ErrorLayer, message: string, options?: PorticoErrorOptions) {
    super(message, options !== undefined && 'cause' in options ? { cause: options.cause } : undefined);
    this.name = 'PorticoError';
    this.code = code;
    this.layer = layer;
    this.closeCode = options?.closeCode;
  }

  get [brand](): true {
    return true;
  }

  /** `instanceof` that also works across duplicate installs of the package. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[brand] === true;
  }
}

/** Wrap anything thrown into a PorticoError, keeping the original as `cause`. */
export function toPorticoError(error: unknown, code: ErrorCode, layer: ErrorLayer): PorticoError {
  if (error instanceof PorticoError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new PorticoError(code, layer, message, { cause: error });
}

/** Map a Node system error from a socket to a PorticoError with the right code. */
export function fromSocketError(error: NodeJS.ErrnoException, layer: ErrorLayer): PorticoError {
  switch (error.code) {
    case 'ECONNRESET':
    case 'EPIPE':
      return new PorticoError(ErrorCodes.CONNECTION_RESET, layer, `connection reset by peer (${error.code})`, { cause: error });
    case 'ECONNREFUSED':
      return new PorticoError(ErrorCodes.CONNECT_REFUSED, layer, `connection refused (${error.message})`, { cause: error });
    default:
      return new PorticoError(ErrorCodes.SOCKET, layer, `socket error: ${error.message}`, { cause: error });
  }
}
