/**
 * The ordering suite's case table (issue 7, item 2; design-notes §13): every ordered pair of events,
 * in the same turn (one callback) and separated by a turn, with the close reason and what the peer
 * sees written out per case. `ordering-tcp.test.ts` and `ordering-memory.test.ts` run the same table,
 * so a difference between TCP and the memory transport shows up as a failing case.
 *
 * The world of one case: a server-side connection just established (no read posted, nothing written,
 * `lingerMs` 300, a read-idle timeout of 150 ms only in cases with `idle`); a peer that reads all the
 * time, never writes unless told (`peerData`) and never closes unless told (`peerFin`, `peerRst`).
 * The handler keeps reading once a read was posted (release, `read()` again), answers the peer's FIN
 * with the default `shutdownWrite()`, and has an `onDrain` (`write('bye')`, then `close()`) only in
 * cases with `drainCustom`. After the two events the connection is left to settle (linger runs out);
 * if it is still open then, the case is `open` and the suite aborts it itself ("the finisher").
 */
import type { ConnectionEvent } from '../../framework/index.js';

/** The events, and what each does. */
export const orderingEvents = {
  /** the handler posts a read (`conn.read()`); the handler keeps reading from then on */
  read: 'conn.read()',
  /** the handler writes "w" from a pooled buffer */
  write: 'conn.write("w")',
  shutdownWrite: 'conn.shutdownWrite()',
  close: 'conn.close()',
  /** `close({ waitForPeer: false })`: the socket is released once our FIN is out */
  closeNow: 'conn.close({ waitForPeer: false })',
  abort: 'conn.abort()',
  /** the peer sends FIN (`end()`); a peer that already sent FIN or RST does nothing */
  peerFin: 'peer FIN',
  /** the peer resets (`resetAndDestroy()`); from then on the peer sees nothing more */
  peerRst: 'peer RST',
  /** the peer sends "p"; a peer that already sent FIN or RST does nothing */
  peerData: 'peer sends "p"',
  /** the read-idle timeout expires (150 ms; the wheel is advanced past it) */
  idle: 'idle timeout',
  /** `server.stop()` with a long deadline and the default drain (close once idle) */
  drain: 'stop(), default onDrain',
  /** `server.stop()` with a long deadline; the handler's `onDrain` writes "bye" and closes */
  drainCustom: 'stop(), custom onDrain',
  /** `server.stop({ deadlineMs: 0 })`: the drain, then the deadline aborts whatever is left */
  deadline: 'stop() deadline',
} as const;

export type OrderingEvent = keyof typeof orderingEvents;
export const eventNames = Object.keys(orderingEvents) as OrderingEvent[];

export type Turn = 'same' | 'separate';

/**
 * Why the connection closed, as `onConnectionClosed` reports it. `open`: nothing closed it; the suite
 * aborted it (reason `aborted` with the suite's own error). `aborted-threw`: a callback threw
 * (PORTICO_ERR_CALLBACK_THREW). `drain-deadline`: `drain` with PORTICO_ERR_DRAIN_DEADLINE.
 */
export const expectedReasons = ['local-close', 'peer-close', 'aborted', 'aborted-threw', 'reset', 'idle', 'drain', 'drain-deadline', 'open'] as const;
export type ExpectedReason = (typeof expectedReasons)[number];

/** What the peer saw, in order: the bytes that arrived, then FIN and/or RST (an RST after a FIN counts). */
export interface PeerSees {
  bytes: string;
  fin: boolean;
  rst: boolean;
}

export interface Expected {
  reason: ExpectedReason;
  /** The linger deadline ended a graceful close (the peer never answered our FIN in time). */
  lingered: boolean;
  peer: PeerSees;
}

export interface OrderingCase {
  readonly kind: 'pair';
  /** e.g. 'close → abort (same turn)' */
  readonly id: string;
  /** The id and the expected outcome. */
  readonly name: string;
  /** An event a turn before the pair (the read-first cases), or null. */
  readonly before: OrderingEvent | null;
  readonly first: OrderingEvent;
  readonly second: OrderingEvent;
  readonly turn: Turn;
  /** What must happen; more than one where TCP itself races (documented at the row). */
  readonly expected: readonly Expected[];
}

