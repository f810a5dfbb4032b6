/**
 * Interop, portico client → real owserver 3.2p4: OwClient and the `portico-ow` CLI against the real
 * server — dir, read, write, present, get, errors — and owlib's persistence rules: the real server
 * grants persistence (one connection for 20 sequential requests), and with `--no_persistence` the
 * client falls back to a connection per request and every request is still answered.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OwClientError } from '../../examples/owserver/client/client-errors.js';
import { ROOT_ENTRIES, TEMPERATURE_TEXT, clientFor, owCliBinary } from '../helpers/owserver-portico.js';
import { DS18B20, DS18S20, DS2405, runOwShell, startRealOwserver } from '../helpers/real-owserver.js';
import { runNode } from '../helpers/spawn-server.js';

const T = { timeout: 20_000 };

async function rejectsWith(promise: Promise<unknown>, code: string, ret: number | null): Promise<OwClientError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof OwClientError, `an OwClientError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.equal(error.ret, ret, error.message);
    return error;
  }
  assert.fail(`expected a rejection with ${code}`);
}

test('OwClient against the real owserver: dir, read, write, present, get and errors', T, async (t) => {
  const real = await startRealOwserver({ t });
  const client = clientFor(real.port, t);

  assert.deepEqual(await client.dir('/'), ROOT_ENTRIES);
  assert.deepEqual(await client.dir('/', { slash: true }), ROOT_ENTRIES.map((e) => `${e}/`));
  assert.deepEqual(await client.dir('/', { sg: 0 }), ROOT_ENTRIES.slice(0, 3), 'sg 0: devices only');
  const streamed = await client.dirStream(`/${DS2405}`);
  assert.deepEqual(streamed, await client.dir(`/${DS2405}`), 'DIR (one message per entry) lists what DIRALL lists');
  assert.ok(streamed.includes(`/${DS2405}/PIO`));

  assert.match((await client.read(`/${DS18B20}/temperature`)).toString('latin1'), TEMPERATURE_TEXT);
  assert.equal((await client.read(`/${DS18B20}/temperature`)).length, 12);
  assert.equal((await client.read(`/${DS18B20}/type`)).toString('latin1'), 'DS18B20');
  assert.equal((await client.read(`/${DS18B20}/address`, { size: 4, offset: 2 })).toString('latin1'), '4AEC', 'size and offset');

  assert.equal(await client.write('/settings/timeout/volatile', '31'), 2, 'bytes written');
  assert.equal((await client.read('/settings/timeout/volatile')).toString('latin1'), '          31');
  assert.equal(await client.write(`/${DS2405}/PIO`, '1'), 1);

  assert.equal(await client.present(`/${DS18S20}`), true);
  assert.equal(await client.present('/10.000000000000'), false);

  const dir = await client.get(`/${DS2405}`);
  assert.equal(dir.kind, 'dir');
  assert.ok(dir.kind === 'dir' && dir.entries.includes(`/${DS2405}/PIO`));
  const file = await client.get('/settings/timeout/volatile');
  assert.deepEqual(file, { kind: 'file', value: Buffer.from('          31') });

  await rejectsWith(client.read('/nonexist'), 'OW_ERR_RESPONSE', -1);
  await rejectsWith(client.read(`/${DS18B20}`), 'OW_ERR_RESPONSE', -21);
  await rejectsWith(client.dir(`/${DS18B20}/temperature`), 'OW_ERR_RESPONSE', -20);
  await rejectsWith(client.write(`/${DS18B20}/temperature`, '3'), 'OW_ERR_RESPONSE', -95);
  await rejectsWith(client.request(5, '/', null, { size: 0 }), 'OW_ERR_RESPONSE', -42);
  await rejectsWith(client.read(`/${DS18B20}/temperature`, { size: 0 }), 'OW_ERR_RESPONSE', -90);
});

test('the real owserver grants persistence: 20 sequential requests on one connection', T, async (t) => {
  const real = await startRealOwserver({ t });
  const client = clientFor(real.port, t);
  for (let i = 0; i < 20; i++) {
    if (i % 2 === 0) assert.equal((await client.read('/settings/timeout/volatile')).toString('latin1'), '          15');
    else assert.deepEqual(await client.dir('/'), ROOT_ENTRIES);
  }
  assert.equal(client.stats.requests, 20);
  assert.equal(client.stats.connectionsOpened, 1, JSON.stringify(client.stats));
  assert.equal(client.stats.reused, 19);
  assert.equal(client.stats.grantsRefused, 0);
});

test('against owserver --no_persistence the client falls back to a connection per request', T, async (t) => {
  const real = await startRealOwserver({ t, args: ['--no_persistence'] });
  const client = clientFor(real.port, t);
  for (let i = 0; i < 20; i++) assert.equal((await client.read(`/${DS18B20}/family`)).toString('latin1'), '28');
  assert.deepEqual(await client.dir('/'), ROOT_ENTRIES);
  assert.equal(client.stats.requests, 21);
  assert.equal(client.stats.connectionsOpened, 21, JSON.stringify(client.stats));
  assert.equal(client.stats.grantsRefused, 21);
  assert.equal(client.stats.reused, 0);
});

test('the client notices that the real owserver closed its idle persistent connection, and reconnects', T, async (t) => {
  const real = await startRealOwserver({ t, args: ['--timeout_persistent_low=1', '--timeout_persistent_high=1'] });
  const client = clientFor(real.port, t);
  assert.equal((await client.read(`/${DS18B20}/family`)).toString('latin1'), '28');
  assert.equal((await client.read(`/${DS18B20}/family`)).toString('latin1'), '28');
  assert.equal(client.stats.connectionsOpened, 1);
  await new Promise((r) => setTimeout(r, 3000)); // the server closes the idle connection 0.7–2 s after the last byte
  assert.equal((await client.read(`/${DS18B20}/family`)).toString('latin1'), '28', 'no error: a fresh connection');
  assert.equal(client.stats.connectionsOpened, 2, JSON.stringify(client.stats));
});

test('concurrent OwClient requests against the real owserver are all answered', T, async (t) => {
  const real = await startRealOwserver({ t });
  const client = clientFor(real.port, t, { poolSize: 2 });
  const values = await Promise.all(Array.from({ length: 12 }, () => client.read(`/${DS2405}/address`)));
  for (const v of values) assert.equal(v.toString('latin1'), (values[0] ?? Buffer.alloc(0)).toString('latin1'));
  assert.match(values[0]!.toString('latin1'), /^05F2FBE3467CC2[0-9A-F]{2}$/);
  assert.ok(client.stats.connectionsOpened <= 12);
});

test('portico-ow CLI against the real owserver prints what ow-shell prints', { timeout: 30_000 }, async (t) => {
  const real = await startRealOwserver({ t });
  const s = real.spec;
  const cli = (...args: string[]) => runNode(owCliBinary, args, { timeoutMs: 10_000 });
  const same = async (cliArgs: string[], tool: Parameters<typeof runOwShell>[0], toolArgs: string[]): Promise<void> => {
    const [mine, theirs] = await Promise.all([cli(...cliArgs), runOwShell(tool, ['-s', s, ...toolArgs])]);
    assert.equal(theirs.code, 0, `${tool} ${toolArgs.join(' ')}: ${theirs.stderr}`);
    assert.equal(mine.code, 0, `portico-ow ${cliArgs.join(' ')}: ${mine.stderr}`);
    assert.equal(mine.stdout, theirs.stdout, `portico-ow ${cliArgs.join(' ')} vs ${tool} ${toolArgs.join(' ')}`);
  };

  await same(['dir', '-s', s, '/'], 'owdir', ['/']);
  await same(['dir', '--dir', '-s', s, '/'], 'owdir', ['--dir', '/']);
  await same(['dir', '-s', s, `/${DS2405}`], 'owdir', [`/${DS2405}`]);
  await same(['read', '-s', s, `/${DS18B20}/type`], 'owread', [`/${DS18B20}/type`]);
  await same(['get', '-s', s, '/'], 'owget', ['/']);
  await same(['get', '-s', s, `/${DS18S20}/family`], 'owget', [`/${DS18S20}/family`]);
  await same(['present', '-s', s, `/${DS18B20}`], 'owpresent', [`/${DS18B20}`]);

  const temperature = await cli('read', '-s', s, `/${DS18B20}/temperature`);
  assert.equal(temperature.code, 0, temperature.stderr);
  assert.match(temperature.stdout, TEMPERATURE_TEXT);
  assert.equal(temperature.stdout.length, 12);
  const fahrenheit = await cli('read', '-F', '-s', s, `/${DS18B20}/temperature`);
  assert.equal(fahrenheit.code, 0, fahrenheit.stderr);
  assert.equal(fahrenheit.stdout.length, 12);
  // The fake range is 0..100 °C: 32..212 °F.
  const f = Number(fahrenheit.stdout);
  assert.ok(f >= 32 && f <= 212, `a Fahrenheit value, got ${fahrenheit.stdout}`);

  const write = await cli('write', '-s', s, '/settings/timeout/volatile', '42');
  assert.equal(write.code, 0, write.stderr);
  assert.equal(write.stdout, '');
  assert.equal((await cli('read', '-s', s, '/settings/timeout/volatile')).stdout, '          42');
  assert.equal((await runOwShell('owread', ['-s', s, '/settings/timeout/volatile'])).stdout, '          42', 'ow-shell reads back what portico-ow wrote');

  const absent = await cli('present', '-s', s, '/10.000000000000');
  assert.equal(absent.stdout, '0');
});

test('portico-ow get --dir marks directories like owget --dir', T, async (t) => {
  const real = await startRealOwserver({ t });
  const [mine, theirs] = await Promise.all([
    runNode(owCliBinary, ['get', '--dir', '-s', real.spec, '/'], { timeoutMs: 10_000 }),
    runOwShell('owget', ['--dir', '-s', real.spec, '/']),
  ]);
  assert.equal(theirs.code, 0, theirs.stderr);
  assert.match(theirs.stdout, /^\/10\.67C6697351FF\/\n/);
  assert.equal(mine.code, 0, mine.stderr);
  assert.equal(mine.stdout, theirs.stdout);
});

test('portico-ow errors: exit 1 naming the owserver error; usage errors exit 2', T, async (t) => {
  const real = await startRealOwserver({ t });
  const s = real.spec;
  const cli = (...args: string[]) => runNode(owCliBinary, args, { timeoutMs: 10_000 });

  const unknown = await cli('read', '-s', s, '/nonexist');
  assert.equal(unknown.code, 1);
  assert.equal(unknown.stdout, '');
  assert.match(unknown.stderr, /^portico-ow: .*-1 path not found or unparsable.*\[OW_ERR_RESPONSE\]\n$/);

  const readonly = await cli('write', '-s', s, `/${DS18B20}/temperature`, '3');
  assert.equal(readonly.code, 1);
  assert.match(readonly.stderr, /-95 EOPNOTSUPP/);

  const isDir = await cli('read', '-s', s, `/${DS18B20}`);
  assert.equal(isDir.code, 1);
  assert.match(isDir.stderr, /-21 EISDIR/);

  const notDir = await cli('dir', '-s', s, `/${DS18B20}/temperature`);
  assert.equal(notDir.code, 1);
  assert.match(notDir.stderr, /-20 ENOTDIR/);

  // Nothing listens on a port we held and released a moment ago... use port 1 (privileged, closed).
  const refused = await cli('dir', '-s', '127.0.0.1:1', '/');
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /OW_ERR_CONNECT/);

  const usage = await cli('frobnicate', '-s', s, '/');
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /unknown command "frobnicate"/);
  const missing = await cli('write', '-s', s, '/settings/timeout/volatile');
  assert.equal(missing.code, 2);
});
