import type { WheelTimer } from '../core/timer-wheel.js';

/**
 * A connection's idle-timeout bookkeeping, made only when an idle timeout is configured (most
 * connections of most servers have none, and pay nothing for it).
 */
export class IdleState {
  /** When bytes last arrived, and when a write last completed (the connection's clock). */
  lastRead: number;
  lastWrite: number;
  // When onIdle last fired for each kind: after a handler keeps the connection, the next period
  // counts from then (Netty's IdleStateHandler), not from the activity long past.
  markRead = -Infinity;
  markWrite = -Infinity;
  markAll = -Infinity;
  timer: WheelTimer | null = null;

  constructor(now: number) {
    this.lastRead = now;
    this.lastWrite = now;
  }
}
