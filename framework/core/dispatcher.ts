import { type Clock, systemClock } from './clock.js';
import { ErrorCodes, PorticoError, toPorticoError } from './errors.js';
import { Fifo } from './fifo.js';

/**
 * The recursion-safe completion dispatcher (design-notes §9).
 *
 * An operation that completes at once (bytes already staged, a memory transport) has its completion
 * run inline only while fewer than `maxInlineDepth` completion frames are on the stack; deeper, it is
 * queued on its target and drained by the outermost frame — the lesson of
 * FILE_SKIP_COMPLETION_PORT_ON_SUCCESS. A drain turn is bounded in completions and time, then yields
 * with `setImmediate` so socket I/O and timers run. Per-target FIFO order is never broken by inline
 * execution: once a target has queued work, its new completions queue behind it.
 */
export interface DispatcherOptions {
  /** Completion frames allowed on the stack before completions are queued. Default 8 (Netty's). */
  maxInlineDepth: number;
  /** Completions run per drain turn before yielding to the event loop. Default 256. */
  maxCompletionsPerTurn: number;
  /** Completions one target may run per visit before the next target's turn. Default 16. */
  maxPerTargetPerTurn: number;
  /** Wall-clock budget of one drain turn, in ms. Default 4. */
  turnBudgetMs: number;
  clock: Clock;
  /** How a deferred drain is scheduled; a macrotask so I/O runs first. Default `setImmediate`. */
  schedule: (fn: () => void) => void;
}

export const defaultDispatcherOptions: Readonly<Omit<DispatcherOptions, 'clock' | 'schedule'>> = Object.freeze({
  maxInlineDepth: 8,
  maxCompletionsPerTurn: 256,
  maxPerTargetPerTurn: 16,
  turnBudgetMs: 4,
});

/** Per-target dispatch state; each target owns one. */
export class DispatchSlot {
  /** @internal */ pending: Fifo<QueuedCompletion> | null = null;
  /** @internal */ inReady = false;
  /** Completions queued and not yet run for this target. */
  get queued(): number {
    return this.pending === null ? 0 : this.pending.length;
  }
}

/** Something completions are delivered to: in practice a connection. */
export interface CompletionTarget {
  readonly dispatchSlot: DispatchSlot;
  /** A completion for this target threw; the target must fail itself (abort), never the process. */
  completionFailed(error: PorticoError): void;
}

export type Completion<A> = (arg: A) => void;

interface QueuedCompletion {
  fn: Completion<unknown>;
  arg: unknown;
}

export interface DispatcherStats {
  /** Completions run inline at the point they completed. */
  inline: number;
  /** Completions deferred to a target queue (too deep, or behind earlier queued work). */
  queued: number;
  /** Deepest completion nesting seen. */
  maxDepth: number;
  /** Drain turns that ended on the budget and yielded to the event loop. */
  yields: number;
  /** Most completions waiting in queues at once. */
  maxQueue: number;
  /** Completions that threw (each failed its own target). */
  errors: number;
}

export class CompletionDispatcher {
  readonly options: Readonly<DispatcherOptions>;
  readonly stats: DispatcherStats = { inline: 0, queued: 0, maxDepth: 0, yields: 0, maxQueue: 0, errors: 0 };

  #depth = 0;
  #ran = 0;
  #ready = new Fifo<DispatchSlot>();
  #targets = new WeakMap<DispatchSlot, CompletionTarget>();
  #queuedNow = 0;
  #draining = false;
  #scheduled = false;
  readonly #drainLater = (): void => {
    this.#scheduled = false;
    if (this.#depth === 0 && !this.#draining) this.#drain();
  };

  constructor(options: Partial<DispatcherOptions> = {}) {
    const merged: DispatcherOptions = {
      ...defaultDispatcherOptions,
      clock: systemClock,
      schedule: setImmediate,
      ...options,
    };
    for (const key of ['maxInlineDepth', 'maxCompletionsPerTurn', 'maxPerTargetPerTurn', 'turnBudgetMs'] as const) {
      const v = merged[key];
      const min = key === 'maxInlineDepth' ? 0 : 1;
      if (!Number.isInteger(v) || v < min) {
        throw new PorticoError(ErrorCodes.INVALID_ARGUMENT, 'dispatcher', `dispatcher option ${key} must be an integer >= ${min}, got ${v}`);
      }
    }
    this.options = Object.freeze(merged);
  }

