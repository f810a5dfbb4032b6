/**
 * The connection state machine (design-notes §13), written out as one table: for each lifecycle state,
 * what every operation, transport event and timer does. `Connection` looks its action up here and
 * nowhere else decides; the ordering suite enumerates the table.
 *
 * Lifecycle: `open` → `closing` (graceful: FIN sent or wanted, input discarded until the peer's FIN or
 * the linger deadline) → `closed`; or `open`/`closing` → `aborting` (RST asked for; the transport
 * carries it out, after a pending shutdown if need be) → `closed`. The read side (posted, staged
 * input, FIN seen / reported) and write side (shut wanted / done) are sub-states the actions consult.
 */
export type Lifecycle = 'open' | 'closing' | 'aborting' | 'closed';

/** Everything that can happen to a connection. */
export type ConnectionEvent =
  // operations by the handler (or the server)
  | 'read'
  | 'write'
  | 'shutdownWrite'
  | 'close'
  | 'abort'
  | 'drain'
  // the transport
  | 'data'
  | 'fin'
  | 'rst'
  | 'handleClosed'
  // timers
  | 'idle'
  | 'linger';

/** What the connection does. */
export type ConnectionAction =
  /** nothing: the event means nothing in this state */
  | 'ignore'
  /** read: complete from staged input / report the FIN / post a read on the transport */
  | 'post-read'
  /** write: queue the bytes on the transport */
  | 'queue-write'
  /** write: drop the bytes (a pooled buffer is released) and answer 'closed' */
  | 'refuse-write'
  /** shutdownWrite: FIN once queued writes flush */
  | 'shut-write'
  /** close: → closing; FIN, keep reading to discard, arm the linger deadline */
  | 'begin-close'
  /** abort, linger deadline: → aborting; RST (after a pending shutdown completes) */
  | 'begin-abort'
  /** drain: let the handler's onDrain decide, else close once nothing is in flight */
  | 'begin-drain'
  /** data: complete the posted read, or stage the bytes until one is posted */
  | 'complete-or-stage'
  /** data while closing or aborting: release at once */
  | 'discard'
  /** fin: report onClientClose to a posted read, else remember it for the next one */
  | 'report-fin'
  /** fin while closing: the peer answered; the transport closes once our FIN is out */
  | 'note-fin'
  /** rst: report onConnectionReset; the transport's close follows */
  | 'report-reset'
  /** handle closed: → closed; release everything, report onConnectionClosed once */
  | 'report-closed'
  /** idle timer: report onIdle (default: abort) */
  | 'report-idle';

type Table = Readonly<Record<Lifecycle, Readonly<Record<ConnectionEvent, ConnectionAction>>>>;

export const connectionStateTable: Table = Object.freeze({
  open: Object.freeze({
    read: 'post-read',
    write: 'queue-write',
    shutdownWrite: 'shut-write',
    close: 'begin-close',
    abort: 'begin-abort',
    drain: 'begin-drain',
    data: 'complete-or-stage',
    fin: 'report-fin',
    rst: 'report-reset',
    handleClosed: 'report-closed',
    idle: 'report-idle',
    linger: 'ignore',
  }),
  closing: Object.freeze({
    read: 'ignore',
    write: 'refuse-write',
    shutdownWrite: 'ignore',
    close: 'ignore',
    abort: 'begin-abort',
    drain: 'ignore',
    data: 'discard',
    fin: 'note-fin',
    rst: 'report-reset',
    handleClosed: 'report-closed',
    idle: 'ignore',
    linger: 'begin-abort',
  }),
  aborting: Object.freeze({
    read: 'ignore',
    write: 'refuse-write',
    shutdownWrite: 'ignore',
    close: 'ignore',
    abort: 'ignore',
    drain: 'ignore',
    data: 'discard',
    fin: 'ignore',
    rst: 'ignore',
    handleClosed: 'report-closed',
    idle: 'ignore',
    linger: 'ignore',
  }),
  closed: Object.freeze({
    read: 'ignore',
    write: 'refuse-write',
    shutdownWrite: 'ignore',
    close: 'ignore',
    abort: 'ignore',
    drain: 'ignore',
    data: 'discard',
    fin: 'ignore',
    rst: 'ignore',
    handleClosed: 'ignore',
    idle: 'ignore',
    linger: 'ignore',
  }),
});
