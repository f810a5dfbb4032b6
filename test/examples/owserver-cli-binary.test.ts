/**
 * The `portico-ow` client CLI's flags, as a real child process against a portico owserver on
 * 127.0.0.1: `--timeout` takes a duration with a unit like every other portico bin (a bare number is
 * refused: ms or s?), and a usage error exits 2 with one line on stderr, as every portico bin does.
 */
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { test, type TestContext } from 'node:test';
import { ROOT_ENTRIES, owCliBinary, startPortico } from '../helpers/owserver-portico.js';
import { runNode } from '../helpers/spawn-server.js';

const T = { timeout: 30_000 };

/** A server that accepts and never answers. */
async function silentServer(t: TestContext): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return (server.address() as net.AddressInfo).port;
}

test('--timeout takes a duration with a unit', T, async (t) => {
  const server = await startPortico({}, { t });
  for (const timeout of ['1s', '1500ms', '0.5s', '1m']) {
    const r = await runNode(owCliBinary, ['dir', '--timeout', timeout, '-s', server.spec, '/'], { timeoutMs: 10_000 });
    assert.equal(r.code, 0, `--timeout ${timeout}: ${r.stderr}`);
    assert.deepEqual(r.stdout.split('\n').filter(Boolean), ROOT_ENTRIES, `--timeout ${timeout}`);
  }
});

test('--timeout 300ms gives up on a silent server after about 300 ms (exit 1, OW_ERR_TIMEOUT)', T, async (t) => {
  const port = await silentServer(t);
  const started = performance.now();
  const r = await runNode(owCliBinary, ['read', '--timeout', '300ms', '-s', `127.0.0.1:${port}`, '/x'], { timeoutMs: 10_000 });
  const took = performance.now() - started;
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /\[OW_ERR_TIMEOUT\]\n$/);
  // Under the 5 s default by far (a node start under coverage on a loaded machine takes up to ~2 s).
  assert.ok(took < 4000, `gave up after ${took.toFixed(0)} ms`);
});

test('usage errors exit 2 with one line on stderr naming the problem (bad --timeout values among them)', T, async () => {
  const cases: [string[], RegExp][] = [
    [['--timeout', '1500'], /^portico-ow: --timeout: "1500" needs a unit: 1500ms, 1500s, 1500m or 1500h/],
    [['--timeout', '0'], /^portico-ow: --timeout: must be more than 0/],
    [['--timeout', '0ms'], /^portico-ow: --timeout: must be more than 0/],
    [['--timeout', '-1s'], /^portico-ow: --timeout: not a duration: "-1s"/],
    [['--timeout', 'soon'], /^portico-ow: --timeout: not a duration: "soon"/],
    [['--timeout'], /^portico-ow: --timeout needs a value/],
    [['--bogus'], /^portico-ow: unknown option --bogus \(see --help\)$/m],
    [['--format', 'x.y'], /^portico-ow: --format: expected one of f\.i, fi/],
    [['extra'], /^portico-ow: dir takes PATH/],
  ];
  for (const [flags, message] of cases) {
    const r = await runNode(owCliBinary, ['dir', '-s', '127.0.0.1:1', '/', ...flags]);
    const what = `${flags.join(' ')}: exit ${r.code}, stderr ${r.stderr}`;
    assert.equal(r.code, 2, what);
    assert.match(r.stderr, message, what);
    assert.equal(r.stderr.split('\n').filter(Boolean).length, 1, `one line on stderr: ${what}`);
    assert.equal(r.stdout, '', what);
  }
});

test('a missing or unknown command is a one-line usage error too', T, async () => {
  for (const [args, message] of [
    [[], /^portico-ow: missing command \(see --help\)\n$/],
    [['frobnicate', '/'], /^portico-ow: unknown command "frobnicate" \(see --help\)\n$/],
  ] as const) {
    const r = await runNode(owCliBinary, args);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, message);
  }
});
