/**
 * portico-echo's connection-layer flags, on the built binary: who is refused, who is answered as a
 * monitor, the per-source cap, TLS from files, and the configuration errors (exit 2, the flag named).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import * as tls from 'node:tls';
import { selfSignedCert } from '../helpers/self-signed-cert.js';
import { echoBinary, runToExit, spawnServer } from '../helpers/spawn-server.js';
import { collect, connectClient, readBytes } from '../helpers/tcp-client.js';

const T = { timeout: 30_000 };
/** A PROXY header naming 10.0.0.10 as the client, then the payload. */
const FORGED = 'PROXY TCP4 10.0.0.10 10.0.0.1 40000 7007\r\nping';

/** Connect, send `text`, and say how it ended: the echo, an answer and FIN, or a reset. */
async function outcome(port: number, text: string): Promise<{ ended: string; data: string }> {
  let socket: net.Socket;
  try {
    socket = await connectClient(port, { allowHalfOpen: false });
  } catch (error) {
    return { ended: (error as NodeJS.ErrnoException).code ?? 'error', data: '' };
  }
  const seen = collect(socket, 3000);
  socket.write(text);
  const timer = setTimeout(() => socket.end(), 300); // an echo never ends by itself: close after it came back
  const result = await seen;
  clearTimeout(timer);
  return { ended: result.ended === 'error' ? (result.errorCode ?? 'error') : 'end', data: result.data.toString() };
}

test('portico-echo layer flags: refused, answered, admitted', T, async (t) => {
  const cases: { name: string; args: string[]; send?: string; expect: { ended: string; data: string } }[] = [
    { name: '--deny 127.0.0.0/8 resets', args: ['--deny', '127.0.0.0/8'], expect: { ended: 'ECONNRESET', data: '' } },
    { name: '--allow 10.0.0.0/8,::1 resets 127.0.0.1', args: ['--allow', '10.0.0.0/8,::1'], expect: { ended: 'ECONNRESET', data: '' } },
    { name: '--allow 127.0.0.1 admits it', args: ['--allow', '127.0.0.1'], expect: { ended: 'end', data: 'ping' } },
    { name: '--health-from 127.0.0.0/8 answers OK and closes', args: ['--health-from', '127.0.0.0/8'], expect: { ended: 'end', data: 'OK\n' } },
    { name: '--health-from elsewhere: echoed', args: ['--health-from', '10.9.0.0/16'], expect: { ended: 'end', data: 'ping' } },
    // --allow judges the header's client; --proxy-from judges the socket, before the header.
    { name: '--accept-proxy --allow: the header names an allowed client', args: ['--accept-proxy', '--allow', '10.0.0.10'], send: FORGED, expect: { ended: 'end', data: 'ping' } },
    { name: '--accept-proxy --proxy-from elsewhere: a forged header from here is reset', args: ['--accept-proxy', '--proxy-from', '10.0.0.0/8', '--allow', '10.0.0.10'], send: FORGED, expect: { ended: 'ECONNRESET', data: '' } },
    { name: '--accept-proxy --proxy-from 127.0.0.1: the balancer here may send headers', args: ['--accept-proxy', '--proxy-from', '127.0.0.1'], send: FORGED, expect: { ended: 'end', data: 'ping' } },
  ];
  for (const c of cases) {
    await t.test(c.name, async () => {
      const server = await spawnServer({ t, args: ['--port', '0', ...c.args] });
      const seen = await outcome(server.port, c.send ?? 'ping');
      assert.deepEqual(seen, c.expect);
      assert.equal(await server.stop(), 0);
    });
  }
});

test('portico-echo --max-per-source 1: a second connection from the same address is refused while the first is open', T, async (t) => {
  const server = await spawnServer({ t, args: ['--port', '0', '--max-per-source', '1'] });
  const first = await connectClient(server.port);
  first.write('a');
  assert.equal((await readBytes(first, 1)).toString(), 'a');
  assert.equal((await outcome(server.port, 'b')).ended, 'ECONNRESET');
  first.destroy();
  // The server counts the first connection until it has handled its RST: try again until it has (5 s).
  let third = await outcome(server.port, 'c');
  for (const until = Date.now() + 5000; third.ended === 'ECONNRESET' && Date.now() < until; ) {
    await new Promise((r) => setTimeout(r, 50));
    third = await outcome(server.port, 'c');
  }
  assert.deepEqual(third, { ended: 'end', data: 'c' });
  assert.equal(await server.stop(), 0);
});

