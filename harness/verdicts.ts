/**
 * Judges a run from what it observed (RunFacts), check by check, and the run as a whole. A check
 * says PASS or FAIL only when the harness actually looked; when it could not (the server never
 * started, the memory cap killed it before any stop signal, no lock detector reported in, the leak
 * preload cannot go into a non-node server), the verdict is NOT CHECKED with the reason. A run is
 * PASS only if every check the scenario asked for passed; a requested check that could not be made
 * makes it INCOMPLETE, never PASS.
 */
import { constants } from 'node:os';
import type { LockReport } from './lock-report-reader.js';
import type { ReadFindings } from './lock-report-reader.js';
import { formatDuration } from './report/format.js';
import type { CheckResult, CheckVerdict, FloodResult, LeakFinding, LockFinding, MemoryResult, Readiness, RunVerdict, Scenario, ServerExit, TimeWaitResult } from './types.js';

/** What the run observed; the checks are judged from this alone. */
export interface RunFacts {
  readonly ready: Readiness | null;
  readonly readyMs: number | null;
  /** Why the server never became ready ("it was not ready within 10 s"); null when it did. */
  readonly notReady: string | null;
  readonly flood: FloodResult | null;
  /** Why the flood was cut short by the harness (server exit, ctrl-c), if it was. */
  readonly floodStoppedBecause: string | null;
  readonly timeWait: TimeWaitResult | null;
  readonly memory: MemoryResult | null;
  readonly locks: LockReport;
  readonly leaks: ReadFindings<LeakFinding>;
  /** Whether the leak preload could go into this server, and if not why. */
  readonly leakCheck: { readonly possible: true } | { readonly possible: false; readonly why: string };
  readonly exit: ServerExit | null;
  readonly exitedBeforeStop: boolean;
}

const mib = (bytes: number): string => `${(bytes / 1048576).toFixed(1)} MiB`;
const howExited = (e: ServerExit): string => (e.signal !== null ? `signal ${e.signal}` : `code ${e.code}`);
const verdict =
  (v: CheckVerdict) =>
  (name: string, requested: boolean, detail: string): CheckResult => ({ name, verdict: v, requested, detail });
const pass = verdict('PASS');
const fail = verdict('FAIL');
const notChecked = verdict('NOT CHECKED');

/** "never started: it was not ready within 10 s". */
const neverStarted = (facts: RunFacts): string => `never started: ${facts.notReady ?? 'it did not become ready'}`;

/** The memory cap killed the server before the harness sent anything. */
function killedByCap(facts: RunFacts): boolean {
  return facts.memory?.killedByCap === true && (facts.exit?.stopSignal ?? null) === null;
}

const cappedReason = (scenario: Scenario): string => `server was killed by the memory cap; no ${scenario.stopSignal} was sent`;

/** Every check of a run, in report order; each says why it passed, failed or was not checked. */
export function judgeRun(scenario: Scenario, facts: RunFacts): CheckResult[] {
  return [
    judgeReady(facts),
    judgeFlood(scenario, facts),
    judgeTimeWait(scenario, facts),
    judgeMemory(scenario, facts),
    judgeLocks(scenario, facts),
    judgeLeaks(scenario, facts),
    judgeExit(scenario, facts),
  ];
}

/** PASS only if every requested check passed and nothing went wrong; FAIL on any failure; else INCOMPLETE. */
export function runVerdict(checks: readonly CheckResult[], errors: readonly string[]): RunVerdict {
  if (errors.length > 0 || checks.some((c) => c.verdict === 'FAIL')) return 'FAIL';
  if (checks.some((c) => c.requested && c.verdict !== 'PASS')) return 'INCOMPLETE';
  return 'PASS';
}

function judgeReady(facts: RunFacts): CheckResult {
  const name = 'server ready';
  const r = facts.ready;
  if (r === null) return fail(name, true, `${neverStarted(facts)} (see error)`);
  const how = r.by === 'line' ? 'its ready line' : r.by === 'port' ? 'its own listening socket' : 'a matching output line';
  return pass(name, true, `"${r.server}" listening on ${r.host}:${r.port} after ${facts.readyMs} ms (by ${how})`);
}

