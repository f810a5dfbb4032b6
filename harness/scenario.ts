/**
 * Turns a scenario file and/or `portico-harness run` flags into one validated Scenario with every
 * default filled in. Flags override the file, field by field, so a CI scenario can be re-run with
 * one knob changed. Every error names the field (or flag) and what was expected.
 */
import { constants } from 'node:os';
import { basename, dirname } from 'node:path';
import { hasPortPlaceholder } from './launcher.js';
import { parseSize } from './memory-cap.js';
import { createProtocolClient } from './flood/create-protocol-client.js';
import { MAX_WORKERS } from './flood/flood-options.js';
import type { FloodProtocolClient } from './flood/protocol-client.js';
import { RawProtocolClient, rawOptionKeys } from './flood/raw-client.js';
import { capturesPort, parseReadySpec } from './readiness.js';
import type { FloodProtocol, ReadySpec, Scenario, Thresholds } from './types.js';

/** A bad scenario file or flag; `main` prints the message and exits 2. */
export class ScenarioError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScenarioError';
  }
}

export const protocols: readonly FloodProtocol[] = ['echo', 'owserver', 'websocket', 'raw'];

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
  durationMs: null,
  warmupMs: 0,
  rate: 0,
  workers: 1,
};

/** With durationMs and no explicit cap, the cap leaves this much past the planned end. */
const durationCapSlackMs = 60_000;

export const defaultThresholds: Omit<Thresholds, 'earlyStop'> = {
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

export type Raw = Record<string, unknown>;

export const isObject = (value: unknown): value is Raw => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The fields a scenario file may have, by level (anything else is an error: typos must not pass). */
export const scenarioFields = {
  top: ['name', 'description', 'server', 'ready', 'portArg', 'flood', 'memoryCap', 'memoryCapBytes', 'lockOrder', 'leakCheck', 'netns', 'readyTimeoutMs', 'stopSignal', 'thresholds'],
  flood: ['protocol', 'connections', 'concurrency', 'messages', 'size', 'sendAfterReceive', 'connectRate', 'durationCapMs', 'connectionTimeoutMs', 'protocolOptions', 'durationMs', 'warmupMs', 'rate', 'workers'],
  thresholds: ['errorBudget', 'timeWaitBudget', 'mustExitClean', 'stopDeadlineMs', 'failOnSingleTaskInversion', 'acceptSignalExit', 'acceptExitCodes', 'earlyStop'],
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
  const durationMs = floodRaw['durationMs'] == null ? null : v.integer(floodRaw['durationMs'], 'flood.durationMs', 0, 1);
  const warmupMs = v.integer(floodRaw['warmupMs'], 'flood.warmupMs', defaultFlood.warmupMs, 0);
  // A --duration run renews connections until its end: no count limit unless one is given.
  const unlimitedUnlessGiven = (field: 'connections' | 'messages', min: number): number | null =>
    floodRaw[field] == null && durationMs !== null ? null : v.integer(floodRaw[field], `flood.${field}`, defaultFlood[field] ?? 0, min);
  const plannedMs = durationMs === null ? 0 : warmupMs + durationMs;
  const durationCapMs = v.integer(floodRaw['durationCapMs'], 'flood.durationCapMs', Math.max(defaultFlood.durationCapMs, plannedMs + durationCapSlackMs), 1);
  if (durationCapMs < plannedMs) v.fail('flood.durationCapMs', `${durationCapMs} ms is shorter than the warm-up plus the duration (${plannedMs} ms): raise it or leave it out`);
  const floodAsGiven: Scenario['flood'] = {
    protocol: protocol as FloodProtocol,
    connections: unlimitedUnlessGiven('connections', 1),
    concurrency: v.integer(floodRaw['concurrency'], 'flood.concurrency', defaultFlood.concurrency, 1),
    messages: unlimitedUnlessGiven('messages', 0),
    size: v.integer(floodRaw['size'], 'flood.size', defaultFlood.size, 1),
    sendAfterReceive: v.boolean(floodRaw['sendAfterReceive'], 'flood.sendAfterReceive', defaultFlood.sendAfterReceive),
    connectRate: v.integer(floodRaw['connectRate'], 'flood.connectRate', defaultFlood.connectRate, 0),
    durationCapMs,
    connectionTimeoutMs: v.integer(floodRaw['connectionTimeoutMs'], 'flood.connectionTimeoutMs', defaultFlood.connectionTimeoutMs, 1),
    durationMs,
    warmupMs,
    rate: v.integer(floodRaw['rate'], 'flood.rate', defaultFlood.rate, 0),
    workers: v.integer(floodRaw['workers'], 'flood.workers', defaultFlood.workers, 1),
    ...protocolOptions(floodRaw['protocolOptions'], v),
  };
  const flood = checkProtocol(floodAsGiven, floodRaw, v);
  if (flood.workers > MAX_WORKERS) v.fail('flood.workers', `at most ${MAX_WORKERS}, got ${flood.workers}`);
  if (flood.messages === null && !flood.sendAfterReceive && flood.rate === 0) {
    v.fail('flood.sendAfterReceive', 'pipelining (--pipeline) in a --duration run needs --messages or --rate, or it would write without end');
  }

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
    earlyStop: v.boolean(thresholdsRaw['earlyStop'], 'thresholds.earlyStop', durationMs !== null),
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

/**
 * The protocol's options, checked by building its client now (a typo is exit 2, not a failed run).
 * A raw flood's message is its --send payload, so its size is the payload's.
 */
function checkProtocol(flood: Scenario['flood'], floodRaw: Raw, v: Validator): Scenario['flood'] {
  const options = flood.protocolOptions ?? {};
  if (flood.protocol === 'raw') {
    if (floodRaw['size'] !== undefined) v.fail('flood.size', 'a raw message is the --send payload, so --size does not apply');
  } else {
    const rawOnly = Object.keys(options).filter((key) => rawOptionKeys.includes(key));
    if (rawOnly.length > 0) v.fail(`flood.protocolOptions.${rawOnly[0]}`, `only for --protocol raw (--send, --expect-bytes, --expect-regex, --max-reply); this flood's protocol is ${flood.protocol}`);
  }
  let client: FloodProtocolClient;
  try {
    client = createProtocolClient({ ...flood, host: '127.0.0.1', port: 1 });
  } catch (error) {
    return v.fail('flood.protocolOptions', (error as Error).message);
  }
  return client instanceof RawProtocolClient ? { ...flood, size: client.settings.payload.length } : flood;
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
