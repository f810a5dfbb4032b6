/**
 * Shutdown state per direction as *wanted* vs *done* (HAProxy's SC_FL_SHUT_WANTED / _DONE): what the
 * application asked for and what the socket has actually performed are different facts.
 */
export const Shut = {
  /** The peer's FIN arrived (read side finished). */
  ReadDone: 1 << 0,
  /** The application asked for FIN after queued writes. */
  WriteWanted: 1 << 1,
  /** FIN was handed to the socket. */
  WriteDone: 1 << 2,
  /** An abort (RST) was requested. */
  AbortWanted: 1 << 3,
  /** The connection failed (reset or I/O error). */
  Error: 1 << 4,
  /** The handle is closed. */
  Closed: 1 << 5,
} as const;

export type ShutFlag = (typeof Shut)[keyof typeof Shut];

export interface ShutdownStateView {
  readonly flags: number;
  has(flag: ShutFlag): boolean;
}

/** A snapshot of a connection's shutdown flags (the connection keeps them as one number). */
export class ShutdownState implements ShutdownStateView {
  readonly flags: number;
  constructor(flags: number) {
    this.flags = flags;
  }
  has(flag: ShutFlag): boolean {
    return (this.flags & flag) !== 0;
  }
  toString(): string {
    return Object.entries(Shut)
      .filter(([, bit]) => (this.flags & bit) !== 0)
      .map(([name]) => name)
      .join('|');
  }
}
