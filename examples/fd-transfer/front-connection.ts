import {
  ByteQueue,
  type Clock,
  formatErrorResponse,
  handleOf,
  type HeaderPair,
  type PooledBuffer,
  type PorticoError,
  type RequestHeadParser,
  type RequestHead,
  type TcpTransport,
  type TimerWheel,
  type TransportSink,
  type WheelTimer,
} from '../../framework/index.js';
import type { TransferOutcome, TransferRequest } from './backend-process.js';
import type { RelayPipe } from './relay.js';

/** The front's counters (the per back end ones are in `BackendStats`). */
export interface FrontStats {
  accepted: number;
  /** Over `maxConnections`: reset at once. */
  overLimit: number;
  /** Accepts that failed (EMFILE and the like). */
  acceptErrors: number;
  /** Handed to a back end that acknowledged. */
  transferred: number;
  /** Relayed through the front instead (relay mode). */
  relayed: number;
  /** Answered by the front itself, by status. */
  answered404: number;
  answered400: number;
  answered408: number;
  answered431: number;
  /** 414, 501, 505: the other head errors. */
  answeredOtherHeadError: number;
  answered502: number;
  answered503: number;
  answered504: number;
  /** The peer left (or reset) before its head was complete. */
  peerGone: number;
  /** Bytes the front read from clients (request heads; in relay mode, everything). */
  bytesRead: number;
  /** Bytes the front wrote to clients itself (its own answers; in relay mode, everything relayed). */
  bytesWritten: number;
  /** Connections open in the front now: reading a head, waiting for an ack, answering, relaying. */
  open: number;
}

export function emptyFrontStats(): FrontStats {
  return {
    accepted: 0, overLimit: 0, acceptErrors: 0, transferred: 0, relayed: 0,
    answered404: 0, answered400: 0, answered408: 0, answered431: 0, answeredOtherHeadError: 0,
    answered502: 0, answered503: 0, answered504: 0,
    peerGone: 0, bytesRead: 0, bytesWritten: 0, open: 0,
  };
}

/** What a connection needs from its front. */
export interface FrontConnectionHost {
  readonly wheel: TimerWheel;
  readonly clock: Clock;
  readonly stats: FrontStats;
  readonly maxHeadBytes: number;
  readonly headTimeoutMs: number;
  /** A parser for one head (reused across connections: most heads arrive in one read). */
  takeParser(): RequestHeadParser;
  giveParser(parser: RequestHeadParser): void;
  /** Where a head goes: a transfer (or relay) function, or null for 404. */
  route(head: RequestHead): ((request: TransferRequest, conn: FrontConnection) => void) | null;
  finished(conn: FrontConnection): void;
}

type State = 'head' | 'transferring' | 'answering' | 'handed-off' | 'relaying' | 'closed';

/** After the front's own answer and FIN, how long it waits for the client's FIN before closing. */
const answerLingerMs = 2000;

/**
 * One accepted connection in the front: read the request head (bounded in size and time; nothing
 * past the read that completes it — reading stops inside that completion), route it, hand the raw
 * handle and the bytes read to a back end, and close our copy once the back end has it. Whatever goes
 * wrong before that, the front answers itself: 400/414/431/501/505 for a bad head, 404 without a
 * route, 408 for a slow head, 502/503/504 when the back end cannot take it.
 */
export class FrontConnection implements TransportSink {
  readonly transport: TcpTransport;
  readonly #host: FrontConnectionHost;
  #state: State = 'head';
  #queue: ByteQueue;
  #parser: RequestHeadParser | null = null;
  #timer: WheelTimer | null = null;
  #relay: RelayPipe | null = null;

  constructor(transport: TcpTransport, host: FrontConnectionHost) {
    this.transport = transport;
    this.#host = host;
    this.#queue = new ByteQueue({ maxBytes: host.maxHeadBytes + 65536 });
    transport.attach(this);
  }

  get state(): State {
    return this.#state;
  }

  /** Relay mode: bytes now go through `pipe` both ways. */
  get relaying(): boolean {
    return this.#relay !== null;
  }

  /** Relay mode: the back end is connected; copy bytes through `pipe` from now on. */
  startRelay(pipe: RelayPipe): void {
    if (this.#state !== 'transferring') {
      pipe.onClosed();
      return;
    }
    this.#host.stats.relayed++;
    this.#state = 'relaying';
    this.#relay = pipe;
    this.transport.resumeReading();
  }

  start(): void {
    this.#timer = this.#host.wheel.schedule(this.#host.clock.now() + this.#host.headTimeoutMs, FrontConnection.#headTimedOut, this);
    this.transport.resumeReading();
  }

