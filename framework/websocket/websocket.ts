import type { PooledBuffer } from '../buffers/pooled-buffer.js';
import type { Connection } from '../connection/connection.js';
import { ErrorCodes, PorticoError } from '../core/errors.js';
import type { WheelTimer } from '../core/timer-wheel.js';
import type { ByteQueue } from '../framing/byte-queue.js';
import type { RequestHead } from '../http/request-head-parser.js';
import { CloseCodes } from './close-frame.js';
import { CompressingSender } from './compressing-sender.js';
import { formatExtensions } from './extensions.js';
import { FrameWriter, type MessageFrameOptions, type PreparedFrame } from './frame-writer.js';
import type { AcceptedHandshake, WebSocketVersion } from './handshake.js';
import type { DeflateAgreement, PerMessageDeflateParams } from './permessage-deflate.js';
import { WebSocketReceiver } from './receiver.js';
import type { SocketInfo } from './socket-info.js';
import type { WebSocketRuntimeOptions } from './socket-options.js';
import type { WebSocketHandler } from './websocket-handler.js';
import { ZlibMessageStream } from './zlib-message-stream.js';

/** open: frames flow; closing: our close frame is out (or we are answering the peer's); closed: the TCP connection is gone. */
export type WebSocketState = 'open' | 'closing' | 'closed';

/**
 * What a send did: queued; queued but over the high-water mark (wait for `onWritable`); dropped by the
 * slow-consumer policy; or not sent because the socket is closing or closed.
 */
export type SendResult = 'queued' | 'over-high-water' | 'dropped' | 'closed';

/** Counters of one socket, as `ws.stats` reads them at that moment. */
export interface WebSocketStats {
  readonly messagesIn: number;
  /** Messages accepted by send / sendPrepared (pings, pongs and close frames are not messages). */
  readonly messagesOut: number;
  /** Messages the slow-consumer policy dropped. */
  readonly dropped: number;
  readonly pingsSent: number;
}

/** One frame writer per role for every socket: server frames are unmasked, client frames get a fresh random key each. */
const writers = { server: new FrameWriter({ role: 'server' }), client: new FrameWriter({ role: 'client' }) } as const;

/** The bits of `#flags` (one number instead of a field per boolean: less memory per connection). */
const Flag = {
  closeSent: 1 << 0,
  closeReceived: 1 << 1,
  /** We failed the connection (protocol error): onClose reports the failure's code. */
  failed: 1 << 2,
  awaitingPong: 1 << 3,
  readPaused: 1 << 4,
  closeReported: 1 << 5,
} as const;
/** The state in two bits of `#flags`, above the `Flag` bits. */
const STATES: readonly WebSocketState[] = ['open', 'closing', 'closed'];
const STATE_SHIFT = 8;

/**
 * One WebSocket connection, server side (RFC 6455 version 13, HyBi versions 8 and 7: the same framing).
 * Sends frame and queue on the connection; what arrives goes to the `WebSocketHandler`. The close
 * handshake: whoever closes first sends a close frame and the other echoes its code; then the server
 * closes TCP first. A protocol error fails the connection with its close code (1002, 1007, 1009).
 */
export class WebSocket<U = unknown> {
  /** Per-socket application state. */
  user: U;

