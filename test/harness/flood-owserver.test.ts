/**
 * The flood's owserver client (harness/flood/owserver-client.ts): reply checking on its own, then
 * floods against the portico owserver (in process, so its request and refusal counters can be
 * compared with the flood's) and against the real owserver 3.2p4, with and without persistence.
 * owserver is required: without it the real-server tests fail, they are never skipped.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test, type TestContext } from 'node:test';
import { Sg } from '../../examples/owserver/protocol/constants.js';
import { encodeResponse } from '../../examples/owserver/protocol/header.js';
import { PING } from '../../examples/owserver/server/response.js';
import { createOwserver, owserverPlugin, type OwserverHandle } from '../../examples/owserver/plugin.js';
import { resolveFlags } from '../../examples/shared/flags.js';
import { createProtocolClient } from '../../harness/flood/create-protocol-client.js';
import { runFlood } from '../../harness/flood/flood.js';
import { DEFAULT_OWSERVER_PATH, OwserverProtocolClient, PERSISTENCE_REFUSED } from '../../harness/flood/owserver-client.js';
import type { ReplyCheck } from '../../harness/flood/protocol-client.js';
import { buildScenario } from '../../harness/scenario.js';
import type { FloodOptions, FloodResult } from '../../harness/types.js';
import { repoRoot } from '../helpers/spawn-server.js';
import { startRealOwserver } from '../helpers/real-owserver.js';

const T = { timeout: 60_000 };
/** The request flags the client sends: BUS_LIST | OWNET, plus PERSISTENT when asked. */
const SG = Sg.BUS_LIST | Sg.OWNET;

function floodOptions(port: number, overrides: Partial<FloodOptions> = {}): FloodOptions {
  return {
    protocol: 'owserver',
    host: '127.0.0.1',
    port,
    connections: 20,
    concurrency: 4,
    messages: 5,
    size: 512,
    sendAfterReceive: true,
    connectRate: 0,
    durationCapMs: 30_000,
    connectionTimeoutMs: 10_000,
    ...overrides,
  };
}

/** A READ answer as owserver sends it: ret = payload = size = value length. */
function readReply(value: string, sg: number): Buffer {
  const body = Buffer.from(value, 'latin1');
  return encodeResponse({ version: 0, payload: body.length, ret: body.length, sg, size: body.length, offset: 0 }, body);
}

function session(protocolOptions: FloodOptions['protocolOptions'] = {}) {
  return new OwserverProtocolClient({ size: 512, sendAfterReceive: true, protocolOptions }).openSession();
}

/** The portico owserver in this process, on a free loopback port. */
async function startPortico(t: TestContext, flags: Record<string, unknown> = {}): Promise<OwserverHandle & { port: number }> {
  const handle = createOwserver(resolveFlags(owserverPlugin.flags, { port: 0, seed: 7, ...flags }));
  const { port } = await handle.server.listen();
  t.after(() => handle.server.stop());
  return { ...handle, port };
}

function assertClean(result: FloodResult, connections: number, requests: number): void {
  assert.equal(result.connectionsPlanned, connections);
  assert.equal(result.connectionsMade, connections);
  assert.equal(result.connectionsFailed, 0, JSON.stringify(result.errors));
  assert.equal(result.connectionsReset, 0, JSON.stringify(result.errors));
  assert.equal(result.connectionsBad, 0, JSON.stringify(result.errors));
  assert.equal(result.messagesReceived, requests);
  assert.equal(result.latencyMs.count, requests);
  assert.equal(result.cappedByDuration, false);
}

// ---- the session on its own ---------------------------------------------------------------------

test('owserver session: replies split byte by byte or coalesced, pings skipped, one check per reply', () => {
  const s = session();
  const request = Buffer.from(s.frameRequest(0));
  // The request: a READ of the default path with the persistence bit, size = flood size.
  assert.equal(request.readInt32BE(4), DEFAULT_OWSERVER_PATH.length + 1);
  assert.equal(request.readInt32BE(8), 2);
  assert.equal(request.readInt32BE(12), SG | Sg.PERSISTENT);
  assert.equal(request.readInt32BE(16), 512);
  assert.equal(request.subarray(24).toString('latin1'), `${DEFAULT_OWSERVER_PATH}\0`);

  const reply = readReply('     12.3456', SG | Sg.PERSISTENT);
  const stream = Buffer.concat([PING, reply]);
  const checks: ReplyCheck[] = [];
  for (const byte of stream) checks.push(...s.receive(Buffer.from([byte])));
  assert.deepEqual(checks, [{ ok: true }]);

  s.frameRequest(1);
  s.frameRequest(2);
  assert.deepEqual(s.receive(Buffer.concat([reply, PING, reply])), [{ ok: true }, { ok: true }]);
});