/**
 * One cell: `'<reason>[ after linger] / <peer>'`, peer = `[bytes] [FIN] [RST]` or `-` for nothing,
 * e.g. `'local-close after linger / w FIN RST'`: closed by our close(), the peer got "w", our FIN,
 * then an RST when the linger deadline ran out (the peer never answered the FIN).
 */
export function parseOutcome(text: string): Expected {
  const [how, peer] = text.split(' / ');
  const [reason, lingered] = how!.endsWith(' after linger') ? [how!.slice(0, -' after linger'.length), true] : [how, false];
  if (!expectedReasons.includes(reason as ExpectedReason) || peer === undefined) throw new Error(`bad outcome ${JSON.stringify(text)}`);
  const tokens = peer === '-' ? [] : peer.split(' ');
  const bytes = tokens[0] !== undefined && /^[a-z]+$/.test(tokens[0]) ? tokens.shift()! : '';
  for (const t of tokens) if (t !== 'FIN' && t !== 'RST') throw new Error(`bad peer token ${t} in ${JSON.stringify(text)}`);
  return { reason: reason as ExpectedReason, lingered, peer: { bytes, fin: tokens.includes('FIN'), rst: tokens.includes('RST') } };
}

export function formatOutcome(e: Expected): string {
  const peer = [e.peer.bytes, e.peer.fin ? 'FIN' : '', e.peer.rst ? 'RST' : ''].filter((s) => s !== '').join(' ');
  return `${e.reason}${e.lingered ? ' after linger' : ''} / ${peer === '' ? '-' : peer}`;
}

// ---- the table -------------------------------------------------------------------------------------
//
// How each cell follows from the state machine (connection-state.ts):
// - The first terminal decision wins (`#setReason` keeps the first reason): close → local-close
//   (peer-close if the peer's FIN was already *reported*), abort → aborted, a reported RST → reset,
//   idle → idle, the default drain closing an idle connection → drain, the drain deadline → drain with
//   DRAIN_DEADLINE (it overrides only a graceful `drain`). Later decisions change what goes on the wire
//   (a linger or deadline RST after our FIN), never the reason.
// - FIN and RST are noticed only while reading (a read posted, or closing: reading to discard) — and
//   an RST also by a write. Unnoticed, the connection stays open: the suite's abort finishes it.
// - A graceful close whose peer never answers our FIN ends in an RST at the linger deadline; a peer
//   that sent FIN gets our FIN and no RST.
// - The default drain closes a connection only once it is idle (a read posted, nothing in flight),
//   as close(2) does: our FIN, then the socket is released (no linger: the server is going away); one
//   with no read posted is busy and waits for the deadline.
// - One drain per server: a second `stop()` returns the first one's promise; a shorter deadline given to
//   it pulls the drain deadline in, a longer one changes nothing.
// - Loopback TCP: an RST arriving after data leaves the data readable (Linux keeps the receive queue);
//   an RST arriving after a FIN the reader already has shows only in the kernel's socket state. libuv
//   reports end of stream without reading when the socket hangs up after a partial read, so an RST
//   right behind the data looks like a FIN: TcpTransport asks the kernel (getpeername) and reports it.

type Row = readonly [OrderingEvent, OrderingEvent, string, string?];

