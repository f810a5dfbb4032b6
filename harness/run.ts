/**
 * One harness run, start to finish: cap memory, launch the server, wait until it is ready, sample
 * TIME_WAIT while the flood runs, stop the server, collect what its detectors wrote, judge every
 * check (verdicts.ts), and write the report. Whatever goes wrong (ctrl-c included), the server is
 * stopped, the temporary files removed, and a report still written.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { runFlood } from './flood/flood.js';
import { createProgressReporter } from './flood/progress-line.js';
import {
  type LaunchedServer,
  hasPortPlaceholder,
  isNodeCommand,
  launchServer,
  leakAfterMs,
  pickFreePort,
  serverEnvironment,
  substitutePort,
  withPortArgument,
} from './launcher.js';
import { type LockReport, type ReadFindings, readLeakFindings, readLockReport } from './lock-report-reader.js';
import { type MemoryCap, prepareMemoryCap } from './memory-cap.js';
import { type NodeScript, findNodeScript, underNode } from './node-script.js';
import { waitForReadiness } from './readiness.js';
import { scenarioFile } from './scenario-file.js';
import { formatDuration } from './report/format.js';
import { provenance } from './report/provenance.js';
import { formatSummary } from './report/summary.js';
import { writeReport } from './report/write-report.js';
import { TimeWaitSampler } from './time-wait.js';
import type { FloodResult, LeakFinding, MemoryResult, Readiness, RunReport, Scenario, ServerExit, TimeWaitResult } from './types.js';
import { type RunFacts, judgeRun, runVerdict } from './verdicts.js';

export { judgeRun, runVerdict, type RunFacts } from './verdicts.js';

export interface RunOptions {
  readonly reportDir: string;
  /** ctrl-c: stop the flood, stop the server, still write the report. */
  readonly signal?: AbortSignal;
  /** Where the live progress line goes; null for none. Default process.stderr. */
  readonly progress?: NodeJS.WriteStream | null;
  /** Where the summary goes. Default process.stdout. */
  readonly out?: NodeJS.WritableStream;
  /** The server's working directory. Default process.cwd(). */
  readonly cwd?: string;
  /** The run happens inside the harness's own network namespace (see netns.ts). */
  readonly inNetns?: boolean;
  /** The command line that asked for this run, for the report (`portico-harness run …`). */
  readonly command?: readonly string[];
}

export interface RunOutcome {
  readonly report: RunReport;
  readonly jsonPath: string;
  readonly htmlPath: string;
}

const noFindings = <T>(): ReadFindings<T> => ({ findings: [], problems: [] });

/** Wildcard listeners are flooded over 127.0.0.1; anything else goes as-is to the flood's loopback guard. */
function floodHost(readyHost: string): string {
  return ['', '0.0.0.0', '::', '[::]'].includes(readyHost) ? '127.0.0.1' : readyHost;
}

const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/**
 * Whether the leak preload can watch this server stop: it goes in through NODE_OPTIONS (node only),
 * and it re-raises the stop signal, which for SIGUSR1 would open node's inspector instead.
 */
export function leakCheckPossibility(scenario: Scenario, nodeScript: NodeScript | null = null): RunFacts['leakCheck'] {
  if (!isNodeCommand(scenario.server) && nodeScript === null) {
    return { possible: false, why: `"${scenario.server[0]}" is not node, nor a script with a node shebang, so the leak preload cannot go in` };
  }
  if (scenario.stopSignal === 'SIGUSR1') return { possible: false, why: "the stop signal SIGUSR1 is node's inspector signal; the leak preload cannot watch it" };
  return { possible: true };
}

/** The argv to run: `{port}` replaced by a free port, `--port 0` appended with portArg. */
export async function resolveServerCommand(scenario: Scenario): Promise<{ argv: string[]; placeholderPort: number | null }> {
  const placeholderPort = hasPortPlaceholder(scenario.server) ? await pickFreePort() : null;
  let argv = placeholderPort === null ? [...scenario.server] : substitutePort(scenario.server, placeholderPort);
  if (scenario.portArg) argv = withPortArgument(argv);
  return { argv, placeholderPort };
}