  /** Current completion nesting depth (0 when called from the event loop). */
  get depth(): number {
    return this.#depth;
  }

  /** Completions run so far (inline or from a queue). */
  get completionsRun(): number {
    return this.#ran;
  }

  /** Completions queued and not yet run, across all targets. */
  get queuedNow(): number {
    return this.#queuedNow;
  }

  /** Deliver a completion for `target`: inline if allowed, else queued behind the target's earlier work. */
  complete<A>(target: CompletionTarget, fn: Completion<A>, arg: A): void {
    const slot = target.dispatchSlot;
    if ((slot.pending === null || slot.pending.length === 0) && this.#depth < this.options.maxInlineDepth) {
      this.stats.inline++;
      this.#run(target, fn as Completion<unknown>, arg);
      if (this.#depth === 0 && this.#ready.length > 0 && !this.#draining) this.#drain();
      return;
    }
    if (slot.pending === null) slot.pending = new Fifo<QueuedCompletion>();
    slot.pending.push({ fn: fn as Completion<unknown>, arg });
    this.stats.queued++;
    if (++this.#queuedNow > this.stats.maxQueue) this.stats.maxQueue = this.#queuedNow;
    if (!slot.inReady) {
      slot.inReady = true;
      this.#targets.set(slot, target);
      this.#ready.push(slot);
    }
    // At depth 0 nobody above us will drain (e.g. maxInlineDepth = 0): schedule it.
    if (this.#depth === 0 && !this.#draining) this.#scheduleDrain(false);
  }

  #run(target: CompletionTarget, fn: Completion<unknown>, arg: unknown): void {
    this.#ran++;
    const depth = ++this.#depth;
    if (depth > this.stats.maxDepth) this.stats.maxDepth = depth;
    try {
      fn(arg);
    } catch (error) {
      this.stats.errors++;
      const failure = toPorticoError(error, ErrorCodes.CALLBACK_THREW, 'dispatcher');
      const wrapped =
        failure.code === ErrorCodes.CALLBACK_THREW
          ? failure
          : new PorticoError(ErrorCodes.CALLBACK_THREW, 'dispatcher', `completion callback threw: ${failure.message}`, { cause: error });
      try {
        target.completionFailed(wrapped);
      } catch {
        // A target that cannot even fail itself must not take the dispatcher down; counted above.
      }
    } finally {
      this.#depth--;
    }
  }

  #drain(): void {
    this.#draining = true;
    const { maxCompletionsPerTurn, maxPerTargetPerTurn, turnBudgetMs, clock } = this.options;
    const t0 = clock.now();
    // The budget counts every completion run in this turn, including those nested inline below a
    // queued one, so a turn is bounded however deep the chains go.
    const ranAtStart = this.#ran;
    try {
      while (this.#ready.length > 0) {
        const slot = this.#ready.shift()!;
        const target = this.#targets.get(slot)!;
        const pending = slot.pending!;
        let n = 0;
        while (n < maxPerTargetPerTurn && pending.length > 0) {
          const item = pending.shift()!;
          this.#queuedNow--;
          n++;
          this.#run(target, item.fn, item.arg);
        }
        if (pending.length > 0) {
          this.#ready.push(slot);
        } else {
          slot.inReady = false;
          this.#targets.delete(slot);
        }
        if (this.#ran - ranAtStart >= maxCompletionsPerTurn || clock.now() - t0 >= turnBudgetMs) break;
      }
    } finally {
      this.#draining = false;
    }
    if (this.#ready.length > 0) this.#scheduleDrain(true);
  }

  #scheduleDrain(isYield: boolean): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    if (isYield) this.stats.yields++;
    this.options.schedule(this.#drainLater);
  }
}

let processDispatcher: CompletionDispatcher | null = null;

/** The process-wide dispatcher (one per event loop), created on first use with default options. */
export function sharedDispatcher(): CompletionDispatcher {
  if (processDispatcher === null) processDispatcher = new CompletionDispatcher();
  return processDispatcher;
}
