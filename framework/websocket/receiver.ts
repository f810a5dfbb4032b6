import { isUtf8 } from 'node:buffer';
import type { PorticoError } from '../core/errors.js';
import type { PooledBuffer } from '../buffers/pooled-buffer.js';
import { ByteQueue } from '../framing/byte-queue.js';
import { checkRange } from '../framing/checks.js';
import type { WebSocketCallbacks } from './callbacks.js';
import { FrameEvent, FrameParser, type WebSocketRole } from './frame-parser.js';
import { utf8Failure } from './failures.js';
import { MessageAssembler } from './message-assembler.js';
import type { ZlibMessageStream } from './zlib-message-stream.js';

/** Options of a `WebSocketReceiver`. */
export interface WebSocketReceiverOptions {
  /** 'server' reads a client's (masked) frames; 'client' reads a server's (unmasked) ones. */
  role: WebSocketRole;
  /**
   * Largest message, all fragments together; over it fails with 1009 as soon as a frame header
   * declares it, before its payload is read or anything allocated. Default 16 MiB: what the Autobahn
   * 9.x performance cases send, and a sixth of ws's 100 MiB, since a peer can make us hold it.
   */
  maxMessageBytes?: number;
  /** Largest single frame payload (1009 over it). Default: `maxMessageBytes`. */
  maxFrameBytes?: number;
  /**
   * Parse from this queue instead of a new one: the handshake layer hands over the queue holding
   * whatever the client sent right behind its upgrade request. Call `parse()` for those bytes.
   */
  queue?: ByteQueue;
  /**
   * `maxBytes` of the receiver's own queue (ignored with `queue`). Payload is consumed as it arrives,
   * so the queue holds at most a frame header, a control payload and the last read. Default 1 MiB.
   */
  maxBuffered?: number;
  /**
   * permessage-deflate was agreed: RSV1 on a message's first frame means compressed, and this stream
   * inflates it (bounded by `maxMessageBytes`, 1009 past it). Parsing waits while a message inflates,
   * so what follows it (messages, pings, the close) is reported after it; `onResumed` says when the
   * receiver reads on. The receiver disposes the stream in `dispose()`.
   */
  inflater?: ZlibMessageStream | null;
}

/** Default `maxMessageBytes`: 16 MiB. */
export const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/** Where a receiver is: reading frames, done after the peer's close frame, or failed on a protocol error. */
export type WebSocketReceiverState = 'open' | 'closed' | 'failed';

/**
 * The receiving half of a WebSocket connection, transport-independent (ws's Receiver): push pooled
 * read buffers in, get completion-style callbacks out (`WebSocketCallbacks`). A `FrameParser` streams
 * frames out of a `ByteQueue`, a `MessageAssembler` applies the message rules.
 *
 * After the peer's close frame (`onClose`) or a protocol error (`onProtocolError`) nothing more is
 * parsed: later bytes are dropped and pushed buffers released at once. Frame parsing is a loop, never
 * recursion; a push from inside a callback only queues its bytes for the loop already running.
 */
export class WebSocketReceiver {
  /** The queue frames are parsed from. */
  readonly queue: ByteQueue;
  #callbacks: WebSocketCallbacks;
  /** The queue is the receiver's own (not a handshake layer's): with no inflater, it may be reused (`reusable`). */
  readonly #ownQueue: boolean;
  readonly #parser: FrameParser;
  readonly #assembler: MessageAssembler;
  readonly #inflater: ZlibMessageStream | null;
  readonly #maxMessage: number;
  #state: WebSocketReceiverState = 'open';
  /** A compressed message is inflating: nothing more is parsed until it is delivered. */
  #inflating = false;
  #error: PorticoError | null = null;
  #running = false;

  /** A receiver reporting to `callbacks`; throws INVALID_ARGUMENT for limits that are not safe non-negative integers. */
  constructor(callbacks: WebSocketCallbacks, options: WebSocketReceiverOptions) {
    const maxMessage = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    checkRange(maxMessage, 0, Number.MAX_SAFE_INTEGER, 'maxMessageBytes', 'websocket');
    const maxFrame = options.maxFrameBytes ?? maxMessage;
    checkRange(maxFrame, 0, Number.MAX_SAFE_INTEGER, 'maxFrameBytes', 'websocket');
    this.#ownQueue = options.queue === undefined;
    this.queue = options.queue ?? new ByteQueue({ maxBytes: options.maxBuffered ?? 1024 * 1024 });
    this.#callbacks = callbacks;
    this.#inflater = options.inflater ?? null;
    this.#maxMessage = maxMessage;
    this.#parser = new FrameParser(this.queue, { role: options.role, maxFramePayload: maxFrame, rsv1Allowed: this.#inflater !== null });
    // The inflate hook is made only when deflate was agreed: a closure per connection is memory for nothing otherwise.
    this.#assembler = new MessageAssembler(callbacks, maxMessage, this.#inflater === null ? null : (compressed, binary) => this.#inflate(compressed, binary));
  }

