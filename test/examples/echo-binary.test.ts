/**
 * The `portico-echo` binary's contract, exercised as a real child process over real sockets on
 * 127.0.0.1: help, flag errors, the ready line, echo (small and 1 MiB), signals, the connection limit,
 * the idle timeout and a port already in use.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import * as net from 'node:net';
import { test } from 'node:test';
import {
  SocketProbe,
  connectTo,
  echoBinary,
  echoOnce,
  echoRoundTrip,
  occupyPort,
  parseReadyLine,
  runNode,
  spawnServer,
} from '../helpers/spawn-server.js';

const T = { timeout: 30_000 };

const hasReadyLine = (stdout: string): boolean => stdout.split('\n').some((l) => parseReadyLine(l) !== null);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('--help prints every flag and exits 0', T, async () => {
  const r = await runNode(echoBinary, ['--help']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.match(r.stdout, /^Usage: portico-echo \[options\]/);
  for (const flag of ['--host', '--port', '--max-connections', '--idle-timeout', '--help']) {
    assert.match(r.stdout, new RegExp(`^\\s+${flag}\\b`, 'm'), `help lists ${flag}`);
  }
  // --help must not start a server.
  assert.ok(!hasReadyLine(r.stdout), r.stdout);
});

test('-h is --help too, even after other flags', T, async () => {
  const r = await runNode(echoBinary, ['--port', '0', '-h']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /--idle-timeout/);
  assert.ok(!hasReadyLine(r.stdout), r.stdout);
});

test('an unknown flag exits 2 with a clear message', T, async () => {
  const r = await runNode(echoBinary, ['--bogus', '1']);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^portico-echo: unknown option --bogus/);
});

test('bad flag values exit 2 naming the flag', T, async () => {
  const cases: [string[], RegExp][] = [
    [['--port', '70000'], /--port: must be <= 65535/],
    [['--port', 'abc'], /--port: expected an integer/],
    [['--port'], /--port needs a value/],
    [['--idle-timeout', 'soon'], /--idle-timeout: not a duration/],
    [['--max-connections', '-1'], /--max-connections: must be >= 0/],
    [['stray'], /unexpected argument "stray"/],
  ];
  for (const [args, message] of cases) {
    const r = await runNode(echoBinary, args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message, args.join(' '));
    assert.ok(!hasReadyLine(r.stdout), args.join(' '));
  }
});

test('--port 0 prints exactly one ready line and echoes a small message', T, async (t) => {
  const server = await spawnServer({ args: ['--port', '0'], t });
  assert.equal(server.stdoutLines.length, 1);
  assert.deepEqual(JSON.parse(server.stdoutLines[0]!), { event: 'listening', server: 'echo', host: '127.0.0.1', port: server.port });
  assert.ok(Number.isInteger(server.port) && server.port > 0 && server.port <= 65535, `real port: ${server.port}`);

  const back = await echoRoundTrip(server.port, Buffer.from('hello, portico\n'));
  assert.equal(back.toString(), 'hello, portico\n');

  // Several messages on one connection come back in order.
  const socket = await connectTo(server.port);
  t.after(() => socket.destroy());
  const probe = new SocketProbe(socket);
  for (let i = 0; i < 20; i++) {
    const msg = Buffer.from(`message ${i};`);
    assert.deepEqual(await echoOnce(probe, msg), msg);
  }

  // Still only one ready line; nothing on stderr.
  assert.equal(server.stdoutLines.filter((l) => parseReadyLine(l) !== null).length, 1);
  assert.equal(server.stderr, '');
  assert.equal(await server.stop('SIGTERM'), 0);
});

test('--backlog sets the listen queue the kernel keeps (ss shows it as the LISTEN socket\'s Send-Q)', T, async (t) => {
  const server = await spawnServer({ args: ['--port', '0', '--backlog', '37'], t });
  const ss = spawnSync('ss', ['-ltnH', `sport = :${server.port}`], { encoding: 'utf8' });
  assert.equal(ss.status, 0, `ss (iproute2) must be installed: ${ss.error?.message ?? ss.stderr}`);
  const cols = ss.stdout.trim().split(/\s+/);
  assert.equal(cols[0], 'LISTEN', ss.stdout);
  assert.equal(cols[2], '37', `Send-Q of the listening socket is its backlog: ${ss.stdout}`);
  assert.equal(await server.stop('SIGTERM'), 0);
});

test('echoes a 1 MiB message intact, then FINs back after our FIN', T, async (t) => {
  const server = await spawnServer({ args: ['--port', '0'], t });
  const payload = randomBytes(1024 * 1024);
  const socket = await connectTo(server.port);
  t.after(() => socket.destroy());
  const probe = new SocketProbe(socket);
  socket.write(payload);
  const back = await probe.take(payload.length, 15_000);
  assert.equal(back.length, payload.length);
  assert.ok(back.equals(payload), '1 MiB came back byte for byte');
  socket.end();
  await probe.until(() => probe.ended, 5_000, 'FIN from the echo server');
  assert.equal(probe.error, null);
  assert.equal(probe.received, 0, 'nothing extra after the echo');
  assert.equal(await server.stop('SIGTERM'), 0);
});

test('1 MiB written while the client reads slowly still comes back intact (backpressure)', T, async (t) => {
  const server = await spawnServer({ args: ['--port', '0', '--high-water', '4096', '--buffer-size', '1024'], t });
  const payload = randomBytes(1024 * 1024);
  const socket = await connectTo(server.port);
  t.after(() => socket.destroy());
  socket.pause();
  socket.write(payload);
  // Let the server fill its queue against a paused reader, then read everything.
  await new Promise((r) => setTimeout(r, 200));
  const probe = new SocketProbe(socket);
  socket.resume();
  const back = await probe.take(payload.length, 15_000);
  assert.ok(back.equals(payload));
  assert.equal(await server.stop('SIGTERM'), 0);
});

test('SIGTERM drains and exits 0 with a stopped line', T, async (t) => {
  const server = await spawnServer({ args: ['--port', '0'], t });
  assert.equal((await echoRoundTrip(server.port, Buffer.from('up'))).toString(), 'up');
  const code = await server.stop('SIGTERM');
  assert.equal(code, 0, server.stderr);
  const stopped = server.stdoutLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e['event'] === 'stopped');
  assert.deepEqual(stopped, [{ event: 'stopped', server: 'echo', aborted: 0 }]);
  assert.equal(server.stderr, '');
  // The listener is gone.
  await assert.rejects(connectTo(server.port, { timeoutMs: 2_000 }), (e: NodeJS.ErrnoException) => e.code === 'ECONNREFUSED');
});

test('SIGINT exits 0', T, async (t) => {
  const server = await spawnServer({ args: ['--port', '0'], t });
  assert.equal((await echoRoundTrip(server.port, Buffer.from('up'))).toString(), 'up');
  assert.equal(await server.stop('SIGINT'), 0, server.stderr);
  assert.ok(server.stdoutLines.includes('{"event":"stopped","server":"echo","aborted":0}'), JSON.stringify(server.stdoutLines));
});

test('a signal sent right after the ready line still drains and exits 0', T, async (t) => {
  // A supervisor may signal as soon as it has seen the ready line: the handlers must already be installed.
  const outcomes: string[] = [];
  for (let i = 0; i < 20; i++) {
    const signal = i % 2 === 0 ? 'SIGTERM' : 'SIGINT';
    const server = await spawnServer({ args: ['--port', '0'], t });
    const code = await server.stop(signal);
    const { signal: killedBy } = await server.exited;
    outcomes.push(`${signal}: code ${code}, killed by ${killedBy ?? 'none'}, stopped line ${server.stdoutLines.some((l) => l.includes('"event":"stopped"'))}`);
  }
  const bad = outcomes.filter((o) => !o.endsWith('code 0, killed by none, stopped line true'));
  assert.deepEqual(bad, [], `runs that did not drain:\n${bad.join('\n')}`);
});

test('SIGTERM gives an open connection the default drain time (5s) to finish gracefully', T, async (t) => {
  const server = await spawnServer({ args: ['--port', '0'], t });
  // allowHalfOpen: we answer the server's FIN ourselves, 300 ms later, well inside the 5 s default.
  const socket = await connectTo(server.port, { allowHalfOpen: true });
  t.after(() => socket.destroy());
  const probe = new SocketProbe(socket);
  assert.equal((await echoOnce(probe, Buffer.from('before'))).toString(), 'before');
  const code = server.stop('SIGTERM');
  await probe.until(() => probe.ended, 5_000, 'FIN from the draining server');
  await sleep(300);
  assert.equal(probe.error, null, 'not reset while we still had time');
  socket.end();
  await probe.until(() => probe.closed, 5_000, 'our socket closed');
  assert.equal(probe.error, null, 'closed gracefully, not reset');
  assert.equal(await code, 0, server.stderr);
  assert.ok(server.stdoutLines.includes('{"event":"stopped","server":"echo","aborted":0}'), `expected aborted 0, got ${JSON.stringify(server.stdoutLines)}`);
});

/**
 * A connection the drain must wait for: the client writes until the kernel takes no more and never
 * reads, so the echo backs up past the high-water mark and the server has no read posted (busy, not idle). An idle connection would
 * be closed at once (FIN, then released), whatever its peer does.
 */
