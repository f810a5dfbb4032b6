/**
 * Turns a scenario file and/or `portico-harness run` flags into one validated Scenario with every
 * default filled in. Flags override the file, field by field, so a CI scenario can be re-run with
 * one knob changed. Every error names the field (or flag) and what was expected.
 */
import { readFile } from 'node:fs/promises';
import { constants } from 'node:os';
import { basename, dirname } from 'node:path';
import { hasPortPlaceholder } from './launcher.js';
import { parseSize } from './memory-cap.js';
import { capturesPort, parseReadySpec } from './readiness.js';
import type { FloodProtocol, ReadySpec, Scenario, Thresholds } from './types.js';


/** A scenario plus where its report goes. */
export interface RunRequest {
  readonly scenario: Scenario;
  readonly reportDir: string;
  /** No live progress line. */
  readonly quiet: boolean;
}

/** A bad scenario file or flag; `main` prints the message and exits 2. */
export class ScenarioError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScenarioError';
  }
}

export const protocols: readonly FloodProtocol[] = ['echo', 'owserver', 'websocket'];

export const defaultFlood: Scenario['flood'] = {
  protocol: 'echo',
  connections: 100,
  concurrency: 10,
  messages: 10,
  size: 512,
  sendAfterReceive: true,
  connectRate: 0,
  durationCapMs: 120_000,
  connectionTimeoutMs: 10_000,
};

export const defaultThresholds: Thresholds = {
  errorBudget: 0,
  timeWaitBudget: null,
  mustExitClean: true,
  stopDeadlineMs: 5_000,
  failOnSingleTaskInversion: true,
  acceptSignalExit: false,
  acceptExitCodes: [0],
};

export const defaultReadyTimeoutMs = 10_000;
export const defaultStopSignal: NodeJS.Signals = 'SIGTERM';

// ---- raw values: what a file or the flags say, before defaults ------------------------------------

type Raw = Record<string, unknown>;

const isObject = (value: unknown): value is Raw => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The fields a scenario file may have, by level (anything else is an error: typos must not pass). */
export const scenarioFields = {
  top: ['name', 'description', 'server', 'ready', 'portArg', 'flood', 'memoryCap', 'memoryCapBytes', 'lockOrder', 'leakCheck', 'netns', 'readyTimeoutMs', 'stopSignal', 'thresholds'],
  flood: ['protocol', 'connections', 'concurrency', 'messages', 'size', 'sendAfterReceive', 'connectRate', 'durationCapMs', 'connectionTimeoutMs', 'protocolOptions'],
  thresholds: ['errorBudget', 'timeWaitBudget', 'mustExitClean', 'stopDeadlineMs', 'failOnSingleTaskInversion', 'acceptSignalExit', 'acceptExitCodes'],
} as const;

/** Field-by-field validation; `where` prefixes every message (file name or "flags"). */
class Validator {
  constructor(private readonly where: string) {}

  fail(field: string, why: string): never {
    throw new ScenarioError(`${this.where}: ${field}: ${why}`);
  }

  noUnknownKeys(object: Raw, known: readonly string[], prefix: string): void {
    for (const key of Object.keys(object)) {
      if (!known.includes(key)) this.fail(prefix + key, `unknown field (known: ${known.join(', ')})`);
    }
  }

  integer(value: unknown, field: string, fallback: number, min: number): number {
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isInteger(value)) this.fail(field, `expected an integer, got ${JSON.stringify(value)}`);
    if (value < min) this.fail(field, `must be >= ${min}, got ${value}`);
    return value;
  }

  fraction(value: unknown, field: string, fallback: number): number {
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1) {
      this.fail(field, `expected a fraction from 0 to 1 (0.01 = 1 %), got ${JSON.stringify(value)}`);
    }
    return value;
  }

  boolean(value: unknown, field: string, fallback: boolean): boolean {
    if (value === undefined) return fallback;
    if (typeof value !== 'boolean') this.fail(field, `expected true or false, got ${JSON.stringify(value)}`);
    return value;
  }
}

