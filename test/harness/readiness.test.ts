/**
 * Readiness for servers that are not portico (harness/readiness.ts, listen-sockets.ts): the /proc
 * parsing on its own, then whole harness runs over real sockets on 127.0.0.1 against the real OWFS
 * owserver (`--ready port`, no wrapper script), a ten-line Python asyncio echo (`{port}` and
 * `--ready regex:`), a server whose listener is in a child process, and a port held by another
 * process, which must never be taken for the server's. owserver is required: without it the test
 * fails, it is never skipped.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as net from 'node:net';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { connectAddress, parseListeningSockets, portOwnership, processTree } from '../../harness/listen-sockets.js';
import { parseReadySpec } from '../../harness/readiness.js';
import { assertVerdicts, checkOf, plainEcho, runHarness, small } from '../helpers/harness-run.js';
import { FAKE_IDS, freePort, requireBinary } from '../helpers/real-owserver.js';

const T = { timeout: 60_000 };
const asyncioEcho = 'python3 test/fixtures/asyncio_echo.py {port}';

// ---- parsing --------------------------------------------------------------------------------------

test('--ready specs: line, port, port:N, regex:RE; anything else is refused with what is accepted', () => {
  assert.deepEqual(parseReadySpec('line'), { kind: 'line' });
  assert.deepEqual(parseReadySpec('port'), { kind: 'port', port: null });
  assert.deepEqual(parseReadySpec('port:{port}'), { kind: 'port', port: null });
  assert.deepEqual(parseReadySpec('port:4304'), { kind: 'port', port: 4304 });
  assert.deepEqual(parseReadySpec('regex:listening on (?<port>\\d+)'), { kind: 'regex', pattern: 'listening on (?<port>\\d+)' });
  assert.throws(() => parseReadySpec('port:0'), /port 0 out of range/);
  assert.throws(() => parseReadySpec('regex:'), /needs a pattern/);
  assert.throws(() => parseReadySpec('regex:[a'), /not a valid regular expression/);
  assert.throws(() => parseReadySpec('json'), /expected line, port:N/);
});

test('/proc/net/tcp{,6} LISTEN rows: addresses decoded, other states skipped', () => {
  const tcp = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 0100007F:10D0 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 992936 1 0000000000000000 100 0 0 10 0',
    '   1: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 12345 1 0000000000000000 100 0 0 10 0',
    '   2: 0100007F:10D0 0100007F:D2F4 01 00000000:00000000 00:00000000 00000000     0        0 5555 1 0000000000000000 20 4 30 10 -1',
  ].join('\n');
  assert.deepEqual(parseListeningSockets(tcp), [
    { address: '127.0.0.1', family: 4, port: 4304, inode: 992936 },
    { address: '0.0.0.0', family: 4, port: 8080, inode: 12345 },
  ]);
  const tcp6 = [
    '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 777 1 0000000000000000 100 0 0 10 0',
    '   1: 00000000000000000000000001000000:1F91 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 778 1 0000000000000000 100 0 0 10 0',
    '   2: 0000000000000000FFFF00000100007F:1F92 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 779 1 0000000000000000 100 0 0 10 0',
  ].join('\n');
  const six = parseListeningSockets(tcp6);
  assert.deepEqual(
    six.map((s) => [s.address, s.port, s.inode]),
    [
      ['::', 8080, 777],
      ['::1', 8081, 778],
      ['::ffff:127.0.0.1', 8082, 779],
    ],
  );
  assert.deepEqual(six.map(connectAddress), ['::1', '::1', '127.0.0.1']);
});

test('portOwnership: a listener in a child process is the server\'s; the test\'s own listener is not', { timeout: 20_000 }, async (t) => {
  const port = await freePort();
  // sh stays the parent (the `; true` keeps it from exec-ing node): the socket is in a descendant.
  const script = `require('net').createServer().listen(${port}, '127.0.0.1')`;
  const child = spawn('sh', ['-c', `"${process.execPath}" -e "${script}"; true`], { stdio: 'ignore', detached: true });
  t.after(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // gone
    }
  });
  let ownership = portOwnership(child.pid!, port);
  for (let i = 0; i < 200 && ownership.owned.length === 0; i++) {
    await sleep(25);
    ownership = portOwnership(child.pid!, port);
  }
  assert.equal(ownership.owned.length, 1, 'found through the process tree');
  assert.equal(ownership.foreign.length, 0);
  assert.ok(processTree(child.pid!).length >= 2, 'sh and its node child');

  const mine = net.createServer();
  const otherPort = await freePort();
  await new Promise<void>((resolve) => mine.listen(otherPort, '127.0.0.1', resolve));
  t.after(() => mine.close());
  const other = portOwnership(child.pid!, otherPort);
  assert.equal(other.owned.length, 0, "the test's listener is not the child's");
  assert.equal(other.foreign.length, 1);
});

// ---- servers that are not portico -------------------------------------------------------------------

test('the real owserver: --ready port with {port}, no wrapper script, under the memory cap, PASS', T, async (t) => {
  const owserver = requireBinary('owserver');
  const run = await runHarness(t, [
    '--server', `${owserver} --fake=${FAKE_IDS} -p 127.0.0.1:{port} --foreground --error_level=0`,
    '--ready', 'port',
    '--protocol', 'owserver', '--size', '16',
    '--connections', '20', '--concurrency', '4', '--messages', '5',
    '--memory-cap', '64M',
    '--quiet',
  ]);
  // Not node: the leak preload cannot go in, and it was not asked for; everything asked for passed.
  assertVerdicts(run, { notChecked: ['TIME_WAIT', 'lock order', 'leaks'], result: 'PASS' });
  const report = run.report!;
  assert.equal(report.ready!.by, 'port');
  assert.equal(report.ready!.host, '127.0.0.1');
  // The command as run: {port} substituted, nothing appended.
  assert.deepEqual(report.serverCommand, [owserver, `--fake=${FAKE_IDS}`, '-p', `127.0.0.1:${report.ready!.port}`, '--foreground', '--error_level=0']);
  assert.equal(report.flood!.messagesReceived, 100);
  assert.match(checkOf(report, 'leaks').detail, /not node/);
  assert.equal(checkOf(report, 'memory cap').verdict, 'PASS');
});

test('a ten-line Python asyncio echo: {port} and --ready regex on its stderr; dies by SIGTERM, accepted as 143', T, async (t) => {
  const run = await runHarness(t, ['--server', asyncioEcho, '--ready', 'regex:serving on', '--accept-exit-codes', '0,143', ...small]);
  assertVerdicts(run, { result: 'PASS' });
  const report = run.report!;
  assert.equal(report.ready!.by, 'regex');
  assert.deepEqual(report.serverCommand, ['python3', 'test/fixtures/asyncio_echo.py', String(report.ready!.port)]);
  assert.equal(report.flood!.messagesReceived, 90);
  assert.equal(report.exit!.signal, 'SIGTERM');
  assert.match(checkOf(report, 'clean exit').detail, /terminated by SIGTERM .*accepted as exit code 143/);
});

test('--ready regex: the port can come from the pattern\'s (?<port>) group instead of {port}', T, async (t) => {
  const port = await freePort();
  const run = await runHarness(t, ['--server', `python3 test/fixtures/asyncio_echo.py ${port}`, '--ready', 'regex:serving on 127\\.0\\.0\\.1:(?<port>\\d+)', '--accept-exit-codes', '0,143', ...small]);
  assertVerdicts(run, { result: 'PASS' });
  assert.equal(run.report!.ready!.port, port);
});

test('--ready port: a listener in a child of the server counts (the process tree, not just the pid)', T, async (t) => {
  const run = await runHarness(t, ['--server', `sh -c 'python3 test/fixtures/asyncio_echo.py "$1"; exit 0' sh {port}`, '--ready', 'port', '--accept-exit-codes', '0,143', ...small]);
  assertVerdicts(run, { result: 'PASS' });
  assert.equal(run.report!.flood!.messagesReceived, 90);
});

test('--ready port:N held by another process is never taken for the server\'s: it fails, naming the holder', T, async (t) => {
  const port = await freePort();
  const squatter = net.createServer((socket) => socket.pipe(socket));
  await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve));
  t.after(() => squatter.close());
  const run = await runHarness(t, ['--server', 'python3 -c "import time; time.sleep(30)"', '--ready', `port:${port}`, '--ready-timeout', '1500ms', '--quiet']);
  assertVerdicts(run, { fail: ['server ready'], result: 'FAIL' });
  assert.match(run.stdout, new RegExp(`port ${port} was not listening from the server \\(pid \\d+\\) or its children within 1\\.5 s; port ${port} IS listening, but that socket belongs to pid ${process.pid} \\(node\\)`));
  assert.equal(run.report!.flood, null, 'nothing was flooded');
});

test('no ready line from a server that does not print one: the error names the fix, shows stderr line by line, once, and never the cgroup wrapper', T, async (t) => {
  const server = `python3 -c "import sys, time; sys.stderr.write('first complaint\\nsecond complaint\\n'); sys.stderr.flush(); time.sleep(30)"`;
  const run = await runHarness(t, ['--server', server, '--memory-cap', '64M', '--ready-timeout', '1500ms', '--quiet']);
  assertVerdicts(run, { fail: ['server ready'], result: 'FAIL' });
  const all = run.stdout + run.stderr;
  const fix = "the server printed no ready line within 1.5 s; if it does not print portico's JSON line";
  assert.equal(all.split(fix).length - 1, 1, `printed once:\n${all}`);
  assert.match(run.stdout, /use --ready port:N or --ready regex:RE/);
  assert.match(run.stdout, /^ +command: python3 -c /m);
  assert.match(run.stdout, /^ +first complaint$/m);
  assert.match(run.stdout, /^ +second complaint$/m);
  assert.doesNotMatch(all, /sh -c|cgroup\.procs|exec "\$@"/);
  assert.equal(run.report!.memory!.method, 'cgroup-v1', 'the wrapper was there, just not shown');
});

test('a server that exits before it is ready, and a program that does not exist: said plainly, FAIL', T, async (t) => {
  const exits = await runHarness(t, ['--server', `python3 -c "import sys; sys.exit('unknown option --port')"`, '--quiet']);
  assertVerdicts(exits, { fail: ['server ready'], result: 'FAIL' });
  assert.match(exits.stdout, /the server exited \(code 1\) before it was ready \(--ready line\): it had not printed portico's JSON ready line/);
  assert.match(exits.stdout, /^ +unknown option --port$/m);

  const missing = await runHarness(t, ['--server', 'no-such-server-binary --flag', '--memory-cap', '64M', '--quiet']);
  assertVerdicts(missing, { fail: ['server ready'], result: 'FAIL' });
  assert.match(missing.stdout, /cannot start the server: no-such-server-binary: not found on PATH/);
  assert.match(checkOf(missing.report, 'server ready').detail, /never started: it could not be started/);
});

test('--port-arg appends `--port 0` the old way; without it nothing is appended', T, async (t) => {
  const withArg = await runHarness(t, ['--server', plainEcho, '--port-arg', '--accept-signal-exit', ...small]);
  assertVerdicts(withArg, { result: 'PASS' });
  assert.deepEqual(withArg.report!.serverCommand, ['node', 'test/fixtures/plain-echo.mjs', '--port', '0']);
  const without = await runHarness(t, ['--server', plainEcho, '--accept-signal-exit', ...small]);
  assertVerdicts(without, { result: 'PASS' });
  assert.deepEqual(without.report!.serverCommand, ['node', 'test/fixtures/plain-echo.mjs']);
});
