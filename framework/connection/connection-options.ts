import { ErrorCodes, PorticoError } from '../core/errors.js';

export interface IdleTimeouts {
  /** No read completed for this long (ms, 0 = off). */
  readMs: number;
  /** No write completed for this long (ms, 0 = off). */
  writeMs: number;
  /** Neither for this long (ms, 0 = off). */
  allMs: number;
}

export interface ConnectionOptions {
  /** `write` says 'over-high-water' once this many bytes are queued. Default 65536. */
  highWaterMark: number;
  /** `onWritable` fires when queued bytes fall to this. Default 16384. */
  lowWaterMark: number;
  idle: IdleTimeouts;
  /** After a graceful `close()`, how long to wait for our FIN to go out and the peer's to come back before aborting. Default 5000. */
  lingerMs: number;
}

/** Connection options as given: every field optional, `idle` too (`{ idle: { readMs: 30_000 } }`). */
export type ConnectionOptionsInput = Partial<Omit<ConnectionOptions, 'idle'>> & { idle?: Partial<IdleTimeouts> };

export const defaultConnectionOptions: Readonly<ConnectionOptions> = Object.freeze({
  highWaterMark: 65536,
  lowWaterMark: 16384,
  idle: Object.freeze({ readMs: 0, writeMs: 0, allMs: 0 }),
  lingerMs: 5000,
});

const resolved = new WeakSet<object>();

/** Fill in defaults and check every field; a server resolves once and shares the frozen result. */
export function resolveConnectionOptions(options: ConnectionOptionsInput): Readonly<ConnectionOptions> {
  if (resolved.has(options)) return options as Readonly<ConnectionOptions>;
  const merged: ConnectionOptions = {
    ...defaultConnectionOptions,
    ...options,
    idle: { ...defaultConnectionOptions.idle, ...options.idle },
  };
  const check = (name: string, value: number, min: number): void => {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
      throw new PorticoError(ErrorCodes.INVALID_ARGUMENT, 'connection', `${name} must be a number >= ${min}, got ${String(value)}`);
    }
  };
  check('highWaterMark', merged.highWaterMark, 1);
  check('lowWaterMark', merged.lowWaterMark, 0);
  check('lingerMs', merged.lingerMs, 0);
  check('idle.readMs', merged.idle.readMs, 0);
  check('idle.writeMs', merged.idle.writeMs, 0);
  check('idle.allMs', merged.idle.allMs, 0);
  if (merged.lowWaterMark > merged.highWaterMark) {
    throw new PorticoError(ErrorCodes.INVALID_ARGUMENT, 'connection', `lowWaterMark (${merged.lowWaterMark}) must not exceed highWaterMark (${merged.highWaterMark})`);
  }
  const frozen = Object.freeze({ ...merged, idle: Object.freeze(merged.idle) });
  resolved.add(frozen);
  return frozen;
}