  readonly #conn: Connection;
  readonly #handler: WebSocketHandler<U>;
  readonly #options: WebSocketRuntimeOptions;
  /** What the handshake settled: one object shared with every socket whose handshake settled the same. */
  readonly #info: SocketInfo;
  /**
   * Parses what arrives: lent by the options' receiver pool while a message is arriving and given back between messages
   * (null then), so an idle socket holds no parser; its own for good with permessage-deflate (the
   * inflater's context) or when frames came right behind the upgrade request (the handshake's queue).
   */
  #receiver: WebSocketReceiver | null = null;
  /** permessage-deflate's sending half: compresses, and keeps everything sent in order behind it. */
  readonly #sender: CompressingSender<SendResult> | null = null;
  /** Booleans as `Flag` bits, read and written with `#is` and `#set`, and the state (`STATE_SHIFT`). */
  #flags = 0;
  /** Whether `Flag` bit `bit` is set. */
  #is(bit: number): boolean {
    return (this.#flags & bit) !== 0;
  }
  /** Set or clear `Flag` bit `bit`. */
  #set(bit: number, on: boolean): void {
    this.#flags = on ? this.#flags | bit : this.#flags & ~bit;
  }
  /** open, closing or closed (two bits of `#flags`). */
  #stateNow(): WebSocketState {
    return STATES[(this.#flags >> STATE_SHIFT) & 3]!;
  }
  #setState(state: WebSocketState): void {
    this.#flags = (this.#flags & ~(3 << STATE_SHIFT)) | (STATES.indexOf(state) << STATE_SHIFT);
  }
  /** What onClose reports: the peer's close code and reason, or our failure's code (null: 1006). */
  #closeInfo: { readonly code: number; readonly reason: string } | null = null;
  // counters (ws.stats)
  #messagesIn = 0;
  #messagesOut = 0;
  #dropped = 0;
  #pingsSent = 0;
  /** The heartbeat while open; the deadline for the peer's close frame once ours is out. */
  #timer: WheelTimer | null = null;

  /** The frame writer of this socket's role (shared by every socket). */
  #writer(): FrameWriter {
    return writers[this.#options.role];
  }

  /**
   * @internal The upgrade layer creates sockets; `queue` holds what followed the request head;
   * `deflate`: the permessage-deflate offer the 101 accepted.
   */
  constructor(
    conn: Connection,
    handshake: AcceptedHandshake,
    queue: ByteQueue,
    handler: WebSocketHandler<U>,
    user: U,
    options: WebSocketRuntimeOptions,
    deflate: DeflateAgreement | null = null,
  ) {
    this.user = user;
    this.#conn = conn;
    this.#handler = handler;
    this.#options = options;
    this.#info = options.infos.intern({
      version: handshake.version,
      protocol: handshake.protocol,
      path: handshake.path,
      query: handshake.query,
      origin: handshake.origin,
      extensions: deflate === null ? '' : formatExtensions([deflate.response]),
      perMessageDeflate: deflate?.params ?? null,
    });
    let inflater: ZlibMessageStream | null = null;
    if (deflate !== null) {
      const post = (fn: () => void): void => conn.post(runPosted, fn);
      this.#sender = new CompressingSender<SendResult>(deflate, {
        writeFrames: (frames) => this.#writeNow(frames),
        queued: () => (conn.queuedBytes > conn.options.highWaterMark ? 'over-high-water' : 'queued'),
        post,
        fail: (error) => this.#abort(error), // leaves 'open' at once, as terminate() does
      });
      const { params, options: deflateOptions } = deflate;
      inflater = new ZlibMessageStream({ mode: 'inflate', windowBits: params.clientMaxWindowBits, noContextTakeover: params.clientNoContextTakeover, gate: deflateOptions.gate, post });
    }
    if (inflater !== null || queue.length > 0) {
      this.#receiver = new WebSocketReceiver(this, { role: options.role, maxMessageBytes: options.maxMessageBytes, queue, inflater });
    } else {
      queue.releaseConsumed(); // the request head's read buffer: nothing of it is unread
    }
  }

  /** The protocol version the client asked for. */
  get version(): WebSocketVersion {
    return this.#info.version;
  }
  /** The negotiated subprotocol, or null. */
  get protocol(): string | null {
    return this.#info.protocol;
  }
  /** Path of the request-target (not percent-decoded). */
  get path(): string {
    return this.#info.path;
  }
  /** Query of the request-target (not decoded), or null. */
  get query(): string | null {
    return this.#info.query;
  }
  /** Origin (v13) or Sec-WebSocket-Origin (v7/8), null when absent. */
  get origin(): string | null {
    return this.#info.origin;
  }
  /** The Sec-WebSocket-Extensions value of our 101 ('' when no extension was agreed), as a browser's `WebSocket.extensions`. */
  get extensions(): string {
    return this.#info.extensions;
  }
  /** What permessage-deflate agreed to, or null when messages are never compressed. */
  get perMessageDeflate(): PerMessageDeflateParams | null {
    return this.#info.perMessageDeflate;
  }

  /** open, closing or closed. */
  get state(): WebSocketState {
    return this.#stateNow();
  }

  /** Bytes queued on the connection and not yet handed to the kernel. */
  get bufferedAmount(): number {
    return this.#conn.queuedBytes + (this.#sender?.pendingBytes ?? 0);
  }

  /** The counters now (a snapshot). */
  get stats(): WebSocketStats {
    return { messagesIn: this.#messagesIn, messagesOut: this.#messagesOut, dropped: this.#dropped, pingsSent: this.#pingsSent };
  }

  /** The connection underneath (addresses, stats). */
  get connection(): Connection {
    return this.#conn;
  }

  /** Send a message: text for a string, binary for bytes (override with `binary`). Bytes must not change until written. */
  send(data: string | Uint8Array, options?: MessageFrameOptions): SendResult {
    const refused = this.#admit();
    if (refused !== null) return refused;
    // A compressed message is counted when accepted, like any other: it goes out in order later.
    if (this.#sender !== null) return this.#countMessage(this.#sender.send(data, options));
    return this.#countMessage(this.#write(this.#writer().message(data, options)));
  }

  /**
   * Send a message framed once for many sockets (`prepareMessage`): broadcast without framing per socket.
   * Prepared frames are never compressed, even when permessage-deflate was agreed (a message without
   * RSV1 is always valid), but they keep their place behind a compression still in flight.
   */
  sendPrepared(frame: PreparedFrame): SendResult {
    if (this.#options.role === 'client') {
      throw new PorticoError(ErrorCodes.INVALID_STATE, 'websocket', 'prepared frames are unmasked: a client must send each message masked (use send)');
    }
    const refused = this.#admit();
    if (refused !== null) return refused;
    return this.#countMessage(this.#writeOne(frame.bytes));
  }

  /** Send a ping (payload at most 125 bytes). */
  ping(payload: string | Uint8Array = ''): SendResult {
    if (this.#stateNow() !== 'open') return 'closed';
    this.#pingsSent++;
    return this.#write(this.#writer().ping(payload));
  }

  /**
   * Start the close handshake: our close frame (no more messages after it), then wait up to
   * `closeTimeoutMs` for the peer's, then close TCP. Without a code the frame carries none.
   */
  close(code?: number, reason = ''): void {
    if (this.#stateNow() !== 'open') return;
    const frame = this.#writer().close(code, code === undefined ? undefined : reason); // throws for a code that may not be sent
    this.#setState('closing');
    this.#set(Flag.closeSent, true);
    // Our code is not what onClose reports: that is the peer's answer, or 1006 if none comes (RFC 6455
    // 7.1.5, as ws and browsers report it).
    this.#write(frame);
    this.#timer?.cancel(); // the heartbeat: a closing socket is not pinged
    this.#timer = this.#conn.wheel.schedule(this.#conn.clock.now() + this.#options.closeTimeoutMs, WebSocket.#closeTimedOut, this as WebSocket<unknown>);
  }

  /** Drop the connection now (RST), without a close handshake. */
  terminate(): void {
    this.#abort(new PorticoError(ErrorCodes.INVALID_STATE, 'websocket', 'terminated'));
  }

  // ---- from the upgrade layer --------------------------------------------------------------------

  /**
   * @internal The 101 is queued: report the open (with the upgrade request: the socket does not keep
   * it), parse what came behind the head, start the heartbeat.
   */
  start(head: RequestHead): void {
    this.#handler.onOpen?.(this, head);
    if (this.#options.heartbeatMs > 0) this.#armHeartbeat();
    this.#receiver?.parse();
    this.#readOn();
  }

  // ---- as the connection's handler (ConnectionCallbacks, once the upgrade switched it to us) ---------

  /** @internal A read completed. */
  onReadCompleted(_conn: Connection, buffer: PooledBuffer): void {
    let receiver = this.#receiver;
    if (receiver === null) {
      if (this.#stateNow() === 'closed') {
        buffer.release();
        return;
      }
      receiver = this.#receiver = this.#options.receivers.acquire(this);
    }
    receiver.push(buffer);
    // Between messages (and not taken over by a nested read): give it back, hold nothing while idle.
    if (this.#receiver === receiver && this.#options.receivers.release(receiver)) this.#receiver = null;
    this.#readOn();
  }

  /** @internal The connection's queue fell to its low-water mark. */
  onWritable(): void {
    if (this.#is(Flag.readPaused)) {
      this.#set(Flag.readPaused, false);
      this.#readOn();
    }
    if (this.#stateNow() === 'open') this.#handler.onWritable?.(this);
  }

  /** @internal The peer's FIN: without a close frame first, the connection was dropped (1006). */
  onClientClose(): void {
    if (this.#stateNow() === 'closed') return;
    this.#closeConnection();
  }

  /** @internal The server is draining: 1001 going away. */
  onDrain(): void {
    if (this.#stateNow() === 'open') this.close(CloseCodes.GOING_AWAY, 'server shutting down');
    else this.#closeConnection();
  }

  /** @internal The TCP connection is gone: report the close, exactly once. */
  onConnectionClosed(): void {
    if (this.#is(Flag.closeReported)) return;
    this.#set(Flag.closeReported, true);
    this.#setState('closed');
    this.#cancelTimers();
    this.#receiver?.dispose();
    this.#receiver = null;
    this.#sender?.dispose();
    const wasClean = this.#is(Flag.closeSent) && this.#is(Flag.closeReceived);
    // RFC 6455 7.1.5: the code of the close frame received, else 1006 (a close of ours the peer never
    // answered included, as ws and browsers report it); a failure we detected reports its own code.
    const reported = this.#is(Flag.closeReceived) || this.#is(Flag.failed);
    const info = this.#closeInfo;
    this.#handler.onClose?.(this, reported && info !== null ? info.code : CloseCodes.ABNORMAL, reported && info !== null ? info.reason : '', wasClean);
  }

  // ---- from the receiver (the socket is its WebSocketCallbacks) ---------------------------------

  /** @internal */
  onMessage(data: string | Buffer, isBinary: boolean): void {
    this.#messagesIn++;
    this.#handler.onMessage(this, data, isBinary);
  }

  /** @internal */
  onPing(payload: Buffer): void {
    if (!this.#is(Flag.closeSent)) this.#write(this.#writer().pong(payload));
    this.#handler.onPing?.(this, payload);
  }

  /** @internal */
  onPong(payload: Buffer): void {
    this.#set(Flag.awaitingPong, false);
    this.#handler.onPong?.(this, payload);
  }

  /** @internal The peer's close frame: echo it (if we have not closed), then close TCP. */
  onClose(code: number, reason: string): void {
    this.#set(Flag.closeReceived, true);
    // The peer's code and reason, also when it is answering a close of ours (RFC 6455 7.1.5).
    this.#closeInfo = { code, reason };
    if (!this.#is(Flag.closeSent)) {
      this.#setState('closing');
      this.#set(Flag.closeSent, true);
      // Echo the code; a close frame without one is answered without one.
      this.#write(this.#writer().close(code === CloseCodes.NO_STATUS ? undefined : code, ''));
    }
    this.#timer?.cancel();
    this.#timer = null;
    this.#closeConnection(); // the server closes TCP first
  }

  /** @internal The peer broke the protocol: fail the connection with `closeCode`. */
  onProtocolError(closeCode: number, _error: PorticoError): void {
    this.#set(Flag.failed, true);
    this.#closeInfo = { code: closeCode, reason: '' };
    if (!this.#is(Flag.closeSent)) {
      this.#set(Flag.closeSent, true);
      this.#write(this.#writer().close(closeCode, ''));
    }
    this.#setState('closing');
    this.#closeConnection();
  }

  /** @internal Parsing goes on after a compressed message was inflated: read again. */
  onResumed(): void {
    this.#readOn();
  }

  // ---- internals ---------------------------------------------------------------------------------

  #admit(): SendResult | null {
    if (this.#stateNow() !== 'open') return 'closed';
    if (this.bufferedAmount <= this.#options.maxBufferedBytes) return null;
    if (this.#options.slowConsumer === 'drop') {
      this.#dropped++;
      return 'dropped';
    }
    this.close(CloseCodes.POLICY_VIOLATION, 'slow consumer');
    return 'closed';
  }

  #write(frames: readonly Buffer[]): SendResult {
    if (this.#sender !== null && this.#sender.busy) return this.#sender.write(frames);
    return this.#writeNow(frames);
  }

  /** Close TCP once every frame queued behind a compression is written. */
  #closeConnection(): void {
    if (this.#sender !== null) this.#sender.whenFlushed(() => this.#conn.close());
    else this.#conn.close();
  }

  #writeNow(frames: readonly Buffer[]): SendResult {
    if (frames.length === 1) return this.#writeOneNow(frames[0]!);
    const conn = this.#conn;
    conn.cork();
    let status: SendResult = 'queued';
    for (const frame of frames) status = conn.write(frame);
    conn.uncork();
    return status;
  }

  #writeOne(bytes: Buffer): SendResult {
    if (this.#sender !== null && this.#sender.busy) return this.#sender.write([bytes]);
    return this.#writeOneNow(bytes);
  }

  #writeOneNow(bytes: Buffer): SendResult {
    return this.#conn.write(bytes);
  }

  /** Only messages count in messagesOut: pings, pongs and close frames go through #write too. */
  #countMessage(status: SendResult): SendResult {
    if (status !== 'closed') this.#messagesOut++;
    return status;
  }

  /**
   * RST now. The state leaves 'open' at once (ws's terminate does the same): the transport reports the
   * close later, and until then a send or ping must say 'closed', not count as sent.
   */
  #abort(error: PorticoError): void {
    if (this.#stateNow() === 'closed') return;
    this.#setState('closing');
    // Nothing more is read: a message behind the one whose handler terminated is not delivered (the
    // receiver stops at once, even mid-parse, and is never lent again).
    this.#receiver?.dispose();
    this.#receiver = null;
    this.#conn.abort(error);
  }

  /** Keep a read posted, unless our own output is over the high-water mark (an echo peer that never reads). */
  #readOn(): void {
    const conn = this.#conn;
    const receiver = this.#receiver;
    if ((receiver !== null && (receiver.state !== 'open' || receiver.inflating)) || conn.lifecycle !== 'open') return;
    if (conn.queuedBytes > conn.options.highWaterMark) {
      this.#set(Flag.readPaused, true);
      return;
    }
    conn.keepReading();
  }

  #armHeartbeat(): void {
    if (this.#stateNow() !== 'open') return;
    this.#timer = this.#conn.wheel.schedule(this.#conn.clock.now() + this.#options.heartbeatMs, WebSocket.#beat, this as WebSocket<unknown>);
  }

  static #beat(_now: number, ws: WebSocket<unknown>): void {
    ws.#timer = null;
    if (ws.#stateNow() !== 'open') return;
    if (ws.#is(Flag.awaitingPong)) {
      ws.#abort(new PorticoError(ErrorCodes.IDLE_TIMEOUT, 'websocket', `no pong within ${ws.#options.heartbeatMs} ms`));
      return;
    }
    ws.#set(Flag.awaitingPong, true);
    ws.ping();
    ws.#armHeartbeat();
  }

  static #closeTimedOut(_now: number, ws: WebSocket<unknown>): void {
    ws.#timer = null;
    if (ws.#stateNow() === 'closed') return;
    ws.#abort(new PorticoError(ErrorCodes.LINGER_TIMEOUT, 'websocket', `no close frame from the peer within ${ws.#options.closeTimeoutMs} ms`));
  }

  #cancelTimers(): void {
    this.#timer?.cancel();
    this.#timer = null;
  }
}

function runPosted(fn: () => void): void {
  fn();
}
