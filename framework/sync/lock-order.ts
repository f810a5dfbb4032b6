import { AsyncLocalStorage } from 'node:async_hooks';
import { appendFileSync } from 'node:fs';
import { ErrorCodes, PorticoError } from '../core/errors.js';
import { LockClass } from './lock-class.js';
import { type LockCycleEdge, type LockOrderReport, formatLockReport, lockReportJson } from './lock-report.js';

/** What the detector needs to know about a mutex. */
export interface TrackedMutex {
  /** The class used for ordering (includes the subclass, if any). */
  readonly orderClass: LockClass;
  readonly isLocked: boolean;
}

/** One lock held by the current async chain (or one of its ancestors). */
export interface HeldLock {
  readonly mutex: TrackedMutex;
  readonly task: number;
  /** Acquisition stack, captured only when the held chain was new. */
  readonly stack: string | null;
}

/** An acquisition between `beforeAcquire` and `acquired` / `abandoned`. */
export interface AcquireTicket {
  readonly mutex: TrackedMutex;
  readonly held: readonly HeldLock[];
  readonly task: number;
  readonly stack: string | null;
}

interface Edge {
  readonly from: LockClass;
  readonly to: LockClass;
  readonly site: { readonly task: number; readonly stack: string };
  count: number;
}

export interface LockOrderDetectorOptions {
  /** Refuse an acquisition that would wait forever (wait-for graph walk). Default true. */
  liveDeadlockCheck: boolean;
  /** Told about each finding once. */
  onReport?: (report: LockOrderReport) => void;
}

const none: readonly HeldLock[] = Object.freeze([]);

/**
 * Lock-order detector for async mutexes (design-notes §10): lockdep's classes and dependency graph,
 * TSan's check-only-on-a-new-edge, per-async-chain held sets carried in AsyncLocalStorage.
 * The held set means "locks my logical ancestors hold"; `Promise.all` forks inherit it, so it is
 * never used to infer ownership — each mutex records its owner separately.
 */
export class LockOrderDetector {
  readonly options: Readonly<LockOrderDetectorOptions>;
  readonly reports: LockOrderReport[] = [];
  readonly #als = new AsyncLocalStorage<readonly HeldLock[]>();
  readonly #edges = new Map<LockClass, Map<LockClass, Edge>>();
  readonly #seenChains = new Set<string>();
  readonly #reported = new Set<string>();
  readonly #owner = new Map<TrackedMutex, HeldLock>();
  readonly #waitingFor = new Map<HeldLock, TrackedMutex>();
  #nextTask = 1;

  constructor(options: Partial<LockOrderDetectorOptions> = {}) {
    this.options = Object.freeze({ liveDeadlockCheck: true, ...options });
  }

  /** Locks held by the current async chain and its ancestors, outermost first. */
  held(): readonly HeldLock[] {
    return this.#als.getStore() ?? none;
  }

