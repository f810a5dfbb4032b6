/**
 * Runs one case of the ordering table on a rig (TCP or memory): sets the connection up, drives the two
 * events, lets it settle, finishes it if nothing closed it, and checks everything the table promises.
 */
import assert from 'node:assert/strict';
import {
  BufferPool,
  type CloseReason,
  type Clock,
  type CompletionDispatcher,
  type Connection,
  type ConnectionCallbacks,
  type ConnectionEvent,
  ErrorCodes,
  PorticoError,
  queuedCompletions,
  type TimerWheel,
} from '../../framework/index.js';
import { type Cell, type TimerCapture, cellsOf } from './ordering-coverage.js';
import { type ExpectedReason, type OrderingCase, type OrderingEvent, type PeerSees, type StrayCase, formatOutcome } from './ordering-cases.js';

export const LINGER_MS = 300;
export const IDLE_MS = 150;
export const TICK_MS = 10;
/** How long a case may take to close on its own after its second event (linger is 300). */
export const SETTLE_MS = 800;
/** `stop()` for the drain events: long enough never to be reached in a case. */
export const LONG_DEADLINE_MS = 60_000;

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
export const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
export async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await turn();
}

/** `promise`, or a rejection naming `what` after `ms` (the timer does not outlive the promise). */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolve when `predicate` holds (checked each `step`), false after `ms`. */
export async function waitFor(predicate: () => boolean, ms: number, step: () => Promise<void> = () => sleep(2)): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) return false;
    await step();
  }
  return true;
}

/** Everything the handler saw, in order. */
export class CaseLog {
  readonly calls: string[] = [];
  readonly closed: CloseReason[] = [];
  /** Callbacks that came after onConnectionClosed. */
  readonly late: string[] = [];
  conn: Connection | null = null;
  establishedAt = 0;
  add(call: string): void {
    if (this.closed.length > 0) this.late.push(call);
    this.calls.push(call);
  }
}

/** The case's handler: keeps reading once a read is posted; answers FIN with shutdownWrite (the default). */
export function caseHandler(log: CaseLog, pool: BufferPool, clock: Clock, customDrain: boolean): ConnectionCallbacks {
  const handler: ConnectionCallbacks = {
    onConnectionEstablished(conn) {
      log.add('established');
      log.conn = conn;
      log.establishedAt = clock.now();
    },
    onReadCompleted(conn, buffer) {
      log.add(`read:${buffer.data.toString()}`);
      buffer.release();
      conn.read();
    },
    onWriteCompleted(_conn, bytes) {
      log.add(`written:${bytes}`);
    },
    onWritable() {
      log.add('writable');
    },
    onClientClose(conn) {
      log.add('clientClose');
      conn.shutdownWrite();
    },
    onConnectionReset(_conn, error) {
      log.add(`reset:${error.code}`);
    },
    onConnectionClosed(_conn, reason) {
      log.add(`closed:${reason.kind}`);
      log.closed.push(reason);
    },
  };
  if (customDrain) {
    handler.onDrain = (conn) => {
      log.add('drain');
      log.add(`drain-write:${conn.write(pool.acquireCopy(Buffer.from('bye')))}`);
      conn.close();
    };
  }
  return handler;
}

/** One case's world: a server-side connection, its server (or a stand-in), time, and the peer. */
export interface OrderingRig {
  readonly conn: Connection;
  readonly clock: Clock;
  readonly wheel: TimerWheel;
  /** The connection's idle and linger callbacks, as last scheduled. */
  readonly timers: TimerCapture;
  readonly dispatcher: CompletionDispatcher;
  /** Connections the server still tracks. */
  tracked(): number;
  /** `stop()` the server (the promise is kept for `finishStop`). */
  stop(deadlineMs: number): void;
  /** Wait for the server's stop (starting one if none was), bounded. */
  finishStop(): Promise<void>;
  /** Let time pass until the read-idle deadline is due; the wheel is not advanced. */
  passIdleDeadline(): Promise<void>;
  /** Let the first event take effect before the second: a few turns (and a deadline of 0). */
  separate(): Promise<void>;
  /** Let time pass by one wheel tick and the wheel fire what is due. */
  settleTick(): Promise<void>;
  peerWrite(): void;
  peerFin(): void;
  peerRst(): void;
  /** What the peer saw, once the connection is closed. */
  peerSees(): Promise<PeerSees>;
  dispose(): Promise<void>;
}

