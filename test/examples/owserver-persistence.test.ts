/**
 * Persistent connections (reference §5) against the portico owserver: the grant, the refusal over
 * clients_persistent_high, a request without the bit on a granted connection, pipelining, and the
 * two-step idle timeout reproduced with the reference's own experiment (low=2 / high=3 clients,
 * 2 s / 6 s): one idle connection closes at 6 s; of two, one at 2 s and one at 6 s; of four, the 4th
 * is refused at once, two close at 2 s and one at 6 s.
 *
 * The idle clients here keep their end half-open after the server's FIN, as owlib does (it only
 * notices the FIN when it next uses the socket).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ROOT_ENTRIES, clientFor, spawnPortico, startPortico } from '../helpers/owserver-portico.js';
import { DS18B20, DS2405 } from '../helpers/real-owserver.js';
import { OwWire, SG_OWSHELL, SG_PERSIST, SG_PERSISTENT, Type, request, sleep, type Msg } from '../helpers/owserver-wire.js';

const T = { timeout: 15_000 };

const volatileRead = (sg: number): Buffer => request(Type.READ, '/settings/timeout/volatile', { sg });
const persistentNop = (): Buffer => request(Type.NOP, null, { sg: SG_PERSIST });

function assertGranted(m: Msg, what: string): void {
  assert.equal(m.sg & SG_PERSISTENT, SG_PERSISTENT, `${what}: persistence granted (sg 0x${(m.sg >>> 0).toString(16)})`);
}
function assertRefused(m: Msg, what: string): void {
  assert.equal(m.sg & SG_PERSISTENT, 0, `${what}: persistence bit clear (sg 0x${(m.sg >>> 0).toString(16)})`);
}

/** Wait (bounded) until `cond` holds; for counters that change a moment after a socket event. */
async function eventually(cond: () => boolean, what: string, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`not within ${ms} ms: ${what}`);
    await sleep(10);
  }
}

test('the bit is granted, echoed with the request sg, and the connection stays open for the next request', T, async (t) => {
  const server = await startPortico({}, { t });
  const wire = await OwWire.open(server.port);
  t.after(() => wire.close());

  wire.send(persistentNop());
  const [nop] = await wire.waitReplies(1);
  assert.equal(nop!.raw.toString('hex'), '0000000000000000000000000000010e0000000000000000', 'granted NOP, as the real owserver answers it');
  assert.equal(server.ledger.granted, 1);
  assert.ok(await wire.staysOpen(300), 'still open after the answer');

  wire.send(volatileRead(SG_PERSIST));
  const replies = await wire.waitReplies(2);
  assert.equal(replies[1]!.body.toString('latin1'), '          15');
  assertGranted(replies[1]!, 'second request');
  assert.equal(server.ledger.granted, 1, 'one grant per connection, however many requests');

  wire.close();
  await eventually(() => server.ledger.granted === 0, 'the grant is released when the client goes');
});

test('a DIR on a persistent connection: every element and the end marker carry the bit', T, async (t) => {
  const server = await startPortico({}, { t });
  const wire = await OwWire.open(server.port);
  t.after(() => wire.close());
  wire.send(request(Type.DIR, '/', { sg: SG_PERSIST }));
  const replies = await wire.waitReplies(ROOT_ENTRIES.length + 1);
  replies.forEach((m, i) => assertGranted(m, `DIR message ${i}`));
  assert.deepEqual(
    replies.slice(0, -1).map((m) => m.body.subarray(0, m.size).toString('latin1')),
    ROOT_ENTRIES,
  );
  const end = replies.at(-1)!;
  assert.deepEqual([end.payload, end.ret, end.size, end.offset], [0, 0, 0, 0x8002], 'end marker with the directory flags');
  assert.ok(await wire.staysOpen(200));
});