// prettier-ignore
const rows: readonly Row[] = [
  // first          second           same turn                                    a turn apart (if different)
  // a second posted read throws: the callback aborts
  ['read',          'read',          'aborted-threw / RST'],
  ['read',          'write',         'open / w RST'],
  ['read',          'shutdownWrite', 'open / FIN RST'],
  ['read',          'close',         'local-close after linger / FIN RST'],
  ['read',          'closeNow',      'local-close / FIN'],
  ['read',          'abort',         'aborted / RST'],
  ['read',          'peerFin',       'peer-close / FIN'],
  ['read',          'peerRst',       'reset / -'],
  ['read',          'peerData',      'open / RST'],
  ['read',          'idle',          'idle / RST'],
  // the default drain closes an idle connection as close(2) does: FIN, socket released
  ['read',          'drain',         'drain / FIN'],
  ['read',          'drainCustom',   'local-close after linger / bye FIN RST'],
  // our FIN (then the release) races the zero deadline: on TCP the deadline often wins
  ['read',          'deadline',      'drain / FIN | drain-deadline / FIN RST'],

  ['write',         'read',          'open / w RST'],
  ['write',         'write',         'open / ww RST'],
  ['write',         'shutdownWrite', 'open / w FIN RST'],
  ['write',         'close',         'local-close after linger / w FIN RST'],
  ['write',         'closeNow',      'local-close / w FIN'],
  ['write',         'abort',         'aborted / w RST'],
  ['write',         'peerFin',       'open / w RST'],
  ['write',         'peerRst',       'open / -',                                    'open / w'],
  ['write',         'peerData',      'open / w RST'],
  ['write',         'idle',          'idle / w RST'],
  ['write',         'drain',         'open / w RST'],
  ['write',         'drainCustom',   'local-close after linger / wbye FIN RST'],
  ['write',         'deadline',      'drain-deadline / w RST'],

  ['shutdownWrite', 'read',          'open / FIN RST'],
  ['shutdownWrite', 'write',         'open / FIN RST'],
  ['shutdownWrite', 'shutdownWrite', 'open / FIN RST'],
  ['shutdownWrite', 'close',         'local-close after linger / FIN RST'],
  ['shutdownWrite', 'closeNow',      'local-close / FIN'],
  ['shutdownWrite', 'abort',         'aborted / FIN RST'],
  // both FINs: the kernel has nothing left to reset
  ['shutdownWrite', 'peerFin',       'open / FIN'],
  ['shutdownWrite', 'peerRst',       'open / -',                                    'open / FIN'],
  ['shutdownWrite', 'peerData',      'open / FIN RST'],
  ['shutdownWrite', 'idle',          'idle / FIN RST'],
  ['shutdownWrite', 'drain',         'open / FIN RST'],
  // "bye" refused: the write side is shut
  ['shutdownWrite', 'drainCustom',   'local-close after linger / FIN RST'],
  ['shutdownWrite', 'deadline',      'drain-deadline / FIN RST'],

  ['close',         'read',          'local-close after linger / FIN RST'],
  ['close',         'write',         'local-close after linger / FIN RST'],
  ['close',         'shutdownWrite', 'local-close after linger / FIN RST'],
  ['close',         'close',         'local-close after linger / FIN RST'],
  ['close',         'closeNow',      'local-close after linger / FIN RST'],
  ['close',         'abort',         'local-close / FIN RST'],
  ['close',         'peerFin',       'local-close / FIN'],
  ['close',         'peerRst',       'local-close / -',                             'local-close / FIN'],
  ['close',         'peerData',      'local-close after linger / FIN RST'],
  ['close',         'idle',          'local-close after linger / FIN RST'],
  ['close',         'drain',         'local-close after linger / FIN RST'],
  ['close',         'drainCustom',   'local-close after linger / FIN RST'],
  ['close',         'deadline',      'local-close / FIN RST'],

  ['closeNow',      'read',          'local-close / FIN'],
  ['closeNow',      'write',         'local-close / FIN'],
  ['closeNow',      'shutdownWrite', 'local-close / FIN'],
  ['closeNow',      'close',         'local-close / FIN'],
  ['closeNow',      'closeNow',      'local-close / FIN'],
  ['closeNow',      'abort',         'local-close / FIN RST',                       'local-close / FIN'],
  ['closeNow',      'peerFin',       'local-close / FIN'],
  ['closeNow',      'peerRst',       'local-close / -',                             'local-close / FIN'],
  // the released socket answers the peer's later bytes with RST (close(2) semantics)
  ['closeNow',      'peerData',      'local-close / FIN RST'],
  ['closeNow',      'idle',          'local-close / FIN'],
  ['closeNow',      'drain',         'local-close / FIN'],
  ['closeNow',      'drainCustom',   'local-close / FIN'],
  // TCP races: the deadline's RST beats the close if its timer runs before the poll that sends the FIN
  ['closeNow',      'deadline',      'local-close / FIN | local-close / FIN RST',   'local-close / FIN'],

  ['abort',         'read',          'aborted / RST'],
  ['abort',         'write',         'aborted / RST'],
  ['abort',         'shutdownWrite', 'aborted / RST'],
  ['abort',         'close',         'aborted / RST'],
  ['abort',         'closeNow',      'aborted / RST'],
  ['abort',         'abort',         'aborted / RST'],
  ['abort',         'peerFin',       'aborted / RST'],
  ['abort',         'peerRst',       'aborted / -',                                 'aborted / RST'],
  ['abort',         'peerData',      'aborted / RST'],
  ['abort',         'idle',          'aborted / RST'],
  ['abort',         'drain',         'aborted / RST'],
  ['abort',         'drainCustom',   'aborted / RST'],
  ['abort',         'deadline',      'aborted / RST'],

  ['peerFin',       'read',          'peer-close / FIN'],
  ['peerFin',       'write',         'open / w RST'],
  ['peerFin',       'shutdownWrite', 'open / FIN'],
  // the FIN was not read yet: our close came first
  ['peerFin',       'close',         'local-close / FIN'],
  ['peerFin',       'closeNow',      'local-close / FIN'],
  ['peerFin',       'abort',         'aborted / RST'],
  ['peerFin',       'peerFin',       'open / RST'],
  ['peerFin',       'peerRst',       'open / -'],
  ['peerFin',       'peerData',      'open / RST'],
  ['peerFin',       'idle',          'idle / RST'],
  ['peerFin',       'drain',         'open / RST'],
  ['peerFin',       'drainCustom',   'local-close / bye FIN'],
  ['peerFin',       'deadline',      'drain-deadline / RST'],

  ['peerRst',       'read',          'reset / -'],
  // a write notices the RST
  ['peerRst',       'write',         'reset / -'],
  ['peerRst',       'shutdownWrite', 'open / -'],
  // noticed while closing: onConnectionReset, reason kept
  ['peerRst',       'close',         'local-close / -'],
  ['peerRst',       'closeNow',      'local-close / -'],
  ['peerRst',       'abort',         'aborted / -'],
  ['peerRst',       'peerFin',       'open / -'],
  ['peerRst',       'peerRst',       'open / -'],
  ['peerRst',       'peerData',      'open / -'],
  ['peerRst',       'idle',          'idle / -'],
  ['peerRst',       'drain',         'open / -'],
  // onDrain's write fails later; its close() came first
  ['peerRst',       'drainCustom',   'local-close / -'],
  ['peerRst',       'deadline',      'drain-deadline / -'],

  ['peerData',      'read',          'open / RST'],
  ['peerData',      'write',         'open / w RST'],
  ['peerData',      'shutdownWrite', 'open / FIN RST'],
  ['peerData',      'close',         'local-close after linger / FIN RST'],
  // released with the peer's bytes unread: the kernel sends RST after our FIN
  ['peerData',      'closeNow',      'local-close / FIN RST'],
  ['peerData',      'abort',         'aborted / RST'],
  ['peerData',      'peerFin',       'open / RST'],
  ['peerData',      'peerRst',       'open / -'],
  ['peerData',      'peerData',      'open / RST'],
  ['peerData',      'idle',          'idle / RST'],
  ['peerData',      'drain',         'open / RST'],
  ['peerData',      'drainCustom',   'local-close after linger / bye FIN RST'],
  ['peerData',      'deadline',      'drain-deadline / RST'],

  ['idle',          'read',          'idle / RST'],
  ['idle',          'write',         'idle / RST'],
  ['idle',          'shutdownWrite', 'idle / RST'],
  ['idle',          'close',         'idle / RST'],
  ['idle',          'closeNow',      'idle / RST'],
  ['idle',          'abort',         'idle / RST'],
  ['idle',          'peerFin',       'idle / RST'],
  ['idle',          'peerRst',       'idle / -',                                    'idle / RST'],
  ['idle',          'peerData',      'idle / RST'],
  ['idle',          'idle',          'idle / RST'],
  ['idle',          'drain',         'idle / RST'],
  ['idle',          'drainCustom',   'idle / RST'],
  ['idle',          'deadline',      'idle / RST'],

  ['drain',         'read',          'drain / FIN'],
  ['drain',         'write',         'open / w RST'],
  ['drain',         'shutdownWrite', 'open / FIN RST'],
  ['drain',         'close',         'local-close after linger / FIN RST'],
  ['drain',         'closeNow',      'local-close / FIN'],
  ['drain',         'abort',         'aborted / RST'],
  ['drain',         'peerFin',       'open / RST'],
  ['drain',         'peerRst',       'open / -'],
  ['drain',         'peerData',      'open / RST'],
  ['drain',         'idle',          'idle / RST'],
  ['drain',         'drain',         'open / RST'],
  // a second stop() with a shorter deadline pulls the drain deadline in
  ['drain',         'deadline',      'drain-deadline / RST'],

  ['drainCustom',   'read',          'local-close after linger / bye FIN RST'],
  ['drainCustom',   'write',         'local-close after linger / bye FIN RST'],
  ['drainCustom',   'shutdownWrite', 'local-close after linger / bye FIN RST'],
  ['drainCustom',   'close',         'local-close after linger / bye FIN RST'],
  ['drainCustom',   'closeNow',      'local-close after linger / bye FIN RST'],
  ['drainCustom',   'abort',         'local-close / bye FIN RST'],
  ['drainCustom',   'peerFin',       'local-close / bye FIN'],
  ['drainCustom',   'peerRst',       'local-close / -',                             'local-close / bye FIN'],
  ['drainCustom',   'peerData',      'local-close after linger / bye FIN RST'],
  ['drainCustom',   'idle',          'local-close after linger / bye FIN RST'],
  ['drainCustom',   'drainCustom',   'local-close after linger / bye FIN RST'],
  ['drainCustom',   'deadline',      'local-close / bye FIN RST'],

  // our FIN (then the release) races the zero deadline: on TCP the deadline often wins
  ['deadline',      'read',          'drain / FIN | drain-deadline / FIN RST',      'drain-deadline / RST'],
  ['deadline',      'write',         'drain-deadline / w RST',                      'drain-deadline / RST'],
  ['deadline',      'shutdownWrite', 'drain-deadline / FIN RST',                    'drain-deadline / RST'],
  ['deadline',      'close',         'local-close / FIN RST',                       'drain-deadline / RST'],
  // the same race as closeNow → deadline
  ['deadline',      'closeNow',      'local-close / FIN | local-close / FIN RST',   'drain-deadline / RST'],
  ['deadline',      'abort',         'aborted / RST',                               'drain-deadline / RST'],
  ['deadline',      'peerFin',       'drain-deadline / RST'],
  ['deadline',      'peerRst',       'drain-deadline / -',                          'drain-deadline / RST'],
  ['deadline',      'peerData',      'drain-deadline / RST'],
  ['deadline',      'idle',          'idle / RST',                                  'drain-deadline / RST'],
  ['deadline',      'drain',         'drain-deadline / RST'],
  // the handler has the custom onDrain
  ['deadline',      'drainCustom',   'local-close / bye FIN RST'],
  ['deadline',      'deadline',      'drain-deadline / RST'],
];

