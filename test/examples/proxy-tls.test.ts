/**
 * portico-proxy --backend-tls: the PROXY header in clear, then TLS to the back end over the same
 * socket (HAProxy's `server ... send-proxy-v2 ssl`), against portico-echo --accept-proxy --tls-cert.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { selfSignedCert } from '../helpers/self-signed-cert.js';
import { repoRoot, runToExit, spawnServer } from '../helpers/spawn-server.js';
import { collect, readBytes } from '../helpers/tcp-client.js';

const T = { timeout: 30_000 };
const proxyBinary = resolve(repoRoot, 'dist/examples/proxy/main.js');

async function pemFiles(t: { after(fn: () => unknown): void }): Promise<{ cert: string; key: string }> {
  const { cert, key } = selfSignedCert();
  const dir = await mkdtemp(join(tmpdir(), 'portico-proxy-tls-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'cert.pem'), cert);
  await writeFile(join(dir, 'key.pem'), key);
  return { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
}

test('portico-proxy --send-proxy v2 --backend-tls → portico-echo --accept-proxy --tls-cert: echo, and the client address arrives', T, async (t) => {
  const pem = await pemFiles(t);
  const echo = await spawnServer({ t, args: ['--port', '0', '--accept-proxy', '--tls-cert', pem.cert, '--tls-key', pem.key, '--log-connections'] });
  const proxy = await spawnServer({
    t,
    script: proxyBinary,
    args: ['--port', '0', '--backend', `127.0.0.1:${echo.port}`, '--send-proxy', 'v2', '--backend-tls', '--backend-ca', pem.cert, '--backend-servername', 'localhost'],
  });
  const socket = net.connect({ host: '127.0.0.1', port: proxy.port, localAddress: '127.0.0.5' });
  await new Promise<void>((r) => socket.once('connect', () => r()));
  socket.write('through tls');
  assert.equal((await readBytes(socket, 11)).toString(), 'through tls');
  const line = echo.stderr.split('\n').find((l) => l.includes('"event":"connection"'));
  assert.ok(line !== undefined, echo.stderr);
  const log = JSON.parse(line) as { remote: { address: string; port: number }; transport: string };
  assert.deepEqual([log.remote.address, log.remote.port, log.transport], ['127.0.0.5', socket.localPort, 'tls']);
  socket.destroy();
  assert.equal(await proxy.stop(), 0);
});

test('portico-proxy --backend-tls without the CA: the backend certificate does not verify, the client is reset, stderr says TLS', T, async (t) => {
  const pem = await pemFiles(t);
  const echo = await spawnServer({ t, args: ['--port', '0', '--tls-cert', pem.cert, '--tls-key', pem.key] });
  const proxy = await spawnServer({ t, script: proxyBinary, args: ['--port', '0', '--backend', `127.0.0.1:${echo.port}`, '--backend-tls'] });
  const socket = net.connect({ host: '127.0.0.1', port: proxy.port });
  await new Promise<void>((r) => socket.once('connect', () => r()));
  socket.write('x');
  const seen = await collect(socket, 5000);
  assert.equal(seen.ended, 'error');
  const deadline = Date.now() + 3000;
  while (!proxy.stderr.includes('PORTICO_ERR_TLS') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.match(proxy.stderr, /"event":"backend-error".*"code":"PORTICO_ERR_TLS"/);
  assert.equal(await proxy.stop(), 0);
});

test('portico-proxy --backend-ca without --backend-tls exits 2', T, async () => {
  const result = await runToExit(process.execPath, [proxyBinary, '--port', '0', '--backend', '127.0.0.1:1', '--backend-ca', '/nonexistent.pem']);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /--backend-ca and --backend-servername need --backend-tls/);
});

test('portico-proxy --backend-ca with a file that holds no certificate exits 2 at startup', T, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'portico-proxy-ca-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'junk.pem'), 'not a certificate\n');
  const result = await runToExit(process.execPath, [proxyBinary, '--port', '0', '--backend', '127.0.0.1:1', '--backend-tls', '--backend-ca', join(dir, 'junk.pem')]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /--backend-ca: .*junk\.pem holds no PEM certificate/);
});
