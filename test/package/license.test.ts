/**
 * The package says MIT: the repository has the MIT license text, and the packed tarball carries it
 * (`npm pack --dry-run`, no build, no network).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot, runToExit } from '../helpers/spawn-server.js';

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

test('LICENSE holds the MIT text the manifest names, and npm pack puts it in the package', { timeout: 60_000 }, async (t) => {
  const manifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { license: string; files: string[] };
  assert.equal(manifest.license, 'MIT');
  assert.ok(manifest.files.includes('LICENSE'), `"files" lists LICENSE: ${JSON.stringify(manifest.files)}`);
  const text = readFileSync(join(repoRoot, 'LICENSE'), 'utf8');
  assert.match(text, /^MIT License\n\nCopyright \(c\) 2026 portico contributors\n\nPermission is hereby granted, free of charge, /);
  assert.match(text, /The above copyright notice and this permission notice shall be included in all\ncopies or substantial portions of the Software\./);
  assert.match(text, /THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND/);

  // c8 sets NODE_V8_COVERAGE for children; npm needs none of it.
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_V8_COVERAGE: undefined };
  delete env['NODE_OPTIONS'];
  const pack = await runToExit(npm, ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: repoRoot, env, timeoutMs: 50_000, t });
  assert.equal(pack.code, 0, pack.stderr);
  const [packed] = JSON.parse(pack.stdout) as { files: { path: string }[] }[];
  assert.ok(packed!.files.some((f) => f.path === 'LICENSE'), 'the tarball has LICENSE');
});
