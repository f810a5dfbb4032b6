import type { WebSocketRuntimeOptions, WebSocketSocketOptions } from './socket-options.js';
import type { HeaderPair } from '../http/head-writer.js';
import type { RequestHead } from '../http/request-head-parser.js';
import type { PerMessageDeflateOptions, ResolvedPerMessageDeflateOptions } from './permessage-deflate.js';
import type { WebSocket } from './websocket.js';

/**
 * What an application sees of one WebSocket, completion style: every callback runs through the
 * connection's dispatcher, in wire order, and a throw fails only that connection. Only `onMessage`
 * is required.
 */
export interface WebSocketHandler<U = unknown> {
  /**
   * The 101 answer is queued and frames may be sent. `head` is the upgrade request (cookies,
   * authorization, ...; on a client socket, the request it sent): the socket does not keep it, so take
   * what you need now (into `ws.user`).
   */
  onOpen?(ws: WebSocket<U>, head: RequestHead): void;
  /** A complete message: text as a string (valid UTF-8), binary as a Buffer the handler may keep. */
  onMessage(ws: WebSocket<U>, data: string | Buffer, isBinary: boolean): void;
  /** A ping arrived; the pong is already queued. */
  onPing?(ws: WebSocket<U>, payload: Buffer): void;
  /** A pong arrived (solicited or not). */
  onPong?(ws: WebSocket<U>, payload: Buffer): void;
  /** Queued output fell to the low-water mark after a send reported 'over-high-water'. */
  onWritable?(ws: WebSocket<U>): void;
  /**
   * The connection is gone, exactly once: `code` and `reason` are those of the peer's close frame
   * (1005 when it had no code; also when it answers a close of ours), the code we failed the
   * connection with (1002, 1007, 1009), or 1006 when no close frame came (dropped, terminated, or our
   * close never answered: RFC 6455 7.1.5, as ws and browsers report it); `wasClean` says both close
   * frames were exchanged.
   */
  onClose?(ws: WebSocket<U>, code: number, reason: string, wasClean: boolean): void;
}

/** Where a request goes: upgraded to a WebSocket with this handler, answered as plain HTTP, or 404. */
export type WebSocketRoute<U = unknown> =
  | {
      readonly kind: 'websocket';
      readonly handler: WebSocketHandler<U>;
      /** The new socket's `user`, made from the upgrade request. Default: undefined. */
      readonly createUser?: (head: RequestHead) => U;
    }
  | {
      readonly kind: 'response';
      readonly status: number;
      readonly headers?: readonly HeaderPair[];
      readonly body?: string | Uint8Array;
    };

/** Options of `webSocketServer`: routing, the handshake's limits, and the sockets' limits and timers. Every limit has a documented default. */
export interface WebSocketServerOptions<U = unknown> extends WebSocketSocketOptions {
  /** Route a request head; null answers 404. */
  route(head: RequestHead): WebSocketRoute<U> | null;
  /**
   * May a request from `origin` upgrade (Origin for v13, Sec-WebSocket-Origin for v7/8, null when
   * absent)? false answers 403. Default: every origin may.
   */
  checkOrigin?: (origin: string | null, head: RequestHead) => boolean;
  /** Pick one of the offered subprotocols, or null. Default: none. */
  selectProtocol?: (offered: readonly string[], head: RequestHead) => string | null;
  /** Largest request head in bytes (431 over it). Default 8192. */
  maxHeadBytes?: number;
  /** The whole request head must arrive within this (a trickling client gets 408). Default 10 000 ms. */
  handshakeTimeoutMs?: number;
  /**
   * permessage-deflate (RFC 7692), for version 13 clients only (it was defined for RFC 6455; versions 7
   * and 8 never get it): false, or the options to negotiate it with. A message compressed by the
   * client inflates within `maxMessageBytes` (1009 past it, stopped at that point); ours are
   * compressed from `threshold` bytes on. Default false: zlib contexts cost memory per connection.
   */
  perMessageDeflate?: false | PerMessageDeflateOptions;
}

/** @internal The options with their defaults filled in. */
export interface ResolvedWebSocketServerOptions<U> extends WebSocketRuntimeOptions, Required<Omit<WebSocketServerOptions<U>, 'checkOrigin' | 'selectProtocol' | 'perMessageDeflate' | keyof WebSocketSocketOptions>> {
  readonly perMessageDeflate: false | ResolvedPerMessageDeflateOptions;
  readonly checkOrigin: WebSocketServerOptions<U>['checkOrigin'];
  readonly selectProtocol: WebSocketServerOptions<U>['selectProtocol'];
}