test('portico-echo --tls-cert --tls-key: TLS from PEM files', T, async (t) => {
  const { cert, key } = selfSignedCert();
  const dir = await mkdtemp(join(tmpdir(), 'portico-echo-tls-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'cert.pem'), cert);
  await writeFile(join(dir, 'key.pem'), key);
  const server = await spawnServer({ t, args: ['--port', '0', '--tls-cert', join(dir, 'cert.pem'), '--tls-key', join(dir, 'key.pem')] });
  const client = tls.connect({ host: '127.0.0.1', port: server.port, ca: cert, servername: 'localhost' });
  await new Promise<void>((resolve, reject) => {
    client.once('secureConnect', () => resolve());
    client.once('error', reject);
  });
  client.write('secret');
  assert.equal((await readBytes(client, 6)).toString(), 'secret');
  client.destroy();
  assert.equal(await server.stop(), 0);
});

test('portico-echo layer flag errors exit 2 naming the problem', T, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'portico-echo-bad-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'bad.pem'), 'not a certificate');
  const cases: { args: string[]; message: RegExp }[] = [
    { args: ['--deny', '10.0.0.0/33'], message: /not an address range: "10\.0\.0\.0\/33"/ },
    { args: ['--allow', ','], message: /expected comma-separated CIDR ranges/ },
    { args: ['--tls-cert', join(dir, 'bad.pem')], message: /--tls-cert and --tls-key go together/ },
    { args: ['--tls-cert', join(dir, 'missing.pem'), '--tls-key', join(dir, 'missing.pem')], message: /--tls-cert: cannot read .*missing\.pem: ENOENT/ },
    { args: ['--tls-cert', join(dir, 'bad.pem'), '--tls-key', join(dir, 'bad.pem')], message: /cannot load the TLS certificate and key/ },
    { args: ['--handshake-timeout', '0'], message: /--handshake-timeout: must be >= 1/ },
    { args: ['--proxy-from', '10.0.0.0/8'], message: /--proxy-from needs --accept-proxy/ },
    { args: ['--idle-timeout', '5'], message: /--idle-timeout: "5" needs a unit: 5ms, 5s, 5m or 5h/ },
    { args: ['--accept-proxy', '--proxy-from', 'x'], message: /--proxy-from: not an address range: "x"/ },
    // A range with host bits set: refused by each CIDR flag, naming the network it probably meant.
    { args: ['--allow', '10.0.0.0/8,10.0.0.1/8'], message: /^portico-echo: --allow: address range "10\.0\.0\.1\/8" has host bits set; did you mean 10\.0\.0\.0\/8\?/m },
    { args: ['--deny', '2001:db8::1/32'], message: /--deny: address range "2001:db8::1\/32" has host bits set; did you mean 2001:db8::\/32\?/ },
    { args: ['--accept-proxy', '--proxy-from', '192.0.2.10/24'], message: /--proxy-from: address range "192\.0\.2\.10\/24" has host bits set; did you mean 192\.0\.2\.0\/24\?/ },
    { args: ['--health-from', '127.0.0.1/8'], message: /--health-from: address range "127\.0\.0\.1\/8" has host bits set; did you mean 127\.0\.0\.0\/8\?/ },
  ];
  for (const c of cases) {
    const result = await runToExit(process.execPath, [echoBinary, '--port', '0', ...c.args]);
    assert.equal(result.code, 2, `${c.args.join(' ')}: exit ${result.code}, stderr ${result.stderr}`);
    assert.match(result.stderr, c.message);
  }
});

test('portico-echo --log-connections logs connections the layers refused, with the layer and the reason', T, async (t) => {
  const server = await spawnServer({ t, args: ['--port', '0', '--accept-proxy', '--deny', '10.0.0.0/8', '--log-connections'] });
  assert.equal((await outcome(server.port, 'GET / HTTP/1.1\r\n\r\n')).ended, 'ECONNRESET');
  assert.equal((await outcome(server.port, FORGED)).ended, 'ECONNRESET');
  const deadline = Date.now() + 3000;
  const failures = (): { layer: string; code: string; socketRemote: { address: string } }[] =>
    server.stderr
      .split('\n')
      .filter((l) => l.includes('"event":"handshake-failed"'))
      .map((l) => JSON.parse(l) as { layer: string; code: string; socketRemote: { address: string } });
  while (failures().length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(
    failures().map((f) => [f.layer, f.code, f.socketRemote.address]),
    [
      ['accept-proxy', 'PORTICO_ERR_PROXY_PROTOCOL', '127.0.0.1'],
      ['tcp-rules', 'PORTICO_ERR_REJECTED', '127.0.0.1'],
    ],
  );
  assert.equal(await server.stop(), 0);
});