/** Validate a raw scenario (file contents merged with flag overrides) and fill in the defaults. */
export function buildScenario(raw: unknown, where: string, nameHint?: string): Scenario {
  const v: Validator = new Validator(where);
  if (!isObject(raw)) v.fail('(top level)', 'expected a JSON object');
  v.noUnknownKeys(raw, scenarioFields.top, '');

  const server = serverArgv(raw['server'], v);
  const name = raw['name'] ?? nameHint ?? nameFromCommand(server);
  if (typeof name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) {
    v.fail('name', `expected a name of letters, digits, ".", "_" or "-" (it names the report folder), got ${JSON.stringify(name)}`);
  }
  if (raw['description'] !== undefined && typeof raw['description'] !== 'string') v.fail('description', 'expected a string');

  const floodRaw = raw['flood'] ?? {};
  if (!isObject(floodRaw)) v.fail('flood', 'expected an object');
  v.noUnknownKeys(floodRaw, scenarioFields.flood, 'flood.');
  const protocol = floodRaw['protocol'] ?? defaultFlood.protocol;
  if (typeof protocol !== 'string' || !(protocols as readonly string[]).includes(protocol)) {
    v.fail('flood.protocol', `expected one of ${protocols.join(', ')}, got ${JSON.stringify(protocol)}`);
  }
  const flood: Scenario['flood'] = {
    protocol: protocol as FloodProtocol,
    connections: v.integer(floodRaw['connections'], 'flood.connections', defaultFlood.connections, 1),
    concurrency: v.integer(floodRaw['concurrency'], 'flood.concurrency', defaultFlood.concurrency, 1),
    messages: v.integer(floodRaw['messages'], 'flood.messages', defaultFlood.messages, 0),
    size: v.integer(floodRaw['size'], 'flood.size', defaultFlood.size, 1),
    sendAfterReceive: v.boolean(floodRaw['sendAfterReceive'], 'flood.sendAfterReceive', defaultFlood.sendAfterReceive),
    connectRate: v.integer(floodRaw['connectRate'], 'flood.connectRate', defaultFlood.connectRate, 0),
    durationCapMs: v.integer(floodRaw['durationCapMs'], 'flood.durationCapMs', defaultFlood.durationCapMs, 1),
    connectionTimeoutMs: v.integer(floodRaw['connectionTimeoutMs'], 'flood.connectionTimeoutMs', defaultFlood.connectionTimeoutMs, 1),
    ...protocolOptions(floodRaw['protocolOptions'], v),
  };

  const thresholdsRaw = raw['thresholds'] ?? {};
  if (!isObject(thresholdsRaw)) v.fail('thresholds', 'expected an object');
  v.noUnknownKeys(thresholdsRaw, scenarioFields.thresholds, 'thresholds.');
  const d = defaultThresholds;
  const thresholds: Thresholds = {
    errorBudget: v.fraction(thresholdsRaw['errorBudget'], 'thresholds.errorBudget', d.errorBudget),
    timeWaitBudget: thresholdsRaw['timeWaitBudget'] == null ? null : v.integer(thresholdsRaw['timeWaitBudget'], 'thresholds.timeWaitBudget', 0, 0),
    mustExitClean: v.boolean(thresholdsRaw['mustExitClean'], 'thresholds.mustExitClean', d.mustExitClean),
    stopDeadlineMs: v.integer(thresholdsRaw['stopDeadlineMs'], 'thresholds.stopDeadlineMs', d.stopDeadlineMs, 100),
    failOnSingleTaskInversion: v.boolean(thresholdsRaw['failOnSingleTaskInversion'], 'thresholds.failOnSingleTaskInversion', d.failOnSingleTaskInversion),
    acceptSignalExit: v.boolean(thresholdsRaw['acceptSignalExit'], 'thresholds.acceptSignalExit', d.acceptSignalExit),
    acceptExitCodes: exitCodes(thresholdsRaw['acceptExitCodes'], v),
  };

  const leakCheck = raw['leakCheck'] ?? 'auto';
  if (leakCheck !== true && leakCheck !== false && leakCheck !== 'auto') v.fail('leakCheck', `expected true, false or "auto", got ${JSON.stringify(leakCheck)}`);

  return {
    name,
    server,
    ready: readySpec(raw['ready'], server, v),
    portArg: v.boolean(raw['portArg'], 'portArg', false),
    flood,
    memoryCapBytes: memoryCap(raw, v),
    lockOrder: v.boolean(raw['lockOrder'], 'lockOrder', false),
    leakCheck,
    netns: v.boolean(raw['netns'], 'netns', false),
    readyTimeoutMs: v.integer(raw['readyTimeoutMs'], 'readyTimeoutMs', defaultReadyTimeoutMs, 100),
    stopSignal: stopSignal(raw['stopSignal'], v),
    thresholds,
  };
}

