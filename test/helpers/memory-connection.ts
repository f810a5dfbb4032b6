import {
  BufferPool,
  CompletionDispatcher,
  Connection,
  type ConnectionCallbacks,
  type ConnectionOptionsInput,
  ManualClock,
  MemoryTransport,
  TimerWheel,
} from '../../framework/index.js';

/**
 * A connection over one side of a memory pair, with its own wheel and a manual clock. The pair behaves
 * like TCP unless `inlineReads` (reads complete nested, the FILE_SKIP_COMPLETION_PORT_ON_SUCCESS case).
 */
export function memoryConnection<U = undefined>(
  handler: ConnectionCallbacks<U>,
  opts: { dispatcher?: CompletionDispatcher; pool?: BufferPool; options?: ConnectionOptionsInput; user?: U; inlineReads?: boolean } = {},
): { conn: Connection<U>; transport: MemoryTransport; peer: MemoryTransport; pool: BufferPool; clock: ManualClock; wheel: TimerWheel } {
  const pool = opts.pool ?? new BufferPool({ bufferSize: 256 });
  const clock = new ManualClock();
  const wheel = new TimerWheel({ clock, autoTick: false, tickMs: 10 });
  const dispatcher = opts.dispatcher ?? new CompletionDispatcher();
  const [transport, peer] = MemoryTransport.pair(pool, { inlineReads: opts.inlineReads ?? false });
  const conn = new Connection<U>(transport, handler, opts.user as U, { dispatcher, wheel, clock, pool }, opts.options ?? {});
  return { conn, transport, peer, pool, clock, wheel };
}

/** Resolve when `predicate` holds, polling each macrotask turn; reject after `ms`. */
export async function until(predicate: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