function judgeFlood(scenario: Scenario, facts: RunFacts): CheckResult {
  const name = 'flood errors';
  const f = facts.flood;
  if (facts.ready === null) return notChecked(name, true, neverStarted(facts));
  if (f === null) return fail(name, true, 'the flood did not run (see error)');
  // The same counts as the progress line and the summary (FloodResult's definitions).
  const bad = f.connectionsInError;
  const base = f.connectionsPlanned ?? f.connectionsStarted;
  const of = f.connectionsPlanned === null ? `${f.connectionsStarted} started` : `${f.connectionsPlanned}`;
  const allowed = Math.floor(scenario.thresholds.errorBudget * base);
  const refused = f.connectionsRefused > 0 ? ` (${f.connectionsRefused} refused)` : '';
  const parts = `${f.connectionsFailed} failed${refused}, ${f.connectionsReset} reset, ${f.connectionsBad} bad, ${f.connectionsCut} cut off`;
  const codes = Object.entries(f.errors).map(([code, n]) => `${code}×${n}`).join(' ');
  const summary = `${bad} of ${of} connections in error (${parts}); budget ${allowed}${codes ? `; codes: ${codes}` : ''}`;
  const started = `${f.connectionsStarted} of ${f.connectionsPlanned ?? 'unlimited'} connections started`;
  if (facts.floodStoppedBecause !== null) return fail(name, true, `flood stopped early, ${started}: ${facts.floodStoppedBecause}; ${summary}`);
  if (f.stoppedEarly !== null) return fail(name, true, `flood stopped early, ${started}: ${f.stoppedEarly}; ${summary}`);
  if (f.cappedByDuration) return fail(name, true, `flood hit its duration cap (${formatDuration(scenario.flood.durationCapMs)}); ${summary}`);
  const ended = f.connectionsEnded > 0 ? `; ${f.connectionsEnded} open at the planned end, closed` : '';
  return (bad <= allowed ? pass : fail)(name, true, summary + ended);
}

function judgeTimeWait(scenario: Scenario, facts: RunFacts): CheckResult {
  const name = 'TIME_WAIT';
  const budget = scenario.thresholds.timeWaitBudget;
  const requested = budget !== null;
  const tw = facts.timeWait;
  if (tw === null) return notChecked(name, requested, facts.ready === null ? neverStarted(facts) : 'not sampled (see error)');
  // In the host namespace the kernel may hand a server a port on which an earlier server's TIME_WAIT
  // sockets still live (up to 60 s): those were counted before the flood's first connection and are
  // not this run's.
  const earlier = tw.before.server;
  const own = Math.max(0, tw.peak.server - earlier);
  const inherited = earlier > 0 ? ` (${own} of this run's; ${earlier} already on the port when the flood began, not counted)` : '';
  const seen = `peak server-side ${tw.peak.server}${inherited}, client-side ${tw.peak.client}${tw.netns ? ' (own network namespace)' : ' (host namespace)'}`;
  if (budget === null) return notChecked(name, false, `no budget given (--time-wait-budget); ${seen}`);
  return (own <= budget ? pass : fail)(name, true, `${seen}; budget ${budget} server-side`);
}

function judgeMemory(scenario: Scenario, facts: RunFacts): CheckResult {
  const name = 'memory cap';
  const requested = scenario.memoryCapBytes !== null;
  const memory = facts.memory;
  if (memory === null) return notChecked(name, requested, facts.ready === null && facts.exit === null ? neverStarted(facts) : 'memory was not watched (see error)');
  const peak = `peak RSS ${mib(memory.peakRssBytes)}`;
  const how = `${memory.method}${memory.note !== undefined ? `; ${memory.note}` : ''}`;
  // A kill by the cap is a finding whenever it happened, even before the server was ready.
  if (memory.capBytes !== null && memory.killedByCap) return fail(name, requested, `killed by the ${mib(memory.capBytes)} cap; ${peak} (${how})`);
  if (facts.ready === null) return notChecked(name, requested, neverStarted(facts));
  if (memory.capBytes === null) return notChecked(name, false, `no cap given (--memory-cap); ${peak}`);
  return pass(name, true, `${peak} of ${mib(memory.capBytes)} cap (${how})`);
}

function judgeLocks(scenario: Scenario, facts: RunFacts): CheckResult {
  const name = 'lock order';
  const locks = facts.locks;
  if (!scenario.lockOrder) return notChecked(name, false, 'not enabled (--lock-order)');
  const tolerated = (f: LockFinding): boolean => f.kind === 'inversion' && f.singleTask && !scenario.thresholds.failOnSingleTaskInversion;
  const failing = locks.findings.filter((f) => !tolerated(f));
  const ignored = locks.findings.length - failing.length;
  const describe = (f: LockFinding): string => `${f.kind}${f.singleTask ? ' (single task)' : ''}: ${f.cycle.join(' => ')}`;
  if (failing.length > 0 || locks.problems.length > 0) {
    return fail(name, true, [...failing.map(describe), ...locks.problems.map((p) => `unreadable report: ${p}`)].join('; '));
  }
  if (facts.ready === null) return notChecked(name, true, neverStarted(facts));
  if (locks.detectors.length === 0 && locks.findings.length === 0) {
    return notChecked(name, true, "no lock detector reported in: the server does not use portico's AsyncMutex or PORTICO_LOCKDEP output");
  }
  const who = locks.detectors.length > 0 ? locks.detectors.join(', ') : 'a detector';
  return pass(name, true, `no findings from ${who}${ignored > 0 ? `; ${ignored} single-task inversion(s) tolerated` : ''}`);
}