test('refused over clients_persistent_high: answered with the bit clear, then closed', T, async (t) => {
  const server = await startPortico({ clients_persistent_high: 2 }, { t });
  const wires = await Promise.all([0, 1, 2].map(() => OwWire.open(server.port)));
  t.after(() => wires.forEach((w) => w.close()));
  for (const w of wires.slice(0, 2)) {
    w.send(persistentNop());
    assertGranted((await w.waitReplies(1))[0]!, 'within the limit');
  }
  const third = wires[2]!;
  third.send(volatileRead(SG_PERSIST));
  const [answer] = await third.waitReplies(1);
  assertRefused(answer!, 'over the limit');
  assert.equal(answer!.body.toString('latin1'), '          15', 'still answered');
  const closedAfter = await third.waitEnded(2000);
  assert.equal(third.endedBy, 'end', 'closed gracefully after the answer');
  assert.ok(closedAfter < 1000, `closed at once (${closedAfter.toFixed(0)} ms)`);
  assert.equal(server.ledger.granted, 2);
  assert.equal(server.ledger.refused, 1);

  // The two granted ones are still served, and a freed slot can be granted again.
  wires[0]!.send(volatileRead(SG_PERSIST));
  assertGranted((await wires[0]!.waitReplies(2))[1]!, 'granted connection, next request');
  wires[1]!.close();
  await eventually(() => server.ledger.granted === 1, 'the closed connection gives its grant back');
  const fourth = await OwWire.open(server.port);
  t.after(() => fourth.close());
  fourth.send(persistentNop());
  assertGranted((await fourth.waitReplies(1))[0]!, 'after a slot was freed');
});

test('a request without the bit on a granted connection is answered with the bit clear, then closed', T, async (t) => {
  const server = await startPortico({}, { t });
  const wire = await OwWire.open(server.port);
  t.after(() => wire.close());
  wire.send(persistentNop());
  assertGranted((await wire.waitReplies(1))[0]!, 'first request');
  assert.equal(server.ledger.granted, 1);

  wire.send(volatileRead(SG_OWSHELL));
  const replies = await wire.waitReplies(2);
  assert.equal(replies[1]!.raw.toString('hex'), '000000000000000c0000000c0000010a0000000c00000000202020202020202020203135');
  await wire.waitEnded(2000);
  assert.equal(wire.endedBy, 'end');
  assert.equal(server.ledger.granted, 0, 'the grant is given back with the answer');
});

test('pipelined requests in one write are answered in order, each with the bit', T, async (t) => {
  const server = await startPortico({}, { t });
  const wire = await OwWire.open(server.port);
  t.after(() => wire.close());
  // The reference's capture: NOP + READ + PRESENT in one write; plus a DIRALL, an error and a WRITE.
  wire.send(
    Buffer.concat([
      request(Type.NOP, null, { sg: SG_PERSIST }),
      volatileRead(SG_PERSIST),
      request(Type.PRESENT, `/${DS18B20}`, { sg: SG_PERSIST }),
      request(Type.DIRALL, '/', { sg: SG_PERSIST }),
      request(Type.READ, '/nonexist', { sg: SG_PERSIST }),
      request(Type.WRITE, '/settings/timeout/volatile', { sg: SG_PERSIST, data: '16' }),
      volatileRead(SG_PERSIST),
    ]),
  );
  const r = await wire.waitReplies(7);
  r.forEach((m, i) => assertGranted(m, `reply ${i}`));
  assert.deepEqual([r[0]!.ret, r[0]!.payload], [0, 0], 'NOP');
  assert.equal(r[1]!.body.toString('latin1'), '          15', 'READ');
  assert.equal(r[2]!.body.toString('hex'), '284aec29cdbaab95', 'PRESENT');
  assert.equal(r[3]!.body.toString('latin1'), `${ROOT_ENTRIES.join(',')}\0`, 'DIRALL');
  assert.equal(r[4]!.ret, -1, 'READ /nonexist');
  assert.deepEqual([r[5]!.ret, r[5]!.size], [0, 2], 'WRITE');
  assert.equal(r[6]!.body.toString('latin1'), '          16', 'READ after the WRITE');
  assert.ok(await wire.staysOpen(200), 'still open');
});

