/** What one run of the load generator (echo-load) reports on its single stdout line. */
export interface LoadResult {
  /** Round trips completed inside the measured window. */
  readonly messages: number;
  /** Payload bytes echoed back inside the window (messages × size). */
  readonly bytes: number;
  /** Length of the measured window. */
  readonly seconds: number;
  /** Failed connects, socket errors, early closes, over-long echoes. */
  readonly errors: number;
  /** The generator's own CPU (user + system) in the window: near `seconds` means it was the limit. */
  readonly clientCpuSeconds: number;
}

/**
 * Parse a load generator's one JSON result line and check that `numbers` are finite numbers, so a
 * crash or a stray log line fails loudly instead of reading as 0 msg/s.
 */
export function parseResultLine(line: string, who: string, numbers: readonly string[]): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new Error(`${who} printed something that is not JSON: ${JSON.stringify(line.slice(0, 200))}`);
  }
  const record = value as Record<string, unknown> | null;
  if (record === null || typeof record !== 'object' || numbers.some((f) => typeof record[f] !== 'number' || !Number.isFinite(record[f]))) {
    throw new Error(`${who} result lacks ${numbers.join('/')}: ${line.slice(0, 200)}`);
  }
  return record;
}

export function parseLoadResult(line: string): LoadResult {
  const r = parseResultLine(line, 'load generator', ['messages', 'bytes', 'seconds', 'errors', 'clientCpuSeconds']);
  return { messages: r['messages'] as number, bytes: r['bytes'] as number, seconds: r['seconds'] as number, errors: r['errors'] as number, clientCpuSeconds: r['clientCpuSeconds'] as number };
}

/** Whatever goes wrong (a server that never answers, a FIN that never comes), a load process ends. */
export function armWatchdog(name: string, ms: number): void {
  setTimeout(() => {
    process.stderr.write(`${name}: watchdog expired, exiting\n`);
    process.exit(3);
  }, ms).unref();
}