export interface RigOptions {
  /** The case's handler, given the rig's clock. */
  makeHandler: (clock: Clock) => ConnectionCallbacks;
  /** The server's pool (the case checks it for leaks). */
  pool: BufferPool;
  log: CaseLog;
  /** Read-idle timeout, 0 = off. */
  idleMs: number;
}

export type OpenRig = (options: RigOptions) => Promise<OrderingRig>;

const finisherError = new PorticoError(ErrorCodes.INVALID_STATE, 'connection', 'ordering suite: still open after the case settled');

/** The table's name for a close reason. */
export function reasonName(reason: CloseReason): ExpectedReason | string {
  switch (reason.kind) {
    case 'aborted':
      if (reason.error === null) return 'aborted';
      if (reason.error === finisherError) return 'open';
      if (reason.error.code === ErrorCodes.CALLBACK_THREW) return 'aborted-threw';
      return `aborted:${reason.error.code}`;
    case 'idle':
      return reason.which === 'read' ? 'idle' : `idle:${reason.which}`;
    case 'drain':
      if (reason.error === null) return 'drain';
      return reason.error.code === ErrorCodes.DRAIN_DEADLINE ? 'drain-deadline' : `drain:${reason.error.code}`;
    case 'reset':
      return reason.error.code === ErrorCodes.CONNECTION_RESET ? 'reset' : `reset:${reason.error.code}`;
    default:
      return reason.kind;
  }
}

function act(rig: OrderingRig, pool: BufferPool, event: OrderingEvent): void {
  const conn = rig.conn;
  switch (event) {
    case 'read':
      return conn.read();
    case 'write':
      conn.write(pool.acquireCopy(Buffer.from('w')));
      return;
    case 'shutdownWrite':
      return conn.shutdownWrite();
    case 'close':
      return conn.close();
    case 'closeNow':
      return conn.close({ waitForPeer: false });
    case 'abort':
      return conn.abort();
    case 'peerFin':
      return rig.peerFin();
    case 'peerRst':
      return rig.peerRst();
    case 'peerData':
      return rig.peerWrite();
    case 'idle':
      rig.wheel.advance();
      return;
    case 'drain':
    case 'drainCustom':
      return rig.stop(LONG_DEADLINE_MS);
    case 'deadline':
      return rig.stop(0);
  }
}

/** The two events: in one callback, or in two a turn apart. */
async function drivePair(rig: OrderingRig, pool: BufferPool, c: OrderingCase): Promise<void> {
  const uses = (e: OrderingEvent): boolean => c.first === e || c.second === e;
  // Each step runs as a completion of the connection: "the same callback".
  const inCallback = (fn: () => void): void => rig.dispatcher.complete(rig.conn, fn, undefined);
  if (c.before !== null) {
    const before = c.before;
    inCallback(() => act(rig, pool, before));
    await rig.separate();
  }
  if (c.turn === 'same') {
    if (uses('idle')) await rig.passIdleDeadline();
    inCallback(() => {
      act(rig, pool, c.first);
      act(rig, pool, c.second);
    });
  } else {
    if (c.first === 'idle') await rig.passIdleDeadline();
    inCallback(() => act(rig, pool, c.first));
    await rig.separate();
    if (c.second === 'idle') await rig.passIdleDeadline();
    inCallback(() => act(rig, pool, c.second));
  }
}

