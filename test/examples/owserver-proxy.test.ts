/**
 * Proxy mode (`-s HOST:PORT`, as owserver's): the portico owserver answering from the real owserver
 * gives the real one's answers, byte for byte; two portico servers pointed at each other do not
 * loop forever (the anti-loop tokens), and both stay up and responsive.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { spawnPortico, startPortico } from '../helpers/owserver-portico.js';
import { DS18B20, DS18S20, DS2405, freePort, runOwShell, startRealOwserver } from '../helpers/real-owserver.js';
import { OwWire, SG_OWSHELL, SG_PERSIST, SG_PERSISTENT, Type, oneShot, request, sleep } from '../helpers/owserver-wire.js';
import type { SpawnedServer } from '../helpers/spawn-server.js';

const T = { timeout: 20_000 };

/** Deterministic requests whose answers must come through the proxy unchanged. */
const deterministic: [string, Buffer][] = [
  ['DIRALL /', request(Type.DIRALL, '/')],
  ['DIRALLSLASH /', request(Type.DIRALLSLASH, '/')],
  ['DIRALL / sg=0', request(Type.DIRALL, '/', { sg: 0 })],
  ['DIRALL / format fi', request(Type.DIRALL, '/', { sg: SG_OWSHELL | 0x01000000 })],
  ['DIR /', request(Type.DIR, '/')],
  ['DIR device', request(Type.DIR, `/${DS2405}`)],
  ['GET device', request(Type.GET, `/${DS2405}`)],
  ['READ volatile', request(Type.READ, '/settings/timeout/volatile')],
  ['READ type', request(Type.READ, `/${DS18B20}/type`)],
  ['READ address size 5 offset 3', request(Type.READ, `/${DS18S20}/address`, { size: 5, offset: 3 })],
  ['PRESENT device', request(Type.PRESENT, `/${DS18B20}`)],
  ['PRESENT /', request(Type.PRESENT, '/')],
  ['PRESENT absent', request(Type.PRESENT, '/10.000000000000')],
  ['READ /nonexist', request(Type.READ, '/nonexist')],
  ['READ device (EISDIR)', request(Type.READ, `/${DS18B20}`)],
  ['DIRALL property (ENOTDIR)', request(Type.DIRALL, `/${DS18B20}/temperature`)],
  ['WRITE read-only', request(Type.WRITE, `/${DS18B20}/temperature`, { data: '3' })],
  ['WRITE PIO', request(Type.WRITE, `/${DS2405}/PIO`, { data: '1' })],
  ['NOP', request(Type.NOP, null)],
];

test('a portico owserver with -s pointing at the real owserver answers like the real one', T, async (t) => {
  const real = await startRealOwserver({ t });
  const proxy = await spawnPortico(['-s', real.spec], t);
  for (const [what, bytes] of deterministic) {
    const [direct, proxied] = await Promise.all([oneShot(real.port, bytes), oneShot(proxy.port, bytes)]);
    assert.equal(proxied.data.toString('hex'), direct.data.toString('hex'), `${what}: the proxy's answer is the real owserver's`);
    assert.equal(proxied.endedBy, 'end', `${what}: closed after the answer, like the real one`);
  }

  // Random readings: same shape.
  const read = request(Type.READ, `/${DS18B20}/temperature`);
  const [direct, proxied] = await Promise.all([oneShot(real.port, read), oneShot(proxy.port, read)]);
  assert.equal(proxied.data.length, direct.data.length);
  assert.equal(proxied.data.subarray(0, 24).toString('hex'), direct.data.subarray(0, 24).toString('hex'));

  // ow-shell through the proxy.
  for (const [tool, args] of [
    ['owdir', ['/']],
    ['owdir', ['--dir', `/${DS18S20}`]],
    ['owread', ['/settings/timeout/volatile']],
    ['owpresent', [`/${DS18B20}`]],
    ['owpresent', ['/10.000000000000']],
    ['owget', [`/${DS2405}`]],
  ] as const) {
    const [viaReal, viaProxy] = await Promise.all([runOwShell(tool, ['-s', real.spec, ...args]), runOwShell(tool, ['-s', `127.0.0.1:${proxy.port}`, ...args])]);
    assert.deepEqual({ code: viaProxy.code, stdout: viaProxy.stdout, stderr: viaProxy.stderr }, { code: viaReal.code, stdout: viaReal.stdout, stderr: viaReal.stderr }, `${tool} ${args.join(' ')}`);
  }
});

test('the proxy grants persistence itself and writes reach the real owserver', T, async (t) => {
  const real = await startRealOwserver({ t });
  const proxy = await spawnPortico(['-s', real.spec], t);
  const wire = await OwWire.open(proxy.port);
  t.after(() => wire.close());
  wire.send(request(Type.WRITE, '/settings/timeout/volatile', { sg: SG_PERSIST, data: '44' }));
  const [written] = await wire.waitReplies(1);
  assert.deepEqual([written!.ret, written!.size, written!.sg & SG_PERSISTENT], [0, 2, SG_PERSISTENT]);
  wire.send(request(Type.READ, '/settings/timeout/volatile', { sg: SG_PERSIST }));
  const replies = await wire.waitReplies(2);
  assert.equal(replies[1]!.body.toString('latin1'), '          44');
  assert.equal(replies[1]!.sg & SG_PERSISTENT, SG_PERSISTENT);
  const direct = await runOwShell('owread', ['-s', real.spec, '/settings/timeout/volatile']);
  assert.equal(direct.stdout, '          44', 'the write went to the real owserver');
});

