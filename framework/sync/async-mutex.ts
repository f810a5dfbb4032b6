import { ErrorCodes, PorticoError } from '../core/errors.js';
import { Fifo } from '../core/fifo.js';
import { LockClass } from './lock-class.js';
import { type LockOrderDetector, processLockOrderDetector } from './lock-order.js';

export interface WithLockOptions {
  /** Give up waiting after this many ms (PORTICO_ERR_LOCK_TIMEOUT). */
  timeoutMs?: number;
  /** Give up waiting when aborted (PORTICO_ERR_LOCK_ABORTED). */
  signal?: AbortSignal;
}

export interface AsyncMutexOptions {
  /** Order checking; default: the process detector (on with PORTICO_LOCKDEP=1), else none. */
  detector?: LockOrderDetector | null;
  /** Distinguishes instances of one class that are deliberately nested in a fixed order. */
  subclass?: number;
}

interface Waiter {
  grant: () => void;
  settled: boolean;
}

/**
 * A FIFO async mutex with a named lock class. Only `withLock` is offered — no raw acquire/release —
 * so every critical section is scoped and the lock-order detector sees all of them. The lock is
 * handed straight to the next waiter on release (no barging).
 */
export class AsyncMutex {
  readonly lockClass: LockClass;
  /** The class used for ordering: the lock class, or `class/subclass`. */
  readonly orderClass: LockClass;
  #locked = false;
  #waiters = new Fifo<Waiter>();
  #detector: LockOrderDetector | null;

  constructor(lockClass: string | LockClass, options: AsyncMutexOptions = {}) {
    this.lockClass = typeof lockClass === 'string' ? LockClass.for(lockClass) : lockClass;
    const subclass = options.subclass ?? 0;
    this.orderClass = subclass === 0 ? this.lockClass : LockClass.for(`${this.lockClass.name}/${subclass}`);
    this.#detector = options.detector === undefined ? processLockOrderDetector() : options.detector;
  }

  get isLocked(): boolean {
    return this.#locked;
  }

  /** Acquisitions waiting. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /** Run `fn` holding the mutex; released however `fn` ends. */
  async withLock<T>(fn: () => T | Promise<T>, options: WithLockOptions = {}): Promise<T> {
    const detector = this.#detector;
    if (detector === null) {
      await this.#acquire(options);
      try {
        return await fn();
      } finally {
        this.#release();
      }
    }
    const ticket = detector.beforeAcquire(this);
    try {
      await this.#acquire(options);
    } catch (error) {
      detector.abandoned(ticket);
      throw error;
    }
    const entry = detector.acquired(ticket);
    try {
      return await detector.runHolding(ticket, entry, fn);
    } finally {
      detector.released(this);
      this.#release();
    }
  }

  #acquire(options: WithLockOptions): Promise<void> | void {
    const { signal, timeoutMs } = options;
    if (signal?.aborted) throw this.#abortError(signal);
    if (!this.#locked) {
      this.#locked = true;
      return;
    }
    return new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (): void => {
        waiter.settled = true;
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const waiter: Waiter = {
        settled: false,
        grant: () => {
          finish();
          resolve();
        },
      };
      const onAbort = (): void => {
        if (waiter.settled) return;
        finish();
        reject(this.#abortError(signal!));
      };
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          if (waiter.settled) return;
          finish();
          reject(new PorticoError(ErrorCodes.LOCK_TIMEOUT, 'sync', `timed out after ${timeoutMs} ms waiting for mutex ${this.lockClass.name}`));
        }, timeoutMs);
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  #release(): void {
    // Hand over to the first waiter still waiting; abandoned ones (timeout, abort) are skipped.
    for (let waiter = this.#waiters.shift(); waiter !== undefined; waiter = this.#waiters.shift()) {
      if (!waiter.settled) {
        waiter.grant();
        return;
      }
    }
    this.#locked = false;
  }

  #abortError(signal: AbortSignal): PorticoError {
    return new PorticoError(ErrorCodes.LOCK_ABORTED, 'sync', `waiting for mutex ${this.lockClass.name} was aborted`, { cause: signal.reason });
  }
}
