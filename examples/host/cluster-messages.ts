/**
 * What a worker process tells its cluster primary, and the primary's one command. Servers are named by
 * their index in the host config: a config may run the same kind of server twice (two echo ports).
 */
export type WorkerMessage =
  | { readonly kind: 'listening'; readonly index: number; readonly server: string; readonly host: string; readonly port: number; readonly url?: string }
  | { readonly kind: 'stopped'; readonly index: number; readonly server: string; readonly aborted: number; readonly stats: Readonly<Record<string, number>> }
  | { readonly kind: 'stats'; readonly servers: readonly Readonly<Record<string, number>>[] };

export type PrimaryMessage = { readonly kind: 'stop' };

export function isWorkerMessage(value: unknown): value is WorkerMessage {
  if (typeof value !== 'object' || value === null) return false;
  const kind = (value as { kind?: unknown }).kind;
  return kind === 'listening' || kind === 'stopped' || kind === 'stats';
}

export function isPrimaryMessage(value: unknown): value is PrimaryMessage {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'stop';
}

/** Sum counters server by server (per-worker stats into one view). */
export function sumStats(into: Record<string, number>, add: Readonly<Record<string, number>>): void {
  for (const [name, value] of Object.entries(add)) {
    if (typeof value === 'number' && Number.isFinite(value)) into[name] = (into[name] ?? 0) + value;
  }
}