  /** 'open' while frames are read; 'closed' after the peer's close frame; 'failed' after a protocol error. */
  get state(): WebSocketReceiverState {
    // Already 'closed' inside onClose: the assembler marks it before calling back.
    return this.#state === 'open' && this.#assembler.closed ? 'closed' : this.#state;
  }

  /** The protocol error that failed the receiver, or null. */
  get error(): PorticoError | null {
    return this.#error;
  }

  /** True while a fragmented message is open or a frame is partly read (the peer is mid-message). */
  get midMessage(): boolean {
    return this.#assembler.messageOpen || this.#parser.inFrame || this.#inflating;
  }

  /** A compressed message is being inflated: pushed bytes are queued, not parsed, until `onResumed`. */
  get inflating(): boolean {
    return this.#inflating;
  }

  /**
   * Between messages with nothing held: open, not parsing, no byte queued or pinned, no frame or message
   * begun, and nothing of its own to keep (its own queue, no inflater). Such a receiver is as good as a
   * new one with the same options, so `ReceiverPool` lends it to another socket (`attach`).
   */
  get reusable(): boolean {
    return (
      this.#state === 'open' &&
      !this.#running &&
      this.#ownQueue &&
      this.#inflater === null &&
      this.queue.bufferCount === 0 &&
      !this.#parser.inFrame &&
      !this.#assembler.messageOpen &&
      !this.#assembler.closed
    );
  }

  /** Report to `callbacks` from now on (a `reusable` receiver taken by another socket). */
  attach(callbacks: WebSocketCallbacks): void {
    this.#callbacks = callbacks;
    this.#assembler.attach(callbacks);
  }

  /**
   * Append a read buffer (ownership passes to the receiver) and parse. After close or failure the
   * buffer is released unread. A queue over its `maxBytes` throws PORTICO_ERR_INPUT_TOO_LARGE.
   */
  push(buffer: PooledBuffer): void {
    if (this.state !== 'open') {
      buffer.release();
      return;
    }
    this.queue.append(buffer);
    this.parse();
  }

  /** Parse whatever the queue holds (bytes a handshake layer left there). */
  parse(): void {
    if (this.#running || this.#inflating || this.state !== 'open') return;
    this.#running = true;
    const parser = this.#parser;
    const assembler = this.#assembler;
    try {
      for (;;) {
        const event = parser.next();
        if (event === FrameEvent.NEED_MORE) break;
        let failure: PorticoError | null;
        if (event === FrameEvent.PAYLOAD) failure = assembler.payload(parser.chunk, parser.chunkOwner);
        else if (event === FrameEvent.FRAME_START) failure = assembler.frameStart(parser.opcode, parser.fin, parser.rsv1, parser.payloadLength);
        else if (event === FrameEvent.FRAME_END) failure = assembler.frameEnd();
        else failure = parser.error;
        if (failure !== null) {
          this.#fail(failure);
          break;
        }
        if (assembler.closed || this.#inflating) break;
      }
    } finally {
      this.#running = false;
      if (this.#state === 'open') {
        if (assembler.closed) {
          // Whatever follows the close frame is not for us (RFC 6455 5.5.1), even if onClose threw.
          this.#state = 'closed';
          this.queue.clear();
        } else {
          // Between reads nothing stays pinned but an unfinished header or control payload.
          this.queue.releaseConsumed();
        }
      }
    }
  }

  /**
   * The connection is gone: release every buffer held (queued input, a partial message) and parse
   * nothing more. Safe to call in any state, more than once.
   */
  dispose(): void {
    if (this.#state === 'open') this.#state = 'closed';
    this.queue.clear();
    this.#assembler.reset();
    this.#inflating = false;
    this.#inflater?.dispose();
  }

  /** The assembler has a whole compressed message: inflate it, and parse nothing more until it is out. */
  #inflate(compressed: Buffer, binary: boolean): void {
    this.#inflating = true;
    this.#inflater!.run(compressed, (error, data) => this.#inflated(error, data!, binary), this.#maxMessage);
  }

  /** Posted by the inflater: deliver the message (or fail), then go on parsing what waited behind it. */
  #inflated(error: PorticoError | null, data: Buffer, binary: boolean): void {
    if (!this.#inflating || this.#state !== 'open') return; // disposed meanwhile
    this.#inflating = false;
    if (error === null && !binary && !isUtf8(data)) error = utf8Failure('compressed text message is not valid UTF-8');
    if (error !== null) {
      this.#fail(error);
      return;
    }
    this.#callbacks.onMessage(binary ? data : data.toString('utf8'), binary);
    this.parse();
    if (this.state === 'open' && !this.#inflating) this.#callbacks.onResumed?.();
  }

  #fail(error: PorticoError): void {
    this.#state = 'failed';
    this.#error = error;
    this.queue.clear();
    this.#assembler.reset();
    this.#inflater?.dispose(); // nothing more is inflated: its context goes now, not at the TCP close
    this.#callbacks.onProtocolError(error.closeCode ?? 1002, error);
  }
}
