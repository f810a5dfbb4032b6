/**
 * `portico --workers N`: N processes share the listening port (node:cluster), the primary prints one
 * ready line per server, sums the workers' counters, replaces a worker that dies, and drains them all
 * on SIGTERM (exit 0).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { hostBinary, runToExit, spawnServer, type SpawnedServer } from '../helpers/spawn-server.js';
import { connectClient, readBytes } from '../helpers/tcp-client.js';

const T = { timeout: 60_000 };

async function echoConfig(t: { after(fn: () => unknown): void }, servers: readonly object[] = [{ server: 'echo', host: '127.0.0.1', port: 0 }]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'portico-workers-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'config.json');
  await writeFile(file, JSON.stringify({ servers }));
  return file;
}

async function workerPids(host: SpawnedServer): Promise<number[]> {
  const deadline = Date.now() + 5000;
  let pids: RegExpExecArray | null = null;
  while ((pids = /workers \(pids ([\d, ]+)\)/.exec(host.stderr)) === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.ok(pids !== null, `no pids line: ${host.stderr}`);
  return pids[1]!.split(', ').map(Number);
}

async function echoes(port: number, count: number): Promise<void> {
  const clients = await Promise.all(Array.from({ length: count }, () => connectClient(port)));
  await Promise.all(
    clients.map(async (c, i) => {
      c.write(`m${i}`);
      assert.equal((await readBytes(c, `m${i}`.length)).toString(), `m${i}`);
      c.destroy();
    }),
  );
}

interface StatsLine {
  event: 'stats';
  workers: number;
  /** Workers listening on every server. */
  listening: number;
  replaced: number;
  /** In config order. */
  servers: ({ server: string; port: number } & Record<string, number>)[];
}

async function statsLine(server: SpawnedServer, match: (s: StatsLine) => boolean): Promise<StatsLine> {
  const line = await server.waitForLine((l) => {
    if (!l.startsWith('{"event":"stats"')) return false;
    return match(JSON.parse(l) as StatsLine);
  }, 10_000);
  return JSON.parse(line) as StatsLine;
}

test('--workers 2: one ready line, echo served, counters summed, SIGTERM drains every worker and exits 0', T, async (t) => {
  const config = await echoConfig(t);
  const host = await spawnServer({ t, script: hostBinary, args: ['--config', config, '--workers', '2', '--stats-interval', '200ms'] });
  assert.equal(host.ready.length, 1);
  await echoes(host.port, 20);
  const stats = await statsLine(host, (s) => (s.servers[0]?.accepted ?? 0) >= 20);
  assert.equal(stats.workers, 2);
  assert.equal(stats.servers[0]!.accepted, 20);
  assert.equal(await host.stop('SIGTERM'), 0);
  const stopped = JSON.parse(host.stdoutLines.find((l) => l.startsWith('{"event":"stopped"'))!) as { workers: number; stats: Record<string, number> };
  assert.equal(stopped.workers, 2);
  assert.equal(stopped.stats['accepted'], 20);
  assert.equal(host.stdoutLines.filter((l) => l.startsWith('{"event":"listening"')).length, 1, 'one ready line, not one per worker');
});

test('--workers 2: every stats line carries the counters, the first one too (zeros before any connection)', T, async (t) => {
  const config = await echoConfig(t);
  // Much shorter than the workers' report period (1 s): lines before their first report would be bare.
  const host = await spawnServer({ t, script: hostBinary, args: ['--config', config, '--workers', '2', '--stats-interval', '50ms'] });
  await statsLine(host, () => true);
  await echoes(host.port, 3);
  await statsLine(host, (s) => s.servers[0]?.accepted === 3);
  assert.equal(await host.stop('SIGTERM'), 0);
  const lines = host.stdoutLines.filter((l) => l.startsWith('{"event":"stats"')).map((l) => JSON.parse(l) as StatsLine);
  assert.ok(lines.length >= 2, host.stdoutLines.join('\n'));
  const counters = ['accepted', 'active', 'closed', 'overLimit', 'callbackErrors', 'handshakeFailed', 'handshakeAnswered'];
  for (const [i, line] of lines.entries()) {
    const server = line.servers[0]!;
    for (const name of counters) assert.equal(typeof server[name], 'number', `stats line ${i} has ${name}: ${JSON.stringify(line)}`);
  }
  assert.equal(lines[0]!.servers[0]!.accepted, 0, 'no connection yet when the first line is printed');
});

