#!/usr/bin/env node
/**
 * `npm test`: every unit, interop and package test under c8, reporting coverage — and ending with the
 * node test runner's own summary (c8 prints its report after the tests, so the runner's summary
 * lines are held back and printed last).
 *
 * Usage: node dist/ci/run-tests.js [test files or folders under dist/test ...]
 */
import { spawn } from 'node:child_process';
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
// through the harness), as The Server Framework's build ran its black-box server tests last.
const isAcceptance = (file: string): boolean => file.includes(`${join('dist', 'test', 'acceptance')}`);
const found = (targets.length > 0 ? targets : [join(root, 'dist/test')]).flatMap((t) => testFiles(resolve(t)));
const files = [...found.filter((f) => !isAcceptance(f)), ...found.filter(isAcceptance)];
if (files.length === 0) {
  process.stderr.write('run-tests: no test files found; run `npm run build` first\n');
  process.exit(1);
}

const summaryLine = /^(ℹ|#) (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) /;
const held: string[] = [];
const c8 = join(root, 'node_modules/.bin/c8');
const child = spawn(
  c8,
  ['node', '--test', '--test-reporter=spec', '--test-concurrency=1', '--test-timeout=180000', ...files],
  { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, FORCE_COLOR: '0' } },
);
createInterface({ input: child.stdout }).on('line', (line) => {
  if (summaryLine.test(line)) held.push(line);
  else process.stdout.write(line + '\n');
});
const forward = (signal: NodeJS.Signals): void => {
  child.kill(signal);
};
process.on('SIGINT', forward);
process.on('SIGTERM', forward);
child.on('close', (code, signal) => {
  process.stdout.write('\n' + held.join('\n') + '\n');
  process.exit(code ?? (signal ? 1 : 0));
});