test('pipelined requests the bus answers at once go out together: one writev, one segment, not one per answer', T, async (t) => {
  // Its own process: in this one, the client would only read after the server's last write anyway.
  const server = await spawnPortico([], t);
  const wire = await OwWire.open(server.port);
  t.after(() => wire.close());
  wire.send(Buffer.concat(Array.from({ length: 20 }, () => volatileRead(SG_PERSIST))));
  const r = await wire.waitReplies(20);
  r.forEach((m, i) => assertGranted(m, `reply ${i}`));
  assert.equal(wire.probe.chunks.length, 1, `the 20 answers arrived in ${wire.probe.chunks.length} reads`);
  // The connection is not left corked: a later request is answered on its own.
  wire.send(volatileRead(SG_PERSIST));
  await wire.waitReplies(21);
});

test('pipelined requests split at odd places are answered in order', T, async (t) => {
  const server = await startPortico({}, { t });
  const wire = await OwWire.open(server.port);
  t.after(() => wire.close());
  const bytes = Buffer.concat(Array.from({ length: 10 }, (_, i) => request(Type.PRESENT, i % 2 === 0 ? `/${DS18B20}` : `/${DS2405}`, { sg: SG_PERSIST })));
  await wire.trickle(bytes, 37, 5);
  const r = await wire.waitReplies(10);
  r.forEach((m, i) => assert.equal(m.body.toString('hex').slice(0, 2), i % 2 === 0 ? '28' : '05', `reply ${i} in order`));
});

test('a client that half-closes right after its request still gets the answer, then the close', T, async (t) => {
  const server = await startPortico({}, { t });
  const wire = await OwWire.open(server.port);
  t.after(() => wire.close());
  wire.socket.end(request(Type.READ, '/settings/timeout/volatile', { sg: SG_PERSIST }));
  await wire.waitEnded(2000);
  assert.equal(wire.replies.length, 1);
  assert.equal(wire.replies[0]!.body.toString('latin1'), '          15');
  assert.equal(wire.endedBy, 'end');
  await eventually(() => server.ledger.granted === 0, 'no grant outlives the connection');
});

test('OwClient against the portico owserver: 20 sequential requests on one persistent connection', T, async (t) => {
  const server = await startPortico({}, { t });
  const client = clientFor(server.port, t);
  for (let i = 0; i < 20; i++) assert.equal((await client.read('/settings/timeout/volatile')).toString('latin1'), '          15');
  assert.equal(client.stats.connectionsOpened, 1, JSON.stringify(client.stats));
  assert.equal(client.stats.grantsRefused, 0);
  assert.equal(server.ledger.granted, 1);
});

test('--no_persistence: the bit is never granted, every answer is followed by a close', T, async (t) => {
  const server = await startPortico({ no_persistence: true }, { t });
  const wire = await OwWire.open(server.port);
  t.after(() => wire.close());
  wire.send(Buffer.concat([persistentNop(), persistentNop()]));
  await wire.waitEnded(2000);
  assert.equal(wire.replies.length, 1, 'only the first of two pipelined requests is answered');
  assertRefused(wire.replies[0]!, 'no_persistence');
  const client = clientFor(server.port, t);
  for (let i = 0; i < 5; i++) assert.deepEqual(await client.dir('/'), ROOT_ENTRIES);
  assert.equal(client.stats.connectionsOpened, 5);
  assert.equal(client.stats.grantsRefused, 5);
  assert.equal(server.ledger.granted, 0);
});

// ---- the timing experiment of §5 ------------------------------------------------------------------

const EXPERIMENT = ['--clients_persistent_low=2', '--clients_persistent_high=3', '--timeout_persistent_low=2', '--timeout_persistent_high=6'];
const SLACK_MS = 500;