/** Deliver an event the way its source (transport, wheel, server) would, whatever state the connection is in. */
function deliverStray(rig: OrderingRig, pool: BufferPool, event: ConnectionEvent): void {
  const conn = rig.conn;
  const timer = (which: 'idle' | 'linger'): void => {
    const fire = rig.timers.last[which];
    if (fire === undefined) throw new Error(`no ${which} timer was ever scheduled`);
    fire(rig.clock.now());
  };
  switch (event) {
    case 'data':
      conn.onData(pool.acquireCopy(Buffer.from('late')));
      return;
    case 'fin':
      return conn.onEnd();
    case 'rst':
      return conn.onError(new PorticoError(ErrorCodes.CONNECTION_RESET, 'transport', 'a late RST'));
    case 'handleClosed':
      return conn.onClosed();
    case 'drain':
      return conn.beginDrain();
    case 'idle':
    case 'linger':
      return timer(event);
    default:
      throw new Error(`no stray delivery for ${event}`);
  }
}

async function driveStray(rig: OrderingRig, pool: BufferPool, log: CaseLog, c: StrayCase): Promise<void> {
  const conn = rig.conn;
  const [ops, after] = c.setup.split(', ') as [string, string | undefined];
  rig.dispatcher.complete(
    conn,
    () => {
      for (const op of ops.split('+')) {
        if (op === 'close') conn.close();
        else conn.abort();
      }
      if (after === undefined) deliverStray(rig, pool, c.event);
    },
    undefined,
  );
  if (after === undefined) return;
  if (!(await waitFor(() => log.closed.length > 0, 3000, () => rig.settleTick()))) throw new Error('the connection did not close');
  rig.dispatcher.complete(conn, () => deliverStray(rig, pool, c.event), undefined);
}

/**
 * Run one case and assert everything it promises; the cells of the state table it drove go to `covered`.
 * `alsoAllowed`: outcomes (as `formatOutcome` writes them) a transport may show besides the table's,
 * for differences it explains (see `TransportDifference`).
 */
export async function runOrderingCase(openRig: OpenRig, c: OrderingCase | StrayCase, covered: Set<Cell>, alsoAllowed: readonly string[] = []): Promise<void> {
  const pool = new BufferPool({ bufferSize: 256 });
  const log = new CaseLog();
  const uses = (e: OrderingEvent): boolean => c.kind === 'pair' && (c.first === e || c.second === e);
  const rig = await openRig({
    makeHandler: (clock) => caseHandler(log, pool, clock, uses('drainCustom')),
    pool,
    log,
    // Stray cases need the idle timer's callback to fire it late.
    idleMs: uses('idle') || c.kind === 'stray' ? IDLE_MS : 0,
  });
  try {
    if (c.kind === 'pair') await drivePair(rig, pool, c);
    else await driveStray(rig, pool, log, c);
    const closed = (): boolean => log.closed.length > 0;
    await rig.separate();
    for (let t = 0; t < SETTLE_MS / TICK_MS && !closed(); t++) await rig.settleTick();
    if (!closed()) rig.conn.abort(finisherError);
    for (let t = 0; t < 200 && !closed(); t++) await rig.settleTick();
    assert.ok(closed(), `onConnectionClosed never came; calls: ${log.calls.join(' ')}`);
    await rig.finishStop();
    await turns(2);
    const reason = reasonName(log.closed[0]!);
    const peer = await rig.peerSees();
    const lingered = cellsOf(rig.conn).has('closing.linger');
    const actual = formatOutcome({ reason: reason as ExpectedReason, lingered, peer });
    const context = `calls: ${log.calls.join(' ')}`;
    const allowed = [...c.expected.map(formatOutcome), ...alsoAllowed];
    if (!allowed.includes(actual)) assert.equal(actual, allowed.join(' | '), `outcome; ${context}`);
    assert.equal(log.closed.length, 1, `exactly one onConnectionClosed; ${context}`);
    assert.deepEqual(log.late, [], `no callback after onConnectionClosed; ${context}`);
    assert.equal(rig.conn.lifecycle, 'closed');
    assert.equal(rig.tracked(), 0, 'the server tracks nothing');
    assert.equal(queuedCompletions(rig.conn), 0, 'no completion left queued');
    assert.equal(rig.wheel.size, 0, 'no timer left on the wheel');
    assert.equal(pool.outstanding, 0, 'every pooled buffer returned');
  } finally {
    for (const cell of cellsOf(rig.conn)) covered.add(cell);
    await rig.dispose();
  }
}