/** "line" (default), "port:N", "port", "regex:RE"; the flood needs a port from somewhere. */
function readySpec(value: unknown, server: readonly string[], v: Validator): ReadySpec {
  if (value === undefined) return { kind: 'line' };
  if (typeof value !== 'string') v.fail('ready', `expected "line", "port:N" or "regex:RE", got ${JSON.stringify(value)}`);
  let spec: ReadySpec;
  try {
    spec = parseReadySpec(value);
  } catch (error) {
    return v.fail('ready', `${(error as Error).message}, got ${JSON.stringify(value)}`);
  }
  const placeholder = hasPortPlaceholder(server);
  if (spec.kind === 'port' && spec.port === null && !placeholder) {
    v.fail('ready', 'plain "port" means the port the harness picks for {port}, but the server command has no {port}: put {port} in it, or give port:N');
  }
  if (spec.kind === 'regex' && !capturesPort(spec.pattern) && !placeholder) {
    v.fail('ready', 'with regex readiness the harness must learn the port to flood: put {port} in the server command, or capture it in the pattern as (?<port>\\d+)');
  }
  return spec;
}

/** "SIGUSR1" or "USR1"; only signals a server can catch (not SIGKILL or SIGSTOP). */
export function parseStopSignal(text: string): NodeJS.Signals {
  const name = (text.toUpperCase().startsWith('SIG') ? text.toUpperCase() : `SIG${text.toUpperCase()}`) as NodeJS.Signals;
  if (!(name in constants.signals)) throw new Error(`unknown signal ${JSON.stringify(text)} (e.g. SIGTERM, SIGINT, SIGUSR1, SIGQUIT)`);
  if (name === 'SIGKILL' || name === 'SIGSTOP') throw new Error(`${name} cannot be caught, so the server could never stop by itself; the harness sends SIGKILL at the stop deadline anyway`);
  return name;
}

function stopSignal(value: unknown, v: Validator): NodeJS.Signals {
  if (value === undefined) return defaultStopSignal;
  if (typeof value !== 'string') v.fail('stopSignal', `expected a signal name such as "SIGUSR1", got ${JSON.stringify(value)}`);
  try {
    return parseStopSignal(value);
  } catch (error) {
    return v.fail('stopSignal', (error as Error).message);
  }
}

function exitCodes(value: unknown, v: Validator): number[] {
  if (value === undefined) return [...defaultThresholds.acceptExitCodes];
  if (!Array.isArray(value) || value.length === 0 || !value.every((c) => Number.isInteger(c) && c >= 0 && c <= 255)) {
    v.fail('thresholds.acceptExitCodes', `expected a non-empty array of exit codes 0-255, e.g. [0, 143], got ${JSON.stringify(value)}`);
  }
  return value as number[];
}

function serverArgv(value: unknown, v: Validator): string[] {
  if (value === undefined) v.fail('server', 'missing: give the server command, e.g. ["node", "dist/examples/echo/main.js"] (flag: --server "<command line>")');
  const argv = typeof value === 'string' ? splitCommandLine(value, (why) => v.fail('server', why)) : value;
  if (!Array.isArray(argv) || argv.length === 0 || !argv.every((a): a is string => typeof a === 'string' && a.length > 0)) {
    v.fail('server', `expected a non-empty array of non-empty strings (or a command line), got ${JSON.stringify(value)}`);
  }
  return argv;
}

function protocolOptions(value: unknown, v: Validator): Pick<Scenario['flood'], 'protocolOptions'> {
  if (value === undefined) return {};
  if (!isObject(value)) v.fail('flood.protocolOptions', 'expected an object');
  for (const [key, option] of Object.entries(value)) {
    if (!['string', 'number', 'boolean'].includes(typeof option)) v.fail(`flood.protocolOptions.${key}`, `expected a string, number or boolean, got ${JSON.stringify(option)}`);
  }
  return { protocolOptions: value as Record<string, string | number | boolean> };
}

function memoryCap(raw: Raw, v: Validator): number | null {
  const text = raw['memoryCap'];
  const bytes = raw['memoryCapBytes'];
  if (text !== undefined && bytes !== undefined) v.fail('memoryCap', 'give memoryCap ("256M") or memoryCapBytes, not both');
  if (bytes !== undefined) return bytes === null ? null : v.integer(bytes, 'memoryCapBytes', 0, 1);
  if (text === undefined || text === null) return null;
  if (typeof text !== 'string' && typeof text !== 'number') v.fail('memoryCap', `expected a size such as "256M", got ${JSON.stringify(text)}`);
  try {
    return parseSize(String(text));
  } catch (error) {
    return v.fail('memoryCap', (error as Error).message);
  }
}

