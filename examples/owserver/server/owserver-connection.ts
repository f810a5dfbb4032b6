import type { Clock, Connection, ConnectionCallbacks, PooledBuffer, TimerWheel, WheelTimer } from '../../../framework/index.js';
import { ErrorCodes, PorticoError } from '../../../framework/index.js';
import type { OwBus } from '../bus/bus.js';
import { MessageType, Sg } from '../protocol/constants.js';
import { READ_AHEAD_LIMIT, RequestFramer } from '../protocol/request-framer.js';
import type { PersistenceLedger } from './persistence.js';
import { executeRequest } from './request-executor.js';
import { PING } from './response.js';
import type { UpstreamForwarder } from './upstream.js';

export interface OwserverTimeouts {
  /** --timeout_server: silence allowed while a message is being received (owserver's idle rule). */
  readonly receiveIdleMs: number;
  /** Beyond owserver: a whole message must arrive within this, so a trickling peer is dropped. 0 = off. */
  readonly messageDeadlineMs: number;
  /** Keep-alive ping when a request has produced no output for this long, then at this interval. */
  readonly pingMs: number;
  /**
   * After a non-persistent answer, wait this long for the client to close first, so TIME_WAIT lands
   * on the client (Holgate's rule), then close. 0 = close at once, as owserver does.
   */
  readonly closeGraceMs: number;
}

export const defaultTimeouts: OwserverTimeouts = Object.freeze({ receiveIdleMs: 10_000, messageDeadlineMs: 30_000, pingMs: 1000, closeGraceMs: 100 });

export interface OwserverContext {
  readonly bus: OwBus;
  /** Proxy mode: answer from this upstream owserver instead of the bus. */
  readonly upstream: UpstreamForwarder | null;
  readonly ledger: PersistenceLedger;
  readonly wheel: TimerWheel;
  readonly clock: Clock;
  readonly timeouts: OwserverTimeouts;
  /** Requests answered, framing errors, ... (for /statistics and tests). */
  readonly stats: OwserverStats;
}

export interface OwserverStats {
  requests: number;
  framingErrors: number;
  receiveTimeouts: number;
  persistentTimeouts: number;
  pings: number;
  loopsDropped: number;
}

/**
 * - `finishing`: a non-persistent answer is out; waiting briefly for the client's FIN (see closeGraceMs).
 * - `resetting`: closed with bytes left unread, as owserver closes then: RST once the answer is flushed.
 */
type Phase = 'awaiting' | 'receiving' | 'processing' | 'finishing' | 'resetting' | 'closing';

/**
 * One owserver connection: reads requests (pipelined ones are answered in order), answers each from
 * the bus, grants or refuses persistence per request, and enforces the timeouts of reference §1/§5.
 * One lazily re-armed wheel timer per connection: activity only moves timestamps.
 *
 * Every close is owserver's: it close(2)s its descriptor, so the peer sees FIN when owserver had
 * read everything that arrived, RST when bytes it never read were left behind (a pipelined request
 * after a non-persistent answer, bytes after a bad header), and RST in answer to any later input.
 */
export class OwserverConnection implements ConnectionCallbacks {
  readonly #ctx: OwserverContext;
  readonly #reader = new RequestFramer();
  #conn: Connection | null = null;
  #phase: Phase = 'awaiting';
  #granted = false;
  #lastByteAt = 0;
  #messageStartAt = 0;
  #idleSince = 0;
  #lastPingAt = 0;
  #shortWaitPassed = false;
  #timer: WheelTimer | null = null;
  #readPaused = false;
  #peerFinished = false;
  #finishBy = 0;
  /** `resetting`: when to give up waiting for the peer's FIN or for the flush, and reset. */
  #giveUpAt = 0;
  /** `resetting`: the reason passed to abort once the queued answer is written. */
  #resetReason: PorticoError | null = null;
  /** Answers are held (corked) until the current tick's microtasks are done. */
  #corked = false;

  constructor(ctx: OwserverContext) {
    this.#ctx = ctx;
  }

  onConnectionEstablished(conn: Connection): void {
    this.#conn = conn;
    this.#idleSince = this.#ctx.clock.now();
    // Armed no later than the earliest deadline a later phase can set (the close grace after an answer,
    // else the ping interval), so a short connection's phases keep this timer instead of moving it:
    // one wheel entry per single-shot connection, not one per phase. Firing early only re-arms.
    const { closeGraceMs, pingMs } = this.#ctx.timeouts;
    this.#arm(closeGraceMs > 0 ? Math.min(closeGraceMs, pingMs) : pingMs);
    conn.read();
  }

