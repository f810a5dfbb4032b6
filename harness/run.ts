/**
 * One harness run, start to finish: cap memory, launch the server, wait for its ready line, sample
 * TIME_WAIT while the flood runs, stop the server, collect what its detectors wrote, judge every
 * check, and write the report. Whatever goes wrong (ctrl-c included), the server is stopped, the
 * temporary files removed, and a report still written.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { runFlood } from './flood/flood.js';
import { createProgressReporter } from './flood/progress-line.js';
import {
  type LaunchedServer,
  type ReadyLine,
  isNodeCommand,
  launchServer,
  leakAfterMs,
  serverEnvironment,
  withPortArgument,
} from './launcher.js';
import { type ReadFindings, readLeakFindings, readLockFindings } from './lock-report-reader.js';
import { type MemoryCap, prepareMemoryCap } from './memory-cap.js';
import { formatSummary } from './report/summary.js';
import { writeReport } from './report/write-report.js';
import { TimeWaitSampler } from './time-wait.js';
import type { CheckResult, FloodResult, LeakFinding, LockFinding, MemoryResult, RunReport, Scenario, ServerExit, TimeWaitResult } from './types.js';

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
}

export interface RunOutcome {
  readonly report: RunReport;
  readonly jsonPath: string;
  readonly htmlPath: string;
}

/** What the run observed; the checks are judged from this alone. */
export interface RunFacts {
  readonly ready: ReadyLine | null;
  readonly readyMs: number | null;
  readonly flood: FloodResult | null;
  /** Why the flood was cut short by the harness (server exit, ctrl-c), if it was. */
  readonly floodStoppedBecause: string | null;
  readonly timeWait: TimeWaitResult | null;
  readonly memory: MemoryResult | null;
  readonly locks: ReadFindings<LockFinding>;
  readonly leaks: ReadFindings<LeakFinding>;
  readonly leakCheckPossible: boolean;
  readonly exit: ServerExit | null;
  readonly exitedBeforeStop: boolean;
}

const noFindings = <T>(): ReadFindings<T> => ({ findings: [], problems: [] });

/** Wildcard listeners are flooded over 127.0.0.1; anything else goes as-is to the flood's loopback guard. */
function floodHost(readyHost: string): string {
  return ['', '0.0.0.0', '::', '[::]'].includes(readyHost) ? '127.0.0.1' : readyHost;
}

const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));

export async function runScenario(scenario: Scenario, options: RunOptions): Promise<RunOutcome> {
  const startedAt = new Date();
  const t0 = performance.now();
  const serverCommand = withPortArgument(scenario.server);
  const leakCheckPossible = scenario.leakCheck && isNodeCommand(scenario.server);
  const work = await mkdtemp(join(tmpdir(), 'portico-harness-'));
  const lockPath = join(work, 'lockdep.jsonl');
  const leakPath = join(work, 'leaks.jsonl');

  let cap: MemoryCap | null = null;
  let server: LaunchedServer | null = null;
  let sampler: TimeWaitSampler | null = null;
  let ready: ReadyLine | null = null;
  let readyMs: number | null = null;
  let flood: FloodResult | null = null;
  let floodStoppedBecause: string | null = null;
  let timeWait: TimeWaitResult | null = null;
  let memory: MemoryResult | null = null;
  let exit: ServerExit | null = null;
  let locks = noFindings<LockFinding>();
  let leaks = noFindings<LeakFinding>();
  const errors: string[] = [];

  try {
    cap = await prepareMemoryCap(scenario.memoryCapBytes);
    server = await launchServer({
      argv: cap.wrapCommand(serverCommand),
      env: serverEnvironment({
        lockReportPath: scenario.lockOrder ? lockPath : null,
        leakReportPath: leakCheckPossible ? leakPath : null,
        leakAfterMs: leakAfterMs(scenario.thresholds.stopDeadlineMs),
      }),
      readyTimeoutMs: scenario.readyTimeoutMs,
      ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
    });
    cap.attach(server.pid);
    ready = await server.ready();
    readyMs = Math.round(performance.now() - t0);

    sampler = new TimeWaitSampler(ready.port, { netns: options.inNetns ?? false });
    sampler.start();
    const result = await floodWhileAlive(server, scenario, ready, options);
    flood = result.flood;
    floodStoppedBecause = result.stoppedBecause;
  } catch (error) {
    errors.push(message(error));
  } finally {
    // Each step on its own: one failing must not leave the server running or the files behind.
    if (server !== null) exit = await server.stop(scenario.thresholds.stopDeadlineMs);
    if (sampler !== null) timeWait = sampler.stop();
    if (cap !== null) {
      try {
        memory = cap.stop();
      } catch (error) {
        errors.push(`memory cap: ${message(error)}`);
      }
    }
    if (scenario.lockOrder) locks = await readLockFindings(lockPath);
    if (leakCheckPossible) leaks = await readLeakFindings(leakPath);
    await cap?.cleanup().catch((error: unknown) => errors.push(`memory cap cleanup: ${message(error)}`));
    await rm(work, { recursive: true, force: true });
  }
  if (options.signal?.aborted === true && !errors.some((e) => e.startsWith('interrupted'))) errors.push('interrupted (ctrl-c)');

  const facts: RunFacts = {
    ready,
    readyMs,
    flood,
    floodStoppedBecause,
    timeWait,
    memory,
    locks,
    leaks,
    leakCheckPossible,
    exit,
    exitedBeforeStop: server?.exitedBeforeStop ?? false,
  };
  const checks = judgeRun(scenario, facts);
  const report: RunReport = {
    scenario: scenario.name,
    serverCommand,
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
    pass: errors.length === 0 && checks.every((c) => c.pass),
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
  ready: ReadyLine,
  options: RunOptions,
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
      { ...scenario.flood, host: floodHost(ready.host), port: ready.port },
      { signal: stop.signal, ...(progress !== null ? { onProgress: (p) => progress.update(p) } : {}) },
    );
    return { flood, stoppedBecause };
  } finally {
    progress?.done();
    options.signal?.removeEventListener('abort', onInterrupt);
  }
}

