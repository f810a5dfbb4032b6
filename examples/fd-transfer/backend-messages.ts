/** The messages between the front and a back-end process (besides the framework's handoff and its ack). */

/** Back end → front: the server is up; `port` is its own listening port on 127.0.0.1 (the relay front connects there). */
export interface BackendReady {
  readonly type: 'portico:backend-ready';
  readonly port: number;
}

/** Back end → front: its connection counters (sent when they change, at most every `statsIntervalMs`). */
export interface BackendStatsMessage {
  readonly type: 'portico:backend-stats';
  readonly accepted: number;
  readonly active: number;
  readonly closed: number;
}

/** Front → back end: drain and exit. */
export interface BackendStop {
  readonly type: 'portico:backend-stop';
  readonly deadlineMs: number;
}

/** Back end → front: drained; `aborted` connections were cut at the deadline. */
export interface BackendStopped {
  readonly type: 'portico:backend-stopped';
  readonly aborted: number;
}

export type BackendMessage = BackendReady | BackendStatsMessage | BackendStopped;

export function isBackendMessage(value: unknown): value is BackendMessage {
  if (typeof value !== 'object' || value === null) return false;
  const type = (value as { type?: unknown }).type;
  return type === 'portico:backend-ready' || type === 'portico:backend-stats' || type === 'portico:backend-stopped';
}

export function isBackendStop(value: unknown): value is BackendStop {
  return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'portico:backend-stop' && typeof (value as { deadlineMs?: unknown }).deadlineMs === 'number';
}
