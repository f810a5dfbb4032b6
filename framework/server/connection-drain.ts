import { performance } from 'node:perf_hooks';
import { ErrorCodes, PorticoError } from '../core/errors.js';
import type { Connection } from '../connection/connection.js';

export interface DrainResult {
  /** Connections that closed on their own during the drain. */
  closedGracefully: number;
  /** Connections aborted at the deadline. */
  aborted: number;
  /** Of those, connections whose transport did not report its close in time and were closed by force. */
  forced: number;
}

/**
 * The open connections of a server, and its graceful drain: each connection is told (`beginDrain`),
 * what is still open at the deadline is aborted, and what has still not reported its close a little
 * later is closed by force — so a drain always ends. A shorter deadline given while draining pulls the
 * deadline in.
 */
export class ConnectionDrain<U = unknown> {
  readonly connections = new Set<Connection<U>>();
  /** After the deadline's aborts, how long transports get to report their close before force. */
  readonly forceAfterMs: number;
  #emptyWaiters: (() => void)[] = [];
  #deadline: { at: number; timer: NodeJS.Timeout | null; expire: () => void } | null = null;
  #draining: Promise<DrainResult> | null = null;
  /** Holds on the drain: it is not over while something that may still add connections holds it. */
  #holds = 0;

  constructor(options: { forceAfterMs?: number } = {}) {
    this.forceAfterMs = options.forceAfterMs ?? 2000;
  }

  add(conn: Connection<U>): void {
    this.connections.add(conn);
  }

  /**
   * Keep the drain from ending until the returned release is called (connections still in their
   * handshake layers, which may yet be added). Release once.
   */
  hold(): () => void {
    this.#holds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#holds--;
      this.#wakeIfEmpty();
    };
  }

  /** A connection reported its close; false if it was not tracked. */
  finished(conn: Connection<U>): boolean {
    if (!this.connections.delete(conn)) return false;
    this.#wakeIfEmpty();
    return true;
  }

  get #empty(): boolean {
    return this.connections.size === 0 && this.#holds === 0;
  }

  #wakeIfEmpty(): void {
    if (this.#empty) for (const w of this.#emptyWaiters.splice(0)) w();
  }

  /** Drain every connection (once; a later call may only pull the deadline in). */
  drain(deadlineMs: number): Promise<DrainResult> {
    if (this.#draining !== null) {
      this.#pullDeadlineIn(deadlineMs);
      return this.#draining;
    }
    this.#draining = this.#run(deadlineMs);
    return this.#draining;
  }

  async #run(deadlineMs: number): Promise<DrainResult> {
    const before = this.connections.size;
    for (const conn of [...this.connections]) conn.beginDrain();
    let aborted = 0;
    let forced = 0;
    const started = performance.now();
    if (!this.#empty && !(await this.#emptyBeforeDeadline(deadlineMs))) {
      const error = new PorticoError(ErrorCodes.DRAIN_DEADLINE, 'server', `still open ${Math.round(performance.now() - started)} ms after stop()`);
      for (const conn of [...this.connections]) {
        aborted++;
        conn.abortForDrain(error);
      }
      if (!(await this.#emptyWithin(this.forceAfterMs))) {
        const stuck = new PorticoError(ErrorCodes.DRAIN_DEADLINE, 'server', `transport did not report its close ${this.forceAfterMs} ms after the abort`);
        for (const conn of [...this.connections]) {
          forced++;
          conn.forceClosed(stuck);
        }
        await this.#emptyWithin(this.forceAfterMs);
      }
    }
    return { closedGracefully: before - aborted, aborted, forced };
  }

  #pullDeadlineIn(ms: number): void {
    const d = this.#deadline;
    if (d === null) return; // past the deadline already
    const at = performance.now() + ms;
    if (at >= d.at) return;
    d.at = at;
    if (d.timer !== null) clearTimeout(d.timer);
    d.timer = setTimeout(d.expire, ms);
  }

  /** True once no connection is left, false when the deadline (which `drain` may pull in) passes first. */
  #emptyBeforeDeadline(ms: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const d = { at: performance.now() + ms, timer: null as NodeJS.Timeout | null, expire: () => finish(false) };
      const finish = (empty: boolean): void => {
        if (this.#deadline !== d) return;
        if (d.timer !== null) clearTimeout(d.timer);
        this.#deadline = null;
        resolve(empty);
      };
      this.#deadline = d;
      d.timer = setTimeout(d.expire, ms);
      if (this.#empty) finish(true);
      else this.#emptyWaiters.push(() => finish(true));
    });
  }

  /** True once no connection is left, false if `ms` passed first. */
  #emptyWithin(ms: number): Promise<boolean> {
    if (this.#empty) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      this.#emptyWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }
}
