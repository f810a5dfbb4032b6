/**
 * portico's connection layers against the real HAProxy (Debian `haproxy`, installed by `.ci/run`):
 * haproxy's send-proxy / send-proxy-v2 in front of `portico-echo --accept-proxy` (portico must see the
 * original client, not haproxy), and haproxy balancing over two portico echo processes whose health
 * checks carry a PROXY v2 header too; and portico-proxy's send-proxy read by haproxy's accept-proxy. Without haproxy these tests fail; they are never skipped.
 */
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { test } from 'node:test';
import { freePort } from '../helpers/real-owserver.js';
import { haproxyPreamble, startHaproxy } from '../helpers/haproxy.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { selfSignedCert } from '../helpers/self-signed-cert.js';
import { repoRoot, spawnServer, type SpawnedServer } from '../helpers/spawn-server.js';
import { readBytes } from '../helpers/tcp-client.js';

const T = { timeout: 60_000 };

interface ConnectionLog {
  event: 'connection';
  id: number;
  remote: { address: string; port: number };
  local: { address: string; port: number };
  socketRemote: { address: string; port: number };
  proxied: { version: number; command: string; kind: string } | null;
}

function connectionLogs(server: SpawnedServer): ConnectionLog[] {
  return server.stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { event: string })
    .filter((entry): entry is ConnectionLog => entry.event === 'connection');
}

