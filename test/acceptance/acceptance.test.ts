/**
 * Acceptance: every scenario under ci/scenarios must pass the harness as CI runs it —
 * `node dist/harness/main.js run ci/scenarios/<name>.json --report <tmp>` exits 0 and writes a
 * report.json whose `pass` is true.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { RunReport, Scenario } from '../../harness/types.js';
import { repoRoot, runToExit } from '../helpers/spawn-server.js';

const harness = join(repoRoot, 'dist/harness/main.js');
const scenarioDir = join(repoRoot, 'ci/scenarios');
const files = (await readdir(scenarioDir)).filter((f) => f.endsWith('.json')).sort();

test('ci/scenarios is not empty', () => {
  assert.ok(files.length > 0, `no scenario files in ${scenarioDir}`);
});

for (const file of files) {
  const scenario = JSON.parse(await readFile(join(scenarioDir, file), 'utf8')) as Partial<Scenario>;
  // Bounded by the scenario's own limits, plus room for a slow, shared machine.
  const limitMs = (scenario.flood?.durationCapMs ?? 120_000) + (scenario.readyTimeoutMs ?? 10_000) + (scenario.thresholds?.stopDeadlineMs ?? 5_000) + 30_000;

  test(`ci/scenarios/${file} passes`, { timeout: limitMs + 5_000 }, async (t) => {
    const reportDir = await mkdtemp(join(tmpdir(), 'portico-acceptance-'));
    t.after(() => rm(reportDir, { recursive: true, force: true }));
    const run = await runToExit(process.execPath, [harness, 'run', `ci/scenarios/${file}`, '--report', reportDir, '--quiet'], { timeoutMs: limitMs, t });
    const report = JSON.parse(await readFile(join(reportDir, 'report.json'), 'utf8')) as RunReport;
    const failed = report.checks.filter((c) => c.verdict === 'FAIL' || (c.requested && c.verdict !== 'PASS')).map((c) => `${c.verdict} ${c.name}: ${c.detail}`);
    assert.equal(run.code, 0, `harness exit ${run.code}; failed or unchecked checks: ${failed.join(' | ') || 'none'}; error: ${report.error ?? 'none'}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
    assert.equal(report.result, 'PASS', failed.join(' | '));
    assert.equal(report.pass, true);
    assert.equal(report.error, undefined);
    assert.ok(report.checks.length > 0);
    await readFile(join(reportDir, 'report.html'), 'utf8');
  });
}
