import type { BufferPool } from '../buffers/buffer-pool.js';
import type { PooledBuffer } from '../buffers/pooled-buffer.js';
import type { Clock } from '../core/clock.js';
import { ErrorCodes, PorticoError, toPorticoError } from '../core/errors.js';
import type { TimerWheel, WheelTimer } from '../core/timer-wheel.js';
import type { SocketEndpoint, Transport, TransportSink } from '../transport/transport.js';
import { type HandshakeContext, type HandshakeHandler, type HandshakeStep } from './handshake.js';
import type { ProxyInfo } from './proxy-protocol/proxy-info.js';

/** How a connection's handshake ended when it did not reach the data protocol. */
export type HandshakeOutcome =
  | { readonly kind: 'failed'; readonly handler: string; readonly error: PorticoError }
  | { readonly kind: 'answered'; readonly handler: string }
  | { readonly kind: 'peer-closed'; readonly handler: string };

/** What the owner of a layer stack (server or connector) is told. */
export interface LayerStackEvents {
  /**
   * Every handler finished: build the connection on `transport` with `leftover` as its first input.
   * Return whether it wants input now (the answer to the transport's read in progress, if any).
   */
  ready(stack: LayerStack, transport: Transport, leftover: PooledBuffer[]): boolean;
  /** The handshake failed, answered or saw the peer leave; the decision is made, the handle may still be closing. */
  failed?(stack: LayerStack, outcome: HandshakeOutcome): void;
  /** A stack that did not reach `ready` has closed its handle. */
  ended(stack: LayerStack, outcome: HandshakeOutcome): void;
}

export interface LayerStackOptions {
  readonly handlers: readonly HandshakeHandler[];
  readonly direction: 'accepted' | 'outgoing';
  /** The whole handshake's deadline; past it the connection is reset (PORTICO_ERR_HANDSHAKE_TIMEOUT). */
  readonly deadlineMs: number;
  /** Most bytes buffered for the handlers at once (PORTICO_ERR_INPUT_TOO_LARGE past it). */
  readonly maxBufferedBytes: number;
  /** After an answer or a graceful reject, how long the peer gets to close before an RST. */
  readonly lingerMs: number;
  readonly wheel: TimerWheel;
  readonly clock: Clock;
  readonly pool: BufferPool;
  /** Our end when known without asking the socket (the listen address). */
  readonly local?: SocketEndpoint | null;
}

type StackState = 'running' | 'waiting' | 'ready' | 'closing' | 'closed';

/**
 * Runs a connection's handshake handlers in order, as HAProxy's handshake transport does: each one
 * finishes and hands the bytes past its part to the next, asks for more, replaces the transport, or
 * fails the connection. Then the stack removes itself: the transport is handed to the data protocol
 * with the leftover bytes as its first read completion. One deadline bounds the whole handshake; one
 * size bound limits what is buffered; nothing here recurses, whatever the handlers answer.
 */
export class LayerStack implements TransportSink, HandshakeContext {
  readonly direction: 'accepted' | 'outgoing';
  transport: Transport;
  proxied: ProxyInfo | null = null;
  #options: LayerStackOptions;
  #events: LayerStackEvents;
  #index = 0;
  #state: StackState = 'running';
  #chunks: PooledBuffer[] = [];
  #offset = 0; // bytes of chunks[0] already consumed
  #buffered = 0;
  #busy = false;
  #settled: HandshakeStep | null = null;
  #deadline: WheelTimer | null = null;
  #linger: WheelTimer | null = null;
  #finishedHooks: (() => void)[] = [];
  #outcome: HandshakeOutcome | null = null;
  #socketRemote: SocketEndpoint | null = null;
  #remote: SocketEndpoint | null = null;
  #local: SocketEndpoint | null = null;
  #writeShut = false;
  #peerEnded = false;

  constructor(transport: Transport, options: LayerStackOptions, events: LayerStackEvents) {
    this.transport = transport;
    this.direction = options.direction;
    this.#options = options;
    this.#events = events;
    this.#local = options.local ?? null;
    transport.attach(this);
  }