test('--workers 2: a worker killed is replaced, and the port keeps answering', T, async (t) => {
  const config = await echoConfig(t);
  const host = await spawnServer({ t, script: hostBinary, args: ['--config', config, '--workers', '2', '--stats-interval', '200ms'] });
  const deadline = Date.now() + 5000;
  let pids: RegExpExecArray | null = null;
  while ((pids = /workers \(pids (\d+), (\d+)\)/.exec(host.stderr)) === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.ok(pids !== null, `no pids line: ${host.stderr}`);
  process.kill(Number(pids[1]), 'SIGKILL');
  const after = await statsLine(host, (s) => s.replaced === 1 && s.listening === 2);
  assert.equal(after.workers, 2);
  assert.match(host.stderr, /"event":"worker-exit"/);
  await echoes(host.port, 10);
  assert.equal(await host.stop('SIGTERM'), 0);
});

test('--workers out of range is a usage error (exit 2)', T, async () => {
  const result = await runToExit(process.execPath, [hostBinary, '--workers', '0']);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /--workers: must be >= 1/);
});

test('--workers 2: SIGTERM while a replacement worker is still starting: it stops too, exit 0', T, async (t) => {
  const config = await echoConfig(t);
  const host = await spawnServer({ t, script: hostBinary, args: ['--config', config, '--workers', '2'] });
  const deadline = Date.now() + 5000;
  let pids: RegExpExecArray | null = null;
  while ((pids = /workers \(pids (\d+), (\d+)\)/.exec(host.stderr)) === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.ok(pids !== null, `no pids line: ${host.stderr}`);
  process.kill(Number(pids[2]), 'SIGKILL');
  while (!host.stderr.includes('"event":"worker-exit"') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  // The replacement is forked 100 ms after the exit and takes longer than that to listen.
  await new Promise((r) => setTimeout(r, 130));
  assert.equal(await host.stop('SIGTERM', 10_000), 0);
});

test('--workers 2 with the same kind of server twice: a ready line and counters for each, by config entry', T, async (t) => {
  const config = await echoConfig(t, [
    { server: 'echo', host: '127.0.0.1', port: 0 },
    { server: 'echo', host: '127.0.0.1', port: 0, options: { 'high-water': 8192 } },
  ]);
  const host = await spawnServer({ t, script: hostBinary, args: ['--config', config, '--workers', '2', '--stats-interval', '200ms'], readyCount: 2 });
  const [first, second] = host.ready;
  assert.notEqual(first!.port, second!.port, 'two ready lines, two ports');
  await echoes(first!.port, 3);
  await echoes(second!.port, 7);
  const stats = await statsLine(host, (s) => s.servers[0]?.accepted === 3 && s.servers[1]?.accepted === 7);
  assert.deepEqual(stats.servers.map((s) => [s.server, s.port]), [['echo', first!.port], ['echo', second!.port]]);
  assert.equal(await host.stop('SIGTERM'), 0);
  const stopped = host.stdoutLines.filter((l) => l.startsWith('{"event":"stopped"')).map((l) => (JSON.parse(l) as { stats: Record<string, number> }).stats['accepted']);
  assert.deepEqual(stopped, [3, 7]);
});

test('--workers 2: Ctrl-C (SIGINT to the primary and every worker at once) stops cleanly, no IPC error', T, async (t) => {
  const config = await echoConfig(t);
  const host = await spawnServer({ t, script: hostBinary, args: ['--config', config, '--workers', '2'] });
  const pids = await workerPids(host);
  for (const pid of pids) process.kill(pid, 'SIGINT');
  assert.equal(await host.stop('SIGINT'), 0, host.stderr);
  assert.doesNotMatch(host.stderr, /ERR_IPC|Unhandled|Error/);
});

test('--workers 2: a bad server option is a usage error (exit 2), said once, naming its config entry', T, async (t) => {
  const cases: [object, RegExp][] = [
    [{ server: 'proxy', host: '127.0.0.1', port: 0, options: { backend: '127.0.0.1:' } }, /servers\[0\] \(proxy\): --backend: expected HOST:PORT/],
    [{ server: 'proxy', host: '127.0.0.1', port: 0 }, /servers\[0\] \(proxy\): --backend HOST:PORT is required/],
  ];
  for (const [entry, message] of cases) {
    const config = await echoConfig(t, [entry]);
    const result = await runToExit(process.execPath, [hostBinary, '--config', config, '--workers', '2']);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /^portico: /);
    assert.match(result.stderr, message);
    assert.equal(result.stderr.split('\n').filter(Boolean).length, 1, `one line, from the primary, before any worker: ${result.stderr}`);
  }
});

test('--stats-interval without --workers prints the same stats line from the one process', T, async (t) => {
  const config = await echoConfig(t);
  const host = await spawnServer({ t, script: hostBinary, args: ['--config', config, '--stats-interval', '100ms'] });
  await echoes(host.port, 4);
  const stats = await statsLine(host, (s) => s.servers[0]?.accepted === 4);
  assert.deepEqual([stats.workers, stats.servers[0]!.server, stats.servers[0]!.port], [1, 'echo', host.port]);
  assert.equal(await host.stop('SIGTERM'), 0);
});
