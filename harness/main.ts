#!/usr/bin/env node
/**
 * portico-harness: black-box runs of a socket server (after Len Holgate's example-server tests).
 * Parses the command line, re-executes itself in a network namespace when asked, runs one scenario,
 * and turns the verdict into the exit code.
 */
import { runCompare } from './compare.js';
import { LaunchError } from './launcher.js';
import { NetnsError, insideHarnessNetns, rerunInNetns } from './netns.js';
import { runScenario } from './run.js';
import { outputFlags, parseRunArgs, runFlags } from './run-flags.js';
import { type RunRequest, resolveRunRequest } from './run-request.js';
import { ScenarioError, defaultReadyTimeoutMs, defaultThresholds, protocols, scenarioFields } from './scenario.js';

const exitPass = 0;
const exitFail = 1;
const exitUsage = 2;
/** Nothing failed, but a check the scenario asked for could not be made: not a PASS, not a FAIL. */
const exitIncomplete = 3;

function usage(): string {
  return `Usage: portico-harness run [scenario.json | report.json] [options]
       portico-harness run --server "<command line>" --protocol <${protocols.join('|')}> [options]
       portico-harness compare <before/report.json> <after/report.json> [--threshold 5%]
       portico-harness --help

Starts the server, waits until it is ready, floods it over 127.0.0.1, stops it (SIGTERM unless
--stop-signal), and checks what happened. Writes <report>/report.json and <report>/report.html and
prints a summary.
`;
}

