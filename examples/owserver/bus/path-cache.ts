import type { OwResult } from './bus.js';
import type { PathTarget } from './path-resolver.js';

/**
 * How many distinct paths are remembered. Clients poll a set of paths, so this only bounds a client
 * that scans: paths are at most PATH_MAX (4096) bytes, so the cache stays under a few megabytes.
 */
export const DEFAULT_PATH_CACHE_LIMIT = 1024;

/**
 * What request paths resolve to, remembered across requests: clients ask for the same few paths over
 * and over, and resolving one (splitting, ROM id parsing, alias lookup, tree walk) costs more than
 * answering it. The property trees never change shape, so the only thing that can change a path's
 * meaning is the alias table; `revision` reports its changes and any change forgets everything.
 * Failures are remembered too (a mistyped path polled in a loop is still a loop).
 */
export class ResolvedPathCache {
  readonly #resolve: (path: string) => OwResult<PathTarget>;
  readonly #revision: () => number;
  readonly #limit: number;
  readonly #entries = new Map<string, OwResult<PathTarget>>();
  #seenRevision: number;

  constructor(resolve: (path: string) => OwResult<PathTarget>, revision: () => number, limit = DEFAULT_PATH_CACHE_LIMIT) {
    this.#resolve = resolve;
    this.#revision = revision;
    this.#limit = Math.max(1, limit);
    this.#seenRevision = revision();
  }

  /** The path's target (shared: callers must not hand the result object itself out). */
  resolve(path: string): OwResult<PathTarget> {
    const revision = this.#revision();
    if (revision !== this.#seenRevision) {
      this.#entries.clear();
      this.#seenRevision = revision;
    }
    let target = this.#entries.get(path);
    if (target === undefined) {
      target = this.#resolve(path);
      // Oldest first out: a Map iterates in insertion order.
      if (this.#entries.size >= this.#limit) this.#entries.delete(this.#entries.keys().next().value!);
      this.#entries.set(path, target);
    }
    return target;
  }
}
