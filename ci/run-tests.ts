#!/usr/bin/env node
/**
 * `npm test`: every unit, interop and package test under c8, reporting coverage — and ending with the
 * node test runner's own summary (c8 prints its report after the tests, so the runner's summary
 * lines are held back and printed last).
 *
 * Usage: node dist/ci/run-tests.js [test files or folders under dist/test ...]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));

function testFiles(path: string): string[] {
  if (statSync(path).isFile()) return [path];
  return readdirSync(path, { withFileTypes: true })
    .flatMap((entry) => {
      const full = join(path, entry.name);
      if (entry.isDirectory()) return testFiles(full);
      return entry.name.endsWith('.test.js') ? [full] : [];
    })
    .sort();
}

const targets = process.argv.slice(2);
// The unit, interop and package tests first, then the acceptance suite (every example server
// through the harness), as The Server Framework's build ran its black-box server tests last. `node
// --test` sorts the files it is given, so the two groups run as two phases under one coverage report.
const isAcceptance = (file: string): boolean => file.includes(`${join('dist', 'test', 'acceptance')}`);
const found = (targets.length > 0 ? targets : [join(root, 'dist/test')]).flatMap((t) => testFiles(resolve(t)));
const phases = [found.filter((f) => !isAcceptance(f)), found.filter(isAcceptance)].filter((files) => files.length > 0);
if (phases.length === 0) {
  process.stderr.write('run-tests: no test files found; run `npm run build` first\n');
  process.exit(1);
}

const summaryLine = /^(ℹ|#) (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) (\d+(?:\.\d+)?)/;
const totals = new Map<string, number>();
const c8 = join(root, 'node_modules/.bin/c8');
let current: ChildProcess | null = null;
const forward = (signal: NodeJS.Signals): void => {
  current?.kill(signal);
};
process.on('SIGINT', forward);
process.on('SIGTERM', forward);

/**
 * A test file whose tests are done but which leaves a handle open never exits, and `node --test` waits
 * for it: past this, the phase is killed and fails, instead of hanging CI.
 */
const PHASE_LIMIT_MS = 40 * 60_000;

/** Run one command to its end, holding back the test runner's summary lines (summed and printed last). */
function run(args: readonly string[]): Promise<number> {
  return new Promise((resolvePhase) => {
    const child = spawn(c8, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, FORCE_COLOR: '0' } });
    current = child;
    const watchdog = setTimeout(() => {
      process.stderr.write(`run-tests: still running after ${PHASE_LIMIT_MS / 60_000} min (a test file that never exits?); killing it\n`);
      child.kill('SIGKILL');
    }, PHASE_LIMIT_MS);
    child.on('close', () => clearTimeout(watchdog));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const match = summaryLine.exec(line);
      if (match !== null) totals.set(match[2]!, (totals.get(match[2]!) ?? 0) + Number(match[3]));
      else process.stdout.write(line + '\n');
    });
    child.on('close', (code, signal) => resolvePhase(code ?? (signal ? 1 : 0)));
  });
}

let failed = 0;
for (const [index, files] of phases.entries()) {
  const code = await run([
    '--reporter=none',
    `--clean=${index === 0}`,
    'node',
    '--test',
    '--test-reporter=spec',
    '--test-concurrency=1',
    '--test-timeout=180000',
    ...files,
  ]);
  if (code !== 0) failed = code;
}
await run(['report']);
process.stdout.write('\n' + [...totals].map(([name, value]) => `ℹ ${name} ${name === 'duration_ms' ? value.toFixed(0) : value}`).join('\n') + '\n');
process.exit(failed);