/** A report-folder name for an ad-hoc run: `node dist/examples/echo/main.js` → "echo". */
export function nameFromCommand(argv: readonly string[]): string {
  const script = argv.slice(1).find((a) => !a.startsWith('-') && /[/\\]|\.[cm]?[jt]s$/.test(a)) ?? argv[0]!;
  let name = basename(script).replace(/\.[^.]*$/, '');
  if (['main', 'index', 'server', 'cli'].includes(name)) name = basename(dirname(script)) || name;
  return name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '') || 'server';
}

/**
 * Split a command line the way a POSIX shell would for plain words: whitespace separates, '…' is
 * literal, "…" allows \" \\ \$ \` escapes, a backslash outside quotes escapes the next character.
 * No expansion of any kind: the result is an argv, never run through a shell.
 */
export function splitCommandLine(text: string, fail: (why: string) => never = (why) => {
  throw new ScenarioError(why);
}): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      continue;
    }
    inWord = true;
    if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) fail(`unterminated ' in ${JSON.stringify(text)}`);
      word += text.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < text.length && text[j] !== '"'; j++) {
        if (text[j] === '\\' && j + 1 < text.length && '"\\$`'.includes(text[j + 1]!)) j++;
        word += text[j];
      }
      if (j >= text.length) fail(`unterminated " in ${JSON.stringify(text)}`);
      i = j;
    } else if (c === '\\') {
      if (i + 1 >= text.length) fail(`trailing backslash in ${JSON.stringify(text)}`);
      word += text[++i];
    } else {
      word += c;
    }
  }
  if (inWord) words.push(word);
  return words;
}

// ---- flags ------------------------------------------------------------------------------------------

interface FlagSpec {
  readonly flag: string;
  /** Where the value lands in the raw scenario: ['flood', 'connections']. */
  readonly path: readonly string[];
  readonly kind: 'string' | 'integer' | 'fraction' | 'duration' | 'size' | 'cap' | 'true' | 'false' | 'protocol' | 'budget' | 'codes';
  readonly arg?: string;
  readonly help: string;
}

