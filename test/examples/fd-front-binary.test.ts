/**
 * The `portico-fd-front` binary as a child process: --help, flag and config errors (exit 2), the
 * ready line, its I/O measured from /proc (a 16 MiB body and a 16 MiB response cost the front almost
 * nothing), SIGTERM draining the front and its back ends (no process left), and back ends that exit
 * by themselves when the front is killed outright.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import WebSocket from 'ws';
import { repoRoot, runNode, spawnServer } from '../helpers/spawn-server.js';
import { childPids, eventually, exchange, get, isAlive, processIo } from '../helpers/fd-rig.js';

const frontBinary = resolve(repoRoot, 'dist/examples/fd-transfer/main.js');
const T = { timeout: 60_000 };
const MiB = 1024 * 1024;

test('--help lists the flags and exits 0; a bad flag or config exits 2', T, async (t) => {
  const help = await runNode(frontBinary, ['--help']);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /^Usage: portico-fd-front \[options\]/);
  for (const flag of ['--port', '--config', '--mode', '--max-head', '--head-timeout', '--ack-timeout', '--max-in-flight', '--drain-timeout', '--restart-backoff']) {
    assert.match(help.stdout, new RegExp(`^\\s+${flag}\\b`, 'm'), flag);
  }
  const bad = await runNode(frontBinary, ['--mode', 'teleport']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--mode: expected one of transfer, relay/);
  const dir = mkdtempSync(join(tmpdir(), 'portico-fd-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const config = join(dir, 'front.json');
  writeFileSync(config, JSON.stringify({ routes: [{ prefix: '/x', backend: 'nope' }], backends: {} }));
  const badConfig = await runNode(frontBinary, ['--config', config]);
  assert.equal(badConfig.code, 2);
  assert.match(badConfig.stderr, /routes\[0\]\.backend must name one of the backends/);
});

test("the front's own I/O: a 16 MiB upload and a 16 MiB download pass it by (measured in /proc/<pid>/io)", T, async (t) => {
  const front = await spawnServer({ script: frontBinary, args: ['--port', '0', '--eager'], t });
  assert.equal(front.ready[0]!.server, 'fd-front');
  const pid = front.child.pid!;
  await eventually(() => childPids(pid).length === 2, 10_000, 'two back ends started (--eager)');
  assert.equal((await get(front.port, '/http/hello')).status, 200);
  const body = randomBytes(16 * MiB);
  const io0 = processIo(pid);
  const up = await exchange(front.port, [`POST /http/count HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: ${body.length}\r\n\r\n`, body]);
  const down = await get(front.port, `/http/bytes/${16 * MiB}`);
  const io1 = processIo(pid);
  assert.deepEqual(JSON.parse(up.body.toString()), { bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') });
  assert.equal(down.body.length, 16 * MiB);
  const read = io1.rchar - io0.rchar;
  const written = io1.wchar - io0.wchar;
  process.stderr.write(`# front process I/O for 16 MiB up + 16 MiB down: read ${read} B, wrote ${written} B\n`);
  assert.ok(read < 256 * 1024, `the front read ${read} bytes`);
  assert.ok(written < 64 * 1024, `the front wrote ${written} bytes`);
  assert.equal(await front.stop('SIGTERM'), 0, front.stderr);
});

test('SIGTERM drains the front and stops its back ends: WebSockets get 1001, no process is left', T, async (t) => {
  const front = await spawnServer({ script: frontBinary, args: ['--port', '0', '--drain-timeout', '2s'], t });
  const pid = front.child.pid!;
  const ws = new WebSocket(`ws://127.0.0.1:${front.port}/ws`);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  assert.equal((await get(front.port, '/http/hello')).status, 200);
  const backends = childPids(pid);
  assert.equal(backends.length, 2, 'one process per back end, started by their first requests');
  const closed = new Promise<number>((resolve) => ws.once('close', (code: number) => resolve(code)));
  assert.equal(await front.stop('SIGTERM'), 0, front.stderr);
  assert.equal(await closed, 1001, 'the back end drained its WebSocket (going away)');
  assert.ok(front.stdoutLines.includes('{"event":"stopped","server":"fd-front","aborted":0}'), front.stdoutLines.join('\n'));
  for (const child of backends) await eventually(() => !isAlive(child), 5000, `back end ${child} gone`);
});

test('back ends exit by themselves when the front is killed outright (their IPC channel closes)', T, async (t) => {
  const front = await spawnServer({ script: frontBinary, args: ['--port', '0', '--eager'], t });
  const pid = front.child.pid!;
  await eventually(() => childPids(pid).length === 2, 10_000, 'two back ends');
  const backends = childPids(pid);
  front.kill();
  await front.exited;
  for (const child of backends) await eventually(() => !isAlive(child), 10_000, `orphaned back end ${child} gone`);
});