/** Ordered pairs left out, and why. */
export const notApplicable: readonly { first: OrderingEvent; second: OrderingEvent; why: string }[] = [
  { first: 'drain', second: 'drainCustom', why: 'a handler has an onDrain or not; the two drains are one stop() either way' },
  { first: 'drainCustom', second: 'drain', why: 'a handler has an onDrain or not; the two drains are one stop() either way' },
];

function casesOf(before: OrderingEvent | null, table: readonly Row[], seen: Set<string>): OrderingCase[] {
  const cases: OrderingCase[] = [];
  for (const [first, second, same, separate] of table) {
    const key = `${first}>${second}`;
    if (seen.has(key)) throw new Error(`ordering table: ${key} twice`);
    seen.add(key);
    for (const [turn, text] of [['same', same], ['separate', separate ?? same]] as const) {
      const expected = text.split(' | ').map(parseOutcome);
      const outcome = expected.map(formatOutcome).join(' | ');
      const id = `${before === null ? '' : `${before}, then `}${first} → ${second} (${turn === 'same' ? 'same turn' : 'a turn apart'})`;
      cases.push({ kind: 'pair', id, name: `${id}: ${outcome}`, before, first, second, turn, expected });
    }
  }
  return cases;
}

function buildCases(): OrderingCase[] {
  const seen = new Set<string>();
  const cases = casesOf(null, rows, seen);
  // Every ordered pair is in the table or explicitly left out.
  for (const first of eventNames) {
    for (const second of eventNames) {
      const key = `${first}>${second}`;
      const excluded = notApplicable.some((n) => n.first === first && n.second === second);
      if (seen.has(key) === excluded) throw new Error(`ordering table: ${key} ${excluded ? 'is both in the table and left out' : 'is missing'}`);
    }
  }
  return cases;
}

