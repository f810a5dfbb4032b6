/**
 * Integer command-line flags for the bench scripts. Every bench flag is a count, a size or a duration
 * in ms, so one tiny parser covers them; it rejects out-of-range values up front because a typo such as
 * `--duration-ms 40000000` would otherwise tie up the shared machine for hours.
 */
/** A usage mistake: reported as one line, without a stack trace. */
export class FlagError extends Error {}

export interface IntFlag<K extends string = string> {
  readonly name: K;
  readonly description: string;
  /** Omitted = the flag is required. */
  readonly default?: number;
  readonly min: number;
  readonly max: number;
}

export interface ParsedFlags<K extends string> {
  readonly help: boolean;
  readonly values: Readonly<Record<K, number>>;
}

export interface ParseOptions {
  /** Skip flags this parser does not know (run-all hands one argv to several benches). */
  readonly ignoreUnknown?: boolean;
}

export function parseIntFlags<K extends string>(argv: readonly string[], specs: readonly IntFlag<K>[], options: ParseOptions = {}): ParsedFlags<K> {
  const known = new Map<string, IntFlag<K>>(specs.map((s) => [s.name, s]));
  const raw = new Map<K, string>();
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    if (!arg.startsWith('--')) throw new FlagError(`unexpected argument "${arg}" (see --help)`);
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    const spec = known.get(name);
    const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    if (spec === undefined) {
      if (options.ignoreUnknown) continue; // its value was skipped with it
      throw new FlagError(`unknown option --${name} (see --help)`);
    }
    if (value === undefined) throw new FlagError(`--${name} needs a value`);
    raw.set(spec.name, value);
  }
  const values = {} as Record<K, number>;
  for (const spec of specs) {
    const text = raw.get(spec.name);
    if (text === undefined) {
      if (spec.default === undefined && !help) throw new FlagError(`--${spec.name} is required`);
      values[spec.name] = spec.default ?? 0;
      continue;
    }
    const n = Number(text.replaceAll('_', ''));
    if (!Number.isInteger(n)) throw new FlagError(`--${spec.name}: expected an integer, got "${text}"`);
    if (n < spec.min || n > spec.max) throw new FlagError(`--${spec.name}: must be in [${spec.min}, ${spec.max}], got ${n}`);
    values[spec.name] = n;
  }
  return { help, values };
}

export function flagsHelp(usage: string, specs: readonly IntFlag[]): string {
  const rows = specs.map((s) => [`  --${s.name} <n>`, `${s.description}${s.default === undefined ? ' (required)' : ` (default: ${s.default})`}`] as const);
  const width = Math.max(...rows.map(([a]) => a.length)) + 2;
  return `Usage: ${usage}\n\nOptions:\n${rows.map(([a, b]) => a.padEnd(width) + b).join('\n')}\n`;
}
