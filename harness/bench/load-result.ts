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
}

/** Parse and check the generator's line, so a crash or stray log line fails loudly instead of reading as 0 msg/s. */
export function parseLoadResult(line: string): LoadResult {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new Error(`load generator printed something that is not JSON: ${JSON.stringify(line.slice(0, 200))}`);
  }
  const record = value as Record<string, unknown> | null;
  const fields = ['messages', 'bytes', 'seconds', 'errors'] as const;
  if (record === null || typeof record !== 'object' || fields.some((f) => typeof record[f] !== 'number' || !Number.isFinite(record[f]))) {
    throw new Error(`load generator result lacks ${fields.join('/')}: ${line.slice(0, 200)}`);
  }
  return { messages: record['messages'] as number, bytes: record['bytes'] as number, seconds: record['seconds'] as number, errors: record['errors'] as number };
}