  /** Edges in the order graph (for tests and reports). */
  get edgeCount(): number {
    let n = 0;
    for (const targets of this.#edges.values()) n += targets.size;
    return n;
  }

  /** Check an acquisition before waiting. Throws PORTICO_ERR_LOCK_RECURSION or PORTICO_ERR_DEADLOCK. */
  beforeAcquire(mutex: TrackedMutex): AcquireTicket {
    const held = this.held();
    const task = held.length > 0 ? held[0]!.task : this.#nextTask++;
    const wanted = mutex.orderClass;
    for (const entry of held) {
      if (entry.mutex === mutex) {
        const stack = captureStack();
        this.#emit(`recursive:${wanted.id}`, {
          kind: 'recursive-acquire',
          cycle: [{ from: wanted, to: wanted, site: { task, stack } }],
          singleTask: true,
        });
        throw new PorticoError(ErrorCodes.LOCK_RECURSION, 'sync', `mutex of class ${wanted.name} is already held by this async chain`);
      }
    }
    let stack: string | null = null;
    const key = chainKey(held, wanted);
    if (!this.#seenChains.has(key)) {
      this.#seenChains.add(key);
      stack = captureStack();
      this.#recordEdges(held, wanted, task, stack);
    }
    if (this.options.liveDeadlockCheck && mutex.isLocked && held.length > 0) this.#checkWaitCycle(mutex, held, task);
    for (const entry of held) this.#waitingFor.set(entry, mutex);
    return { mutex, held, task, stack };
  }

  /** The mutex is ours now. */
  acquired(ticket: AcquireTicket): HeldLock {
    this.#stopWaiting(ticket);
    const entry: HeldLock = { mutex: ticket.mutex, task: ticket.task, stack: ticket.stack };
    this.#owner.set(ticket.mutex, entry);
    return entry;
  }

  /** The acquisition timed out or was aborted. */
  abandoned(ticket: AcquireTicket): void {
    this.#stopWaiting(ticket);
  }

  /** Run the critical section with `entry` added to the chain's held set. */
  runHolding<T>(ticket: AcquireTicket, entry: HeldLock, fn: () => T): T {
    return this.#als.run(ticket.held.concat(entry), fn);
  }

  released(mutex: TrackedMutex): void {
    this.#owner.delete(mutex);
  }

  #stopWaiting(ticket: AcquireTicket): void {
    for (const entry of ticket.held) {
      if (this.#waitingFor.get(entry) === ticket.mutex) this.#waitingFor.delete(entry);
    }
  }

  #recordEdges(held: readonly HeldLock[], wanted: LockClass, task: number, stack: string): void {
    const seen = new Set<LockClass>();
    for (const entry of held) {
      const from = entry.mutex.orderClass;
      if (seen.has(from)) continue;
      seen.add(from);
      if (from === wanted) {
        // Two instances of one class nested without distinct subclasses (lockdep's "same class twice").
        this.#emit(`self:${wanted.id}`, { kind: 'inversion', cycle: [{ from, to: wanted, site: { task, stack } }], singleTask: true });
        continue;
      }
      let targets = this.#edges.get(from);
      if (targets === undefined) this.#edges.set(from, (targets = new Map()));
      const existing = targets.get(wanted);
      if (existing !== undefined) {
        existing.count++;
        continue;
      }
      const edge: Edge = { from, to: wanted, site: { task, stack }, count: 1 };
      const back = this.#findPath(wanted, from);
      targets.set(wanted, edge); // inserted even after a report, so it is not checked again
      if (back !== null) {
        const cycle: LockCycleEdge[] = [edge, ...back];
        const tasks = new Set(cycle.map((e) => e.site.task));
        this.#emit(`cycle:${canonicalCycle(cycle)}`, { kind: 'inversion', cycle, singleTask: tasks.size === 1 });
      }
    }
  }

  /** Iterative DFS for a path of recorded edges from `start` to `goal`. */
  #findPath(start: LockClass, goal: LockClass): Edge[] | null {
    const stack: { node: LockClass; path: Edge[] }[] = [{ node: start, path: [] }];
    const visited = new Set<LockClass>([start]);
    while (stack.length > 0) {
      const { node, path } = stack.pop()!;
      for (const edge of this.#edges.get(node)?.values() ?? []) {
        if (edge.to === goal) return [...path, edge];
        if (visited.has(edge.to)) continue;
        visited.add(edge.to);
        stack.push({ node: edge.to, path: [...path, edge] });
      }
    }
    return null;
  }

  /** Follow owner → what the owner waits for → ... ; reaching a lock we hold means waiting forever. */
  #checkWaitCycle(mutex: TrackedMutex, held: readonly HeldLock[], task: number): void {
    const ours = new Set(held.map((e) => e.mutex));
    const steps: LockCycleEdge[] = [{ from: held[held.length - 1]!.mutex.orderClass, to: mutex.orderClass, site: { task, stack: captureStack() } }];
    const visited = new Set<TrackedMutex>();
    let current: TrackedMutex = mutex;
    while (!visited.has(current)) {
      visited.add(current);
      const owner = this.#owner.get(current);
      if (owner === undefined) return;
      const next = this.#waitingFor.get(owner);
      if (next === undefined) return;
      steps.push({ from: current.orderClass, to: next.orderClass, site: { task: owner.task, stack: owner.stack ?? '' } });
      if (ours.has(next)) {
        const tasks = new Set(steps.map((s) => s.site.task));
        this.#emit(`deadlock:${canonicalCycle(steps)}:${task}`, { kind: 'deadlock', cycle: steps, singleTask: tasks.size === 1 });
        throw new PorticoError(ErrorCodes.DEADLOCK, 'sync', `acquiring ${mutex.orderClass.name} would deadlock: ${steps.map((s) => s.from.name).join(' => ')} => ${next.orderClass.name}`);
      }
      current = next;
    }
  }

  #emit(key: string, report: LockOrderReport): void {
    if (this.#reported.has(key)) return;
    this.#reported.add(key);
    this.reports.push(report);
    this.options.onReport?.(report);
  }
}

function captureStack(): string {
  return new Error('lock acquisition').stack ?? '';
}

function chainKey(held: readonly HeldLock[], wanted: LockClass): string {
  let key = '';
  for (const entry of held) key += `${entry.mutex.orderClass.id},`;
  return `${key}>${wanted.id}`;
}

/** A cycle's key independent of where it was entered: rotate to the smallest class id. */
function canonicalCycle(cycle: readonly LockCycleEdge[]): string {
  const ids = cycle.map((e) => e.from.id);
  const start = ids.indexOf(Math.min(...ids));
  return [...ids.slice(start), ...ids.slice(0, start)].join('>');
}

let processDetector: LockOrderDetector | null | undefined;

/**
 * The process-wide detector, on when PORTICO_LOCKDEP=1: findings go to stderr as text and, when
 * PORTICO_LOCKDEP_REPORT names a file, as one JSON line each (what the harness collects). It is made
 * by the first AsyncMutex, which is when it writes its hello line: a harness that finds no hello
 * knows no mutex was ever watched, and says "not checked" instead of "no findings".
 */
export function processLockOrderDetector(): LockOrderDetector | null {
  if (processDetector !== undefined) return processDetector;
  if (process.env['PORTICO_LOCKDEP'] !== '1') return (processDetector = null);
  const reportPath = process.env['PORTICO_LOCKDEP_REPORT'];
  if (reportPath) appendFileSync(reportPath, JSON.stringify({ kind: 'hello', detector: 'portico AsyncMutex', pid: process.pid }) + '\n');
  processDetector = new LockOrderDetector({
    onReport: (report) => {
      process.stderr.write(formatLockReport(report) + '\n');
      if (reportPath) appendFileSync(reportPath, JSON.stringify(lockReportJson(report)) + '\n');
    },
  });
  return processDetector;
}
