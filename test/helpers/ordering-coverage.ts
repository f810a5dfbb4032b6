/**
 * Which cells of `connectionStateTable` (lifecycle × event) the ordering cases drive. Every entry point
 * that looks the table up is wrapped to record the lifecycle it was called in, before the original
 * runs; the connection's idle and linger timers are recognised on the wheel by their names.
 */
import { Connection, type ConnectionEvent, type Lifecycle, TimerWheel, connectionStateTable } from '../../framework/index.js';

export type Cell = `${Lifecycle}.${ConnectionEvent}`;

/** Every cell of the table. */
export const allCells: readonly Cell[] = Object.entries(connectionStateTable).flatMap(([life, events]) => Object.keys(events).map((event) => `${life}.${event}` as Cell));

const cellsByConnection = new WeakMap<object, Set<Cell>>();

function record(conn: Connection, event: ConnectionEvent): void {
  let cells = cellsByConnection.get(conn);
  if (cells === undefined) cellsByConnection.set(conn, (cells = new Set()));
  cells.add(`${conn.lifecycle}.${event}`);
}

/** The cells one connection went through. */
export function cellsOf(conn: Connection): ReadonlySet<Cell> {
  return cellsByConnection.get(conn) ?? new Set();
}

// Methods of Connection and the table column each consults first thing.
const entryPoints: readonly [keyof Connection, ConnectionEvent][] = [
  ['read', 'read'],
  ['keepReading', 'read'],
  ['write', 'write'],
  ['shutdownWrite', 'shutdownWrite'],
  ['close', 'close'],
  ['abort', 'abort'],
  ['abortForDrain', 'abort'],
  ['onData', 'data'],
  ['onEnd', 'fin'],
  ['onError', 'rst'],
  ['onClosed', 'handleClosed'],
];

let installed = false;

/** Wrap Connection's entry points (once per process). */
export function instrumentConnections(): void {
  if (installed) return;
  installed = true;
  const proto = Connection.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const [method, event] of entryPoints) {
    const original = proto[method]!;
    proto[method] = function (this: Connection, ...args: unknown[]): unknown {
      record(this, event);
      return original.apply(this, args);
    };
  }
  // beginDrain consults the table only the first time (a connection drains once).
  const beginDrain = proto['beginDrain']!;
  proto['beginDrain'] = function (this: Connection, ...args: unknown[]): unknown {
    if (!this.isDraining) record(this, 'drain');
    return beginDrain.apply(this, args);
  };
}

/** The connection's timer callbacks are private static methods; their names say which timer they are. */
const timerEvents: Readonly<Record<string, ConnectionEvent>> = { '#checkIdle': 'idle', '#lingerExpired': 'linger' };

export interface TimerCapture {
  /** The last idle / linger timer scheduled, to fire by hand (the stray-timer cases). */
  readonly last: Partial<Record<'idle' | 'linger', (now: number) => void>>;
}

/**
 * Record the idle and linger firings of the connections whose timers are on `wheel` (the timer's
 * argument is its connection). Returns the timers scheduled last, so a case can fire one late, as a
 * wheel that lost a cancel would.
 */
export function instrumentWheel(wheel: TimerWheel): TimerCapture {
  const capture: TimerCapture = { last: {} };
  const schedule = wheel.schedule.bind(wheel) as (deadline: number, callback: (now: number, arg: unknown) => void, arg?: unknown) => ReturnType<TimerWheel['schedule']>;
  wheel.schedule = ((deadline: number, callback: (now: number, arg: unknown) => void, arg?: unknown) => {
    const event = timerEvents[callback.name];
    if (event === undefined || !(arg instanceof Connection)) return schedule(deadline, callback, arg);
    const conn = arg;
    const wrapped = (now: number): void => {
      record(conn, event);
      callback(now, conn);
    };
    (capture.last as Record<string, (now: number) => void>)[event] = wrapped;
    return schedule(deadline, wrapped);
  }) as TimerWheel['schedule'];
  return capture;
}
