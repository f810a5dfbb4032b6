import { ErrorCodes, PorticoError } from '../../framework/index.js';
import { closestName } from './spelling.js';

/** A command-line flag / config option of an example server. */
export interface FlagSpec {
  readonly name: string;
  readonly kind: 'string' | 'integer' | 'duration' | 'boolean' | 'choice';
  readonly description: string;
  readonly default?: string | number | boolean;
  readonly choices?: readonly string[];
  readonly min?: number;
  readonly max?: number;
  /**
   * Checks a value beyond its kind (a device list, a HOST:PORT) by throwing an Error that says what is
   * wrong; the message is reported after the flag's name, as a config error. Runs at parse time, so a
   * bad value is a usage error (exit 2), never a failure to start.
   */
  readonly check?: (value: FlagValue) => void;
  /** Another spelling on the command line, e.g. owserver's `-p` for `--listen` (also as `-pVALUE`). */
  readonly alias?: string;
  /** What the value looks like in --help and in the error when a required flag is missing, e.g. `HOST:PORT` (default: by kind). */
  readonly placeholder?: string;
  /** No default and no meaning without it: leaving it out is a config error. */
  readonly required?: boolean;
}

export type FlagValue = string | number | boolean;
export type FlagValues = Readonly<Record<string, FlagValue | undefined>>;

const durationUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * "250ms", "30s", "5m", "1h" → milliseconds. A bare number other than 0 is refused, as in the harness:
 * `--idle-timeout 5` meant 5 ms, never what was meant. (A JSON number in a host config is milliseconds.)
 */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (match === null) throw new Error(`not a duration: "${text}" (use e.g. 500ms, 30s, 5m)`);
  if (match[2] === undefined && Number(match[1]) !== 0) throw new Error(`"${text}" needs a unit: ${match[1]}ms, ${match[1]}s, ${match[1]}m or ${match[1]}h`);
  return Math.round(Number(match[1]) * durationUnits[match[2] ?? 'ms']!);
}

/**
 * Convert one raw value (from argv or JSON config) to the flag's type, or throw a clear error naming
 * the flag as the user spelled it (`-s` or `--upstream`; default `--name`).
 */
export function coerceFlag(spec: FlagSpec, raw: unknown, spelling = `--${spec.name}`): FlagValue {
  const fail = (why: string): never => {
    throw new PorticoError(ErrorCodes.CONFIG, 'host', `${spelling}: ${why}`);
  };
  const value = typedValue(spec, raw, fail);
  if (spec.check !== undefined) {
    try {
      spec.check(value);
    } catch (error) {
      return fail((error as Error).message);
    }
  }
  return value;
}

function typedValue(spec: FlagSpec, raw: unknown, fail: (why: string) => never): FlagValue {
  switch (spec.kind) {
    case 'boolean':
      if (typeof raw === 'boolean') return raw;
      if (raw === 'true' || raw === '1') return true;
      if (raw === 'false' || raw === '0') return false;
      return fail(`expected true or false, got ${JSON.stringify(raw)}`);
    case 'string':
      if (typeof raw !== 'string' || raw.length === 0) return fail(`expected a non-empty string, got ${JSON.stringify(raw)}`);
      return raw;
    case 'choice':
      if (typeof raw !== 'string' || !spec.choices?.includes(raw)) return fail(`expected one of ${spec.choices?.join(', ')}, got ${JSON.stringify(raw)}`);
      return raw;
    case 'integer':
    case 'duration': {
      let n: number;
      if (typeof raw === 'number') n = raw;
      else if (typeof raw === 'string' && spec.kind === 'duration') {
        try {
          n = parseDuration(raw);
        } catch (error) {
          return fail((error as Error).message);
        }
      } else if (typeof raw === 'string' && /^-?\d+$/.test(raw.trim())) n = Number(raw);
      else return fail(`expected ${spec.kind === 'duration' ? 'a duration' : 'an integer'}, got ${JSON.stringify(raw)}`);
      if (!Number.isInteger(n)) return fail(`expected an integer, got ${n}`);
      if (spec.min !== undefined && n < spec.min) return fail(`must be >= ${spec.min}, got ${n}`);
      if (spec.max !== undefined && n > spec.max) return fail(`must be <= ${spec.max}, got ${n}`);
      return n;
    }
  }
}

/** ", did you mean --max-connections?" when `name` is a near miss of a known flag, else "". */
function didYouMean(name: string, specs: readonly FlagSpec[]): string {
  const near = closestName(name, specs.map((s) => s.name));
  return near === null ? '' : `, did you mean --${near}?`;
}

