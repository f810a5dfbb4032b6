import { MAX_BUFFER_SIZE } from '../buffers/buffer-pool.js';
import type { PooledBuffer } from '../buffers/pooled-buffer.js';
import type { ConnectionCallbacks } from '../connection/callbacks.js';
import type { Connection } from '../connection/connection.js';
import type { WheelTimer } from '../core/timer-wheel.js';
import { ByteQueue } from '../framing/byte-queue.js';
import { checkRange } from '../framing/checks.js';
import { formatErrorResponse, formatResponseHead } from '../http/head-writer.js';
import { RequestHeadParser, type RequestHead } from '../http/request-head-parser.js';
import { formatAcceptResponse, formatRejectResponse, validateUpgrade } from './handshake.js';
import { negotiatePerMessageDeflate, resolvePerMessageDeflateOptions } from './permessage-deflate.js';
import { resolveSocketOptions } from './socket-options.js';
import { WebSocket } from './websocket.js';
import type { ResolvedWebSocketServerOptions, WebSocketRoute, WebSocketServerOptions } from './websocket-handler.js';

/**
 * Bytes that may follow the request head in the queue the WebSocket then reads frames from. The queue
 * only ever holds the unparsed rest of the head (or of a frame header and control payload) plus the
 * one read just appended, since a read is posted only after the last one was parsed; so the slack is
 * one read of the largest pool. It was 1 MiB, and a server with `bufferSize` over that had a
 * connection aborted (INPUT_TOO_LARGE) by a single large read of a legitimate message.
 */
const QUEUE_SLACK = MAX_BUFFER_SIZE;

function resolve<U>(options: WebSocketServerOptions<U>): ResolvedWebSocketServerOptions<U> {
  const resolved: ResolvedWebSocketServerOptions<U> = {
    ...resolveSocketOptions(options, 'server'),
    route: options.route,
    checkOrigin: options.checkOrigin,
    selectProtocol: options.selectProtocol,
    maxHeadBytes: options.maxHeadBytes ?? 8192,
    handshakeTimeoutMs: options.handshakeTimeoutMs ?? 10_000,
    perMessageDeflate: options.perMessageDeflate ? resolvePerMessageDeflateOptions(options.perMessageDeflate) : false,
  };
  checkRange(resolved.maxHeadBytes, 18, 1 << 20, 'maxHeadBytes', 'websocket');
  checkRange(resolved.handshakeTimeoutMs, 1, 2 ** 31 - 1, 'handshakeTimeoutMs', 'websocket');
  return Object.freeze(resolved);
}

/**
 * A connection handler factory for a `Server`: each connection reads one HTTP/1.1 request head (bounded
 * in size and time), which `route` sends to a WebSocket (handshake checked, 101, then frames) or answers
 * as plain HTTP (then the connection closes). Usage: `new Server({ handler: webSocketServer({ route }) })`.
 */
export function webSocketServer<U = unknown>(options: WebSocketServerOptions<U>): (conn: Connection) => ConnectionCallbacks {
  const resolved = resolve(options);
  return () => new UpgradeConnection(resolved);
}

type Phase = 'head' | 'done';

/**
 * One connection's request head: answered as plain HTTP, refused, or upgraded — then the WebSocket is
 * the connection's handler (`switchHandler`) and this object is out of the picture.
 */
class UpgradeConnection<U> implements ConnectionCallbacks {
  readonly #options: ResolvedWebSocketServerOptions<U>;
  #phase: Phase = 'head';
  #queue: ByteQueue | null;
  #parser: RequestHeadParser | null;
  #deadline: WheelTimer | null = null;
  #conn: Connection | null = null;

  constructor(options: ResolvedWebSocketServerOptions<U>) {
    this.#options = options;
    this.#queue = new ByteQueue({ maxBytes: options.maxHeadBytes + QUEUE_SLACK });
    this.#parser = new RequestHeadParser({ maxHeadSize: options.maxHeadBytes });
  }