  /** Start the first handler (and the deadline). */
  start(): void {
    if (this.#options.deadlineMs > 0) {
      this.#deadline = this.#options.wheel.schedule(this.#options.clock.now() + this.#options.deadlineMs, LayerStack.#expired, this);
    }
    if (this.#options.handlers.length === 0) {
      this.#run({ kind: 'done', consumed: 0 }, true);
      return;
    }
    this.#run(this.#call(() => this.#handler.start(this)), false);
  }

  /** The handler whose turn it is ('' once all are done). */
  get currentHandler(): string {
    return this.#options.handlers[this.#index]?.name ?? '';
  }

  get state(): StackState {
    return this.#state;
  }

  /** Hooks registered by handlers, for the connection built on this stack to run when it finishes. */
  takeFinishedHooks(): (() => void)[] {
    return this.#finishedHooks.splice(0);
  }

  /** Stop the handshake now (server stop, deadline of a drain): RST. */
  abort(error: PorticoError): void {
    if (this.#state === 'ready' || this.#state === 'closed') return;
    if (this.#state === 'closing') {
      this.transport.reset();
      return;
    }
    this.#fail(error, 'reset');
  }

  // ---- HandshakeContext ------------------------------------------------------------------------

  /**
   * Asked of the socket when first needed (a getpeername per connection is a tenth of a layered
   * connection's setup), and at the latest when the handshake fails — while the socket still has it.
   */
  get socketRemote(): SocketEndpoint {
    return (this.#socketRemote ??= this.transport.remote);
  }

  get remote(): SocketEndpoint {
    return this.#remote ?? this.socketRemote;
  }

  /** The PROXY header's client and destination, when one named them (else null: the socket's own ends stand). */
  get proxiedEnds(): { readonly remote: SocketEndpoint; readonly local: SocketEndpoint } | null {
    return this.#remote !== null && this.#local !== null ? { remote: this.#remote, local: this.#local } : null;
  }

  get local(): SocketEndpoint {
    return (this.#local ??= this.transport.local);
  }

  setProxied(info: ProxyInfo): void {
    this.proxied = info;
    if (info.command === 'proxy' && info.source !== null && info.destination !== null) {
      this.#remote = info.source;
      this.#local = info.destination;
    }
  }

  write(bytes: Uint8Array): void {
    this.transport.write(bytes, ignoreCompletion);
  }

  settle(step: HandshakeStep): void {
    if (this.#busy) {
      this.#settled = step;
      return;
    }
    if (this.#state !== 'waiting') return;
    this.#state = 'running';
    this.#run(step, true);
  }

  onFinished(fn: () => void): void {
    this.#finishedHooks.push(fn);
  }

  // ---- TransportSink ---------------------------------------------------------------------------

  onData(buffer: PooledBuffer): boolean {
    if (this.#state === 'closing' || this.#state === 'closed' || this.#state === 'ready') {
      buffer.release(); // answered or rejected: input is discarded until the peer closes
      return this.#state === 'closing';
    }
    this.#chunks.push(buffer);
    this.#buffered += buffer.length;
    if (this.#buffered > this.#options.maxBufferedBytes) {
      this.#fail(new PorticoError(ErrorCodes.INPUT_TOO_LARGE, 'layers', `${this.currentHandler}: more than ${this.#options.maxBufferedBytes} bytes without finishing the handshake`), 'reset');
      return false;
    }
    if (this.#state === 'waiting' || this.#busy) return true; // kept for when the handler is done
    const handler = this.#handler;
    if (handler.onData === undefined) return true;
    return this.#run(this.#call(() => handler.onData!(this, this.#input())), false);
  }

  onEnd(): void {
    this.#peerEnded = true;
    if (this.#state === 'closing') {
      if (this.#writeShut) this.transport.destroy();
      return;
    }
    if (this.#state === 'running' || this.#state === 'waiting') {
      this.#decide({ kind: 'peer-closed', handler: this.currentHandler });
      this.transport.destroy();
    }
  }

  onWriteShut(): void {
    this.#writeShut = true;
    if (this.#state === 'closing' && this.#peerEnded) this.transport.destroy();
  }

  onError(error: PorticoError): void {
    if (this.#state === 'running' || this.#state === 'waiting') this.#decide({ kind: 'failed', handler: this.currentHandler, error });
  }

  onClosed(): void {
    if (this.#state === 'closed' || this.#state === 'ready') return;
    if (this.#outcome === null) {
      this.#decide({ kind: 'failed', handler: this.currentHandler, error: new PorticoError(ErrorCodes.SOCKET, 'layers', 'connection closed during the handshake') });
    }
    this.#state = 'closed';
    this.#cancelTimers();
    this.#releaseInput();
    this.#runFinishedHooks();
    this.#events.ended(this, this.#outcome!);
  }

  // ---- the step loop ---------------------------------------------------------------------------

  get #handler(): HandshakeHandler {
    return this.#options.handlers[this.#index]!;
  }

  /** Call handler code: a throw fails this connection only. */
  #call(fn: () => HandshakeStep): HandshakeStep {
    this.#busy = true;
    try {
      return fn();
    } catch (error) {
      return { kind: 'reject', error: toPorticoError(error, ErrorCodes.CALLBACK_THREW, 'layers'), close: 'reset' };
    } finally {
      this.#busy = false;
    }
  }

  /**
   * Act on `step` and on every step it leads to, iteratively. `fresh`: `need-more` may be answered from
   * bytes already buffered (the handler has not seen them). Returns whether the transport should read.
   */
  #run(first: HandshakeStep, fresh: boolean): boolean {
    let step = first;
    let offerBuffered = fresh || step.kind !== 'need-more';
    for (;;) {
      if (this.#state !== 'running') return this.#state === 'closing';
      switch (step.kind) {
        case 'need-more': {
          const handler = this.#handler;
          if (handler.onData === undefined) {
            this.#fail(new PorticoError(ErrorCodes.INVALID_STATE, 'layers', `${handler.name}: asked for bytes but has no onData`), 'reset');
            return false;
          }
          if (offerBuffered && this.#buffered > 0) {
            offerBuffered = false;
            step = this.#call(() => handler.onData!(this, this.#input()));
            continue;
          }
          this.transport.resumeReading();
          return true;
        }
        case 'done': {
          if (!this.#consume(step.consumed)) return false;
          this.#index++;
          if (this.#index >= this.#options.handlers.length) return this.#ready();
          step = this.#call(() => this.#handler.start(this));
          offerBuffered = true;
          continue;
        }
        case 'wait':
        case 'replace-transport': {
          if (step.kind === 'replace-transport' && !this.#replace(step)) return false;
          if (this.#settled !== null) {
            step = this.#settled;
            this.#settled = null;
            offerBuffered = true;
            continue;
          }
          this.#state = 'waiting';
          this.transport.resumeReading(); // a replaced transport reads to progress (TLS); others buffer, bounded
          return true;
        }
        case 'reject':
          this.#fail(step.error, step.close);
          return step.close === 'close';
        case 'respond-and-close':
          this.#decide({ kind: 'answered', handler: this.currentHandler });
          this.#closeGracefully(step.bytes);
          return true;
      }
    }
  }

  #replace(step: Extract<HandshakeStep, { kind: 'replace-transport' }>): boolean {
    if (!this.#consume(step.consumed)) return false;
    const leftover: Uint8Array[] = [];
    for (let i = 0; i < this.#chunks.length; i++) {
      const chunk = this.#chunks[i]!;
      leftover.push(Buffer.from(chunk.data.subarray(i === 0 ? this.#offset : 0)));
    }
    this.#releaseInput();
    let next: Transport;
    this.#busy = true;
    try {
      next = step.replace(this.transport, leftover);
    } catch (error) {
      this.#busy = false;
      this.#fail(toPorticoError(error, ErrorCodes.CALLBACK_THREW, 'layers'), 'reset');
      return false;
    }
    this.#busy = false;
    this.transport = next;
    next.attach(this);
    return true;
  }

  #ready(): boolean {
    this.#state = 'ready';
    this.#cancelTimers();
    const leftover: PooledBuffer[] = [];
    for (let i = 0; i < this.#chunks.length; i++) {
      const chunk = this.#chunks[i]!;
      if (i === 0 && this.#offset > 0) {
        leftover.push(this.#options.pool.acquireCopy(chunk.data.subarray(this.#offset)));
        chunk.release();
      } else {
        leftover.push(chunk);
      }
    }
    this.#chunks = [];
    this.#offset = 0;
    this.#buffered = 0;
    return this.#events.ready(this, this.transport, leftover);
  }

  /** Drop `n` consumed bytes from the front; false (and the connection failed) if the handler claimed more than it had. */
  #consume(n: number): boolean {
    if (!Number.isInteger(n) || n < 0 || n > this.#buffered) {
      this.#fail(new PorticoError(ErrorCodes.INVALID_STATE, 'layers', `${this.currentHandler}: consumed ${n} of ${this.#buffered} buffered bytes`), 'reset');
      return false;
    }
    this.#buffered -= n;
    let left = n;
    while (left > 0) {
      const first = this.#chunks[0]!;
      const available = first.length - this.#offset;
      if (left < available) {
        this.#offset += left;
        break;
      }
      left -= available;
      this.#chunks.shift();
      first.release();
      this.#offset = 0;
    }
    return true;
  }

  /** The buffered bytes, contiguous (one chunk: a view; more: one copy — handshakes are small). */
  #input(): Uint8Array {
    if (this.#chunks.length === 1) return this.#chunks[0]!.data.subarray(this.#offset);
    const parts = this.#chunks.map((c, i) => (i === 0 ? c.data.subarray(this.#offset) : c.data));
    return Buffer.concat(parts, this.#buffered);
  }

  // ---- failure and close -------------------------------------------------------------------------

  #decide(outcome: HandshakeOutcome): void {
    if (this.#outcome !== null) return;
    void this.socketRemote; // kept for the failure report: after the reset the socket forgets it
    this.#outcome = outcome;
    this.#cancelTimers();
    this.#events.failed?.(this, outcome);
  }

  #fail(error: PorticoError, close: 'reset' | 'close'): void {
    this.#decide({ kind: 'failed', handler: this.currentHandler, error });
    this.#releaseInput();
    if (close === 'close') {
      this.#closeGracefully(null);
      return;
    }
    this.#state = 'closing';
    this.transport.reset();
  }

  /** Write `bytes` (if any), FIN, discard input until the peer's FIN (bounded by `lingerMs`), close. */
  #closeGracefully(bytes: Uint8Array | null): void {
    this.#state = 'closing';
    this.#releaseInput();
    if (bytes !== null && bytes.length > 0) this.transport.write(bytes, ignoreCompletion);
    this.transport.shutdownWrite();
    this.#linger = this.#options.wheel.schedule(this.#options.clock.now() + this.#options.lingerMs, LayerStack.#lingerExpired, this);
    if (this.#peerEnded) {
      if (this.#writeShut) this.transport.destroy();
    } else {
      this.transport.resumeReading();
    }
  }

  static #expired(_now: number, stack: LayerStack): void {
    stack.#deadline = null;
    if (stack.#state !== 'running' && stack.#state !== 'waiting') return;
    stack.#fail(
      new PorticoError(ErrorCodes.HANDSHAKE_TIMEOUT, 'layers', `${stack.currentHandler}: handshake not finished within ${stack.#options.deadlineMs} ms`),
      'reset',
    );
  }

  static #lingerExpired(_now: number, stack: LayerStack): void {
    stack.#linger = null;
    if (stack.#state === 'closing') stack.transport.reset();
  }

  #cancelTimers(): void {
    this.#deadline?.cancel();
    this.#deadline = null;
    if (this.#state !== 'closing') {
      this.#linger?.cancel();
      this.#linger = null;
    }
  }

  #releaseInput(): void {
    for (const chunk of this.#chunks) chunk.release();
    this.#chunks = [];
    this.#offset = 0;
    this.#buffered = 0;
  }

  #runFinishedHooks(): void {
    for (const fn of this.takeFinishedHooks()) {
      try {
        fn();
      } catch {
        // A hook is bookkeeping (a per-source count); its failure must not stop the others.
      }
    }
  }
}

function ignoreCompletion(): void {
  // Handshake writes report failures through the transport's onError.
}