// ---- checks -----------------------------------------------------------------------------------------

const mib = (bytes: number): string => `${(bytes / 1048576).toFixed(1)} MiB`;
const check = (name: string, pass: boolean, detail: string): CheckResult => ({ name, pass, detail });
const howExited = (e: ServerExit): string => (e.signal !== null ? `signal ${e.signal}` : `code ${e.code}`);

/** Every check of a run, in report order; each says why it passed or failed. */
export function judgeRun(scenario: Scenario, facts: RunFacts): CheckResult[] {
  return [
    check('server ready', facts.ready !== null, facts.ready !== null ? `"${facts.ready.server}" listening on ${facts.ready.host}:${facts.ready.port} after ${facts.readyMs} ms` : 'no ready line (see error)'),
    judgeFlood(scenario, facts),
    judgeTimeWait(scenario, facts.timeWait),
    judgeMemory(facts.memory),
    judgeLocks(scenario, facts.locks),
    judgeLeaks(scenario, facts),
    judgeExit(scenario, facts),
  ];
}

function judgeFlood(scenario: Scenario, facts: RunFacts): CheckResult {
  const name = 'flood errors';
  const f = facts.flood;
  if (f === null) return check(name, false, 'the flood did not run');
  const cut = (f.errors['ABORTED'] ?? 0) + (f.errors['CAPPED'] ?? 0);
  const bad = f.connectionsFailed + f.connectionsReset + f.connectionsBad + cut;
  const allowed = Math.floor(scenario.thresholds.errorBudget * f.connectionsPlanned);
  const parts = `${f.connectionsFailed} failed, ${f.connectionsReset} reset, ${f.connectionsBad} bad, ${cut} cut off`;
  const codes = Object.entries(f.errors).map(([code, n]) => `${code}×${n}`).join(' ');
  const summary = `${bad} of ${f.connectionsPlanned} connections in error (${parts}); budget ${allowed}${codes ? `; codes: ${codes}` : ''}`;
  const started = f.connectionsMade + f.connectionsFailed;
  if (facts.floodStoppedBecause !== null) return check(name, false, `flood stopped early, ${started} of ${f.connectionsPlanned} connections started: ${facts.floodStoppedBecause}; ${summary}`);
  if (f.cappedByDuration) return check(name, false, `flood hit its duration cap (${scenario.flood.durationCapMs} ms); ${summary}`);
  return check(name, bad <= allowed, summary);
}

function judgeTimeWait(scenario: Scenario, tw: TimeWaitResult | null): CheckResult {
  const name = 'TIME_WAIT';
  const budget = scenario.thresholds.timeWaitBudget;
  if (tw === null) return check(name, budget === null, 'not sampled (the flood did not start)');
  const seen = `peak server-side ${tw.peak.server}, client-side ${tw.peak.client}${tw.netns ? ' (own network namespace)' : ' (host namespace)'}`;
  if (budget === null) return check(name, true, `not checked (no budget); ${seen}`);
  return check(name, tw.peak.server <= budget, `${seen}; budget ${budget} server-side`);
}

