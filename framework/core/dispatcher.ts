import { type Clock, systemClock } from './clock.js';
import { ErrorCodes, PorticoError, toPorticoError } from './errors.js';
import { Fifo } from './fifo.js';

/**
 * The recursion-safe completion dispatcher (design-notes §9).
 *
 * An operation that completes at once (bytes already staged, a memory transport) has its completion
 * run inline only while fewer than `maxInlineDepth` completion frames are on the stack; deeper, it is
 * queued on its target and drained by the outermost frame — the lesson of
 * FILE_SKIP_COMPLETION_PORT_ON_SUCCESS. Queued completions are bounded per event-loop turn, in
 * completions and time, whatever number of I/O callbacks start a drain in that turn; what is left waits
 * for the turn-end macrotask (`setImmediate`), so socket I/O and timers run. Per-target FIFO order is never broken by inline
 * execution: once a target has queued work, its new completions queue behind it.
 */
export interface DispatcherOptions {
  /** Completion frames allowed on the stack before completions are queued. Default 8 (Netty's). */
  maxInlineDepth: number;
  /**
   * Queued completions run per event-loop turn (every drain between two turn ends shares it), counting
   * the completions nested inline below them. Default 256.
   */
  maxCompletionsPerTurn: number;
  /** Completions one target may run per visit before the next target's turn. Default 16. */
  maxPerTargetPerTurn: number;
  /** Wall-clock budget for queued completions in one event-loop turn, in ms. Default 4. */
  turnBudgetMs: number;
  clock: Clock;
  /**
   * Schedules the turn end (which drains what is left and resets the budget); a macrotask so I/O and
   * timers run first. Default `setImmediate`.
   */
  schedule: (fn: () => void) => void;
}

export const defaultDispatcherOptions: Readonly<Omit<DispatcherOptions, 'clock' | 'schedule'>> = Object.freeze({
  maxInlineDepth: 8,
  maxCompletionsPerTurn: 256,
  maxPerTargetPerTurn: 16,
  turnBudgetMs: 4,
});

/**
 * Something completions are delivered to: in practice a connection. The dispatcher keeps its
 * bookkeeping for a target in two fields of the target itself (no object, no map entry per target):
 * start them as `null` and `false` (`idleDispatchState()`), and never write them.
 */
export interface CompletionTarget {
  /** The dispatcher's: completions queued for this target and not yet run (made on the first). */
  dispatchQueue: Fifo<QueuedCompletion> | null;
  /** The dispatcher's: the target is in its ready list. */
  dispatchReady: boolean;
  /** A completion for this target threw; the target must fail itself (abort), never the process. */
  completionFailed(error: PorticoError): void;
}

/** The dispatcher's fields of a target that has nothing queued: spread into a new target. */
export function idleDispatchState(): Pick<CompletionTarget, 'dispatchQueue' | 'dispatchReady'> {
  return { dispatchQueue: null, dispatchReady: false };
}

/** Completions queued and not yet run for `target`. */
export function queuedCompletions(target: CompletionTarget): number {
  return target.dispatchQueue === null ? 0 : target.dispatchQueue.length;
}

/**
 * A completion body: called with its argument and the target it completes for (so a target can pass
 * one shared function instead of a closure per target).
 */
export type Completion<A, T extends CompletionTarget = CompletionTarget> = (arg: A, target: T) => void;

/** One completion waiting in a target's queue. */
export interface QueuedCompletion {
  fn: Completion<unknown, CompletionTarget>;
  arg: unknown;
}