  /** Front stopping: a connection still reading its head is closed (nothing was promised to it). */
  abandon(): void {
    if (this.#state === 'head' || this.#state === 'answering') this.transport.destroy();
  }

  onData(buffer: PooledBuffer): boolean {
    if (this.#relay !== null) return this.#relay.onData(buffer);
    if (this.#state !== 'head') {
      buffer.release(); // after our answer: discard until the client's FIN
      return this.#state === 'answering';
    }
    this.#host.stats.bytesRead += buffer.length;
    this.#queue.append(buffer);
    this.#parser ??= this.#host.takeParser();
    const result = this.#parser.parse(this.#queue);
    if (result.kind === 'more') return true;
    // A parser is ready for the next head after a head or an error: back to the front's free list.
    this.#host.giveParser(this.#parser);
    this.#parser = null;
    if (result.kind === 'error') {
      this.#answerHeadError(result.status, result.error);
      return true;
    }
    const transfer = this.#host.route(result.head);
    if (transfer === null) {
      this.#host.stats.answered404++;
      this.#answer(404, 'no route for this path');
      return true;
    }
    this.#cancelTimer();
    const handle = handleOf(this.transport.socket);
    if (handle === null) {
      this.#close();
      return false;
    }
    // Every byte we read travels with the connection: the head and whatever came after it in this read.
    const leftover = Buffer.from(this.#queue.peek(0, this.#queue.length));
    this.#queue.clear();
    this.#state = 'transferring';
    transfer({ handle, leftover, done: (outcome) => this.#transferred(outcome) }, this);
    return false; // stop reading now: the rest belongs to the back end
  }

  onEnd(): void {
    if (this.#relay !== null) {
      this.#relay.onEnd();
      return;
    }
    if (this.#state === 'head') this.#host.stats.peerGone++;
    if (this.#state !== 'transferring' && this.#state !== 'handed-off') this.#close();
  }

  onWriteShut(): void {}

  onError(_error: PorticoError): void {
    if (this.#relay !== null) {
      this.#relay.onError();
      return;
    }
    if (this.#state === 'head') this.#host.stats.peerGone++;
    if (this.#state !== 'transferring') this.#close();
  }

  onClosed(): void {
    this.#state = 'closed';
    this.#cancelTimer();
    this.#queue.clear();
    if (this.#parser !== null) {
      this.#parser.reset();
      this.#host.giveParser(this.#parser);
      this.#parser = null;
    }
    this.#relay?.onClosed();
    this.#host.finished(this);
  }

  #transferred(outcome: TransferOutcome): void {
    if (this.#state !== 'transferring') return;
    switch (outcome) {
      case 'accepted':
        this.#host.stats.transferred++;
        this.#state = 'handed-off';
        this.transport.destroy(); // our copy of the descriptor only: no FIN while the back end holds its own
        return;
      case 'refused':
      case 'busy':
        this.#host.stats.answered503++;
        this.#answer(503, 'the back end cannot take this connection now', [['Retry-After', '1']]);
        return;
      case 'failed':
        this.#host.stats.answered502++;
        this.#answer(502, 'the back end failed before taking this connection');
        return;
      case 'timeout':
        this.#host.stats.answered504++;
        this.#answer(504, 'the back end did not take this connection in time');
        return;
    }
  }

  #answerHeadError(status: number, error: PorticoError): void {
    const s = this.#host.stats;
    if (status === 400) s.answered400++;
    else if (status === 431) s.answered431++;
    else s.answeredOtherHeadError++;
    this.#answer(status, error.message);
  }

  /** Our own answer, FIN after it, then discard input until the client's FIN (bounded by a linger timer). */
  #answer(status: number, reason: string, headers: readonly HeaderPair[] = []): void {
    this.#cancelTimer();
    this.#queue.clear();
    this.#state = 'answering';
    const bytes = formatErrorResponse(status, reason, headers);
    this.#host.stats.bytesWritten += bytes.length;
    this.transport.write(bytes, () => {});
    this.transport.shutdownWrite();
    this.#timer = this.#host.wheel.schedule(this.#host.clock.now() + answerLingerMs, FrontConnection.#lingerExpired, this);
    this.transport.resumeReading();
  }

  #close(): void {
    if (this.#state === 'closed') return;
    this.transport.destroy();
  }

  #cancelTimer(): void {
    this.#timer?.cancel();
    this.#timer = null;
  }

  static #headTimedOut(_now: number, self: FrontConnection): void {
    self.#timer = null;
    if (self.#state !== 'head') return;
    self.#host.stats.answered408++;
    self.#answer(408, `the request head did not arrive within ${self.#host.headTimeoutMs} ms`);
  }

  static #lingerExpired(_now: number, self: FrontConnection): void {
    self.#timer = null;
    self.#close();
  }
}