/**
 * Open `count` connections one after the other, each sending a persistent NOP, then leave them idle.
 * Returns, per connection, whether it was granted and how long after its answer the server closed it.
 */
async function idleExperiment(port: number, count: number): Promise<{ granted: boolean; closedAfterMs: number }[]> {
  const wires: OwWire[] = [];
  try {
    const answeredAt: number[] = [];
    const granted: boolean[] = [];
    for (let i = 0; i < count; i++) {
      const wire = await OwWire.open(port);
      wires.push(wire);
      wire.send(persistentNop());
      const [reply] = await wire.waitReplies(1);
      answeredAt.push(performance.now());
      granted.push((reply!.sg & SG_PERSISTENT) !== 0);
    }
    await Promise.all(wires.map((w) => w.waitEnded(8000)));
    return wires.map((w, i) => ({ granted: granted[i]!, closedAfterMs: w.endedAt! - answeredAt[i]! }));
  } finally {
    for (const w of wires) w.close();
  }
}

function assertNear(actualMs: number, expectedMs: number, what: string): void {
  assert.ok(Math.abs(actualMs - expectedMs) <= SLACK_MS, `${what}: closed after ${(actualMs / 1000).toFixed(2)} s, expected ${(expectedMs / 1000).toFixed(1)} s ± ${SLACK_MS / 1000} s`);
}

describe('idle timeouts with low=2/high=3 clients and 2 s/6 s (the reference experiment)', { concurrency: true }, () => {
  test('one idle connection is closed after 6 s', T, async (t) => {
    const server = await spawnPortico(EXPERIMENT, t);
    const [one] = await idleExperiment(server.port, 1);
    assert.ok(one!.granted);
    assertNear(one!.closedAfterMs, 6000, 'the only connection');
  });

  test('two idle connections: one is closed at 2 s, the other then sees a count of 1 and lasts to 6 s', T, async (t) => {
    const server = await spawnPortico(EXPERIMENT, t);
    const results = await idleExperiment(server.port, 2);
    assert.deepEqual(results.map((r) => r.granted), [true, true]);
    const times = results.map((r) => r.closedAfterMs).sort((a, b) => a - b);
    assertNear(times[0]!, 2000, 'the first to time out');
    assertNear(times[1]!, 6000, 'the one left alone');
  });

  test('every request restarts the wait (in process, 1 s / 1 s)', T, async (t) => {
    const server = await startPortico({ timeout_persistent_low: 1, timeout_persistent_high: 1 }, { t });
    const wire = await OwWire.open(server.port);
    t.after(() => wire.close());
    let lastAnswer = 0;
    // 0.3 s apart, not more: the server shares this loop, and a stalled loop runs its 1 s timer before
    // reading the next request. Six requests still span 1.5 s, past the timeout.
    for (let i = 1; i <= 6; i++) {
      if (i > 1) await sleep(300);
      wire.send(persistentNop());
      await wire.waitReplies(i, 1000);
      lastAnswer = performance.now();
    }
    assert.ok(!wire.ended, 'open after 1.5 s of requests 0.3 s apart, with a 1 s idle timeout');
    await wire.waitEnded(3000);
    assertNear(wire.endedAt! - lastAnswer, 1000, 'closed after the last request');
  });

  test('four connections: the 4th is refused at once, two close at 2 s, one at 6 s', T, async (t) => {
    const server = await spawnPortico(EXPERIMENT, t);
    const results = await idleExperiment(server.port, 4);
    assert.deepEqual(results.map((r) => r.granted), [true, true, true, false]);
    assert.ok(results[3]!.closedAfterMs < 300, `the refused one closes at once (${results[3]!.closedAfterMs.toFixed(0)} ms)`);
    const times = results.slice(0, 3).map((r) => r.closedAfterMs).sort((a, b) => a - b);
    assertNear(times[0]!, 2000, 'first granted');
    assertNear(times[1]!, 2000, 'second granted');
    assertNear(times[2]!, 6000, 'the last one left');
  });
});