export interface DispatcherStats {
  /** Completions run inline at the point they completed. */
  inline: number;
  /** Completions deferred to a target queue (too deep, or behind earlier queued work). */
  queued: number;
  /** Deepest completion nesting seen. */
  maxDepth: number;
  /** Times queued work was left for a later turn because this turn's budget was spent. */
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
  #ready = new Fifo<CompletionTarget>();
  #queuedNow = 0;
  #draining = false;
  // The budget is per event-loop turn, not per drain call: every drain between two runs of the
  // turn-end macrotask shares it, however many I/O callbacks started one.
  #turnRan = 0;
  #turnStart = 0;
  #turnOpen = false;
  #turnEndScheduled = false;
  readonly #turnEnd = (): void => {
    this.#turnEndScheduled = false;
    // The deferred drain of this turn uses what is left of its budget; then the next turn starts.
    if (this.#depth === 0 && !this.#draining && this.#ready.length > 0) this.#drain(true);
    this.#turnOpen = false;
    this.#turnRan = 0;
    if (this.#ready.length > 0) this.#scheduleTurnEnd();
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
  complete<A, T extends CompletionTarget>(target: T, fn: Completion<A, T>, arg: A): void {
    const queue = target.dispatchQueue;
    if ((queue === null || queue.length === 0) && this.#depth < this.options.maxInlineDepth) {
      this.stats.inline++;
      this.#run(target, fn as Completion<unknown, CompletionTarget>, arg);
      if (this.#depth === 0 && this.#ready.length > 0 && !this.#draining) this.#drain();
      return;
    }
    (target.dispatchQueue ??= new Fifo<QueuedCompletion>()).push({ fn: fn as Completion<unknown, CompletionTarget>, arg });
    this.stats.queued++;
    if (++this.#queuedNow > this.stats.maxQueue) this.stats.maxQueue = this.#queuedNow;
    if (!target.dispatchReady) {
      target.dispatchReady = true;
      this.#ready.push(target);
    }
    // At depth 0 nobody above us will drain (e.g. maxInlineDepth = 0): the turn end will.
    if (this.#depth === 0 && !this.#draining) this.#scheduleTurnEnd();
  }

  #run(target: CompletionTarget, fn: Completion<unknown, CompletionTarget>, arg: unknown): void {
    this.#ran++;
    const depth = ++this.#depth;
    if (depth > this.stats.maxDepth) this.stats.maxDepth = depth;
    try {
      fn(arg, target);
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

  /** True while this event-loop turn still has budget for queued completions. */
  #turnHasBudget(): boolean {
    const { maxCompletionsPerTurn, turnBudgetMs, clock } = this.options;
    return this.#turnRan < maxCompletionsPerTurn && clock.now() - this.#turnStart < turnBudgetMs;
  }

  #drain(atTurnEnd = false): void {
    if (!this.#turnOpen) {
      this.#turnOpen = true;
      this.#turnStart = this.options.clock.now();
      this.#turnRan = 0;
    }
    // Whatever happens below, this turn's budget is reset by the turn-end macrotask. The turn end
    // itself schedules the next one only after its drain, so macrotasks queued meanwhile (other
    // connections' work) run before the next turn's drain.
    if (!atTurnEnd) this.#scheduleTurnEnd();
    if (!this.#turnHasBudget()) {
      this.stats.yields++;
      return;
    }
    this.#draining = true;
    const { maxPerTargetPerTurn } = this.options;
    // The budget counts every completion run while draining, including those nested inline below a
    // queued one, so a turn is bounded however deep the chains go.
    let ranBefore = this.#ran;
    try {
      while (this.#ready.length > 0) {
        const target = this.#ready.shift()!;
        const pending = target.dispatchQueue!;
        let n = 0;
        while (n < maxPerTargetPerTurn && pending.length > 0) {
          const item = pending.shift()!;
          this.#queuedNow--;
          n++;
          this.#run(target, item.fn, item.arg);
        }
        if (pending.length > 0) this.#ready.push(target);
        else target.dispatchReady = false;
        this.#turnRan += this.#ran - ranBefore;
        ranBefore = this.#ran;
        if (this.#ready.length > 0 && !this.#turnHasBudget()) {
          this.stats.yields++;
          break;
        }
      }
    } finally {
      this.#draining = false;
    }
  }

  #scheduleTurnEnd(): void {
    if (this.#turnEndScheduled) return;
    this.#turnEndScheduled = true;
    this.options.schedule(this.#turnEnd);
  }
}

let processDispatcher: CompletionDispatcher | null = null;

/** The process-wide dispatcher (one per event loop), created on first use with default options. */
export function sharedDispatcher(): CompletionDispatcher {
  if (processDispatcher === null) processDispatcher = new CompletionDispatcher();
  return processDispatcher;
}