/** Apply defaults and types to raw options; unknown names are errors. `spelled` (from parseArgv) names flags in errors as they were typed. */
export function resolveFlags(
  specs: readonly FlagSpec[],
  raw: Readonly<Record<string, unknown>>,
  spelled: Readonly<Record<string, string>> = {},
): Record<string, FlagValue | undefined> {
  const known = new Map(specs.map((s) => [s.name, s]));
  for (const name of Object.keys(raw)) {
    if (!known.has(name)) {
      throw new PorticoError(ErrorCodes.CONFIG, 'host', `unknown option --${name}${didYouMean(name, specs)} (known: ${specs.map((s) => s.name).join(', ')})`);
    }
  }
  const out: Record<string, FlagValue | undefined> = {};
  for (const spec of specs) {
    const value = raw[spec.name];
    if (value === undefined && spec.required === true) {
      throw new PorticoError(ErrorCodes.CONFIG, 'host', `--${spec.name}${spec.placeholder !== undefined ? ` ${spec.placeholder}` : ''} is required`);
    }
    out[spec.name] = value === undefined ? (spec.default === undefined ? undefined : coerceFlag(spec, spec.default)) : coerceFlag(spec, value, spelled[spec.name]);
  }
  return out;
}

/** `--help` text: usage, summary and every flag with its default. */
export function helpText(command: string, summary: string, specs: readonly FlagSpec[], extra = ''): string {
  const rows = specs.map((s) => {
    const shape = s.placeholder ?? (s.kind === 'choice' ? s.choices?.join('|') : s.kind === 'duration' ? 'duration' : s.kind === 'integer' ? 'n' : 'value');
    const arg = s.kind === 'boolean' ? '' : ` <${shape}>`;
    const def = s.default === undefined ? '' : ` (default: ${String(s.default)})`;
    return [`  ${s.alias !== undefined ? `${s.alias}, ` : ''}--${s.name}${arg}`, `${s.description}${def}`] as const;
  });
  rows.push(['  --help', 'show this help and exit']);
  const width = Math.max(...rows.map(([a]) => a.length)) + 2;
  const lines = rows.map(([a, b]) => a.padEnd(width) + b);
  return `Usage: ${command} [options]\n\n${summary}\n\nOptions:\n${lines.join('\n')}\n${extra ? `\n${extra}\n` : ''}`;
}

/**
 * Parse `--name value`, `--name=value`, bare boolean flags and aliases (`-p value`, `-pvalue`).
 * Returns raw strings / booleans by flag name, and how each flag was spelled (for error messages).
 */
export function parseArgv(
  specs: readonly FlagSpec[],
  argv: readonly string[],
): { help: boolean; raw: Record<string, unknown>; spelled: Record<string, string> } {
  const known = new Map(specs.map((s) => [s.name, s]));
  const aliases = new Map(specs.filter((s) => s.alias !== undefined).map((s) => [s.alias!, s]));
  const raw: Record<string, unknown> = {};
  const spelled: Record<string, string> = {};
  // A flag of ours where a value should be means the value was left out (`-s --port 0`).
  const isFlag = (arg: string): boolean => arg === '--help' || aliases.has(arg) || (arg.startsWith('--') && known.has(arg.slice(2).split('=')[0]!));
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    let spec: FlagSpec | undefined;
    let spelling: string;
    let inline: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
      spec = known.get(name);
      if (spec === undefined) throw new PorticoError(ErrorCodes.CONFIG, 'host', `unknown option --${name}${didYouMean(name, specs)} (see --help)`);
      spelling = `--${name}`;
      if (eq >= 0) inline = arg.slice(eq + 1);
    } else {
      // `-p 4304` or `-p4304`, as owserver takes them.
      spec = aliases.get(arg) ?? aliases.get(arg.slice(0, 2));
      if (spec === undefined) throw new PorticoError(ErrorCodes.CONFIG, 'host', `unexpected argument "${arg}" (see --help)`);
      spelling = spec.alias!;
      if (arg.length > spelling.length) inline = arg.slice(spelling.length);
    }
    spelled[spec.name] = spelling;
    if (inline !== undefined) raw[spec.name] = inline;
    else if (spec.kind === 'boolean') raw[spec.name] = true;
    else {
      const value = argv[i + 1];
      if (value === undefined || isFlag(value)) throw new PorticoError(ErrorCodes.CONFIG, 'host', `${spelling} needs a value`);
      raw[spec.name] = value;
      i++;
    }
  }
  return { help, raw, spelled };
}
