#!/usr/bin/env node
/**
 * portico-harness: black-box runs of a socket server (after Len Holgate's example-server tests).
 * Parses the command line, re-executes itself in a network namespace when asked, runs one scenario,
 * and turns the verdict into the exit code.
 */
import { LaunchError } from './launcher.js';
import { NetnsError, insideHarnessNetns, rerunInNetns } from './netns.js';
import { runScenario } from './run.js';
import { type RunRequest, ScenarioError, defaultReadyTimeoutMs, defaultThresholds, outputFlags, parseRunArgs, protocols, resolveRunRequest, runFlags, scenarioFields } from './scenario.js';

const exitPass = 0;
const exitFail = 1;
const exitUsage = 2;

function usage(): string {
  return `Usage: portico-harness run [scenario.json] [options]
       portico-harness run --server "<command line>" --protocol <${protocols.join('|')}> [options]
       portico-harness --help

Starts the server, waits for its ready line, floods it over 127.0.0.1, stops it with SIGTERM, and
checks what happened. Writes <report>/report.json and <report>/report.html and prints a summary.
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
A scenario file is JSON in the shape of Scenario (harness/types.ts); every field but "server" has a
default, unknown fields are errors, and flags given with a file override its fields (see
ci/scenarios/*.json). Fields:
  ${scenarioFields.top.join(', ')}
  flood: ${scenarioFields.flood.join(', ')}
  thresholds: ${scenarioFields.thresholds.join(', ')}
"server" is an argv array or a command line; "memoryCap" a size ("256M") or use "memoryCapBytes".

Options:
${rows.map(([a, b]) => a.padEnd(width) + b).join('\n')}

The server:
  The command runs without a shell, in the current directory, with this environment plus:
  PORTICO_LOCKDEP=1, PORTICO_LOCKDEP_REPORT   with --lock-order (framework/sync writes findings there)
  NODE_OPTIONS=--import <leak preload>,
  PORTICO_LEAK_REPORT, PORTICO_LEAK_AFTER_MS  for node servers unless --no-leak-check
  It must print {"event":"listening","server":…,"host":…,"port":N} on stdout within the ready
  timeout (${defaultReadyTimeoutMs / 1000}s by default), and exit 0 by itself within the stop deadline
  (${defaultThresholds.stopDeadlineMs / 1000}s by default) of SIGTERM, else it is SIGKILLed. The leak
  preload reports what is still alive at PORTICO_LEAK_AFTER_MS = max(deadline - 1s, 80 % of it).
  --netns needs root or unprivileged user namespaces, plus unshare (util-linux) and ip (iproute2).

Checks (all must pass):
  server ready   the ready line came in time
  flood errors   failed + reset + bad + cut-off connections within --error-budget; not stopped early
  TIME_WAIT      peak server-side TIME_WAIT on the port within --time-wait-budget (if given)
  memory cap     not killed by --memory-cap
  lock order     no lock-order findings (with --lock-order)
  leaks          nothing kept a node server alive after SIGTERM (why-is-node-running preload)
  clean exit     exit 0 within the stop deadline; with --accept-signal-exit, death by SIGTERM also
                 passes (for servers with no SIGTERM handler, i.e. not built on portico)

Exit status: 0 every check passed; 1 a check failed or the run could not happen (server never
ready, interrupted); 2 bad arguments or scenario file (nothing was run, no report written).
`;
}

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(command === undefined ? usage() + '\nSee portico-harness run --help.\n' : runHelp());
    return command === undefined ? exitUsage : exitPass;
  }
  if (command !== 'run') {
    process.stderr.write(`portico-harness: unknown command "${command}" (the only command is "run"; see --help)\n`);
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
    });
    if (report.error !== undefined) process.stderr.write(`portico-harness: ${report.error}\n`);
    return report.pass ? exitPass : exitFail;
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
