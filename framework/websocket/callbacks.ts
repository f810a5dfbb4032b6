import type { PorticoError } from '../core/errors.js';

/**
 * What a `WebSocketReceiver` reports, one completion-style callback per event, in wire order.
 * Everything handed over is the callee's to keep: strings, and Buffers that are not views of pooled
 * read buffers. A callback that throws leaves the receiver consistent; the throw reaches whoever
 * pushed the bytes, and the next push goes on from the next frame.
 */
export interface WebSocketCallbacks {
  /** A complete message: text as a string (already validated UTF-8), binary as a Buffer. */
  onMessage(data: string | Buffer, isBinary: boolean): void;
  /** A ping; answer with a pong carrying the same payload (RFC 6455 5.5.2). */
  onPing?(payload: Buffer): void;
  /** A pong, solicited or not (unsolicited pongs are not errors). */
  onPong?(payload: Buffer): void;
  /**
   * The peer's close frame: `code` is 1005 when it carried none. Nothing after it is parsed. Echo the
   * code (or 1000 for 1005) in the answering close frame.
   */
  onClose(code: number, reason: string): void;
  /**
   * The peer broke the protocol: fail the connection with a close frame of `closeCode` (1002, 1007 or
   * 1009; `error.closeCode` is the same). Nothing more is parsed or reported.
   */
  onProtocolError(closeCode: number, error: PorticoError): void;
  /**
   * Parsing goes on after waiting for a compressed message to inflate (permessage-deflate): bytes
   * pushed meanwhile were only queued, so this is the moment to read again.
   */
  onResumed?(): void;
}
