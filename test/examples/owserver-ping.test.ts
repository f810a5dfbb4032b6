/**
 * Keep-alive pings (reference §5): while a request is being answered the server sends a ping (24 bytes,
 * payload -1) after 1 s without output and then every second. With a simulated bus that takes 2.5 s
 * per transaction (`--latency 2500ms`) a READ gets at least two pings before its answer; OwClient
 * and the portico-ow CLI skip them — with an answer timeout shorter than the bus, so each ping must
 * restart it — and return the value.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TEMPERATURE_TEXT, clientFor, owCliBinary, spawnPortico, startPortico } from '../helpers/owserver-portico.js';
import { DS18B20 } from '../helpers/real-owserver.js';
import { OwWire, PING_BYTES, SG_OWSHELL, SG_PERSIST, SG_PERSISTENT, Type, request } from '../helpers/owserver-wire.js';
import { runNode } from '../helpers/spawn-server.js';

const T = { timeout: 15_000 };
const TEMPERATURE = `/${DS18B20}/temperature`;

describe('keep-alive pings on a slow bus (--latency 2500ms)', { concurrency: true }, () => {
  test('a READ gets at least 2 pings, each the exact ping bytes, before its answer', T, async (t) => {
    const server = await spawnPortico(['--latency', '2500ms'], t);
    const wire = await OwWire.open(server.port);
    t.after(() => wire.close());
    const started = performance.now();
    wire.send(request(Type.READ, TEMPERATURE, { sg: SG_PERSIST }));
    const [answer] = await wire.waitReplies(1, 6000);
    const took = performance.now() - started;
    const messages = wire.messages;
    const pings = messages.slice(0, messages.indexOf(messages.find((m) => !m.isPing)!));
    assert.ok(pings.length >= 2, `at least 2 pings before the answer, got ${pings.length}`);
    assert.ok(pings.length <= 3, `about one a second, got ${pings.length} in ${took.toFixed(0)} ms`);
    for (const p of pings) assert.equal(p.raw.toString('hex'), PING_BYTES.toString('hex'));
    assert.ok(took >= 2400, `the bus took its time (${took.toFixed(0)} ms)`);
    assert.deepEqual([answer!.payload, answer!.ret, answer!.size, answer!.sg], [12, 12, 12, SG_PERSIST]);
    assert.match(answer!.body.toString('latin1'), TEMPERATURE_TEXT);

    // Requests that do not touch the bus are answered at once, without pings.
    const before = wire.messages.length;
    wire.send(request(Type.NOP, null, { sg: SG_PERSIST }));
    await wire.waitReplies(2, 1000);
    assert.equal(wire.messages.length, before + 1, 'no ping before a quick answer');
    assert.equal(wire.messages.at(-1)!.sg & SG_PERSISTENT, SG_PERSISTENT);
  });

  test('OwClient skips the pings and returns the value, though its timeout (1.5 s) is shorter than the bus', T, async (t) => {
    const server = await startPortico({ latency: '2500ms' }, { t });
    const client = clientFor(server.port, t, { timeoutMs: 1500 });
    const value = await client.read(TEMPERATURE);
    assert.match(value.toString('latin1'), TEMPERATURE_TEXT);
    assert.equal(value.length, 12);
    assert.ok(server.stats.pings >= 2, `the server counted ${server.stats.pings} pings`);
    assert.equal(client.stats.connectionsOpened, 1);
  });

  test('portico-ow read --timeout 1500ms prints the value through the pings', T, async (t) => {
    const server = await startPortico({ latency: '2500ms' }, { t });
    const r = await runNode(owCliBinary, ['read', '--timeout', '1500ms', '-s', server.spec, TEMPERATURE], { timeoutMs: 10_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, TEMPERATURE_TEXT);
  });

  test('a non-persistent READ also gets its pings, then the answer, then the close', T, async (t) => {
    const server = await startPortico({ latency: '1500ms' }, { t });
    const wire = await OwWire.open(server.port);
    t.after(() => wire.close());
    wire.send(request(Type.READ, '/28.4AEC29CDBAAB/temperature', { sg: SG_OWSHELL }));
    await wire.waitEnded(5000);
    const messages = wire.messages;
    assert.equal(messages.length, 2, `one ping and the answer: ${wire.data.toString('hex')}`);
    assert.equal(messages[0]!.raw.toString('hex'), PING_BYTES.toString('hex'));
    assert.deepEqual([messages[1]!.ret, messages[1]!.sg], [12, SG_OWSHELL]);
    assert.equal(wire.endedBy, 'end');
  });
});