function judgeLeaks(scenario: Scenario, facts: RunFacts): CheckResult {
  const name = 'leaks';
  const sig = scenario.stopSignal;
  if (scenario.leakCheck === false) return notChecked(name, false, 'not enabled (--no-leak-check)');
  const lc = facts.leakCheck;
  const requested = scenario.leakCheck === true || lc.possible;
  if (!lc.possible) return notChecked(name, requested, lc.why);
  const { findings, problems } = facts.leaks;
  if (findings.length > 0 || problems.length > 0) {
    const parts = [
      ...findings.map((f) => `still alive after ${sig}: ${f.resources.join(', ') || '(no resources listed)'}`),
      ...problems.map((p) => `unreadable report: ${p}`),
    ];
    return fail(name, requested, parts.join('; '));
  }
  const e = facts.exit;
  if (facts.ready === null || e === null) return notChecked(name, requested, neverStarted(facts));
  if (killedByCap(facts)) return notChecked(name, requested, cappedReason(scenario));
  if (facts.exitedBeforeStop) return notChecked(name, requested, `the server exited by itself (${howExited(e)}) before the harness stopped it; no ${sig} was sent`);
  if (e.killed) return notChecked(name, requested, `the server was SIGKILLed at the stop deadline before the leak preload reported (a blocked event loop cannot report)`);
  return pass(name, requested, `nothing kept the server alive after ${sig} (it exited ${formatDuration(e.stopMs)} after it)`);
}

/** Whether an exit counts as a clean stop: an accepted code, death by signal N as 128 + N. */
export function exitAccepted(exit: ServerExit, scenario: Scenario): { accepted: boolean; code: number | null } {
  const t = scenario.thresholds;
  const signalNumber = exit.signal !== null ? (constants.signals as Record<string, number>)[exit.signal] : undefined;
  const code = signalNumber !== undefined ? 128 + signalNumber : exit.code;
  const bySignal = exit.signal !== null && exit.signal === scenario.stopSignal && t.acceptSignalExit;
  return { accepted: bySignal || (code !== null && t.acceptExitCodes.includes(code)), code };
}

function judgeExit(scenario: Scenario, facts: RunFacts): CheckResult {
  const name = 'clean exit';
  const e = facts.exit;
  const t = scenario.thresholds;
  const sig = scenario.stopSignal;
  const requested = t.mustExitClean;
  const judged = ((): CheckResult => {
    if (e === null || facts.ready === null) {
      const then = e === null ? '' : `; ${facts.exitedBeforeStop ? 'it exited by itself' : `stopped ${formatDuration(e.stopMs)} after ${sig}`}: ${howExited(e)}${e.killed ? ' (SIGKILLed)' : ''}`;
      return notChecked(name, requested, `${neverStarted(facts)}${then}`);
    }
    if (killedByCap(facts)) return notChecked(name, requested, cappedReason(scenario));
    if (facts.exitedBeforeStop) return fail(name, requested, `exited before the harness stopped it: ${howExited(e)}`);
    if (e.killed) return fail(name, requested, `still running ${formatDuration(t.stopDeadlineMs)} after ${sig}; SIGKILLed`);
    const { accepted, code } = exitAccepted(e, scenario);
    const after = `${formatDuration(e.stopMs)} after ${sig}`;
    if (accepted) {
      const detail = e.signal === null ? `exit ${e.code} ${after}` : `terminated by ${e.signal} ${after} (accepted as ${t.acceptSignalExit ? 'a death by the stop signal' : `exit code ${code}`})`;
      return pass(name, requested, detail);
    }
    const hint = e.signal === sig ? ` (no ${sig} handler? accept it with --accept-exit-codes ${[...t.acceptExitCodes, code].join(',')})` : ` (accepted: ${t.acceptExitCodes.join(',')})`;
    return fail(name, requested, `${howExited(e)} ${after}${hint}`);
  })();
  if (!requested) return notChecked(name, false, `not required (--no-exit-check); ${judged.detail}`);
  return judged;
}