function runHelp(): string {
  const rows: [string, string][] = [
    ...runFlags.map((f): [string, string] => [`  --${f.flag}${f.arg !== undefined ? ` ${f.arg}` : ''}`, f.help]),
    ...outputFlags.map((f): [string, string] => [`  --${f.flag}${f.arg ? ` ${f.arg}` : ''}`, f.help]),
    ['  --help', 'show this help'],
  ];
  const width = Math.max(...rows.map(([a]) => a.length)) + 2;
  return `${usage()}
A scenario file is JSON in the shape of Scenario (declared in the package's dist/harness/types.d.ts);
every field but "server" has a default, unknown fields are errors, and flags given with a file
override its fields. README.md in the package has an example, in its section
"Harness: black-box server tests"; and every report.json holds its run's full scenario, a ready-made
file to start from (provenance.scenario: \`portico-harness run report.json\` runs it again). Fields:
  ${scenarioFields.top.join(', ')}
  flood: ${scenarioFields.flood.join(', ')}
  thresholds: ${scenarioFields.thresholds.join(', ')}
"server" is an argv array or a command line; "memoryCap" a size ("256M") or use "memoryCapBytes".

Options:
${rows.map(([a, b]) => a.padEnd(width) + b).join('\n')}

The server:
  The command runs without a shell, in the current directory. Each {port} in it becomes a free
  port the harness picked; nothing is appended (--port-arg appends \`--port 0\`, the old way).
  It is ready (--ready, within ${defaultReadyTimeoutMs / 1000}s by default) when:
    line       it prints {"event":"listening","server":…,"host":…,"port":N} on stdout (portico's bins)
    port:N     port N is listening on a socket of the server's own process tree (port alone: {port}'s)
    regex:RE   a line of its stdout or stderr matches RE; the port is the group (?<port>\\d+), else {port}'s
  After the stop signal it must exit by itself within the stop deadline (${defaultThresholds.stopDeadlineMs / 1000}s by default),
  with an accepted code (--accept-exit-codes, default 0; death by signal N counts as 128+N), else
  it is SIGKILLed. Its environment is the harness's plus:
  PORTICO_LOCKDEP=1, PORTICO_LOCKDEP_REPORT   with --lock-order: the file a lock detector writes JSON
                                              lines to (portico's AsyncMutex does; see the README)
  NODE_OPTIONS=--import <leak preload>,
  PORTICO_LEAK_REPORT, PORTICO_LEAK_AFTER_MS,
  PORTICO_LEAK_SIGNAL                         for node servers unless --no-leak-check; the preload
                                              reports what is still alive at max(deadline - 1s, 80 %).
                                              A command that resolves to a script with a node
                                              shebang (an installed bin) runs as node <script>
  --netns needs root or unprivileged user namespaces, plus unshare (util-linux) and ip (iproute2).

The load:
  By default --connections connections, --concurrency at once, --messages each, then the flood ends.
  With --duration D it runs for D after --warmup W instead, renewing connections (no limit on
  --connections or --messages unless given); the end is normal, connections still open are closed
  and not counted in error. --rate N paces N messages/s in total, spread over the --concurrency
  connections on a constant schedule; latency is then measured from each message's intended send
  time (coordinated omission corrected, as wrk2) and the uncorrected service time is reported beside
  it. Nothing from the warm-up is counted in messages, bytes, throughput or latency; connections and
  errors are. --workers N runs the connections in N worker threads (the main thread only adds up).
  Latency percentiles (p50, p90, p99, p99.9, max) come from one HDR-style histogram: 3 significant
  digits from 1 µs to 60 s. A connection is "in error" if it failed to connect (refused:
  ECONNREFUSED), was reset, got a bad or missing reply, or was cut off by the duration cap or ctrl-c;
  the progress line, the flood check and the report count the same way.

The raw protocol (--protocol raw, any TCP server):
  Each message is the --send payload: TEXT with \\r \\n \\t \\0 \\\\ \\xNN escapes, hex:HEX, or @file.
  Its reply is --expect-bytes N: the next N bytes of the stream (a byte more with no message
  outstanding is UNEXPECTED_DATA); or --expect-regex RE: complete once RE matches the bytes received
  since the send (bytes after the match go to the next outstanding message, else are dropped). RE
  matches bytes: \\xNN is one byte, ASCII is itself, a non-ASCII character stands for its UTF-8
  bytes (so --send héllo --expect-regex héllo matches an echo), . and [...] match one byte (a
  non-ASCII character in [...] is refused). RE must match within --max-reply bytes (64K), else
  REPLY_TOO_LONG at once; a server that sends too little meets --connection-timeout instead.

Reports:
  report.json and report.html carry the resolved scenario (provenance.scenario, a valid scenario
  file), the harness and Node versions and the command line; every chart starts at the server's
  start. portico-harness run old/report.json --report new runs that scenario again (flags given
  override it; the new report may not replace the old one). portico-harness compare a/report.json
  b/report.json [--threshold 5%] prints the deltas of two runs and exits 1 past the threshold (see
  portico-harness compare --help).

Checks, each PASS, FAIL or NOT CHECKED (with the reason: never started, killed by the memory cap
before any stop signal, no lock detector reported in, not a node server, …):
  server ready   ready in time (--ready)
  flood errors   connections in error within --error-budget (of planned, or of started with
                 --duration); not stopped early (server gone, ctrl-c, duration cap, or --early-stop:
                 the budget was already blown, on by default with --duration)
  TIME_WAIT      peak server-side TIME_WAIT on the port within --time-wait-budget (if given)
  memory cap     not killed by --memory-cap (if given)
  lock order     a detector reported in, and no lock-order findings (with --lock-order)
  leaks          nothing kept a node server alive after the stop signal (why-is-node-running preload)
  clean exit     an accepted exit code within the stop deadline; --accept-signal-exit also accepts
                 death by the stop signal itself (a server with no handler for it)

RESULT: PASS if every requested check passed; FAIL if any check failed or the run could not happen;
INCOMPLETE if nothing failed but a requested check was NOT CHECKED.
Exit status: 0 PASS; 1 FAIL (server never ready, interrupted); 3 INCOMPLETE; 2 bad arguments or
scenario file (nothing was run, no report written).
`;
}

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(command === undefined ? usage() + '\nSee portico-harness run --help.\n' : runHelp());
    return command === undefined ? exitUsage : exitPass;
  }
  if (command === 'compare') return runCompare(rest);
  if (command !== 'run') {
    process.stderr.write(`portico-harness: unknown command "${command}" (the commands are "run" and "compare"; see --help)\n`);
    return exitUsage;
  }

  let request: RunRequest;
  try {
    const parsed = parseRunArgs(rest);
    if (parsed.help) {
      process.stdout.write(runHelp());
      return exitPass;
    }
    request = await resolveRunRequest(parsed);
  } catch (error) {
    if (error instanceof ScenarioError) {
      process.stderr.write(`portico-harness: ${error.message}\n`);
      return exitUsage;
    }
    throw error;
  }

  if (request.scenario.netns && !insideHarnessNetns()) {
    try {
      return await rerunInNetns([process.argv[1]!, ...argv]);
    } catch (error) {
      if (!(error instanceof NetnsError)) throw error;
      process.stderr.write(`portico-harness: ${error.message}\n`);
      return exitFail;
    }
  }

  // Here, not before the netns re-run: that child says it.
  if (request.notice !== null) process.stderr.write(`portico-harness: ${request.notice}\n`);

  // First ctrl-c: stop the flood, stop the server, write the report. Second: leave now (the
  // launcher's exit hook still SIGKILLs the server).
  const interrupt = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupt.signal.aborted) {
      process.stderr.write(`portico-harness: second ${signal}, exiting without a report\n`);
      process.exit(130);
    }
    process.stderr.write(`\nportico-harness: ${signal}: stopping the server and writing the report (again to quit now)\n`);
    interrupt.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const { report } = await runScenario(request.scenario, {
      reportDir: request.reportDir,
      signal: interrupt.signal,
      progress: request.quiet ? null : process.stderr,
      inNetns: insideHarnessNetns(),
      command: ['portico-harness', ...argv],
    });
    // The summary already showed report.error, once.
    return report.result === 'PASS' ? exitPass : report.result === 'INCOMPLETE' ? exitIncomplete : exitFail;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  const text = error instanceof LaunchError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.stderr.write(`portico-harness: ${text}\n`);
  process.exitCode = exitFail;
}