/** Every `run` flag; `--help` is generated from this table, so it cannot drift from the parser. */
export const runFlags: readonly FlagSpec[] = [
  { flag: 'server', path: ['server'], kind: 'string', arg: '"<command line>"', help: 'server command; each {port} in it becomes a free port the harness picks' },
  { flag: 'ready', path: ['ready'], kind: 'string', arg: '<line|port:N|regex:RE>', help: "when the server is ready: portico's JSON line (default), port N listening by the server's processes, or an output line matching RE" },
  { flag: 'port-arg', path: ['portArg'], kind: 'true', help: 'append `--port 0` to the command unless it names a port (--port, -p)' },
  { flag: 'name', path: ['name'], kind: 'string', arg: '<name>', help: 'scenario name (default: the file\'s "name", else from the server script)' },
  { flag: 'protocol', path: ['flood', 'protocol'], kind: 'protocol', arg: '<echo|owserver|websocket>', help: `flood protocol (default: ${defaultFlood.protocol})` },
  { flag: 'connections', path: ['flood', 'connections'], kind: 'integer', arg: '<n>', help: `connections in total (default: ${defaultFlood.connections})` },
  { flag: 'concurrency', path: ['flood', 'concurrency'], kind: 'integer', arg: '<n>', help: `connections open at once (default: ${defaultFlood.concurrency})` },
  { flag: 'messages', path: ['flood', 'messages'], kind: 'integer', arg: '<n>', help: `messages per connection (default: ${defaultFlood.messages})` },
  { flag: 'size', path: ['flood', 'size'], kind: 'size', arg: '<bytes>', help: `bytes per message, e.g. 512 or 4K (default: ${defaultFlood.size})` },
  { flag: 'pipeline', path: ['flood', 'sendAfterReceive'], kind: 'false', help: 'send all messages at once instead of waiting for each reply' },
  { flag: 'connect-rate', path: ['flood', 'connectRate'], kind: 'integer', arg: '<n/s>', help: 'new connections per second at most; 0 = no limit (default: 0)' },
  { flag: 'duration-cap', path: ['flood', 'durationCapMs'], kind: 'duration', arg: '<duration>', help: `hard cap on the flood, e.g. 60s (default: ${defaultFlood.durationCapMs / 1000}s)` },
  { flag: 'connection-timeout', path: ['flood', 'connectionTimeoutMs'], kind: 'duration', arg: '<duration>', help: `deadline per connection (default: ${defaultFlood.connectionTimeoutMs / 1000}s)` },
  { flag: 'memory-cap', path: ['memoryCapBytes'], kind: 'cap', arg: '<size|none>', help: 'kill the server past this RSS, e.g. 256M (default: no cap)' },
  { flag: 'lock-order', path: ['lockOrder'], kind: 'true', help: 'run the server with PORTICO_LOCKDEP=1 and fail on lock-order findings' },
  { flag: 'leak-check', path: ['leakCheck'], kind: 'true', help: 'require the leak check (a server it cannot be run on is INCOMPLETE; default: node servers only)' },
  { flag: 'no-leak-check', path: ['leakCheck'], kind: 'false', help: 'skip the after-stop handle check' },
  { flag: 'netns', path: ['netns'], kind: 'true', help: 'run in a fresh network namespace (unshare -n) for exact TIME_WAIT counts' },
  { flag: 'ready-timeout', path: ['readyTimeoutMs'], kind: 'duration', arg: '<duration>', help: `wait this long for the ready line (default: ${defaultReadyTimeoutMs / 1000}s)` },
  { flag: 'stop-signal', path: ['stopSignal'], kind: 'string', arg: '<SIG>', help: `signal that asks the server to stop, e.g. SIGUSR1 for haproxy (default: ${defaultStopSignal})` },
  { flag: 'stop-deadline', path: ['thresholds', 'stopDeadlineMs'], kind: 'duration', arg: '<duration>', help: `after the stop signal, SIGKILL past this (default: ${defaultThresholds.stopDeadlineMs / 1000}s)` },
  { flag: 'accept-exit-codes', path: ['thresholds', 'acceptExitCodes'], kind: 'codes', arg: '<n,n,…>', help: 'exit codes that count as a clean stop; death by signal N is 128+N (default: 0)' },
  { flag: 'error-budget', path: ['thresholds', 'errorBudget'], kind: 'fraction', arg: '<fraction>', help: 'failed+reset+bad connections allowed, 0.01 = 1 % (default: 0)' },
  { flag: 'time-wait-budget', path: ['thresholds', 'timeWaitBudget'], kind: 'budget', arg: '<n|none>', help: 'peak server-side TIME_WAIT allowed (default: none = not checked)' },
  { flag: 'no-exit-check', path: ['thresholds', 'mustExitClean'], kind: 'false', help: 'report how the server exited without failing on it' },
  { flag: 'accept-signal-exit', path: ['thresholds', 'acceptSignalExit'], kind: 'true', help: 'a server with no handler may die by the stop signal and still pass the exit check' },
  { flag: 'allow-single-task-inversions', path: ['thresholds', 'failOnSingleTaskInversion'], kind: 'false', help: "don't fail on inversions seen in one async chain only (LID's -skipSingleThread)" },
];

/** Flags that don't describe the scenario: where the report goes and what the terminal shows. */
export const outputFlags = [
  { flag: 'report', arg: '<dir>', help: 'write report.json and report.html here (default: reports/<scenario name>/)' },
  { flag: 'quiet', arg: '', help: 'no live progress line' },
] as const;

const durationUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000 };

/**
 * "500ms", "5s", "1.5s", "2m" → ms. A bare number is refused rather than guessed at: `5` read as
 * milliseconds once cut a 5-second cap to nothing.
 */
export function parseDuration(text: string): number {
  if (/^\d+(\.\d+)?$/.test(text)) throw new Error(`a duration needs a unit: ${text}ms, ${text}s or ${text}m`);
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(text);
  if (match === null) throw new Error('expected a duration with a unit, such as 500ms, 30s or 2m');
  return Math.round(Number(match[1]) * durationUnits[match[2]!]!);
}