// ---- a read posted first ------------------------------------------------------------------------------
//
// The peer's events among themselves, while the handler reads: what the connection reads decides.

// prettier-ignore
const readFirstRows: readonly Row[] = [
  ['peerData',      'peerFin',       'peer-close / FIN'],
  ['peerData',      'peerRst',       'reset / -'],
  ['peerFin',       'peerData',      'peer-close / FIN'],
  // FIN and RST both there before the read: the RST is what is reported (TCP asks the kernel at end of
  // stream); on TCP the FIN may also be read alone first, and the peer's RST may come before or after ours
  ['peerFin',       'peerRst',       'reset / - | peer-close / - | peer-close / FIN', 'peer-close / - | peer-close / FIN'],
  ['peerRst',       'peerData',      'reset / -'],
  ['peerRst',       'peerFin',       'reset / -'],
];

export const orderingCases: readonly OrderingCase[] = [...buildCases(), ...casesOf('read', readFirstRows, new Set())];

// ---- stray events -----------------------------------------------------------------------------------
//
// Cells of the table no ordering reaches, because nothing delivers that event in that state: timers are
// cancelled when a connection closes or aborts, and a transport reports nothing after its close (TCP
// keeps reading during a deferred RST, so `aborting.data/fin/rst` are reachable there, but only by
// racing the peer). The table still decides them ('ignore' / 'discard'): each stray case puts the
// connection in the state, delivers the event anyway — as a transport that reports late or a wheel
// that fires a cancelled entry would — and checks it changes nothing. `open.linger` alone cannot be
// driven at all: a linger timer exists only once the connection is closing, and nothing reopens it.

