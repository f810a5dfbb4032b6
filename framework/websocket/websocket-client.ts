import type { PooledBuffer } from '../buffers/pooled-buffer.js';
import type { ConnectionCallbacks } from '../connection/callbacks.js';
import type { Connection } from '../connection/connection.js';
import { ErrorCodes, PorticoError } from '../core/errors.js';
import type { WheelTimer } from '../core/timer-wheel.js';
import { ByteQueue } from '../framing/byte-queue.js';
import { checkRange } from '../framing/checks.js';
import type { HeaderPair } from '../http/head-writer.js';
import { RequestHeadParser } from '../http/request-head-parser.js';
import { ResponseHeadParser } from '../http/response-head-parser.js';
import { connect } from '../server/connector.js';
import { buildClientUpgrade, checkUpgradeResponse, type ClientUpgrade } from './client-handshake.js';
import { splitTarget, type AcceptedHandshake } from './handshake.js';
import { WebSocket } from './websocket.js';
import { resolveSocketOptions, type WebSocketRuntimeOptions, type WebSocketSocketOptions } from './socket-options.js';
import type { WebSocketHandler } from './websocket-handler.js';

/** How to open a client WebSocket (RFC 6455 version 13 or HyBi version 8). */
export interface WebSocketClientOptions<U = unknown> extends WebSocketSocketOptions {
  host: string;
  port: number;
  /** The request-target. Default "/". */
  path?: string;
  /** 13 (default) or 8. */
  version?: 13 | 8;
  /** Sent as Origin (13) or Sec-WebSocket-Origin (8); none when absent (not a browser). */
  origin?: string;
  /** Subprotocols to offer, in preference order. */
  protocols?: readonly string[];
  /** More request fields (Authorization, Cookie, ...). */
  headers?: readonly HeaderPair[];
  handler: WebSocketHandler<U>;
  user?: U;
  /** The TCP connect, and then the 101 after our upgrade request, must each come within this. Default 10 000 ms. */
  handshakeTimeoutMs?: number;
}

/** PORTICO_ERR_WEBSOCKET_HANDSHAKE: the server did not upgrade (the message says what it answered). */
function handshakeError(message: string, cause?: unknown): PorticoError {
  return new PorticoError(ErrorCodes.WEBSOCKET_HANDSHAKE, 'websocket', message, cause === undefined ? undefined : { cause });
}

/**
 * Open a WebSocket as a client: connect, send the upgrade (masked frames from then on), check the 101
 * as RFC 6455 §4.1 asks, and resolve with the same `WebSocket` a server gets (its handler's `onOpen`
 * gets the upgrade request we sent). Rejects with PORTICO_ERR_CONNECT_* when the connection fails and
 * PORTICO_ERR_WEBSOCKET_HANDSHAKE when the server does not upgrade (the message gives its status).
 */
export function connectWebSocket<U = undefined>(options: WebSocketClientOptions<U>): Promise<WebSocket<U>> {
  const handshakeTimeoutMs = options.handshakeTimeoutMs ?? 10_000;
  checkRange(handshakeTimeoutMs, 1, 2 ** 31 - 1, 'handshakeTimeoutMs', 'websocket');
  const runtime = resolveSocketOptions(options, 'client');
  const upgrade = buildClientUpgrade({
    host: `${options.host.includes(':') ? `[${options.host}]` : options.host}:${options.port}`,
    path: options.path ?? '/',
    version: options.version ?? 13,
    ...(options.origin !== undefined ? { origin: options.origin } : {}),
    ...(options.protocols !== undefined ? { protocols: options.protocols } : {}),
    ...(options.headers !== undefined ? { headers: options.headers } : {}),
  });
  return new Promise((resolve, reject) => {
    const client = new ClientUpgradeConnection<U>(upgrade, options, runtime, handshakeTimeoutMs, resolve, reject);
    connect<undefined>({ host: options.host, port: options.port, timeoutMs: handshakeTimeoutMs, handler: client }).catch(reject);
  });
}

/** One client connection: the upgrade request, the 101, then the WebSocket it becomes. */
class ClientUpgradeConnection<U> implements ConnectionCallbacks<undefined> {
  readonly #upgrade: ClientUpgrade;
  readonly #options: WebSocketClientOptions<U>;
  readonly #runtime: WebSocketRuntimeOptions;
  readonly #timeoutMs: number;
  readonly #resolve: (ws: WebSocket<U>) => void;
  readonly #reject: (error: PorticoError) => void;
  readonly #queue = new ByteQueue({ maxBytes: 8192 + 16 * 1024 * 1024 });
  readonly #parser = new ResponseHeadParser();
  #deadline: WheelTimer | null = null;
  #conn: Connection<undefined> | null = null;
  #ws: WebSocket<U> | null = null;
  #settled = false;