async function busyConnection(port: number, t: { after(fn: () => void): void }): Promise<net.Socket> {
  const socket = await connectTo(port, { allowHalfOpen: true });
  t.after(() => socket.destroy());
  socket.on('error', () => {});
  socket.pause();
  const block = Buffer.alloc(1024 * 1024, 0x61);
  // Write until the kernel buffers on both sides are full and our own queue holds bytes, then until
  // those hold still: the server has stopped reading (past its high-water mark). Not a fixed sleep.
  let written = 0;
  let last = -1;
  for (const until = Date.now() + 10_000; ; ) {
    if (socket.writableLength === 0 && written < 64) {
      socket.write(block);
      written++;
      await new Promise((r) => setImmediate(r));
      continue;
    }
    await sleep(100);
    const unsent = socket.writableLength;
    if (unsent > 0 && unsent === last) break;
    if (Date.now() > until) throw new Error(`the server kept reading: ${unsent} bytes still unsent after ${written} MiB`);
    last = unsent;
  }
  return socket;
}

/** Resolves once the server no longer accepts (its drain has begun). */
async function refusing(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const refused = await connectTo(port).then(
      (s) => (s.destroy(), false),
      () => true,
    );
    if (refused) return;
    await sleep(20);
  }
  throw new Error(`port ${port} still accepting after 2 s`);
}

