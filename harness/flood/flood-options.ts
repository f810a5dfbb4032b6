/** Checks FloodOptions up front, so a typo in a scenario fails with its name, not as a hang. */
import type { FloodOptions } from '../types.js';

function requireInteger(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new Error(`flood option ${name} must be an integer >= ${min}, got ${String(value)}`);
  }
}

function requirePositive(name: string, value: number): void {
  if (!Number.isFinite(value) || value <= 0) throw new Error(`flood option ${name} must be a finite number > 0, got ${String(value)}`);
}

export function validateFloodOptions(options: FloodOptions): void {
  requireInteger('port', options.port, 1);
  if (options.port > 65535) throw new Error(`flood option port must be <= 65535, got ${options.port}`);
  requireInteger('connections', options.connections, 0);
  requireInteger('concurrency', options.concurrency, 1);
  requireInteger('messages', options.messages, 0);
  requireInteger('size', options.size, 0);
  if (!Number.isFinite(options.connectRate) || options.connectRate < 0) {
    throw new Error(`flood option connectRate must be >= 0 (0 = unlimited), got ${String(options.connectRate)}`);
  }
  requirePositive('durationCapMs', options.durationCapMs);
  requirePositive('connectionTimeoutMs', options.connectionTimeoutMs);
}
