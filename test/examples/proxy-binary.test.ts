/**
 * The `portico-proxy` binary's contract, as a real child process over real sockets on 127.0.0.1:
 * help, flag errors (exit 2), the ready line, relaying, the stderr line when the backend is down,
 * SIGTERM's drain, and the host running a proxy in front of an echo server. Ends with a quick
 * round-trip benchmark, proxied vs direct (printed, not asserted).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { planServers } from '../../examples/host/config.js';
import { builtinPlugins } from '../../examples/host/plugins.js';
import { SocketProbe, connectTo, echoOnce, echoRoundTrip, hostBinary, parseReadyLine, repoRoot, runNode, spawnServer } from '../helpers/spawn-server.js';
import { BytePattern, closedPort, connectUntilDropped, echoSocket, peerEnd, startBackend } from '../helpers/proxy-rig.js';

const proxyBinary = resolve(repoRoot, 'dist/examples/proxy/main.js');
const T = { timeout: 30_000 };
/** Resolves once the port refuses connections (bounded). */
async function refusing(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const refused = await connectTo(port, { timeoutMs: 1_000 }).then(
      (s) => (s.destroy(), false),
      (e: NodeJS.ErrnoException) => e.code === 'ECONNREFUSED',
    );
    if (refused) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`port ${port} still accepting`);
}

const hasReadyLine = (stdout: string): boolean => stdout.split('\n').some((l) => parseReadyLine(l) !== null);