/** How a stray case gets its connection into the state: all in one callback, or after the close. */
export type StraySetup = 'close' | 'abort' | 'close+abort' | 'abort, closed' | 'close+abort, closed';

export interface StrayCase {
  readonly kind: 'stray';
  readonly id: string;
  readonly name: string;
  readonly setup: StraySetup;
  readonly event: ConnectionEvent;
  /** The cell of the table the case drives. */
  readonly cell: string;
  readonly expected: readonly Expected[];
}

// prettier-ignore
const strays: readonly (readonly [StraySetup, ConnectionEvent, string])[] = [
  ['close',               'idle',         'local-close after linger / FIN RST'],
  ['abort',               'data',         'aborted / RST'],
  ['abort',               'fin',          'aborted / RST'],
  ['abort',               'rst',          'aborted / RST'],
  ['abort',               'idle',         'aborted / RST'],
  ['close+abort',         'linger',       'local-close / FIN RST'],
  ['abort, closed',       'drain',        'aborted / RST'],
  ['abort, closed',       'data',         'aborted / RST'],
  ['abort, closed',       'fin',          'aborted / RST'],
  ['abort, closed',       'rst',          'aborted / RST'],
  ['abort, closed',       'handleClosed', 'aborted / RST'],
  ['abort, closed',       'idle',         'aborted / RST'],
  ['close+abort, closed', 'linger',       'local-close / FIN RST'],
];

export const strayCases: readonly StrayCase[] = strays.map(([setup, event, text]) => {
  const expected = parseOutcome(text);
  const lifecycle = setup.endsWith('closed') ? 'closed' : setup === 'close' ? 'closing' : 'aborting';
  const id = `stray ${event} while ${lifecycle} (${setup})`;
  return { kind: 'stray', id, name: `${id}: ${formatOutcome(expected)}`, setup, event, cell: `${lifecycle}.${event}`, expected: [expected] };
});

/** The one cell no case can drive. */
export const undrivableCells: readonly string[] = ['open.linger'];