function flagValue(spec: FlagSpec, text: string): unknown {
  const fail = (why: string): never => {
    throw new ScenarioError(`--${spec.flag}: ${why}, got ${JSON.stringify(text)}`);
  };
  switch (spec.kind) {
    case 'string':
    case 'protocol':
      return text;
    case 'integer':
      return /^\d+$/.test(text) ? Number(text) : fail('expected a non-negative integer');
    case 'fraction':
      return /^\d+(\.\d+)?$/.test(text) ? Number(text) : fail('expected a fraction such as 0.01');
    case 'budget':
      return text === 'none' ? null : /^\d+$/.test(text) ? Number(text) : fail('expected an integer or "none"');
    case 'duration':
      try {
        return parseDuration(text);
      } catch (error) {
        return fail((error as Error).message);
      }
    case 'codes':
      return /^\d{1,3}(,\d{1,3})*$/.test(text) ? text.split(',').map(Number) : fail('expected exit codes separated by commas, such as 0,143');
    case 'cap':
    case 'size':
      if (spec.kind === 'cap' && text === 'none') return null;
      try {
        return parseSize(text);
      } catch (error) {
        throw new ScenarioError(`--${spec.flag}: ${(error as Error).message}`);
      }
    case 'true':
      return true;
    case 'false':
      return false;
  }
}

export interface ParsedRunArgs {
  readonly help: boolean;
  readonly scenarioFile: string | null;
  /** Flag values in the scenario-file shape, ready to merge over the file. */
  readonly overrides: Raw;
  readonly reportDir: string | null;
  readonly quiet: boolean;
}

/** Parse the arguments after `run`: at most one scenario file, then flags in any order. */
export function parseRunArgs(argv: readonly string[]): ParsedRunArgs {
  const byName = new Map(runFlags.map((f) => [f.flag, f]));
  const overrides: Raw = {};
  let scenarioFile: string | null = null;
  let reportDir: string | null = null;
  let quiet = false;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    if (!arg.startsWith('--')) {
      if (scenarioFile !== null) throw new ScenarioError(`unexpected argument "${arg}": only one scenario file per run (already have ${scenarioFile})`);
      scenarioFile = arg;
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    const takeValue = (): string => {
      const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined || value === '') throw new ScenarioError(`--${name} needs a value (see --help)`);
      return value;
    };
    if (name === 'report') {
      reportDir = takeValue();
      continue;
    }
    if (name === 'quiet') {
      quiet = true;
      continue;
    }
    const spec = byName.get(name);
    if (spec === undefined) throw new ScenarioError(`unknown option --${name} (see portico-harness run --help)`);
    const takesValue = spec.kind !== 'true' && spec.kind !== 'false';
    if (!takesValue && eq >= 0) throw new ScenarioError(`--${name} takes no value`);
    setPath(overrides, spec.path, flagValue(spec, takesValue ? takeValue() : ''));
  }
  return { help, scenarioFile, overrides, reportDir, quiet };
}

function setPath(target: Raw, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    node = isObject(next) ? next : (node[key] = {});
  }
  node[path[path.length - 1]!] = value;
}

/** Overrides win field by field; nested objects (flood, thresholds) merge, everything else replaces. */
function mergeOverrides(base: Raw, overrides: Raw): Raw {
  const out: Raw = { ...base };
  for (const [key, value] of Object.entries(overrides)) {
    const current = out[key];
    out[key] = isObject(value) && isObject(current) ? mergeOverrides(current, value) : value;
  }
  // --memory-cap replaces the file's cap, whichever of the two fields the file used.
  if ('memoryCapBytes' in overrides) delete out['memoryCap'];
  return out;
}

/** Read a scenario file (JSON) with clear errors for a missing file or bad JSON. */
export async function readScenarioFile(path: string): Promise<Raw> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ScenarioError(`cannot read scenario file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ScenarioError(`${path}: not valid JSON: ${(error as Error).message}`);
  }
  if (!isObject(value)) throw new ScenarioError(`${path}: expected a JSON object at the top level`);
  return value;
}

/** Everything `run` needs, from its arguments: the file (if any), flags over it, defaults under both. */
export async function resolveRunRequest(parsed: ParsedRunArgs): Promise<RunRequest> {
  const fileRaw = parsed.scenarioFile === null ? {} : await readScenarioFile(parsed.scenarioFile);
  if (parsed.scenarioFile === null && parsed.overrides['server'] === undefined) {
    throw new ScenarioError('nothing to run: give a scenario file or --server "<command line>" (see portico-harness run --help)');
  }
  const where = parsed.scenarioFile === null ? 'flags' : Object.keys(parsed.overrides).length > 0 ? `${parsed.scenarioFile} + flags` : parsed.scenarioFile;
  const nameHint = parsed.scenarioFile === null ? undefined : basename(parsed.scenarioFile).replace(/\.json$/, '');
  const scenario = buildScenario(mergeOverrides(fileRaw, parsed.overrides), where, nameHint);
  return { scenario, reportDir: parsed.reportDir ?? `reports/${scenario.name}`, quiet: parsed.quiet };
}