  constructor(
    upgrade: ClientUpgrade,
    options: WebSocketClientOptions<U>,
    runtime: WebSocketRuntimeOptions,
    timeoutMs: number,
    resolve: (ws: WebSocket<U>) => void,
    reject: (error: PorticoError) => void,
  ) {
    this.#upgrade = upgrade;
    this.#options = options;
    this.#runtime = runtime;
    this.#timeoutMs = timeoutMs;
    this.#resolve = resolve;
    this.#reject = reject;
  }

  onConnectionEstablished(conn: Connection<undefined>): void {
    this.#deadline = conn.wheel.schedule(conn.clock.now() + this.#timeoutMs, ClientUpgradeConnection.#timedOut, this as ClientUpgradeConnection<unknown>);
    this.#conn = conn;
    conn.write(this.#upgrade.request);
    conn.read();
  }

  onReadCompleted(conn: Connection<undefined>, buffer: PooledBuffer): void {
    if (this.#ws !== null) {
      this.#ws.onReadCompleted(conn as Connection, buffer);
      return;
    }
    if (this.#settled) {
      buffer.release();
      return;
    }
    this.#queue.append(buffer);
    const result = this.#parser.parse(this.#queue);
    if (result.kind === 'more') {
      conn.read();
      return;
    }
    if (result.kind === 'error') {
      this.#fail(conn, handshakeError(`bad response to the upgrade: ${result.error.message}`, result.error));
      return;
    }
    const checked = checkUpgradeResponse(this.#upgrade, result.head);
    if (checked.kind === 'reject') {
      this.#fail(conn, handshakeError(checked.error.message, checked.error));
      return;
    }
    this.#queue.skip(result.consumed);
    this.#cancelDeadline();
    this.#settled = true;
    const handshake = this.#handshakeInfo(checked.protocol);
    const ws = new WebSocket<U>(conn as Connection, handshake, this.#queue, this.#options.handler, this.#options.user as U, this.#runtime);
    this.#ws = ws;
    this.#resolve(ws);
    ws.start(handshake.head);
  }

  onWritable(): void {
    this.#ws?.onWritable();
  }

  onClientClose(conn: Connection<undefined>): void {
    if (this.#ws !== null) this.#ws.onClientClose();
    else this.#fail(conn, handshakeError('the server closed the connection before answering the upgrade'));
  }

  onConnectionReset(conn: Connection<undefined>, error: PorticoError): void {
    if (this.#ws === null) this.#fail(conn, handshakeError(`the connection was reset during the upgrade: ${error.message}`, error));
  }

  onDrain(conn: Connection<undefined>): void {
    if (this.#ws !== null) this.#ws.onDrain();
    else conn.close({ waitForPeer: false });
  }

  onConnectionClosed(conn: Connection<undefined>): void {
    this.#cancelDeadline();
    if (this.#ws !== null) this.#ws.onConnectionClosed();
    else {
      this.#queue.clear();
      this.#fail(conn, handshakeError('the connection closed during the upgrade'));
    }
  }

  /** The request we sent, as the `AcceptedHandshake` a server-side socket gets (its head is what `onOpen` gets). */
  #handshakeInfo(protocol: string | null): AcceptedHandshake {
    const parsed = new RequestHeadParser().parse(this.#upgrade.request);
    if (parsed.kind !== 'head') throw new PorticoError(ErrorCodes.INVALID_STATE, 'websocket', 'our own upgrade request did not parse');
    const target = splitTarget(parsed.head.target) ?? { path: '/', query: null };
    return {
      version: this.#upgrade.version,
      key: this.#upgrade.key,
      accept: this.#upgrade.accept,
      origin: this.#options.origin ?? null,
      protocols: this.#upgrade.protocols,
      protocol,
      extensions: [],
      path: target.path,
      query: target.query,
      head: parsed.head,
    };
  }

  #fail(conn: Connection<undefined>, error: PorticoError): void {
    this.#cancelDeadline();
    this.#queue.clear();
    if (!this.#settled) {
      this.#settled = true;
      this.#reject(error);
    }
    if (conn.lifecycle === 'open') conn.abort(error);
  }

  #cancelDeadline(): void {
    this.#deadline?.cancel();
    this.#deadline = null;
  }

  static #timedOut(_now: number, self: ClientUpgradeConnection<unknown>): void {
    self.#deadline = null;
    const conn = self.#conn;
    if (self.#settled || conn === null) return;
    self.#fail(conn, handshakeError(`no answer to the upgrade within ${self.#timeoutMs} ms`));
  }
}
