import type { WebSocketCallbacks } from './callbacks.js';
import type { WebSocketRole } from './frame-parser.js';
import { WebSocketReceiver } from './receiver.js';

/** Options every receiver of one pool is made with (a server's or a client's socket options). */
export interface ReceiverPoolOptions {
  readonly role: WebSocketRole;
  readonly maxMessageBytes: number;
  /** `maxBytes` of each receiver's queue. */
  readonly maxBuffered: number;
}

/** What a receiver waiting in the pool reports to: nothing (it holds no bytes), and no socket is kept alive by it. */
const detached: WebSocketCallbacks = { onMessage: () => {}, onClose: () => {}, onProtocolError: () => {} };

/** Receivers kept for reuse; more are made when more sockets are mid-message at once, and dropped when returned over this. */
const DEFAULT_KEEP = 64;

/**
 * Receivers lent to sockets only while a message is arriving. A socket between messages holds no
 * receiver at all (frame parser, message assembler, byte queue: ~0.6 KB of heap per connection, most of
 * an idle WebSocket's JavaScript memory); a read takes one from here, parses, and gives it back once it
 * is `reusable` again (nothing queued, no frame or message begun). A socket mid-message, or with an
 * inflater or a handshake layer's queue, keeps its own. One pool per set of socket options, so every
 * receiver in it is interchangeable.
 */
export class ReceiverPool {
  readonly #options: ReceiverPoolOptions;
  readonly #keep: number;
  readonly #free: WebSocketReceiver[] = [];

  constructor(options: ReceiverPoolOptions, keep = DEFAULT_KEEP) {
    this.#options = options;
    this.#keep = keep;
  }

  /** Receivers waiting to be lent. */
  get available(): number {
    return this.#free.length;
  }

  /** A receiver reporting to `callbacks`: a returned one, or a new one. */
  acquire(callbacks: WebSocketCallbacks): WebSocketReceiver {
    const receiver = this.#free.pop();
    if (receiver === undefined) {
      const { role, maxMessageBytes, maxBuffered } = this.#options;
      return new WebSocketReceiver(callbacks, { role, maxMessageBytes, maxBuffered });
    }
    receiver.attach(callbacks);
    return receiver;
  }

  /** Give back a receiver that is `reusable`; returns false (and keeps nothing) when it is not, or the pool is full. */
  release(receiver: WebSocketReceiver): boolean {
    if (!receiver.reusable || this.#free.length >= this.#keep) return false;
    receiver.attach(detached);
    this.#free.push(receiver);
    return true;
  }
}