test('proxy to an upstream that is not there: an error answer, quickly', T, async (t) => {
  const nowhere = await freePort();
  const proxy = await spawnPortico(['-s', `127.0.0.1:${nowhere}`], t);
  const answer = await oneShot(proxy.port, request(Type.READ, '/settings/timeout/volatile'), { timeoutMs: 7000 });
  assert.equal(answer.messages.length, 1, answer.data.toString('hex'));
  assert.ok(answer.messages[0]!.ret < 0, `an error, got ret ${answer.messages[0]!.ret}`);
  assert.ok(answer.ms < 6000, `within the upstream timeout (${answer.ms.toFixed(0)} ms)`);
});

/** Alive: the process runs and accepts a connection. */
async function assertAlive(server: SpawnedServer, name: string): Promise<void> {
  assert.equal(server.child.exitCode, null, `${name} exited: ${server.stderr}`);
  assert.equal(server.child.signalCode, null, `${name} was killed`);
  const wire = await OwWire.open(server.port);
  wire.close();
}

test('two portico servers pointed at each other (A -s B, B -s A) do not loop, and both stay up', { timeout: 30_000 }, async (t) => {
  const [portA, portB] = [await freePort(), await freePort()];
  const [a, b] = await Promise.all([
    spawnPortico(['-p', `127.0.0.1:${portA}`, '-s', `127.0.0.1:${portB}`], t),
    spawnPortico(['-p', `127.0.0.1:${portB}`, '-s', `127.0.0.1:${portA}`], t),
  ]);

  for (const [server, name] of [[a, 'A'], [b, 'B']] as const) {
    for (const [what, bytes] of [
      ['READ', request(Type.READ, '/settings/timeout/volatile')],
      ['DIRALL', request(Type.DIRALL, '/')],
      ['NOP', request(Type.NOP, null)],
    ] as const) {
      const started = performance.now();
      const wire = await OwWire.open(server.port);
      try {
        wire.send(bytes);
        // An error answer, or a closed connection — within a few seconds, not a request circling forever.
        await wire.until(() => wire.replies.length > 0 || wire.ended, 6000, `${what} to ${name}: an answer or a close`);
        const ms = performance.now() - started;
        assert.ok(ms < 6000, `${what} to ${name}: settled in ${ms.toFixed(0)} ms`);
        for (const m of wire.replies) assert.ok(m.ret < 0, `${what} to ${name}: a looping request cannot succeed, got ret ${m.ret}`);
      } finally {
        wire.close();
      }
    }
  }
  await sleep(300);
  await assertAlive(a, 'A');
  await assertAlive(b, 'B');

  // Several at once, and then again: no leak of looping requests or connections.
  const settle = async (port: number): Promise<void> => {
    const wire = await OwWire.open(port);
    try {
      wire.send(request(Type.PRESENT, `/${DS18B20}`));
      await wire.until(() => wire.replies.length > 0 || wire.ended, 6000, 'an answer or a close');
    } finally {
      wire.close();
    }
  };
  await Promise.all(Array.from({ length: 10 }, (_, i) => settle(i % 2 === 0 ? a.port : b.port)));
  await assertAlive(a, 'A');
  await assertAlive(b, 'B');
  assert.equal(a.stderr, '', 'A logged no error');
  assert.equal(b.stderr, '', 'B logged no error');
});

test('the loop is cut by the anti-loop token: A sees its own token come back and drops it', T, async (t) => {
  const [portA, portB] = [await freePort(), await freePort()];
  const a = await startPortico({ port: portA, upstream: `127.0.0.1:${portB}` }, { t });
  const b = await startPortico({ port: portB, upstream: `127.0.0.1:${portA}` }, { t });
  const answer = await oneShot(a.port, request(Type.READ, '/settings/timeout/volatile'), { timeoutMs: 6000 });
  assert.ok(answer.messages.every((m) => m.ret < 0), `an error answer or none: ${answer.data.toString('hex')}`);
  assert.equal(a.stats.loopsDropped, 1, 'A dropped the request that came back with its token');
  assert.equal(b.stats.loopsDropped, 0);
  // Client → A → B → A: the copy that came back to A is dropped before it is counted.
  assert.equal(a.stats.requests, 1, 'A answered only the client (the looped copy is dropped before counting)');
  assert.equal(b.stats.requests, 1);
});

test('a slow upstream: the proxy pings its own client meanwhile, then passes the answer on', T, async (t) => {
  const upstream = await startPortico({ latency: '1500ms' }, { t });
  const proxy = await startPortico({ upstream: upstream.spec }, { t });
  const wire = await OwWire.open(proxy.port);
  t.after(() => wire.close());
  wire.send(request(Type.READ, `/${DS18B20}/temperature`));
  await wire.waitEnded(5000);
  const messages = wire.messages;
  assert.ok(messages.length >= 2, `a ping, then the answer: ${wire.data.toString('hex')}`);
  assert.ok(messages.slice(0, -1).every((m) => m.isPing), 'only pings before the answer');
  const answer = messages.at(-1)!;
  assert.deepEqual([answer.ret, answer.size, answer.sg], [12, 12, SG_OWSHELL]);
});
