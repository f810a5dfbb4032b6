import { FlagError } from './flags.js';

/** Report a fatal error and exit 1: usage errors as one line, anything else with its stack for debugging. */
export function exitWithError(command: string, error: unknown): never {
  const text = error instanceof FlagError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.stderr.write(`${command}: ${text}\n`);
  process.exit(1);
}