export async function runScenario(scenario: Scenario, options: RunOptions): Promise<RunOutcome> {
  const startedAt = new Date();
  /** The time origin of the report: the server's start (reset just before the launch). */
  let t0 = performance.now();
  const cwd = options.cwd ?? process.cwd();
  // An installed bin (a node script on PATH) runs as `node <script>`, so the leak preload can go in.
  const nodeScript = scenario.leakCheck === false || isNodeCommand(scenario.server) ? null : findNodeScript(scenario.server[0]!, cwd);
  const leakCheck = scenario.leakCheck === false ? ({ possible: false, why: 'not enabled' } as const) : leakCheckPossibility(scenario, nodeScript);
  const ranUnderNode = leakCheck.possible && nodeScript !== null ? nodeScript : null;
  const work = await mkdtemp(join(tmpdir(), 'portico-harness-'));
  const lockPath = join(work, 'lockdep.jsonl');
  const leakPath = join(work, 'leaks.jsonl');

  let serverCommand: readonly string[] = scenario.server;
  let ranAs: RunReport['ranAs'] = undefined;
  let cap: MemoryCap | null = null;
  let server: LaunchedServer | null = null;
  let sampler: TimeWaitSampler | null = null;
  let ready: Readiness | null = null;
  let readyMs: number | null = null;
  let notReady: string | null = null;
  let flood: FloodResult | null = null;
  let floodStoppedBecause: string | null = null;
  let timeWait: TimeWaitResult | null = null;
  let memory: MemoryResult | null = null;
  let exit: ServerExit | null = null;
  let locks: LockReport = { ...noFindings(), detectors: [] };
  let leaks = noFindings<LeakFinding>();
  const errors: string[] = [];

  try {
    const command = await resolveServerCommand(scenario);
    serverCommand = command.argv;
    if (ranUnderNode !== null) {
      const why = `${scenario.server[0]} is a node script (${ranUnderNode.shebang}), run under node so the leak preload could go in`;
      ranAs = { argv: underNode(ranUnderNode, serverCommand), why };
    }
    cap = await prepareMemoryCap(scenario.memoryCapBytes);
    t0 = performance.now();
    server = await launchServer({
      argv: cap.wrapCommand(ranAs?.argv ?? serverCommand),
      displayArgv: serverCommand,
      env: serverEnvironment({
        lockReportPath: scenario.lockOrder ? lockPath : null,
        leakReportPath: leakCheck.possible ? leakPath : null,
        leakAfterMs: leakAfterMs(scenario.thresholds.stopDeadlineMs),
        stopSignal: scenario.stopSignal,
      }),
      cwd,
    });
    cap.attach(server.pid, t0);
    try {
      ready = await waitForReadiness(server, {
        spec: scenario.ready,
        placeholderPort: command.placeholderPort,
        timeoutMs: scenario.readyTimeoutMs,
        serverName: scenario.name,
        ...(options.signal !== undefined ? { signal: options.signal } : {}),
      });
    } catch (error) {
      notReady = server.hasExited
        ? 'it exited before it was ready'
        : options.signal?.aborted === true
          ? 'interrupted before it was ready'
          : `it was not ready within ${formatDuration(scenario.readyTimeoutMs)}`;
      throw error;
    }
    readyMs = Math.round(performance.now() - t0);

    sampler = new TimeWaitSampler(ready.port, { netns: options.inNetns ?? false, origin: t0 });
    sampler.start();
    const result = await floodWhileAlive(server, scenario, ready, options, performance.timeOrigin + t0);
    flood = result.flood;
    floodStoppedBecause = result.stoppedBecause;
  } catch (error) {
    if (server === null) notReady = 'it could not be started';
    errors.push(message(error));
  } finally {
    // Each step on its own: one failing must not leave the server running or the files behind.
    if (server !== null) exit = await server.stop(scenario.thresholds.stopDeadlineMs, scenario.stopSignal);
    if (sampler !== null) timeWait = sampler.stop();
    if (cap !== null) {
      try {
        memory = cap.stop();
      } catch (error) {
        errors.push(`memory cap: ${message(error)}`);
      }
    }
    if (scenario.lockOrder) locks = await readLockReport(lockPath);
    if (leakCheck.possible) leaks = await readLeakFindings(leakPath);
    await cap?.cleanup().catch((error: unknown) => errors.push(`memory cap cleanup: ${message(error)}`));
    await rm(work, { recursive: true, force: true });
  }
  if (options.signal?.aborted === true && !errors.some((e) => e.startsWith('interrupted'))) errors.push('interrupted (ctrl-c)');

  const facts: RunFacts = {
    ready,
    readyMs,
    notReady,
    flood,
    floodStoppedBecause,
    timeWait,
    memory,
    locks,
    leaks,
    leakCheck,
    exit,
    exitedBeforeStop: server?.exitedBeforeStop ?? false,
  };
  const checks = judgeRun(scenario, facts);
  const result = runVerdict(checks, errors);
  const report: RunReport = {
    scenario: scenario.name,
    provenance: provenance(options.command ?? null, scenarioFile(scenario)),
    serverCommand,
    ...(ranAs !== undefined ? { ranAs } : {}),
    ready,
    startedAt: startedAt.toISOString(),
    durationMs: Math.round(performance.now() - t0),
    flood,
    timeWait,
    memory,
    locks: locks.findings,
    leaks: leaks.findings,
    exit,
    checks,
    result,
    pass: result === 'PASS',
    ...(errors.length > 0 ? { error: errors.join('\n') } : {}),
  };
  const paths = await writeReport(options.reportDir, report);
  const out = options.out ?? process.stdout;
  const summary = formatSummary(report);
  out.write(summary.endsWith('\n') ? summary : summary + '\n');
  out.write(`report: ${paths.jsonPath}\n        ${paths.htmlPath}\n`);
  return { report, ...paths };
}

/** Run the flood, cut short if the server dies or the user interrupts. */
async function floodWhileAlive(
  server: LaunchedServer,
  scenario: Scenario,
  ready: Readiness,
  options: RunOptions,
  timeOrigin: number,
): Promise<{ flood: FloodResult; stoppedBecause: string | null }> {
  const stop = new AbortController();
  let stoppedBecause: string | null = null;
  const stopFlood = (why: string): void => {
    stoppedBecause ??= why;
    stop.abort();
  };
  const onInterrupt = (): void => stopFlood('interrupted (ctrl-c)');
  if (options.signal?.aborted === true) onInterrupt();
  options.signal?.addEventListener('abort', onInterrupt, { once: true });
  void server.exited.then((e) => stopFlood(`the server exited during the flood (${e.signal !== null ? `signal ${e.signal}` : `code ${e.code}`})`));
  const progressStream = options.progress === undefined ? process.stderr : options.progress;
  const progress = progressStream === null ? null : createProgressReporter(progressStream);
  try {
    const flood = await runFlood(
      {
        ...scenario.flood,
        host: floodHost(ready.host),
        port: ready.port,
        earlyStopBudget: scenario.thresholds.earlyStop ? scenario.thresholds.errorBudget : null,
      },
      { signal: stop.signal, timeOrigin, ...(progress !== null ? { onProgress: (p) => progress.update(p) } : {}) },
    );
    return { flood, stoppedBecause };
  } finally {
    progress?.done();
    options.signal?.removeEventListener('abort', onInterrupt);
  }
}