test('--help lists every flag and exits 0 without listening', T, async () => {
  const r = await runNode(proxyBinary, ['--help']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.match(r.stdout, /^Usage: portico-proxy \[options\]/);
  for (const flag of ['--host', '--port', '--backend', '--connect-timeout', '--buffer-bytes', '--max-connections', '--drain-timeout', '--on-backend-error', '--help']) {
    assert.match(r.stdout, new RegExp(`^\\s+${flag}\\b`, 'm'), `help lists ${flag}`);
  }
  assert.ok(!hasReadyLine(r.stdout));
});

test('bad flags exit 2 with a message naming the flag, and never listen', T, async () => {
  const cases: [string[], RegExp][] = [
    [['--port', '0'], /^portico-proxy: --backend HOST:PORT is required/],
    [['--backend', 'nowhere'], /--backend: expected HOST:PORT/],
    [['--backend', '127.0.0.1:0'], /--backend: port must be 1\.\.65535/],
    [['--backend', '127.0.0.1:70000'], /--backend: port must be 1\.\.65535/],
    [['--backend', '127.0.0.1:1', '--connect-timeout', 'soon'], /--connect-timeout: not a duration/],
    [['--backend', '127.0.0.1:1', '--connect-timeout', '0'], /--connect-timeout: must be >= 1/],
    [['--backend', '127.0.0.1:1', '--buffer-bytes', '0'], /--buffer-bytes: must be >= 1/],
    [['--backend', '127.0.0.1:1', '--max-connections', '-1'], /--max-connections: must be >= 0/],
    [['--backend', '127.0.0.1:1', '--on-backend-error', 'shrug'], /--on-backend-error: expected one of reset, close/],
    [['--backend', '127.0.0.1:1', '--bogus', '1'], /unknown option --bogus/],
    [['--backend'], /--backend needs a value/],
  ];
  for (const [args, message] of cases) {
    const r = await runNode(proxyBinary, args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message, args.join(' '));
    assert.ok(!hasReadyLine(r.stdout), args.join(' '));
  }
});

test('--port 0 prints the ready line; 4 MiB relayed both ways intact; SIGTERM exits 0 with aborted 0', T, async (t) => {
  const backend = await startBackend(t, echoSocket);
  const proxy = await spawnServer({ script: proxyBinary, args: ['--port', '0', '--backend', `127.0.0.1:${backend.port}`], t });
  assert.deepEqual(JSON.parse(proxy.stdoutLines[0]!), { event: 'listening', server: 'proxy', host: '127.0.0.1', port: proxy.port });
  assert.equal((await echoRoundTrip(proxy.port, Buffer.from('hello through the proxy'))).toString(), 'hello through the proxy');
  const client = await connectTo(proxy.port, { allowHalfOpen: true });
  t.after(() => client.destroy());
  const probe = new SocketProbe(client);
  const pattern = new BytePattern();
  const check = pattern.checker(client);
  await pattern.write(client, 4 * 1024 * 1024);
  client.end();
  await probe.until(() => probe.ended, 15_000, 'echo and FIN');
  assert.equal(check.received, 4 * 1024 * 1024);
  assert.equal(check.mismatchAt, null);
  assert.equal(await proxy.stop('SIGTERM'), 0, proxy.stderr);
  assert.ok(proxy.stdoutLines.includes('{"event":"stopped","server":"proxy","aborted":0}'), JSON.stringify(proxy.stdoutLines));
  assert.equal(proxy.stderr, '');
  await assert.rejects(connectTo(proxy.port, { timeoutMs: 2_000 }), (e: NodeJS.ErrnoException) => e.code === 'ECONNREFUSED');
});

test('backend down: the client is reset, stderr gets one JSON line saying refused, and the proxy keeps serving', T, async (t) => {
  const port = await closedPort();
  const proxy = await spawnServer({ script: proxyBinary, args: ['--port', '0', '--backend', `127.0.0.1:${port}`], t });
  assert.equal(await connectUntilDropped(proxy.port, 5_000, 'hello?'), 'reset');
  const deadline = Date.now() + 5_000;
  while (!proxy.stderr.includes('\n') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  const lines = proxy.stderr.trim().split('\n');
  assert.equal(lines.length, 1, proxy.stderr);
  const line = JSON.parse(lines[0]!) as Record<string, unknown>;
  assert.deepEqual(
    { event: line['event'], server: line['server'], reason: line['reason'], backend: line['backend'], code: line['code'] },
    { event: 'backend-error', server: 'proxy', reason: 'refused', backend: `127.0.0.1:${port}`, code: 'PORTICO_ERR_CONNECT_REFUSED' },
  );
  // Still accepting: the next client meets the same fate, not a dead listener.
  assert.equal(await connectUntilDropped(proxy.port), 'reset');
  const lineCount = (): number => proxy.stderr.trim().split('\n').length;
  for (const until = Date.now() + 5_000; lineCount() < 2 && Date.now() < until; ) await new Promise((r) => setTimeout(r, 10));
  assert.equal(lineCount(), 2, proxy.stderr);
  assert.equal(await proxy.stop('SIGTERM'), 0, proxy.stderr);
});

test('SIGTERM lets a channel in flight finish (aborted 0), and refuses new clients meanwhile', T, async (t) => {
  // The backend answers only when the test has seen the listener refuse: the order is fixed, not timed.
  let answer!: () => void;
  const answerNow = new Promise<void>((resolve) => (answer = resolve));
  const backend = await startBackend(t, (socket) => {
    socket.resume();
    socket.on('end', () => void answerNow.then(() => socket.end('answer during the drain')));
  });
  const proxy = await spawnServer({ script: proxyBinary, args: ['--port', '0', '--backend', `127.0.0.1:${backend.port}`, '--drain-timeout', '5s'], t });
  const client = await connectTo(proxy.port, { allowHalfOpen: true });
  t.after(() => client.destroy());
  const probe = new SocketProbe(client);
  await backend.accepted();
  client.end('question');
  const code = proxy.stop('SIGTERM');
  // Draining: the listener is closed at once, while the channel goes on.
  await refusing(proxy.port);
  assert.equal(probe.received, 0, 'refused before the answer came');
  answer();
  await probe.until(() => probe.ended, 5_000, 'the answer through a draining proxy');
  assert.equal(probe.data.toString(), 'answer during the drain');
  assert.equal(probe.error, null);
  assert.equal(await code, 0, proxy.stderr);
  assert.ok(proxy.stdoutLines.includes('{"event":"stopped","server":"proxy","aborted":0}'), JSON.stringify(proxy.stdoutLines));
});

test('SIGTERM with an idle channel: aborted at --drain-timeout, both sides reset, exit 0 reporting aborted 1', T, async (t) => {
  const backend = await startBackend(t, echoSocket);
  const proxy = await spawnServer({ script: proxyBinary, args: ['--port', '0', '--backend', `127.0.0.1:${backend.port}`, '--drain-timeout', '300ms'], t });
  const client = await connectTo(proxy.port, { allowHalfOpen: true });
  t.after(() => client.destroy());
  const probe = new SocketProbe(client);
  assert.equal((await echoOnce(probe, Buffer.from('ping'))).toString(), 'ping');
  const backendProbe = new SocketProbe(await backend.accepted());
  const started = Date.now();
  const code = await proxy.stop('SIGTERM');
  const took = Date.now() - started;
  assert.equal(code, 0, proxy.stderr);
  assert.ok(took >= 250 && took < 4_000, `exited ${took} ms after SIGTERM`);
  assert.ok(proxy.stdoutLines.includes('{"event":"stopped","server":"proxy","aborted":1}'), JSON.stringify(proxy.stdoutLines));
  await probe.until(() => probe.closed || probe.ended, 5_000, 'client side gone');
  await backendProbe.until(() => backendProbe.closed || backendProbe.ended, 5_000, 'backend side gone');
  assert.equal(peerEnd(client, probe.error, probe.ended), 'reset');
  assert.equal(peerEnd(backendProbe.socket, backendProbe.error, backendProbe.ended), 'reset');
});

test('the host runs a proxy from its config; the default config puts one on 7008 in front of the echo server on 7007', T, async (t) => {
  const planned = planServers(JSON.parse(readFileSync(resolve(repoRoot, 'examples/host/default-config.json'), 'utf8')), builtinPlugins);
  const echo = planned.find((p) => p.plugin.name === 'echo');
  const proxyEntry = planned.find((p) => p.plugin.name === 'proxy');
  assert.ok(echo !== undefined && proxyEntry !== undefined);
  assert.equal(proxyEntry.options['backend'], `${String(echo.options['host'])}:${String(echo.options['port'])}`);

  const backend = await startBackend(t, echoSocket);
  const dir = mkdtempSync(join(tmpdir(), 'portico-proxy-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const config = join(dir, 'portico.json');
  writeFileSync(config, JSON.stringify({ servers: [{ server: 'echo', port: 0 }, { server: 'proxy', port: 0, options: { backend: `127.0.0.1:${backend.port}`, 'buffer-bytes': 4096 } }] }));
  const host = await spawnServer({ script: hostBinary, args: ['--config', config], readyCount: 2, t });
  assert.deepEqual(
    host.ready.map((r) => r.server),
    ['echo', 'proxy'],
  );
  const proxyPort = host.ready[1]!.port;
  const payload = Buffer.alloc(200_000, 9);
  assert.ok((await echoRoundTrip(proxyPort, payload)).equals(payload));
  assert.equal(await host.stop('SIGTERM'), 0, host.stderr);
  const help = await runNode(hostBinary, ['--help']);
  assert.match(help.stdout, /^\s+proxy\s+portico-proxy: /m);
});

test('benchmark (printed, not asserted): 1-byte round trips per second, direct vs through the proxy', T, async (t) => {
  const backend = await startBackend(t, echoSocket);
  const proxy = await spawnServer({ script: proxyBinary, args: ['--port', '0', '--backend', `127.0.0.1:${backend.port}`], t });
  const measure = async (port: number): Promise<number> => {
    const socket = await connectTo(port);
    t.after(() => socket.destroy());
    const probe = new SocketProbe(socket);
    const one = Buffer.from('x');
    for (let i = 0; i < 200; i++) await echoOnce(probe, one); // warm up
    let count = 0;
    const until = Date.now() + 1_000;
    while (Date.now() < until) {
      await echoOnce(probe, one);
      count++;
    }
    socket.end();
    return count;
  };
  const direct = await measure(backend.port);
  const proxied = await measure(proxy.port);
  process.stdout.write(`# round trips/s: direct ${direct}, through portico-proxy ${proxied} (${((proxied / direct) * 100).toFixed(0)}%)\n`);
  assert.ok(direct > 0 && proxied > 0);
  assert.equal(await proxy.stop('SIGTERM'), 0, proxy.stderr);
});