test('owserver session: a negative ret, a malformed reply or a reply nobody asked for is bad', () => {
  const error = session();
  error.frameRequest(0);
  const [check] = error.receive(encodeResponse({ version: 0, payload: 0, ret: -1, sg: SG | Sg.PERSISTENT, size: 0, offset: 0 }));
  assert.equal(check?.ok, false);
  assert.equal(check?.ok === false && check.code, 'OW_ERROR');
  assert.match(check?.ok === false ? check.detail : '', /READ \/28\.4AEC29CDBAAB\/temperature: ret -1/);

  const shape = session();
  shape.frameRequest(0);
  const bad = encodeResponse({ version: 0, payload: 3, ret: 12, sg: SG | Sg.PERSISTENT, size: 3, offset: 0 }, Buffer.from('abc'));
  const [malformed] = shape.receive(bad);
  assert.equal(malformed?.ok === false && malformed.code, 'BAD_REPLY');

  const unasked = session();
  const [extra] = unasked.receive(readReply('1', SG | Sg.PERSISTENT));
  assert.equal(extra?.ok === false && extra.code, 'UNEXPECTED_DATA');

  const sg = session();
  sg.frameRequest(0);
  const [echo] = sg.receive(readReply('1', Sg.OWNET | Sg.PERSISTENT));
  assert.equal(echo?.ok === false && echo.code, 'SG_MISMATCH');

  const framing = session();
  framing.frameRequest(0);
  const [huge] = framing.receive(encodeResponse({ version: 0, payload: 200_000, ret: 0, sg: SG, size: 0, offset: 0 }));
  assert.equal(huge?.ok === false && huge.code, 'FRAMING');
});

test('owserver session: a refused grant says the server closes and counts PERSISTENCE_REFUSED; a new connection starts clean', () => {
  const s = session();
  s.frameRequest(0);
  assert.deepEqual(s.receive(readReply('1', SG)), [{ ok: true, serverCloses: true, note: PERSISTENCE_REFUSED }]);
  // Next request: a new TCP connection, fresh framing state; a granted reply is plain ok again.
  s.frameRequest(1);
  assert.deepEqual(s.receive(readReply('2', SG | Sg.PERSISTENT)), [{ ok: true }]);

  const single = session({ persistent: false });
  assert.equal(Buffer.from(single.frameRequest(0)).readInt32BE(12), SG);
  assert.deepEqual(single.receive(readReply('1', SG)), [{ ok: true, serverCloses: true }]);
  single.frameRequest(1);
  const [granted] = single.receive(readReply('1', SG | Sg.PERSISTENT));
  assert.equal(granted?.ok === false && granted.code, 'UNEXPECTED_GRANT');

  // Bytes behind a reply that announced the close cannot be answers to anything.
  const trailing = session();
  trailing.frameRequest(0);
  const checks = trailing.receive(Buffer.concat([readReply('1', SG), PING.subarray(0, 10)]));
  assert.equal(checks.length, 2);
  assert.equal(checks[1]?.ok === false && checks[1].code, 'UNEXPECTED_DATA');
});

test('owserver session: DIRALL of / wants a NUL-terminated list', () => {
  const s = session({ type: 'dirall' });
  const request = Buffer.from(s.frameRequest(0));
  assert.equal(request.readInt32BE(8), 7);
  assert.equal(request.readInt32BE(16), 0);
  assert.equal(request.subarray(24).toString('latin1'), '/\0');
  const list = Buffer.from('/10.67C6697351FF,/28.4AEC29CDBAAB\0', 'latin1');
  const ok = encodeResponse({ version: 0, payload: list.length, ret: 0, sg: SG | Sg.PERSISTENT, size: list.length - 1, offset: 0x8002 }, list);
  assert.deepEqual(s.receive(ok), [{ ok: true }]);
  s.frameRequest(1);
  const unterminated = encodeResponse({ version: 0, payload: 3, ret: 0, sg: SG | Sg.PERSISTENT, size: 3, offset: 0 }, Buffer.from('/10'));
  assert.equal(s.receive(unterminated)[0]?.ok, false);
});

test('owserver protocolOptions are checked before any socket', () => {
  const make = (protocolOptions: FloodOptions['protocolOptions'], sendAfterReceive = true) =>
    createProtocolClient(floodOptions(1, { protocolOptions, sendAfterReceive }));
  assert.throws(() => make({ persistant: true }), /unknown protocolOptions\.persistant/);
  assert.throws(() => make({ type: 'dir' }), /protocolOptions\.type must be "read" or "dirall"/);
  assert.throws(() => make({ path: 'temperature' }), /protocolOptions\.path must be an absolute owfs path/);
  assert.throws(() => make({ persistent: 'yes' }), /protocolOptions\.persistent must be true or false/);
  assert.throws(() => make({ persistent: false }, false), /pipelining/);
  assert.equal(make({ type: 'dirall', persistent: false }).protocol, 'owserver');
});