  onConnectionEstablished(conn: Connection): void {
    this.#conn = conn;
    this.#deadline = conn.wheel.schedule(conn.clock.now() + this.#options.handshakeTimeoutMs, UpgradeConnection.#headTimedOut, this as UpgradeConnection<unknown>);
    conn.read();
  }

  onReadCompleted(conn: Connection, buffer: PooledBuffer): void {
    if (this.#phase !== 'head') {
      buffer.release();
      return;
    }
    const queue = this.#queue!;
    queue.append(buffer); // within maxHeadBytes + slack: the parser refuses a head before it grows past its limit
    const result = this.#parser!.parse(queue);
    if (result.kind === 'more') {
      conn.read();
      return;
    }
    if (result.kind === 'error') {
      this.#respondAndClose(conn, formatErrorResponse(result.status, result.error.message));
      return;
    }
    queue.skip(result.consumed);
    this.#route(conn, result.head);
  }

  onClientClose(conn: Connection): void {
    conn.close(); // a request head cut short: nothing to answer
  }

  onDrain(conn: Connection): void {
    conn.close({ waitForPeer: false });
  }

  onConnectionClosed(): void {
    this.#phase = 'done';
    this.#cancelDeadline();
    this.#queue?.clear();
    this.#queue = null;
    this.#parser = null;
  }

  #route(conn: Connection, head: RequestHead): void {
    let route: WebSocketRoute<U> | null;
    route = this.#options.route(head); // a throw aborts this connection (the dispatcher contains it)
    if (route === null) {
      this.#respondAndClose(conn, formatErrorResponse(404, 'not found'));
      return;
    }
    if (route.kind === 'response') {
      const body = route.body === undefined ? Buffer.alloc(0) : typeof route.body === 'string' ? Buffer.from(route.body, 'utf8') : route.body;
      const headers = [...(route.headers ?? []), ['Content-Length', String(body.length)] as const, ['Connection', 'close'] as const];
      const response = formatResponseHead(route.status, headers);
      conn.cork();
      conn.write(response);
      if (head.method !== 'HEAD' && body.length > 0) conn.write(body);
      conn.uncork();
      this.#phase = 'done';
      this.#cancelDeadline();
      conn.close();
      return;
    }
    const checked = validateUpgrade(head, { checkOrigin: this.#options.checkOrigin, selectProtocol: this.#options.selectProtocol });
    if (checked.kind === 'reject') {
      this.#respondAndClose(conn, formatRejectResponse(checked.rejection));
      return;
    }
    this.#cancelDeadline();
    const deflateOptions = this.#options.perMessageDeflate;
    // RFC 7692 extends RFC 6455: no v7/v8 client is known to need it, so they never get it.
    const deflate = deflateOptions === false || checked.handshake.version !== 13 ? null : negotiatePerMessageDeflate(checked.handshake.extensions, deflateOptions);
    conn.write(formatAcceptResponse(checked.handshake, deflate === null ? {} : { extensions: [deflate.response] }));
    const user = route.createUser !== undefined ? route.createUser(head) : (undefined as U);
    const ws = new WebSocket<U>(conn, checked.handshake, this.#queue!, route.handler, user, this.#options, deflate);
    this.#phase = 'done';
    this.#parser = null;
    this.#queue = null; // the socket's now (or released, when nothing followed the head)
    // From here the socket is the connection's handler: this object is done with (one less per connection).
    conn.switchHandler(ws);
    ws.start(head);
  }

  #respondAndClose(conn: Connection, response: Buffer): void {
    this.#phase = 'done';
    this.#cancelDeadline();
    this.#queue?.clear();
    conn.write(response);
    conn.close();
  }

  #cancelDeadline(): void {
    this.#deadline?.cancel();
    this.#deadline = null;
  }

  static #headTimedOut(_now: number, self: UpgradeConnection<unknown>): void {
    self.#deadline = null;
    const conn = self.#conn;
    if (self.#phase !== 'head' || conn === null || conn.lifecycle !== 'open') return;
    self.#respondAndClose(conn, formatErrorResponse(408, `the request head did not arrive within ${self.#options.handshakeTimeoutMs} ms`));
  }
}