async function waitFor<T>(what: string, check: () => T | undefined, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Connect from a chosen loopback address (so the client's address differs from haproxy's), echo once. */
async function echoFrom(localAddress: string, port: number, text: string): Promise<net.Socket> {
  const socket = net.connect({ host: '127.0.0.1', port, localAddress });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  socket.write(text);
  assert.equal((await readBytes(socket, text.length)).toString(), text);
  return socket;
}

for (const sendProxy of ['send-proxy', 'send-proxy-v2'] as const) {
  test(`haproxy ${sendProxy} → portico-echo --accept-proxy: portico sees the original client and the frontend address`, T, async (t) => {
    const echo = await spawnServer({ t, args: ['--port', '0', '--accept-proxy', '--log-connections'] });
    const front = await freePort();
    await startHaproxy(
      t,
      [...haproxyPreamble(), 'frontend fe', `  bind 127.0.0.1:${front}`, '  default_backend be', 'backend be', `  server echo 127.0.0.1:${echo.port} ${sendProxy}`],
      [front],
    );
    const client = await echoFrom('127.0.0.7', front, `hello through haproxy ${sendProxy}`);
    const log = await waitFor('the connection log line', () => connectionLogs(echo).find((l) => l.remote.address === '127.0.0.7'));
    assert.equal(log.remote.port, client.localPort, 'the client port from the PROXY header');
    assert.deepEqual(log.local, { address: '127.0.0.1', port: front }, 'the destination is haproxy frontend');
    assert.equal(log.socketRemote.address, '127.0.0.1', 'the socket peer is haproxy itself');
    assert.notEqual(log.socketRemote.port, client.localPort);
    assert.equal(log.proxied?.version, sendProxy === 'send-proxy' ? 1 : 2);
    assert.equal(log.proxied?.command, 'proxy');
    assert.equal(log.proxied?.kind, 'tcp4');
    client.destroy();
  });
}

test('portico-echo --accept-proxy refuses a connection without a header (haproxy without send-proxy): reset, and the server lives on', T, async (t) => {
  const echo = await spawnServer({ t, args: ['--port', '0', '--accept-proxy', '--log-connections'] });
  const front = await freePort();
  await startHaproxy(t, [...haproxyPreamble(), 'frontend fe', `  bind 127.0.0.1:${front}`, '  default_backend be', 'backend be', `  server echo 127.0.0.1:${echo.port}`], [front]);
  const socket = net.connect({ host: '127.0.0.1', port: front });
  socket.write('no header here\n');
  const ended = await new Promise<string>((resolve) => {
    socket.on('data', () => resolve('data'));
    socket.once('end', () => resolve('end'));
    socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
  });
  assert.notEqual(ended, 'data', 'nothing was echoed');
  socket.destroy();
  assert.equal(connectionLogs(echo).length, 0, 'no connection reached the protocol');
  // A well-formed header still works on the same server.
  const direct = net.connect({ host: '127.0.0.1', port: echo.port });
  await new Promise<void>((resolve) => direct.once('connect', () => resolve()));
  direct.write('PROXY TCP4 192.0.2.1 192.0.2.2 1234 80\r\nok');
  assert.equal((await readBytes(direct, 2)).toString(), 'ok');
  direct.destroy();
});

test('haproxy balancing over two portico echo processes, PROXY v2 on traffic and on health checks', T, async (t) => {
  const a = await spawnServer({ t, args: ['--port', '0', '--accept-proxy', '--log-connections'] });
  const b = await spawnServer({ t, args: ['--port', '0', '--accept-proxy', '--log-connections'] });
  const front = await freePort();
  const haproxy = await startHaproxy(
    t,
    [
      ...haproxyPreamble(),
      'frontend fe',
      `  bind 127.0.0.1:${front}`,
      '  default_backend be',
      'backend be',
      '  balance roundrobin',
      // Without it the whole check must finish within `inter` (200 ms): one late answer on a loaded
      // machine would mark a server DOWN.
      '  timeout check 5s',
      // The check talks through the layer to the echo: PROXY v2 header, then PING echoed back.
      '  option tcp-check',
      '  tcp-check send PING\\n',
      '  tcp-check expect string PING',
      `  server a 127.0.0.1:${a.port} send-proxy-v2 check check-send-proxy inter 200ms fall 1 rise 1`,
      `  server b 127.0.0.1:${b.port} send-proxy-v2 check check-send-proxy inter 200ms fall 1 rise 1`,
    ],
    [front],
  );
  // haproxy's health checks, each opening with a PROXY v2 header of its own, reached both servers and
  // passed the layer: both stay UP, and traffic reaches both below.
  const checked = (s: SpawnedServer): boolean => connectionLogs(s).some((l) => l.proxied?.version === 2 && l.remote.address === '127.0.0.1');
  await waitFor('a health check on each', () => (checked(a) && checked(b) ? true : undefined));
  const clients: net.Socket[] = [];
  for (let i = 0; i < 10; i++) clients.push(await echoFrom('127.0.0.9', front, `message ${i}`));
  const traffic = (s: SpawnedServer): ConnectionLog[] => connectionLogs(s).filter((l) => l.remote.address === '127.0.0.9');
  await waitFor('ten proxied connections', () => (traffic(a).length + traffic(b).length === 10 ? true : undefined)).catch((e: Error) => {
    throw new Error(`${e.message}: ${JSON.stringify([...traffic(a), ...traffic(b)])}`);
  });
  assert.ok(traffic(a).length >= 3 && traffic(b).length >= 3, `spread: ${traffic(a).length} + ${traffic(b).length}`);
  for (const log of [...traffic(a), ...traffic(b)]) assert.deepEqual([log.proxied?.version, log.proxied?.command, log.socketRemote.address], [2, 'proxy', '127.0.0.1']);
  for (const c of clients) c.destroy();
  assert.doesNotMatch(haproxy.output, /is DOWN/, 'no health check failed');
});

const proxyBinary = resolve(repoRoot, 'dist/examples/proxy/main.js');

for (const version of ['v1', 'v2'] as const) {
  test(`portico-proxy --send-proxy ${version} → haproxy accept-proxy → send-proxy-v2 → portico-echo --accept-proxy: the client's address survives both hops`, T, async (t) => {
    const echo = await spawnServer({ t, args: ['--port', '0', '--accept-proxy', '--log-connections'] });
    const haproxyPort = await freePort();
    await startHaproxy(
      t,
      [...haproxyPreamble(), 'frontend fe', `  bind 127.0.0.1:${haproxyPort} accept-proxy`, '  default_backend be', 'backend be', `  server echo 127.0.0.1:${echo.port} send-proxy-v2`],
      [haproxyPort],
    );
    const proxy = await spawnServer({ t, script: proxyBinary, args: ['--port', '0', '--backend', `127.0.0.1:${haproxyPort}`, '--send-proxy', version] });
    const client = await echoFrom('127.0.0.8', proxy.port, `through portico-proxy and haproxy (${version})`);
    const log = await waitFor('the echo log line', () => connectionLogs(echo).find((l) => l.remote.address === '127.0.0.8'));
    assert.equal(log.remote.port, client.localPort, "haproxy read our header's client port and passed it on");
    assert.deepEqual(log.local, { address: '127.0.0.1', port: proxy.port }, "the destination is portico-proxy's listen address");
    client.destroy();
  });
}

test('portico-proxy --accept-proxy --send-proxy v1: the header the front received is the one the back end sees', T, async (t) => {
  const echo = await spawnServer({ t, args: ['--port', '0', '--accept-proxy', '--log-connections'] });
  const proxy = await spawnServer({ t, script: proxyBinary, args: ['--port', '0', '--backend', `127.0.0.1:${echo.port}`, '--accept-proxy', '--send-proxy', 'v1'] });
  const socket = net.connect({ host: '127.0.0.1', port: proxy.port });
  await new Promise<void>((r) => socket.once('connect', () => r()));
  socket.write('PROXY TCP6 2001:db8::5 2001:db8::80 41000 443\r\nhello');
  assert.equal((await readBytes(socket, 5)).toString(), 'hello');
  const log = await waitFor('the echo log line', () => connectionLogs(echo).at(0));
  assert.deepEqual([log.remote, log.local, log.proxied?.version], [{ address: '2001:db8::5', port: 41000 }, { address: '2001:db8::80', port: 443 }, 1]);
  socket.destroy();
});

test('haproxy send-proxy-v2 + ssl → portico-echo --accept-proxy --tls-cert --tls-key: the PROXY header in clear, then TLS, client address kept', T, async (t) => {
  const { cert, key } = selfSignedCert();
  const dir = await mkdtemp(join(tmpdir(), 'portico-tls-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'cert.pem'), cert);
  await writeFile(join(dir, 'key.pem'), key);
  const echo = await spawnServer({ t, args: ['--port', '0', '--accept-proxy', '--tls-cert', join(dir, 'cert.pem'), '--tls-key', join(dir, 'key.pem'), '--log-connections'] });
  const front = await freePort();
  await startHaproxy(
    t,
    [...haproxyPreamble(), 'frontend fe', `  bind 127.0.0.1:${front}`, '  default_backend be', 'backend be', `  server echo 127.0.0.1:${echo.port} send-proxy-v2 ssl verify none`],
    [front],
  );
  const client = await echoFrom('127.0.0.6', front, 'tls between haproxy and portico');
  const log = await waitFor('the connection log line', () => connectionLogs(echo).find((l) => l.remote.address === '127.0.0.6'));
  assert.equal(log.remote.port, client.localPort);
  assert.equal((log as ConnectionLog & { transport: string }).transport, 'tls');
  client.destroy();
});
