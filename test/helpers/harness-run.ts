/**
 * Runs `portico-harness run …` as a child process (bounded) and reads the report it wrote: what the
 * harness tests assert on. Every run gets its own temporary report folder, removed after the test.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { CheckResult, CheckVerdict, RunReport, RunVerdict } from '../../harness/types.js';
import { type RunResult, repoRoot, runToExit } from './spawn-server.js';

export const harness = join(repoRoot, 'dist/harness/main.js');
/** A plain node:net echo, not portico, with no SIGTERM handler (test/fixtures/plain-echo.mjs). */
export const plainEcho = 'node test/fixtures/plain-echo.mjs';
/** The portico echo with switchable faults (test/fixtures/broken-server.ts). */
export const broken = 'node dist/test/fixtures/broken-server.js';
/** A few dozen connections: enough to exercise every check, small enough for a shared machine. */
export const small = ['--connections', '30', '--concurrency', '5', '--messages', '3', '--size', '64', '--quiet'];

/** Exit codes of portico-harness (harness/main.ts). */
export const exitCodes = { pass: 0, fail: 1, usage: 2, incomplete: 3 } as const;

export interface HarnessRun extends RunResult {
  readonly report: RunReport | null;
  readonly elapsedMs: number;
  /** Wall-clock ms from report.json's last write to the harness's exit. */
  readonly exitAfterReportMs: number | null;
  /** Where report.json and report.html were written (removed after the test). */
  readonly reportDir: string;
}

/** `env`: the harness's whole environment (default: this process's), e.g. with a PATH of test bins. */
export async function runHarness(t: TestContext, args: readonly string[], timeoutMs = 40_000, env?: NodeJS.ProcessEnv): Promise<HarnessRun> {
  const dir = await mkdtemp(join(tmpdir(), 'portico-harness-test-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const started = performance.now();
  const result = await runToExit(process.execPath, [harness, 'run', ...args, '--report', dir], { timeoutMs, t, ...(env !== undefined ? { env } : {}) });
  const exitedAt = Date.now();
  const elapsedMs = performance.now() - started;
  let report: RunReport | null = null;
  let exitAfterReportMs: number | null = null;
  try {
    const path = join(dir, 'report.json');
    report = JSON.parse(await readFile(path, 'utf8')) as RunReport;
    exitAfterReportMs = exitedAt - (await stat(path)).mtimeMs;
  } catch {
    // No report: asserted by the tests that expect one.
  }
  return { ...result, report, elapsedMs, exitAfterReportMs, reportDir: dir };
}

export function checkOf(report: RunReport | null, name: string): CheckResult {
  assert.ok(report !== null, 'report.json was written');
  const found = report.checks.find((c) => c.name === name);
  assert.ok(found !== undefined, `check "${name}" in ${report.checks.map((c) => c.name).join(', ')}`);
  return found;
}

/** Every check as "VERDICT name: detail", for assertion messages. */
export function describeChecks(run: HarnessRun): string {
  const checks = run.report?.checks.map((c) => `${c.verdict}${c.requested ? '' : ' (not requested)'} ${c.name}: ${c.detail}`).join('\n') ?? '(no report)';
  return `${checks}\nerror: ${run.report?.error ?? 'none'}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`;
}

/** Names of the checks with this verdict. */
export function checksWith(report: RunReport | null, verdict: CheckVerdict): string[] {
  assert.ok(report !== null, 'report.json was written');
  return report.checks.filter((c) => c.verdict === verdict).map((c) => c.name).sort();
}

const exitFor: Record<RunVerdict, number> = { PASS: exitCodes.pass, FAIL: exitCodes.fail, INCOMPLETE: exitCodes.incomplete };

/** Exactly these checks failed (and, when given, exactly these were not checked); the run's result and exit code follow. */
export function assertVerdicts(run: HarnessRun, expected: { readonly fail?: readonly string[]; readonly notChecked?: readonly string[]; readonly result: RunVerdict }): void {
  assert.ok(run.report !== null, `report.json was written; stderr: ${run.stderr}`);
  assert.deepEqual(checksWith(run.report, 'FAIL'), [...(expected.fail ?? [])].sort(), describeChecks(run));
  if (expected.notChecked !== undefined) assert.deepEqual(checksWith(run.report, 'NOT CHECKED'), [...expected.notChecked].sort(), describeChecks(run));
  assert.equal(run.report.result, expected.result, describeChecks(run));
  assert.equal(run.report.pass, expected.result === 'PASS');
  assert.equal(run.code, exitFor[expected.result], describeChecks(run));
  assert.match(run.stdout, new RegExp(`\\nRESULT: ${expected.result}\\b`));
}