test('ci/scenarios/owserver.json is a valid owserver flood scenario', async () => {
  const path = `${repoRoot}/ci/scenarios/owserver.json`;
  const scenario = buildScenario(JSON.parse(await readFile(path, 'utf8')), path);
  assert.equal(scenario.flood.protocol, 'owserver');
  assert.equal(scenario.thresholds.errorBudget, 0);
  assert.ok(scenario.lockOrder && scenario.leakCheck);
  const persistentHigh = Number(scenario.server[scenario.server.indexOf('--clients_persistent_high') + 1]);
  assert.ok(persistentHigh >= scenario.flood.concurrency, 'every concurrent connection can hold a grant');
  createProtocolClient({ ...scenario.flood, host: '127.0.0.1', port: 1 });
});

// ---- against the portico owserver -----------------------------------------------------------------

test('flood vs portico owserver, persistent: one connection per flood connection, exact counts, no refusal', T, async (t) => {
  const ow = await startPortico(t, { clients_persistent_high: 50 });
  const result = await runFlood(floodOptions(ow.port, { connections: 30, concurrency: 6, messages: 8 }));
  assertClean(result, 30, 240);
  assert.equal(result.messagesSent, 240);
  assert.deepEqual(result.errors, {});
  assert.equal(ow.stats.requests, 240);
  assert.equal(ow.ledger.refused, 0);
});

test('flood vs portico owserver, persistent and pipelined DIRALL: exact counts', T, async (t) => {
  const ow = await startPortico(t, { clients_persistent_high: 50 });
  const result = await runFlood(floodOptions(ow.port, { connections: 10, concurrency: 5, messages: 6, sendAfterReceive: false, protocolOptions: { type: 'dirall' } }));
  assertClean(result, 10, 60);
  assert.deepEqual(result.errors, {});
  assert.equal(ow.stats.requests, 60);
});

test('flood vs portico owserver, single-shot: connections × messages requests, one TCP connection each', T, async (t) => {
  const ow = await startPortico(t);
  const result = await runFlood(floodOptions(ow.port, { connections: 12, concurrency: 4, messages: 4, protocolOptions: { persistent: false } }));
  assertClean(result, 12, 48);
  assert.equal(result.messagesSent, 48);
  assert.deepEqual(result.errors, {});
  assert.equal(ow.stats.requests, 48);
  assert.equal(ow.ledger.granted, 0);
});

test('flood vs portico owserver, refused grants: reconnects, every request answered, refusals counted as information', T, async (t) => {
  const ow = await startPortico(t, { clients_persistent_high: 2, clients_persistent_low: 1 });
  const result = await runFlood(floodOptions(ow.port, { connections: 12, concurrency: 6, messages: 5 }));
  assertClean(result, 12, 60);
  assert.equal(ow.stats.requests, 60);
  const refused = result.errors[PERSISTENCE_REFUSED] ?? 0;
  assert.ok(refused > 0, 'with 6 at once and 2 grants, some requests are refused');
  assert.equal(refused, ow.ledger.refused, 'the flood counts exactly the refusals the server made');
  assert.deepEqual(Object.keys(result.errors), [PERSISTENCE_REFUSED]);
});

// ---- against the real owserver 3.2p4 ---------------------------------------------------------------

test('flood vs real owserver, persistent READ: exact counts, no refusal', T, async (t) => {
  const real = await startRealOwserver({ t, args: ['--clients_persistent_high=50', '--clients_persistent_low=50'] });
  t.after(() => real.stop());
  const result = await runFlood(floodOptions(real.port, { connections: 20, concurrency: 4, messages: 5 }));
  assertClean(result, 20, 100);
  assert.deepEqual(result.errors, {});
});

test('flood vs real owserver, single-shot READ: connections × messages requests', T, async (t) => {
  const real = await startRealOwserver({ t });
  t.after(() => real.stop());
  const result = await runFlood(floodOptions(real.port, { connections: 8, concurrency: 4, messages: 3, protocolOptions: { persistent: false } }));
  assertClean(result, 8, 24);
  assert.deepEqual(result.errors, {});
});

test('flood vs real owserver, refused grants and DIRALL: reconnects, every request answered', T, async (t) => {
  const real = await startRealOwserver({ t, args: ['--clients_persistent_high=2', '--clients_persistent_low=1'] });
  t.after(() => real.stop());
  const result = await runFlood(floodOptions(real.port, { connections: 8, concurrency: 5, messages: 4, protocolOptions: { type: 'dirall' } }));
  assertClean(result, 8, 32);
  assert.ok((result.errors[PERSISTENCE_REFUSED] ?? 0) > 0, JSON.stringify(result.errors));
  assert.deepEqual(Object.keys(result.errors), [PERSISTENCE_REFUSED]);
});
