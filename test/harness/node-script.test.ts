/**
 * Which server commands are node scripts (harness/node-script.ts): the shebangs that run node, and
 * commands found the way a shell finds them (a path, or a name on PATH, through a symlink).
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { test } from 'node:test';
import { findNodeScript, nodeShebang, underNode } from '../../harness/node-script.js';

test('shebangs that run node, and ones that do not', () => {
  assert.deepEqual(nodeShebang('#!/usr/bin/env node'), { node: 'node', nodeArgs: [] });
  assert.deepEqual(nodeShebang('#! /usr/bin/env node\r'), { node: 'node', nodeArgs: [] });
  assert.deepEqual(nodeShebang('#!/usr/local/bin/node'), { node: '/usr/local/bin/node', nodeArgs: [] });
  // The kernel passes the rest of the line as one argument.
  assert.deepEqual(nodeShebang('#!/usr/bin/node --max-old-space-size=64'), { node: '/usr/bin/node', nodeArgs: ['--max-old-space-size=64'] });
  assert.deepEqual(nodeShebang('#!/usr/bin/env -S node --no-warnings --enable-source-maps'), { node: 'node', nodeArgs: ['--no-warnings', '--enable-source-maps'] });
  for (const line of ['#!/bin/sh', '#!/usr/bin/env python3', '#!/usr/bin/env node --no-warnings', '#!/usr/bin/env nodejs-tool', '// not a shebang', '', '\x7fELF\x02\x01']) {
    assert.equal(nodeShebang(line), null, JSON.stringify(line));
  }
});

test('findNodeScript: by path or on PATH, through a symlink, executable files only', async (t) => {
  const dir = await realpath(await mkdtemp(join(tmpdir(), 'portico-node-script-')));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'lib'));
  await mkdir(join(dir, 'bin'));
  const script = join(dir, 'lib', 'main.js');
  await writeFile(script, '#!/usr/bin/env node\nconsole.log("hi");\n', { mode: 0o755 });
  await symlink(script, join(dir, 'bin', 'tool'));
  await writeFile(join(dir, 'bin', 'shell-tool'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
  await writeFile(join(dir, 'bin', 'not-executable'), '#!/usr/bin/env node\n', { mode: 0o644 });

  const savedPath = process.env['PATH'];
  process.env['PATH'] = `${join(dir, 'bin')}${delimiter}${savedPath ?? ''}`;
  t.after(() => {
    process.env['PATH'] = savedPath;
  });
  const expected = { file: script, node: 'node', nodeArgs: [], shebang: '#!/usr/bin/env node' };
  assert.deepEqual(findNodeScript('tool', '/'), expected, 'a name on PATH, symlink resolved');
  assert.deepEqual(findNodeScript('bin/tool', dir), expected, 'a relative path');
  assert.deepEqual(findNodeScript(script, '/'), expected, 'an absolute path');
  assert.equal(findNodeScript('shell-tool', '/'), null, 'a shell script');
  assert.equal(findNodeScript('not-executable', '/'), null, 'not executable: a shell would not run it either');
  assert.equal(findNodeScript('no-such-tool-here', '/'), null);
  assert.deepEqual(underNode(expected, ['tool', '--port', '0']), ['node', script, '--port', '0']);
  assert.deepEqual(underNode({ ...expected, node: '/opt/node', nodeArgs: ['--x'] }, ['tool']), ['/opt/node', '--x', script]);
});