function judgeMemory(memory: MemoryResult | null): CheckResult {
  const name = 'memory cap';
  if (memory === null) return check(name, false, 'memory was not watched (see error)');
  const peak = `peak RSS ${mib(memory.peakRssBytes)}`;
  if (memory.capBytes === null) return check(name, true, `no cap; ${peak}`);
  const how = `${memory.method}${memory.note !== undefined ? `; ${memory.note}` : ''}`;
  if (memory.killedByCap) return check(name, false, `killed by the ${mib(memory.capBytes)} cap; ${peak} (${how})`);
  return check(name, true, `${peak} of ${mib(memory.capBytes)} cap (${how})`);
}

function judgeLocks(scenario: Scenario, locks: ReadFindings<LockFinding>): CheckResult {
  const name = 'lock order';
  if (!scenario.lockOrder) return check(name, true, 'not enabled (lockOrder: false)');
  const tolerated = (f: LockFinding): boolean => f.kind === 'inversion' && f.singleTask && !scenario.thresholds.failOnSingleTaskInversion;
  const failing = locks.findings.filter((f) => !tolerated(f));
  const ignored = locks.findings.length - failing.length;
  const describe = (f: LockFinding): string => `${f.kind}${f.singleTask ? ' (single task)' : ''}: ${f.cycle.join(' => ')}`;
  const parts = [
    ...failing.map(describe),
    ...locks.problems.map((p) => `unreadable report: ${p}`),
    ...(ignored > 0 ? [`${ignored} single-task inversion(s) tolerated`] : []),
  ];
  const pass = failing.length === 0 && locks.problems.length === 0;
  return check(name, pass, parts.length > 0 ? parts.join('; ') : 'no findings (PORTICO_LOCKDEP=1)');
}

function judgeLeaks(scenario: Scenario, facts: RunFacts): CheckResult {
  const name = 'leaks';
  if (!scenario.leakCheck) return check(name, true, 'not enabled (leakCheck: false)');
  if (!facts.leakCheckPossible) return check(name, true, `skipped: "${scenario.server[0]}" is not node, so the preload cannot go in`);
  const { findings, problems } = facts.leaks;
  if (findings.length > 0 || problems.length > 0) {
    const parts = [
      ...findings.map((f) => `still alive after SIGTERM: ${f.resources.join(', ') || '(no resources listed)'}`),
      ...problems.map((p) => `unreadable report: ${p}`),
    ];
    return check(name, false, parts.join('; '));
  }
  if (facts.exit?.killed === true) return check(name, true, 'no leak report, but the server was SIGKILLed before one (a blocked event loop cannot report)');
  return check(name, true, 'nothing kept the server alive after SIGTERM');
}

function judgeExit(scenario: Scenario, facts: RunFacts): CheckResult {
  const name = 'clean exit';
  const e = facts.exit;
  const t = scenario.thresholds;
  if (e === null) return check(name, false, 'the server never started');
  let verdict: { pass: boolean; detail: string };
  if (facts.ready === null) {
    verdict = { pass: false, detail: `never became ready; ${facts.exitedBeforeStop ? 'exited by itself' : `stopped ${e.stopMs} ms after SIGTERM`}: ${howExited(e)}${e.killed ? ' (SIGKILLed)' : ''}` };
  } else if (facts.exitedBeforeStop) {
    const capped = facts.memory?.killedByCap === true ? ' (killed by the memory cap)' : '';
    verdict = { pass: false, detail: `exited before the harness stopped it: ${howExited(e)}${capped}` };
  } else if (e.killed) {
    verdict = { pass: false, detail: `still running ${t.stopDeadlineMs} ms after SIGTERM; SIGKILLed` };
  } else if (e.clean) {
    verdict = { pass: true, detail: `exit 0 ${e.stopMs} ms after SIGTERM` };
  } else if (e.signal === 'SIGTERM' && t.acceptSignalExit) {
    verdict = { pass: true, detail: `terminated by SIGTERM after ${e.stopMs} ms (accepted: acceptSignalExit, a server with no SIGTERM handler)` };
  } else {
    const hint = e.signal === 'SIGTERM' ? ' (no SIGTERM handler? see --accept-signal-exit)' : '';
    verdict = { pass: false, detail: `${howExited(e)} ${e.stopMs} ms after SIGTERM${hint}` };
  }
  if (!t.mustExitClean) return check(name, true, `not required (mustExitClean: false); ${verdict.detail}`);
  return check(name, verdict.pass, verdict.detail);
}
