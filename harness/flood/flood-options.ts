/** Checks FloodOptions up front and fills in the optional knobs, so a typo in a scenario fails with its name, not as a hang. */
import type { FloodOptions, FloodSettings } from '../types.js';

function requireInteger(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new Error(`flood option ${name} must be an integer >= ${min}, got ${String(value)}`);
  }
}

function requirePositive(name: string, value: number): void {
  if (!Number.isFinite(value) || value <= 0) throw new Error(`flood option ${name} must be a finite number > 0, got ${String(value)}`);
}

function requireNonNegative(name: string, value: number): void {
  if (!Number.isFinite(value) || value < 0) throw new Error(`flood option ${name} must be a finite number >= 0, got ${String(value)}`);
}

/** Most worker threads a flood may start (each is a V8 isolate; more than the cores only adds switching). */
export const MAX_WORKERS = 64;

export function validateFloodOptions(options: FloodOptions): void {
  resolveFloodSettings(options);
}

/** FloodOptions with every optional knob filled in and checked. */
export function resolveFloodSettings(options: FloodOptions): FloodSettings {
  const settings: FloodSettings = {
    ...options,
    durationMs: options.durationMs ?? null,
    warmupMs: options.warmupMs ?? 0,
    rate: options.rate ?? 0,
    workers: options.workers ?? 1,
    earlyStopBudget: options.earlyStopBudget ?? null,
  };
  requireInteger('port', settings.port, 1);
  if (settings.port > 65535) throw new Error(`flood option port must be <= 65535, got ${settings.port}`);
  if (settings.connections !== null) requireInteger('connections', settings.connections, 0);
  requireInteger('concurrency', settings.concurrency, 1);
  if (settings.messages !== null) requireInteger('messages', settings.messages, 0);
  requireInteger('size', settings.size, 0);
  requireNonNegative('connectRate', settings.connectRate);
  requireNonNegative('rate', settings.rate);
  requireNonNegative('warmupMs', settings.warmupMs);
  requirePositive('durationCapMs', settings.durationCapMs);
  requirePositive('connectionTimeoutMs', settings.connectionTimeoutMs);
  requireInteger('workers', settings.workers, 1);
  if (settings.workers > MAX_WORKERS) throw new Error(`flood option workers must be <= ${MAX_WORKERS}, got ${settings.workers}`);
  if (settings.earlyStopBudget !== null && !(settings.earlyStopBudget >= 0 && settings.earlyStopBudget <= 1)) {
    throw new Error(`flood option earlyStopBudget must be a fraction from 0 to 1 or null, got ${String(settings.earlyStopBudget)}`);
  }
  if (settings.durationMs === null) {
    if (settings.connections === null) throw new Error('flood option connections may be null (no limit) only with durationMs');
    if (settings.messages === null) throw new Error('flood option messages may be null (no limit) only with durationMs');
  } else {
    requirePositive('durationMs', settings.durationMs);
    if (settings.warmupMs + settings.durationMs > settings.durationCapMs) {
      throw new Error(`flood option durationCapMs (${settings.durationCapMs}) must cover warmupMs + durationMs (${settings.warmupMs + settings.durationMs})`);
    }
  }
  if (settings.messages === null && !settings.sendAfterReceive && settings.rate === 0) {
    throw new Error('pipelining without a message limit needs a rate: it would write without end (give messages or rate)');
  }
  return settings;
}
