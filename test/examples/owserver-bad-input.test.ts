/**
 * Bad input against the portico owserver, with the real owserver 3.2p4's behaviour (reference §1,
 * §4, run side by side here where it is deterministic) as the baseline. Every case also runs a
 * bystander — another client doing requests on the same server meanwhile — which must get every
 * answer right: one peer's garbage never harms another's requests.
 *
 * Servers run with `--timeout_server=1` so the receive timeouts take a second, not ten.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { startBystander, startPortico, type StartedPortico } from '../helpers/owserver-portico.js';
import { DS18B20, DS2405, startRealOwserver, type RealOwserver } from '../helpers/real-owserver.js';
import { OwWire, SG_OWSHELL, SG_PERSIST, SG_PERSISTENT, Type, header, oneShot, request, sleep } from '../helpers/owserver-wire.js';

const T = { timeout: 20_000 };
const TEMPERATURE = `/${DS18B20}/temperature`;
const VOLATILE = '/settings/timeout/volatile';
const VOLATILE_ANSWER = '000000000000000c0000000c0000010a0000000c00000000202020202020202020203135';

/** Run `body` while a bystander works the same server; then check the bystander saw no harm. */
async function withBystander<R>(server: StartedPortico, body: () => Promise<R>, options: { persistent?: boolean } = {}): Promise<R> {
  const bystander = startBystander(server.port, options);
  let result: R;
  try {
    result = await body();
  } catch (error) {
    await bystander.stop();
    throw error;
  }
  await sleep(50); // at least one more round after the abuse
  const seen = await bystander.stop();
  assert.deepEqual(seen.failures, [], 'the other client was unharmed');
  assert.ok(seen.answered >= 2, `the other client was answered meanwhile (${seen.answered} answers)`);
  return result;
}

/** Send `writes` on a fresh connection, keep it open, and record what came back until the server closed it. */
async function outcome(port: number, writes: Buffer | Buffer[], timeoutMs = 4000): Promise<{ hex: string; endedBy: string | null; ms: number }> {
  const r = await oneShot(port, Array.isArray(writes) ? writes : [writes], { timeoutMs });
  return { hex: r.data.toString('hex'), endedBy: r.endedBy, ms: r.ms };
}

