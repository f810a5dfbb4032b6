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
  withLock<T>(fn: () => T | Promise<T>, options: WithLockOptions = {}): Promise<T> {
    const detector = this.#detector;
    try {
      if (detector === null) {
        const wait = this.#acquire(options);
        return wait === undefined ? this.#runHeld(fn) : wait.then(() => this.#runHeld(fn));
      }
      const ticket = detector.beforeAcquire(this);
      const run = (): Promise<T> => {
        const entry = detector.acquired(ticket);
        return detector.runHolding(ticket, entry, () => this.#runHeld(fn, detector));
      };
      let wait: Promise<void> | void;
      try {
        wait = this.#acquire(options);
      } catch (error) {
        detector.abandoned(ticket);
        throw error;
      }
      if (wait === undefined) return run();
      return wait.then(run, (error: unknown) => {
        detector.abandoned(ticket);
        throw error;
      });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Run the critical section; a synchronous body costs no extra microtask turn. */
  #runHeld<T>(fn: () => T | Promise<T>, detector: LockOrderDetector | null = null): Promise<T> {
    let result: T | Promise<T>;
    try {
      result = fn();
    } catch (error) {
      this.#unlock(detector);
      return Promise.reject(error);
    }
    if (typeof (result as PromiseLike<T> | null)?.then === 'function') {
      return Promise.resolve(result).then(
        (value) => {
          this.#unlock(detector);
          return value;
        },
        (error: unknown) => {
          this.#unlock(detector);
          throw error;
        },
      );
    }
    this.#unlock(detector);
    return Promise.resolve(result);
  }

  #unlock(detector: LockOrderDetector | null): void {
    detector?.released(this);
    this.#release();
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