test('--drain-timeout aborts a connection still busy at the deadline, then exits 0 reporting it', T, async (t) => {
  const server = await spawnServer({ args: ['--port', '0', '--drain-timeout', '300ms'], t });
  await busyConnection(server.port, t);
  const started = Date.now();
  const code = await server.stop('SIGTERM');
  const took = Date.now() - started;
  assert.equal(code, 0, server.stderr);
  assert.ok(took >= 250, `waited for the drain deadline (${took} ms)`);
  assert.ok(took < 4_000, `but not much longer (${took} ms)`);
  // The server's own account: one connection aborted at the deadline. (Our end cannot tell an RST from a
  // FIN here: libuv reports end of stream when the socket hangs up after a partial read.)
  assert.ok(server.stdoutLines.includes('{"event":"stopped","server":"echo","aborted":1}'), JSON.stringify(server.stdoutLines));
});

test('an idle connection does not hold the drain: SIGTERM closes it (FIN) and exits 0 at once', T, async (t) => {
  const server = await spawnServer({ args: ['--port', '0', '--drain-timeout', '30s'], t });
  // allowHalfOpen: we never answer the server's FIN; the drain must not wait for that.
  const socket = await connectTo(server.port, { allowHalfOpen: true });
  t.after(() => socket.destroy());
  const probe = new SocketProbe(socket);
  await echoOnce(probe, Buffer.from('x'));
  const started = Date.now();
  const code = await server.stop('SIGTERM');
  assert.equal(code, 0, server.stderr);
  assert.ok(Date.now() - started < 2_000, `exited ${Date.now() - started} ms after SIGTERM`);
  assert.ok(server.stdoutLines.includes('{"event":"stopped","server":"echo","aborted":0}'), JSON.stringify(server.stdoutLines));
  await probe.until(() => probe.ended, 5_000, 'the FIN of the drain');
});

test('a second SIGTERM during a drain exits 130 at once', T, async (t) => {
  const server = await spawnServer({ args: ['--port', '0', '--drain-timeout', '30s'], t });
  await busyConnection(server.port, t);
  server.child.kill('SIGTERM');
  await refusing(server.port); // the drain has begun: the listener is closed
  const code = await server.stop('SIGTERM', 5_000);
  assert.equal(code, 130);
  assert.match(server.stderr, /second SIGTERM/);
});

