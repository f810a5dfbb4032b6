/**
 * The `portico-harness run` command line: one table of flags (which `--help` is generated from, so
 * the two cannot drift), each flag landing on a field of the scenario file's shape, so flags and
 * files go through the same validation (scenario.ts). Values that need a unit get one: sizes take
 * K/M/G, and durations must say ms, s or m.
 */
import { parseSize } from './memory-cap.js';
import { type Raw, ScenarioError, defaultFlood, defaultReadyTimeoutMs, defaultStopSignal, defaultThresholds, isObject } from './scenario.js';
import type { FloodProtocol } from './types.js';

interface FlagSpec {
  readonly flag: string;
  /** Where the value lands in the raw scenario: ['flood', 'connections']. */
  readonly path: readonly string[];
  readonly kind: 'string' | 'integer' | 'fraction' | 'duration' | 'size' | 'cap' | 'true' | 'false' | 'protocol' | 'budget' | 'codes';
  readonly arg?: string;
  readonly help: string;
  /**
   * The one flood protocol the flag applies to, when its field means something else to another
   * protocol (owserver reads `protocolOptions.path` as an owfs path): given with another protocol, the
   * flag is refused by name.
   */
  readonly protocol?: FloodProtocol;
}

/** Every `run` flag; `--help` is generated from this table, so it cannot drift from the parser. */
export const runFlags: readonly FlagSpec[] = [
  { flag: 'server', path: ['server'], kind: 'string', arg: '"<command line>"', help: 'server command; each {port} in it becomes a free port the harness picks' },
  { flag: 'ready', path: ['ready'], kind: 'string', arg: '<line|port:N|regex:RE>', help: "when the server is ready: portico's JSON line (default), port N listening by the server's processes, or an output line matching RE" },
  { flag: 'port-arg', path: ['portArg'], kind: 'true', help: 'append `--port 0` to the command unless it names a port (--port, -p)' },
  { flag: 'name', path: ['name'], kind: 'string', arg: '<name>', help: 'scenario name (default: the file\'s "name", else from the server script)' },
  { flag: 'protocol', path: ['flood', 'protocol'], kind: 'protocol', arg: '<echo|owserver|websocket|raw>', help: `flood protocol (default: ${defaultFlood.protocol})` },
  { flag: 'send', path: ['flood', 'protocolOptions', 'send'], kind: 'string', arg: '<TEXT|hex:HEX|@file>', help: 'raw: the bytes of each message; TEXT takes \\r \\n \\t \\0 \\\\ \\xNN escapes' },
  { flag: 'expect-bytes', path: ['flood', 'protocolOptions', 'expectBytes'], kind: 'integer', arg: '<n>', help: 'raw: a reply is the next n bytes' },
  { flag: 'expect-regex', path: ['flood', 'protocolOptions', 'expectRegex'], kind: 'string', arg: '<RE>', help: 'raw: a reply is complete once RE matches the bytes received since the send' },
  { flag: 'max-reply', path: ['flood', 'protocolOptions', 'maxReplyBytes'], kind: 'size', arg: '<size>', help: 'raw: --expect-regex must match within this many bytes of a reply, else REPLY_TOO_LONG (default: 64K)' },
  { flag: 'ws-path', path: ['flood', 'protocolOptions', 'path'], kind: 'string', arg: '<path>', protocol: 'websocket', help: "websocket: the request path of the upgrade, e.g. /echo for portico-websocket (default: /)" },
  { flag: 'connections', path: ['flood', 'connections'], kind: 'integer', arg: '<n>', help: `connections in total (default: ${defaultFlood.connections}; with --duration: no limit)` },
  { flag: 'concurrency', path: ['flood', 'concurrency'], kind: 'integer', arg: '<n>', help: `connections open at once (default: ${defaultFlood.concurrency})` },
  { flag: 'messages', path: ['flood', 'messages'], kind: 'integer', arg: '<n>', help: `messages per connection (default: ${defaultFlood.messages}; with --duration: no limit)` },
  { flag: 'size', path: ['flood', 'size'], kind: 'size', arg: '<bytes>', help: `bytes per message, e.g. 512 or 4K (default: ${defaultFlood.size})` },
  { flag: 'pipeline', path: ['flood', 'sendAfterReceive'], kind: 'false', help: 'send all messages at once instead of waiting for each reply' },
  { flag: 'connect-rate', path: ['flood', 'connectRate'], kind: 'integer', arg: '<n/s>', help: 'new connections per second, on an absolute schedule; 0 = no limit (default: 0)' },
  { flag: 'duration', path: ['flood', 'durationMs'], kind: 'duration', arg: '<duration>', help: 'flood this long after the warm-up, renewing connections; the end is normal, not an error (default: until --connections are done)' },
  { flag: 'warmup', path: ['flood', 'warmupMs'], kind: 'duration', arg: '<duration>', help: 'first part of the flood whose messages, bytes and latencies are not counted (default: 0s)' },
  { flag: 'rate', path: ['flood', 'rate'], kind: 'integer', arg: '<msgs/s>', help: 'total messages per second, spread over the --concurrency connections on a constant schedule; latency from each intended send time (coordinated omission corrected, as wrk2) (default: 0 = no pacing)' },
  { flag: 'workers', path: ['flood', 'workers'], kind: 'integer', arg: '<n>', help: 'worker threads running the connections, so the client is not the bottleneck (default: 1 = the main thread)' },
  { flag: 'duration-cap', path: ['flood', 'durationCapMs'], kind: 'duration', arg: '<duration>', help: `hard cap on the flood, a failure, e.g. 60s (default: ${defaultFlood.durationCapMs / 1000}s, or --warmup + --duration + 60s)` },
  { flag: 'connection-timeout', path: ['flood', 'connectionTimeoutMs'], kind: 'duration', arg: '<duration>', help: `deadline per connection; per reply with --rate, or with --duration and no --messages (default: ${defaultFlood.connectionTimeoutMs / 1000}s)` },
  { flag: 'memory-cap', path: ['memoryCapBytes'], kind: 'cap', arg: '<size|none>', help: 'kill the server past this RSS, e.g. 256M (default: no cap)' },
  { flag: 'lock-order', path: ['lockOrder'], kind: 'true', help: 'run the server with PORTICO_LOCKDEP=1 and fail on lock-order findings' },
  { flag: 'leak-check', path: ['leakCheck'], kind: 'true', help: 'require the leak check (a server it cannot be run on is INCOMPLETE; default: node servers only)' },
  { flag: 'no-leak-check', path: ['leakCheck'], kind: 'false', help: 'skip the after-stop handle check' },
  { flag: 'netns', path: ['netns'], kind: 'true', help: 'run in a fresh network namespace (unshare -n) for exact TIME_WAIT counts' },
  { flag: 'ready-timeout', path: ['readyTimeoutMs'], kind: 'duration', arg: '<duration>', help: `wait this long for the server to be ready (default: ${defaultReadyTimeoutMs / 1000}s)` },
  { flag: 'stop-signal', path: ['stopSignal'], kind: 'string', arg: '<SIG>', help: `signal that asks the server to stop, e.g. SIGUSR1 for haproxy (default: ${defaultStopSignal})` },
  { flag: 'stop-deadline', path: ['thresholds', 'stopDeadlineMs'], kind: 'duration', arg: '<duration>', help: `after the stop signal, SIGKILL past this (default: ${defaultThresholds.stopDeadlineMs / 1000}s)` },
  { flag: 'accept-exit-codes', path: ['thresholds', 'acceptExitCodes'], kind: 'codes', arg: '<n,n,…>', help: 'exit codes that count as a clean stop; death by signal N is 128+N (default: 0)' },
  { flag: 'error-budget', path: ['thresholds', 'errorBudget'], kind: 'fraction', arg: '<fraction>', help: 'failed+reset+bad connections allowed, 0.01 = 1 % (default: 0)' },
  { flag: 'early-stop', path: ['thresholds', 'earlyStop'], kind: 'true', help: 'stop the flood once the error budget is blown for certain (default: on with --duration)' },
  { flag: 'no-early-stop', path: ['thresholds', 'earlyStop'], kind: 'false', help: 'flood to the end however many connections are in error' },
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
  /** Flags given that apply to one flood protocol only, checked once the protocol is known (file or flag). */
  readonly protocolFlags: readonly { readonly flag: string; readonly protocol: FloodProtocol }[];
}

/** Parse the arguments after `run`: at most one scenario file, then flags in any order. */
export function parseRunArgs(argv: readonly string[]): ParsedRunArgs {
  const byName = new Map(runFlags.map((f) => [f.flag, f]));
  const overrides: Raw = {};
  let scenarioFile: string | null = null;
  let reportDir: string | null = null;
  let quiet = false;
  let help = false;
  const protocolFlags: { flag: string; protocol: FloodProtocol }[] = [];
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
    if (spec.protocol !== undefined) protocolFlags.push({ flag: spec.flag, protocol: spec.protocol });
  }
  return { help, scenarioFile, overrides, reportDir, quiet, protocolFlags };
}

function setPath(target: Raw, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    node = isObject(next) ? next : (node[key] = {});
  }
  node[path[path.length - 1]!] = value;
}