describe('bad input', { concurrency: true }, () => {
  // One real owserver for the baselines, started by the first case that needs one (the cases that
  // do not need it still run, and fail on their own merits, when owserver is not installed).
  let starting: Promise<RealOwserver> | null = null;
  const realServer = (): Promise<RealOwserver> => (starting ??= startRealOwserver({ args: ['--timeout_server=1'] }));
  after(async () => {
    if (starting !== null) await (await starting.catch(() => null))?.stop();
  });

  /** The same bytes to both servers: the same answer (or the same silence) and a close. */
  async function sameAsReal(server: StartedPortico, what: string, writes: Buffer | Buffer[]): Promise<string> {
    const real = await realServer();
    const [mine, theirs] = await Promise.all([outcome(server.port, writes), outcome(real.port, writes)]);
    assert.equal(mine.hex, theirs.hex, `${what}: the real owserver answered ${theirs.hex || '(nothing)'}`);
    return mine.hex;
  }

  test('negative payload: closed at once with FIN, without a reply', T, async (t) => {
    const server = await startPortico({ timeout_server: 1 }, { t });
    await withBystander(server, async () => {
      for (const payload of [-5, -1, -2147483648]) {
        const hex = await sameAsReal(server, `payload ${payload}`, header(0, payload, Type.READ, SG_OWSHELL, 65536, 0));
        assert.equal(hex, '');
      }
      const wire = await OwWire.open(server.port);
      wire.send(header(0, -5, Type.READ, SG_OWSHELL, 65536, 0));
      const ms = await wire.waitEnded(1000);
      wire.close();
      assert.ok(ms < 900, `closed at once (${ms.toFixed(0)} ms)`);
      assert.equal(wire.endedBy, 'end', 'with FIN, as the real owserver (nothing was left unread)');
      assert.equal(wire.data.length, 0);
    });
  });

  test('payload 100051 (and payload + tokens over 100050): closed at once, before any body, without a reply', T, async (t) => {
    const server = await startPortico({ timeout_server: 1 }, { t });
    await withBystander(server, async () => {
      const framingBefore = server.stats.framingErrors;
      for (const [what, bytes] of [
        ['payload 100051', header(0, 100051, Type.READ, SG_OWSHELL, 65536, 0)],
        ['payload 2^31-1', header(0, 0x7fffffff, Type.WRITE, SG_OWSHELL, 65536, 0)],
        ['payload 2 + 6254 tokens', header(0x00010000 | 6254, 2, Type.NOP, SG_OWSHELL, 0, 0)],
      ] as const) {
        // Only the header is sent and the socket stays open: a server waiting for (or allocating) the body would not close.
        const wire = await OwWire.open(server.port);
        wire.send(bytes);
        const ms = await wire.waitEnded(1000);
        wire.close();
        assert.ok(ms < 900, `${what}: closed at once (${ms.toFixed(0)} ms)`);
        assert.equal(wire.data.length, 0, `${what}: no reply`);
        assert.equal(await sameAsReal(server, what, bytes), '');
      }
      assert.equal(server.stats.framingErrors - framingBefore, 6, 'each counted as a framing error');
      // The limit itself is allowed: payload 100050 is waited for (and timed out, as nothing follows).
      const wire = await OwWire.open(server.port);
      wire.send(header(0, 100050, Type.READ, SG_OWSHELL, 65536, 0));
      assert.ok(await wire.staysOpen(400), 'payload 100050 is a legal length: the server waits for the body');
      wire.close();
    });
  });

  test('a 100050-byte request is read and answered as the real owserver answers it (not dropped)', T, async (t) => {
    const server = await startPortico({ timeout_server: 1 }, { t });
    await withBystander(server, async () => {
      const padded = (type: number, path: string, payload: number, size = 65536): Buffer => {
        const body = Buffer.alloc(payload, 0);
        Buffer.from(path).copy(body); // the path, then NULs
        return Buffer.concat([header(0, payload, type, SG_OWSHELL, size, 0), body]);
      };
      // owserver's READ / DIR / DIRALL handlers refuse a *payload* of PATH_MAX (4096) or more with -90
      // (read.c, dir.c, dirall.c: `sm.payload >= PATH_MAX`), whatever the length up to the NUL;
      // PRESENT and WRITE have no such check.
      assert.equal(await sameAsReal(server, 'READ, payload 100050', padded(Type.READ, VOLATILE, 100050)), '0000000000000000ffffffa60000010a0000000000000000');
      assert.equal(await sameAsReal(server, 'READ, payload 4095', padded(Type.READ, VOLATILE, 4095)), VOLATILE_ANSWER);
      assert.equal(await sameAsReal(server, 'READ, payload 4096', padded(Type.READ, VOLATILE, 4096)), '0000000000000000ffffffa60000010a0000000000000000');
      await sameAsReal(server, 'DIRALL, payload 4096', padded(Type.DIRALL, '/', 4096, 0));
      await sameAsReal(server, 'PRESENT, payload 4096', padded(Type.PRESENT, `/${DS18B20}`, 4096, 0));
    });
  });

  test('READ with size 0, -1, 100051 or 2^31-1: -90 (EMSGSIZE); size 100050 is fine', T, async (t) => {
    const server = await startPortico({ timeout_server: 1 }, { t });
    await withBystander(server, async () => {
      for (const size of [0, -1, 100051, 0x7fffffff]) {
        const hex = await sameAsReal(server, `size ${size}`, request(Type.READ, TEMPERATURE, { size }));
        assert.equal(hex, '0000000000000000ffffffa60000010a0000000000000000', `size ${size}`);
      }
      const max = await outcome(server.port, request(Type.READ, VOLATILE, { size: 100050 }));
      assert.equal(max.hex, VOLATILE_ANSWER);
    });
  });

  test('truncated header, then silence: closed after --timeout_server (1 s) without a reply', T, async (t) => {
    const server = await startPortico({ timeout_server: 1 }, { t });
    const real = await realServer();
    await withBystander(server, async () => {
      const partial = request(Type.READ, TEMPERATURE).subarray(0, 10);
      const [mine, theirs] = await Promise.all([outcome(server.port, partial), outcome(real.port, partial)]);
      assert.equal(theirs.hex, '');
      assert.equal(mine.hex, '', 'no reply');
      assert.ok(theirs.ms > 700 && theirs.ms < 3000, `baseline: the real owserver closed after ${theirs.ms.toFixed(0)} ms`);
      assert.ok(mine.ms > 900 && mine.ms < 2500, `closed after ${mine.ms.toFixed(0)} ms, expected ~1000`);
    });
  });

  test('a connection that never sends anything is closed after --timeout_server, like the real owserver', T, async (t) => {
    const server = await startPortico({ timeout_server: 1 }, { t });
    const real = await realServer();
    await withBystander(server, async () => {
      const [mine, theirs] = await Promise.all([outcome(server.port, []), outcome(real.port, [])]);
      assert.equal(theirs.hex, '');
      assert.ok(theirs.ms > 700 && theirs.ms < 3000, `baseline: the real owserver closed after ${theirs.ms.toFixed(0)} ms`);
      assert.equal(mine.hex, '');
      assert.ok(mine.ms > 900 && mine.ms < 2500, `closed after ${mine.ms.toFixed(0)} ms, expected ~1000`);
    });
  });

  test('payload promised but never sent (or only part of it): closed after the timeout without a reply', T, async (t) => {
    const server = await startPortico({ timeout_server: 1 }, { t });
    const real = await realServer();
    await withBystander(server, async () => {
      const full = request(Type.READ, TEMPERATURE);
      const [none, part, theirs] = await Promise.all([
        outcome(server.port, full.subarray(0, 24)),
        outcome(server.port, full.subarray(0, 30)),
        outcome(real.port, full.subarray(0, 24)),
      ]);
      assert.equal(theirs.hex, '');
      for (const [what, r] of [['header only', none], ['header and 6 body bytes', part]] as const) {
        assert.equal(r.hex, '', `${what}: no reply`);
        assert.ok(r.ms > 900 && r.ms < 2500, `${what}: closed after ${r.ms.toFixed(0)} ms, expected ~1000`);
      }
      assert.ok(server.stats.receiveTimeouts >= 2);
    });
  });

  test('a header trickled byte by byte at 100 ms is answered (the timeout is between reads)', T, async (t) => {
    const server = await startPortico({ timeout_server: 1 }, { t });
    const real = await realServer();
    await withBystander(server, async () => {
      const bytes = request(Type.READ, VOLATILE);
      const [mine, theirs] = await Promise.all(
        [server.port, real.port].map(async (port) => {
          const wire = await OwWire.open(port);
          try {
            await wire.trickle(bytes.subarray(0, 24), 1, 100);
            wire.send(bytes.subarray(24));
            await wire.waitEnded(3000);
            return wire.data.toString('hex');
          } finally {
            wire.close();
          }
        }),
      );
      assert.equal(theirs, VOLATILE_ANSWER, 'baseline');
      assert.equal(mine, VOLATILE_ANSWER);
    });
  });

  test('unknown message types: -42 (ENOMSG)', T, async (t) => {
    const server = await startPortico({ timeout_server: 1 }, { t });
    await withBystander(server, async () => {
      for (const type of [0, 5, 11, 99, -1, 0x7fffffff]) {
        const hex = await sameAsReal(server, `type ${type}`, request(type, '/'));
        assert.equal(hex, '0000000000000000ffffffd60000010a0000000000000000', `type ${type}`);
      }
    });
  });

  test('a path without its NUL is accepted', T, async (t) => {
    const server = await startPortico({ timeout_server: 1 }, { t });
    await withBystander(server, async () => {
      assert.equal(await sameAsReal(server, 'READ without NUL', request(Type.READ, VOLATILE, { noNul: true })), VOLATILE_ANSWER);
      assert.equal(await sameAsReal(server, 'PRESENT without NUL', request(Type.PRESENT, `/${DS18B20}`, { noNul: true })), '0000000000000008000000000000010a0000000000000000284aec29cdbaab95');
      const dirall = await sameAsReal(server, 'DIRALL without NUL', request(Type.DIRALL, `/${DS2405}`, { noNul: true }));
      assert.ok(dirall.length > 48 && dirall.slice(16, 24) === '00000000', `a listing, got ${dirall}`);
    });
  });

  test('paths of 4096 bytes or more that do not parse: -1, as the real owserver (never -90)', T, async (t) => {
    const server = await startPortico({ timeout_server: 1 }, { t });
    const real = await realServer();
    await withBystander(server, async () => {
      for (const [what, path] of [
        ['4096 bytes', `/${'a'.repeat(4095)}`],
        ['4096 bytes under settings', `/settings/${'b'.repeat(4086)}`],
        ['a real property padded past 4096', `/${DS18B20}/${'t'.repeat(4983)}`],
        ['90000 bytes', `/${'c'.repeat(89999)}`],
      ] as const) {
        const [mine, theirs] = await Promise.all([outcome(server.port, request(Type.READ, path)), outcome(real.port, request(Type.READ, path))]);
        assert.equal(theirs.hex, '0000000000000000ffffffff0000010a0000000000000000', `${what}: baseline -1`);
        assert.equal(mine.hex, theirs.hex, `${what}: -1`);
      }
      // 4095 bytes is under PATH_MAX: an ordinary unknown path.
      const under = await outcome(server.port, request(Type.READ, `/${'a'.repeat(4094)}`));
      assert.equal(under.hex, '0000000000000000ffffffff0000010a0000000000000000');
    });
  });

  test('a WRITE whose size moves the path boundary is answered as the real owserver answers it', T, async (t) => {
    const server = await startPortico({ timeout_server: 1 }, { t });
    await withBystander(server, async () => {
      const write = (size: number): Buffer => request(Type.WRITE, `/${DS2405}/PIO`, { data: '1', size });
      // size 5 on a 1-byte write: the path ends 4 bytes early, at "/05.F2FBE3467CC2/" — a directory (-21).
      assert.equal(await sameAsReal(server, 'size 5', write(5)), '0000000000000000ffffffeb0000010a0000000000000000');
      // size 2 (the NUL taken as data) and size 0 (the data taken as path): the real owserver's answer, whatever it is.
      await sameAsReal(server, 'size 2', write(2));
      await sameAsReal(server, 'size 0', write(0));
    });
  });

  test('a WRITE whose size leaves no room for a path (size >= payload): closed without a reply, as the real owserver does', T, async (t) => {
    const server = await startPortico({ timeout_server: 1 }, { t });
    await withBystander(server, async () => {
      const write = (size: number): Buffer => request(Type.WRITE, `/${DS2405}/PIO`, { data: '1', size });
      assert.equal(await sameAsReal(server, 'size 22 = payload', write(22)), '');
      assert.equal(await sameAsReal(server, 'size 30 > payload', write(30)), '');
    });
  });

  test('a WRITE with a negative size (which crashes the real owserver 3.2p4) is refused or dropped, and the server lives on', T, async (t) => {
    const server = await startPortico({ timeout_server: 1 }, { t });
    await withBystander(server, async () => {
      const r = await outcome(server.port, request(Type.WRITE, `/${DS2405}/PIO`, { data: '1', size: -1 }));
      assert.ok(r.hex === '' || r.hex.slice(16, 24) !== '00000000', `an error answer or none, got ${r.hex}`);
    });
  });

  test('an HTTP request line sent to the port: closed without a reply', T, async (t) => {
    const server = await startPortico({ timeout_server: 1 }, { t });
    const real = await realServer();
    await withBystander(server, async () => {
      const http = Buffer.from('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: test\r\nAccept: */*\r\n\r\n');
      const [mine, theirs] = await Promise.all([outcome(server.port, http), outcome(real.port, http)]);
      assert.equal(theirs.hex, '', 'baseline: no reply');
      assert.equal(mine.hex, '', 'no reply');
      assert.ok(mine.ms < 900, `closed at once (${mine.ms.toFixed(0)} ms)`);
    });
  });

  test('a flood past the persistence limit: 50 persistent clients, high=5: all answered, 45 refused', T, async (t) => {
    const server = await startPortico({ timeout_server: 1, clients_persistent_high: 5 }, { t });
    await withBystander(
      server,
      async () => {
        const wires = await Promise.all(Array.from({ length: 50 }, () => OwWire.open(server.port)));
        t.after(() => wires.forEach((w) => w.close()));
        for (const w of wires) w.send(request(Type.READ, VOLATILE, { sg: SG_PERSIST }));
        const answers = await Promise.all(wires.map(async (w) => (await w.waitReplies(1, 5000))[0]!));
        for (const a of answers) assert.equal(a.body.toString('latin1'), '          15');
        const granted = wires.filter((_, i) => (answers[i]!.sg & SG_PERSISTENT) !== 0);
        const refused = wires.filter((_, i) => (answers[i]!.sg & SG_PERSISTENT) === 0);
        assert.equal(granted.length, 5);
        assert.equal(refused.length, 45);
        await Promise.all(refused.map((w) => w.waitEnded(3000)));
        assert.ok(granted.every((w) => !w.ended), 'the granted ones stay open');
        assert.equal(server.ledger.granted, 5);
        assert.equal(server.ledger.refused, 45);
        // The granted ones still work.
        for (const w of granted) w.send(request(Type.NOP, null, { sg: SG_PERSIST }));
        await Promise.all(granted.map((w) => w.waitReplies(2)));
      },
      { persistent: false },
    );
  });

  test('beyond owserver: --message-deadline 2s drops a trickling peer at ~2 s; with 0 the same trickle is answered', T, async (t) => {
    const [guarded, open] = await Promise.all([startPortico({ 'message-deadline': '2s' }, { t }), startPortico({ 'message-deadline': 0 }, { t })]);
    // A 124-byte READ (a 100-byte path), each gap well within --timeout_server (10 s).
    const bytes = request(Type.READ, `/${'p'.repeat(98)}`);
    assert.equal(bytes.length, 124);
    const trickle = async (port: number, piece: number, gapMs: number): Promise<{ ms: number; hex: string }> => {
      const wire = await OwWire.open(port);
      try {
        await wire.trickle(bytes, piece, gapMs);
        const ms = await wire.waitEnded(4000);
        return { ms, hex: wire.data.toString('hex') };
      } finally {
        wire.close();
      }
    };
    const [dropped, droppedSlices, answered] = await withBystander(guarded, () =>
      Promise.all([
        trickle(guarded.port, 1, 400), // one byte every 400 ms: would take 50 s
        trickle(guarded.port, 12, 400), // 11 gaps of 400 ms: 4.4 s
        trickle(open.port, 12, 400), // the same, without a deadline
      ]),
    );
    for (const [what, r] of [['byte by byte', dropped], ['in slices', droppedSlices]] as const) {
      assert.equal(r.hex, '', `${what}: dropped without a reply`);
      assert.ok(r.ms > 1800 && r.ms < 3500, `${what}: dropped after ${r.ms.toFixed(0)} ms, expected ~2000`);
    }
    assert.equal(answered.hex, '0000000000000000ffffffff0000010a0000000000000000', 'answered (-1: no such path) once complete');
    assert.ok(answered.ms > 4000, `answered after the whole trickle (${answered.ms.toFixed(0)} ms)`);
  });
});