test('--max-connections 1: a second concurrent connection is reset while the first still echoes', T, async (t) => {
  const server = await spawnServer({ args: ['--port', '0', '--max-connections', '1'], t });
  const first = await connectTo(server.port);
  t.after(() => first.destroy());
  const firstProbe = new SocketProbe(first);
  assert.equal((await echoOnce(firstProbe, Buffer.from('one'))).toString(), 'one');

  // The kernel completes the handshake, so connect may succeed; then the server resets it.
  const second = await connectTo(server.port).catch((error: NodeJS.ErrnoException) => error);
  if (second instanceof Error) {
    assert.equal(second.code, 'ECONNRESET');
  } else {
    t.after(() => second.destroy());
    const secondProbe = new SocketProbe(second);
    second.write('two');
    await secondProbe.until(() => secondProbe.closed, 5_000, 'the over-limit connection to be closed');
    assert.equal(secondProbe.received, 0, 'the over-limit connection got no data');
    assert.ok(secondProbe.error === null || ['ECONNRESET', 'EPIPE'].includes(secondProbe.error.code ?? ''), `error: ${secondProbe.error?.code}`);
  }

  // The first is untouched.
  assert.equal((await echoOnce(firstProbe, Buffer.from('still here'))).toString(), 'still here');
  assert.equal(firstProbe.error, null);

  // Once the first closes, the slot is free again (retry briefly: the server learns of the close asynchronously).
  first.end();
  await firstProbe.until(() => firstProbe.closed, 5_000, 'first connection closed');
  const deadline = Date.now() + 5_000;
  let echoed: string | null = null;
  while (echoed === null && Date.now() < deadline) {
    echoed = await echoRoundTrip(server.port, Buffer.from('three'), 2_000)
      .then((b) => b.toString())
      .catch(() => null);
    if (echoed === null) await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(echoed, 'three');
  assert.equal(await server.stop('SIGTERM'), 0);
});

test('--max-connections 1 --over-limit close: the second connection gets a FIN and no data', T, async (t) => {
  const server = await spawnServer({ args: ['--port', '0', '--max-connections', '1', '--over-limit', 'close'], t });
  const first = await connectTo(server.port);
  t.after(() => first.destroy());
  const firstProbe = new SocketProbe(first);
  await echoOnce(firstProbe, Buffer.from('one'));
  const second = await connectTo(server.port);
  t.after(() => second.destroy());
  const secondProbe = new SocketProbe(second);
  await secondProbe.until(() => secondProbe.ended, 5_000, 'FIN on the over-limit connection');
  assert.equal(secondProbe.received, 0);
  assert.equal((await echoOnce(firstProbe, Buffer.from('ok'))).toString(), 'ok');
  assert.equal(await server.stop('SIGTERM'), 0);
});

// 1 s, not less: the active client's ticks come from this process, which a loaded machine may hold
// up for a few hundred ms.
test('--idle-timeout 1s closes an idle connection in bounded time, but not an active one', T, async (t) => {
  const server = await spawnServer({ args: ['--port', '0', '--idle-timeout', '1s'], t });

  // An active connection (traffic every 100 ms) outlives several idle periods.
  const busy = await connectTo(server.port);
  t.after(() => busy.destroy());
  const busyProbe = new SocketProbe(busy);
  // The idle one: one exchange, then nothing.
  const idle = await connectTo(server.port);
  t.after(() => idle.destroy());
  const idleProbe = new SocketProbe(idle);
  // Taken before the exchange: the server's last activity (sending the echo) is no earlier than this.
  const lastActivity = Date.now();
  await echoOnce(idleProbe, Buffer.from('ping'));
  const idleClosed = idleProbe.until(() => idleProbe.closed, 6_000, 'idle connection closed by the server').then(() => Date.now());
  idleClosed.catch(() => {});

  const busyUntil = Date.now() + 2_500;
  while (Date.now() < busyUntil) {
    assert.equal((await echoOnce(busyProbe, Buffer.from('tick'), 2_000)).toString(), 'tick');
    await sleep(100);
  }
  const closedAt = await idleClosed;
  const after = closedAt - lastActivity;
  assert.ok(after >= 900, `closed too early: ${after} ms after the last activity`);
  assert.ok(after <= 4_000, `closed too late: ${after} ms`);
  assert.equal(idleProbe.received, 0, 'no data on the idle connection');
  assert.ok(idleProbe.error === null || idleProbe.error.code === 'ECONNRESET', `error: ${idleProbe.error?.code}`);
  assert.equal(busyProbe.closed, false, 'the active connection is still open');
  assert.equal((await echoOnce(busyProbe, Buffer.from('last'))).toString(), 'last');
  assert.equal(await server.stop('SIGTERM'), 0);
});

test('--idle-timeout 300ms closes a connection that never sends anything', T, async (t) => {
  const server = await spawnServer({ args: ['--port', '0', '--idle-timeout', '300ms'], t });
  // Taken before the connect: the server's idle timer starts at its accept, no earlier.
  const connectedAt = Date.now();
  const silent = await connectTo(server.port);
  t.after(() => silent.destroy());
  const probe = new SocketProbe(silent);
  await probe.until(() => probe.closed, 3_000, 'silent connection closed by the server');
  const after = Date.now() - connectedAt;
  assert.ok(after >= 250 && after <= 2_000, `closed ${after} ms after connecting`);
  assert.equal(probe.received, 0);
  assert.equal(await server.stop('SIGTERM'), 0);
});

test('a port already in use: non-zero exit, message names the port, no ready line', T, async (t) => {
  const busy = await occupyPort();
  t.after(() => busy.release());
  const r = await runNode(echoBinary, ['--port', String(busy.port)]);
  assert.notEqual(r.code, 0);
  assert.equal(r.code, 1);
  assert.ok(!hasReadyLine(r.stdout), r.stdout);
  assert.match(r.stderr, new RegExp(`^portico-echo: cannot listen on 127\\.0\\.0\\.1:${busy.port}: EADDRINUSE`));
});