  onReadCompleted(conn: Connection, buffer: PooledBuffer): void {
    if (this.#phase === 'resetting' || this.#phase === 'closing') {
      buffer.release();
      return;
    }
    if (this.#phase === 'finishing') {
      // Input after a non-persistent answer or after our close: owserver has closed its descriptor
      // by now, and the kernel answers such a segment with RST.
      buffer.release();
      this.#phase = 'closing';
      conn.abort(new PorticoError(ErrorCodes.INVALID_ARGUMENT, 'protocol', 'owserver: input after the connection was closed'));
      return;
    }
    const now = this.#ctx.clock.now();
    this.#lastByteAt = now;
    if (this.#phase === 'awaiting') {
      this.#phase = 'receiving';
      this.#messageStartAt = now;
      this.#arm();
    }
    try {
      this.#reader.push(buffer); // the framer owns the buffer now
    } catch (error) {
      // Over the framer's bound: cannot happen while reading pauses at READ_AHEAD_LIMIT (below).
      this.#ctx.stats.framingErrors++;
      this.#fail(error as PorticoError);
      return;
    }
    this.#pump();
    const phase = this.#phase as Phase; // #pump may have moved it on
    if (phase !== 'awaiting' && phase !== 'receiving' && phase !== 'processing') return; // closed (a read is posted if needed)
    // Backpressure: while a request is being answered, hold at most one more full message.
    if (phase === 'processing' && this.#reader.buffered > READ_AHEAD_LIMIT) this.#readPaused = true;
    else conn.read();
  }

  onClientClose(_conn: Connection): void {
    // The peer is done sending; answer what is already here, then close.
    this.#peerFinished = true;
    switch (this.#phase) {
      case 'processing': // #answered goes on with any pipelined request, then closes
      case 'resetting':
      case 'closing':
        return;
      default:
        this.#closeAsOwserver(0); // a partial message is read as far as it goes, as owserver reads it
    }
  }

  onWriteCompleted(conn: Connection): void {
    if (this.#phase === 'resetting' && conn.queuedBytes === 0) conn.abort(this.#resetReason);
  }

  onConnectionClosed(): void {
    this.#timer?.cancel();
    this.#timer = null;
    this.#releaseGrant();
    this.#reader.clear();
    this.#phase = 'closing';
  }

  #pump(): void {
    if (this.#phase !== 'awaiting' && this.#phase !== 'receiving') return;
    const request = this.#reader.next();
    if (request === null) {
      if (this.#reader.error !== null) {
        // No reply: owserver read the header, then closes — RST if more had arrived behind it.
        this.#ctx.stats.framingErrors++;
        this.#closeAsOwserver(this.#reader.discarded, this.#reader.error.message);
      } else if (this.#reader.buffered === 0 && this.#phase === 'receiving') {
        this.#phase = 'awaiting';
        this.#idleSince = this.#ctx.clock.now();
      }
      return;
    }
    this.#phase = 'processing';
    this.#lastPingAt = this.#ctx.clock.now();
    this.#arm();
    if (request.header.type === MessageType.WRITE && request.header.size >= request.header.payload && request.header.payload > 0) {
      // No room for a path: owserver closes without a reply.
      this.#ctx.stats.framingErrors++;
      this.#closeAsOwserver(this.#reader.buffered, 'WRITE with no room for a path');
      return;
    }
    const upstream = this.#ctx.upstream;
    if (upstream !== null && upstream.isLoop(request)) {
      // Our own anti-loop token came back: drop it without a reply, as owserver does.
      this.#ctx.stats.loopsDropped++;
      this.#closeAsOwserver(this.#reader.buffered, 'anti-loop token');
      return;
    }
    const requested = (request.header.sg & Sg.PERSISTENT) !== 0;
    const keepOpen = this.#ctx.ledger.decide(requested, this.#granted);
    this.#granted = keepOpen;
    this.#ctx.stats.requests++;
    const answer = upstream !== null ? upstream.forward(request, keepOpen) : executeRequest(request, this.#ctx.bus, keepOpen);
    answer.then(
      (response) => this.#answered(response, keepOpen),
      (error: unknown) => this.#fail(new PorticoError(ErrorCodes.CALLBACK_THREW, 'protocol', `owserver request failed: ${String(error)}`, { cause: error })),
    );
  }

  #answered(response: Buffer, keepOpen: boolean): void {
    const conn = this.#conn;
    if (conn === null || conn.isClosed) return;
    if (keepOpen && !this.#corked && this.#reader.buffered > 0) {
      // Pipelined requests: the bus answers them without waiting, each in a later microtask, so hold
      // the answers until this tick's microtasks are done and send the burst in one writev.
      this.#corked = true;
      conn.cork();
      process.nextTick(OwserverConnection.#uncork, this);
    }
    conn.write(response);
    if (!keepOpen) {
      // Whatever arrived behind this request is never read: owserver closes with it unread.
      const unread = this.#reader.buffered;
      if (unread > 0 || this.#peerFinished || this.#ctx.timeouts.closeGraceMs <= 0) {
        this.#closeAsOwserver(unread, 'a request behind a non-persistent one');
        return;
      }
      this.#phase = 'finishing';
      this.#finishBy = this.#ctx.clock.now() + this.#ctx.timeouts.closeGraceMs;
      this.#arm();
      if (this.#readPaused) {
        this.#readPaused = false;
        conn.read();
      }
      return;
    }
    const now = this.#ctx.clock.now();
    this.#idleSince = now;
    this.#shortWaitPassed = false;
    this.#phase = this.#reader.buffered > 0 ? 'receiving' : 'awaiting';
    if (this.#phase === 'receiving') this.#messageStartAt = this.#lastByteAt = now;
    this.#pump();
    const phase = this.#phase as Phase; // #pump may have moved it on
    if (this.#peerFinished && (phase === 'awaiting' || phase === 'receiving')) {
      this.#closeAsOwserver(0); // every whole request the peer sent before its FIN is answered
      return;
    }
    this.#arm();
    if (this.#readPaused && (phase === 'awaiting' || phase === 'receiving')) {
      this.#readPaused = false;
      conn.read();
    }
  }

  #fail(error: PorticoError): void {
    this.#phase = 'closing';
    this.#releaseGrant();
    this.#conn?.abort(error);
  }

  /**
   * Close as owserver does, with close(2): `unread` counts the bytes that arrived beyond what
   * owserver would have read. None: FIN, and the socket is handed to the kernel (late input draws its
   * RST). Some: RST once the answer already queued is written.
   * The grant is given back now, not when the socket finally closes: the next connection's idle
   * check must see the count as owserver's does.
   */
  #closeAsOwserver(unread: number, why = 'closed with input unread'): void {
    this.#releaseGrant();
    this.#reader.clear(); // nothing more is read: give the buffers back now, not at the final close
    const conn = this.#conn;
    if (conn === null || conn.isClosed) {
      this.#phase = 'closing';
      return;
    }
    this.#giveUpAt = this.#ctx.clock.now() + conn.options.lingerMs;
    if (unread > 0) {
      this.#phase = 'resetting';
      this.#resetReason = new PorticoError(ErrorCodes.INVALID_ARGUMENT, 'protocol', `owserver: ${why} (${unread} bytes unread)`);
      if (conn.queuedBytes === 0) conn.abort(this.#resetReason);
      else this.#arm();
      return;
    }
    // close(2) as owserver does: our FIN, then the kernel owns the socket — it answers late input
    // with RST and the peer's FIN with TIME_WAIT, while the descriptor is already free.
    this.#phase = 'closing';
    conn.close({ waitForPeer: false });
  }

  #releaseGrant(): void {
    if (!this.#granted) return;
    this.#granted = false;
    this.#ctx.ledger.release();
  }

  // ---- timeouts: one lazily re-armed wheel timer ------------------------------------------------

  /**
   * Make sure a timer fires by the current phase's deadline (an earlier existing one is kept); a new
   * one fires within `withinMs` at the latest.
   */
  #arm(withinMs = Infinity): void {
    if (this.#phase === 'closing') return;
    const due = this.#nextDue();
    if (due === null) return;
    if (this.#timer !== null) {
      if (this.#timer.deadline <= due) return;
      this.#timer.cancel();
    }
    this.#timer = this.#ctx.wheel.schedule(Math.min(due, this.#ctx.clock.now() + withinMs), OwserverConnection.#fire, this);
  }

  #nextDue(): number | null {
    const { timeouts, ledger } = this.#ctx;
    switch (this.#phase) {
      case 'awaiting':
        if (!this.#granted) return this.#idleSince + timeouts.receiveIdleMs;
        return this.#idleSince + (this.#shortWaitPassed ? ledger.options.timeoutHighMs : ledger.options.timeoutLowMs);
      case 'receiving': {
        const idle = this.#lastByteAt + timeouts.receiveIdleMs;
        return timeouts.messageDeadlineMs > 0 ? Math.min(idle, this.#messageStartAt + timeouts.messageDeadlineMs) : idle;
      }
      case 'processing':
        return this.#lastPingAt + timeouts.pingMs;
      case 'finishing':
        return this.#finishBy;
      case 'resetting':
        return this.#giveUpAt;
      default:
        return null;
    }
  }

  static #fire(now: number, self: OwserverConnection): void {
    self.#onTimer(now);
  }

  static #uncork(self: OwserverConnection): void {
    self.#corked = false;
    self.#conn?.uncork();
  }

  #onTimer(now: number): void {
    this.#timer = null;
    const conn = this.#conn;
    if (conn === null || conn.isClosed || this.#phase === 'closing') return;
    const due = this.#nextDue();
    if (due !== null && now < due) {
      this.#arm();
      return;
    }
    const { ledger, stats } = this.#ctx;
    switch (this.#phase) {
      case 'processing':
        stats.pings++;
        this.#lastPingAt = now;
        conn.write(PING);
        break;
      case 'receiving':
        stats.receiveTimeouts++;
        this.#closeAsOwserver(0); // partial message then silence: closed without a reply, as owserver does
        return;
      case 'finishing':
        this.#closeAsOwserver(0); // the client did not close first: we do
        return;
      case 'resetting':
        this.#phase = 'closing';
        conn.abort(this.#resetReason); // the answer did not drain in time
        return;
      case 'awaiting':
        if (this.#granted && !this.#shortWaitPassed && ledger.keepAfterShortWait() && ledger.options.timeoutHighMs > ledger.options.timeoutLowMs) {
          this.#shortWaitPassed = true;
          break;
        }
        if (this.#granted) stats.persistentTimeouts++;
        else stats.receiveTimeouts++;
        this.#closeAsOwserver(0);
        return;
    }
    this.#arm();
  }
}
