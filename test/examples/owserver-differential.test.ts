/**
 * Differential test: one battery of raw requests — every bad-input case of reference §1/§4 and of
 * owserver-bad-input.test.ts, the persistence and pipelining edges of §5, and a few good requests —
 * each sent on a fresh connection to the real owserver 3.2p4 and to the portico owserver at the same
 * time. For every case the two must agree on every response header field, every body byte, and the
 * close: FIN or RST or still open after a bound, at once or only after a timeout, before or after
 * the client's FIN, and how late input after the server's FIN is taken (the real owserver close(2)s
 * its descriptor, so the first late segment draws an RST). How each is observed: helpers/raw-exchange.ts.
 *
 * Timing is compared within a tolerance, not to the millisecond: every server runs with
 * `--timeout_server=1`, and a close counts as "at once" when it comes under 500 ms after the client's
 * last step, "after a timeout" otherwise (the real owserver's receive timeout fires 0.7–2 s after the
 * last byte, ours at 1.0–1.1 s), "open" when nothing came within 2.5 s. Steps leave 300 ms or more
 * between an answer and the client's next move, so both servers meet the same order — except in the
 * two cases that probe portico's --close-grace window on purpose.
 *
 * Portico runs twice: with its defaults, and with `--close-grace 0`. The default waits up to 100 ms
 * after a non-persistent answer for the client to close first (README: TIME_WAIT lands on the
 * client); the cases whose outcome that window changes by design are listed in CLOSE_GRACE_WINDOW
 * and must match with `--close-grace 0`. What only a framework change can remove is listed in
 * FRAMEWORK_DIFFERENCES. Both lists give the exact differences expected and are asserted to still
 * differ, so they flag the day they go away.
 *
 * Left out: a WRITE with a negative size, which crashes the real owserver 3.2p4 (the bad-input test
 * covers portico's answer); the anti-loop token drop, which needs the real server's own token; the
 * flood past the persistence limit, which needs other server flags (owserver-persistence and
 * owserver-bad-input compare it); and --message-deadline, which the real owserver does not have.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startPortico, type StartedPortico } from '../helpers/owserver-portico.js';
import { compareExchanges, exchange, summarize, type Exchange, type Step } from '../helpers/raw-exchange.js';
import { DS18B20, DS2405, startRealOwserver, type RealOwserver } from '../helpers/real-owserver.js';
import { SG_OWSHELL, SG_PERSIST, Type, header, request } from '../helpers/owserver-wire.js';

const VOLATILE = '/settings/timeout/volatile';
const wait = (waitMs: number): Step => ({ waitMs });
/**
 * A pause before a step meant to come after the server's close: both servers close at once (portico
 * within its 100 ms --close-grace), but on a loaded machine a timer may fire late — then wait for the
 * close (up to 2 s) instead of racing it.
 */
const waitPastClose = (waitMs: number): Step => ({ waitMs, thenAwaitEndMs: 2000 });

/** A path of exactly `length` bytes that parses: "/uncached" repeated, then a real target chosen to fit. */
function parsablePath(length: number): string {
  const targets = [VOLATILE, `/${DS18B20}/id`, `/bus.0/${DS18B20}/crc8`, `/bus.0/${DS18B20}/family`, `/${DS18B20}/crc8`, `/${DS18B20}/power`, `/${DS18B20}/family`, `/${DS18B20}/address`, `/bus.0/${DS18B20}/id`];
  const target = targets.find((t) => t.length <= length && (length - t.length) % 9 === 0);
  if (target === undefined) throw new Error(`no parsable path of ${length} bytes`);
  const path = '/uncached'.repeat((length - target.length) / 9) + target;
  assert.equal(path.length, length);
  return path;
}

/** A request whose body is `path`, then NULs up to `payload` bytes. */
function padded(type: number, path: string, payload: number, size = type === Type.READ ? 65536 : 0): Buffer {
  const body = Buffer.alloc(payload, 0);
  Buffer.from(path, 'latin1').copy(body);
  return Buffer.concat([header(0, payload, type, SG_OWSHELL, size, 0), body]);
}

const read = (path: string, options: Parameters<typeof request>[2] = {}): Buffer => request(Type.READ, path, options);
const write = (path: string, data: string, options: Parameters<typeof request>[2] = {}): Buffer => request(Type.WRITE, path, { data, ...options });
const HTTP = Buffer.from('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: test\r\nAccept: */*\r\n\r\n');
const token = Buffer.from('00112233445566778899aabbccddeeff', 'hex');

interface Case {
  readonly name: string;
  readonly steps: readonly Step[];
}

/** The battery. Each case runs on a fresh connection to each server. */
const battery: readonly Case[] = [
  // ---- framing errors: no reply, closed at once (FIN; RST when unread bytes are left behind) ----
  { name: 'payload -1 (a ping sent as a request)', steps: [header(0, -1, Type.READ, SG_OWSHELL, 65536, 0)] },
  { name: 'payload -5', steps: [header(0, -5, Type.READ, SG_OWSHELL, 65536, 0)] },
  { name: 'payload -2^31', steps: [header(0, -0x80000000, Type.NOP, SG_OWSHELL, 0, 0)] },
  { name: 'payload 100051', steps: [header(0, 100051, Type.READ, SG_OWSHELL, 65536, 0)] },
  { name: 'payload 2^31-1 (WRITE)', steps: [header(0, 0x7fffffff, Type.WRITE, SG_OWSHELL, 65536, 0)] },
  { name: 'payload 2 + 6254 tokens (over 100050 in all)', steps: [header(0x00010000 | 6254, 2, Type.NOP, SG_OWSHELL, 0, 0)] },
  { name: 'payload 0 + 65535 tokens', steps: [header(0x0001ffff, 0, Type.NOP, SG_OWSHELL, 0, 0)] },
  { name: 'payload -5, then more bytes in the same write (left unread)', steps: [Buffer.concat([header(0, -5, Type.READ, SG_OWSHELL, 65536, 0), Buffer.from('abc')])] },
  { name: 'payload 100051, then more bytes in the same write', steps: [Buffer.concat([header(0, 100051, Type.READ, SG_OWSHELL, 65536, 0), Buffer.from('/settings\0')])] },
  { name: 'payload -5, then more bytes 300 ms later', steps: [header(0, -5, Type.READ, SG_OWSHELL, 65536, 0), wait(300), Buffer.from('abc')] },
  { name: 'an HTTP request line', steps: [HTTP] },
  { name: 'payload -5, then FIN', steps: [header(0, -5, Type.READ, SG_OWSHELL, 65536, 0), 'fin'] },

  // ---- incomplete messages: no reply; closed after --timeout_server, or at once on the client's FIN ----
  { name: 'nothing sent', steps: [] },
  { name: 'nothing sent, then FIN', steps: ['fin'] },
  { name: 'a truncated header (10 bytes)', steps: [read(VOLATILE).subarray(0, 10)] },
  { name: 'a truncated header (10 bytes), then FIN', steps: [read(VOLATILE).subarray(0, 10), 'fin'] },
  { name: 'a header, its payload never sent', steps: [read(VOLATILE).subarray(0, 24)] },
  { name: 'a header and 6 of its payload bytes', steps: [read(VOLATILE).subarray(0, 30)] },
  { name: 'a header and 6 of its payload bytes, then FIN', steps: [read(VOLATILE).subarray(0, 30), 'fin'] },
  { name: 'payload 100050 announced, 100 bytes sent', steps: [padded(Type.READ, VOLATILE, 100050).subarray(0, 124)] },
  { name: 'one anti-loop token announced (version 0x00010001), none sent', steps: [read(VOLATILE, { version: 0x00010001 })] },
  { name: 'a header trickled in 3 pieces 300 ms apart', steps: [read(VOLATILE).subarray(0, 8), wait(300), read(VOLATILE).subarray(8, 16), wait(300), read(VOLATILE).subarray(16)] },

  // ---- message types ----
  ...[0, 5, 11, 99, -1, 0x7fffffff].map((type) => ({ name: `type ${type} (-42)`, steps: [request(type, '/')] })),
  { name: 'type 99 without a path', steps: [request(99, null)] },
  { name: 'NOP without a path', steps: [request(Type.NOP, null)] },
  { name: 'NOP with a path', steps: [request(Type.NOP, VOLATILE)] },
  ...(
    [
      ['READ', Type.READ],
      ['WRITE', Type.WRITE],
      ['DIR', Type.DIR],
      ['PRESENT', Type.PRESENT],
      ['DIRALL', Type.DIRALL],
      ['GET', Type.GET],
    ] as const
  ).map(([what, type]) => ({ name: `${what} with payload 0 (-74)`, steps: [request(type, null)] })),

  // ---- READ sizes and offsets ----
  ...[0, -1, 100051, 0x7fffffff].map((size) => ({ name: `READ size ${size} (-90)`, steps: [read(VOLATILE, { size })] })),
  { name: 'READ size 100050', steps: [read(VOLATILE, { size: 100050 })] },
  { name: 'READ size 1', steps: [read(VOLATILE, { size: 1 })] },
  { name: 'READ offset 5', steps: [read(VOLATILE, { offset: 5 })] },
  { name: 'READ offset 12 (at the end)', steps: [read(VOLATILE, { offset: 12 })] },
  { name: 'READ offset 100 (past the end)', steps: [read(VOLATILE, { offset: 100 })] },
  { name: 'READ offset -1', steps: [read(VOLATILE, { offset: -1 })] },

  // ---- paths ----
  { name: 'READ of an unknown path (-1)', steps: [read('/nonexist')] },
  { name: 'READ of a directory (-21)', steps: [read(`/${DS18B20}`)] },
  { name: 'DIRALL of a property (-20)', steps: [request(Type.DIRALL, VOLATILE)] },
  { name: 'READ without the NUL', steps: [read(VOLATILE, { noNul: true })] },
  { name: 'PRESENT without the NUL', steps: [request(Type.PRESENT, `/${DS18B20}`, { noNul: true })] },
  { name: 'DIRALL without the NUL', steps: [request(Type.DIRALL, `/${DS2405}`, { noNul: true })] },
  { name: 'READ, path then NUL then garbage', steps: [read(`${VOLATILE}\0garbage`)] },
  { name: 'READ of a 4095-byte unparsable path', steps: [read(`/${'a'.repeat(4094)}`)] },
  { name: 'READ of a 4096-byte unparsable path', steps: [read(`/${'a'.repeat(4095)}`)] },
  { name: 'READ of a 5000-byte path', steps: [read(`/${'a'.repeat(4999)}`)] },
  { name: 'PRESENT of a 5000-byte path', steps: [request(Type.PRESENT, `/${'a'.repeat(4999)}`)] },
  { name: 'DIRALL of a 5000-byte path', steps: [request(Type.DIRALL, `/${'a'.repeat(4999)}`)] },
  { name: 'READ of a 90000-byte path', steps: [read(`/${'c'.repeat(89999)}`)] },
  { name: 'READ of a real property padded with slashes past 4096', steps: [read(`/${DS18B20}/${'/'.repeat(4983)}`)] },
  ...[4094, 4095, 4096, 4097].flatMap((length) => [
    { name: `READ of a ${length}-byte path that parses`, steps: [read(parsablePath(length))] },
    { name: `PRESENT of a ${length}-byte path that parses`, steps: [request(Type.PRESENT, parsablePath(length))] },
  ]),
  { name: 'READ, payload 4095 (path, then NULs)', steps: [padded(Type.READ, VOLATILE, 4095)] },
  { name: 'READ, payload 4096 (path, then NULs)', steps: [padded(Type.READ, VOLATILE, 4096)] },
  { name: 'READ of a directory, payload 4096', steps: [padded(Type.READ, '/', 4096)] },
  { name: 'READ of an unknown path, payload 4096', steps: [padded(Type.READ, '/nonexist', 4096)] },
  { name: 'READ, payload 100050', steps: [padded(Type.READ, VOLATILE, 100050)] },
  { name: 'DIRALL, payload 4096', steps: [padded(Type.DIRALL, '/', 4096)] },
  { name: 'GET of a property, payload 4096', steps: [padded(Type.GET, VOLATILE, 4096)] },
  { name: 'PRESENT, payload 4096', steps: [padded(Type.PRESENT, `/${DS18B20}`, 4096)] },

  // ---- WRITE ----
  { name: 'WRITE of a read-only property (-95)', steps: [write(`/${DS18B20}/family`, '10')] },
  { name: 'WRITE whose size 5 moves the path end into a directory (-21)', steps: [write(`/${DS2405}/PIO`, '1', { size: 5 })] },
  { name: 'WRITE with size 2 (the NUL taken as data)', steps: [write(`/${DS2405}/PIO`, '1', { size: 2 })] },
  { name: 'WRITE with size 0 (the data taken as path)', steps: [write(`/${DS2405}/PIO`, '1', { size: 0 })] },
  { name: 'WRITE with size = payload (no room for a path)', steps: [write(`/${DS2405}/PIO`, '1', { size: 22 })] },
  { name: 'WRITE with size > payload', steps: [write(`/${DS2405}/PIO`, '1', { size: 30 })] },
  { name: 'WRITE with size = payload, then more bytes', steps: [Buffer.concat([write(`/${DS2405}/PIO`, '1', { size: 22 }), Buffer.from('abc')])] },
  { name: 'WRITE of the same value back', steps: [write(VOLATILE, '15')] },

  // ---- flags and versions ----
  { name: 'DIRALL / with sg 0 (no bus list)', steps: [request(Type.DIRALL, '/', { sg: 0 })] },
  { name: 'DIRALL / with device format 5', steps: [request(Type.DIRALL, '/', { sg: 0x0500010a })] },
  { name: 'DIRALL / with device format 6 (none such)', steps: [request(Type.DIRALL, '/', { sg: 0x0600010a })] },
  { name: 'DIRALL / with device format 255', steps: [request(Type.DIRALL, '/', { sg: 0xff00010a | 0 })] },
  { name: 'READ with pressure scale 7 (none such)', steps: [read(VOLATILE, { sg: 0x001c010a })] },
  { name: 'READ with every sg bit but persistence', steps: [read(VOLATILE, { sg: ~0x04 })] },
  { name: 'READ with every sg bit (persistence granted)', steps: [read(VOLATILE, { sg: -1 })] },
  { name: 'version 0x00020000', steps: [read(VOLATILE, { version: 0x00020000 })] },
  { name: 'version 0x12345600', steps: [read(VOLATILE, { version: 0x12345600 })] },
  { name: 'version 0x80000000', steps: [read(VOLATILE, { version: -0x80000000 })] },
  { name: 'version 0x00010001 with its token', steps: [read(VOLATILE, { version: 0x00010001, tokens: [token] })] },

  // ---- persistence, pipelining, the client's FIN ----
  { name: 'persistent READ: answered, left open', steps: [read(VOLATILE, { sg: SG_PERSIST })] },
  { name: 'persistent READ, FIN 300 ms later', steps: [read(VOLATILE, { sg: SG_PERSIST }), wait(300), 'fin'] },
  { name: 'persistent READ, then a second 300 ms later', steps: [read(VOLATILE, { sg: SG_PERSIST }), wait(300), read(VOLATILE, { sg: SG_PERSIST })] },
  { name: 'persistent READ, then a non-persistent one 300 ms later', steps: [read(VOLATILE, { sg: SG_PERSIST }), wait(300), read(VOLATILE)] },
  { name: 'persistent NOP + READ + PRESENT in one write', steps: [Buffer.concat([request(Type.NOP, null, { sg: SG_PERSIST }), read(VOLATILE, { sg: SG_PERSIST }), request(Type.PRESENT, `/${DS18B20}`, { sg: SG_PERSIST })])] },
  { name: 'persistent READ + non-persistent READ in one write', steps: [Buffer.concat([read(VOLATILE, { sg: SG_PERSIST }), read(VOLATILE)])] },
  {
    // The persistent answers go out corked: the reset must still wait for all three to be written.
    name: 'two persistent READs + a non-persistent READ + 3 stray bytes in one write',
    steps: [Buffer.concat([read(VOLATILE, { sg: SG_PERSIST }), read(VOLATILE, { sg: SG_PERSIST }), read(VOLATILE), Buffer.from('abc')])],
  },
  { name: 'two persistent READs and FIN in one go', steps: [Buffer.concat([read(VOLATILE, { sg: SG_PERSIST }), read(VOLATILE, { sg: SG_PERSIST })]), 'fin'] },
  { name: 'non-persistent READ + persistent READ in one write (the second left unread)', steps: [Buffer.concat([read(VOLATILE), read(VOLATILE, { sg: SG_PERSIST })])] },
  { name: 'non-persistent READ + NOP in one write', steps: [Buffer.concat([read(VOLATILE), request(Type.NOP, null)])] },
  { name: 'READ, then 3 stray bytes in the same write', steps: [Buffer.concat([read(VOLATILE), Buffer.from('abc')])] },
  { name: 'READ, then FIN', steps: [read(VOLATILE), 'fin'] },
  { name: 'READ, then 3 stray bytes and FIN', steps: [Buffer.concat([read(VOLATILE), Buffer.from('abc')]), 'fin'] },
  { name: 'READ, then another request 300 ms later', steps: [read(VOLATILE), waitPastClose(300), read(VOLATILE)] },
  { name: 'READ, then FIN 300 ms later', steps: [read(VOLATILE), waitPastClose(300), 'fin'] },
  { name: 'persistent READ, then a 10-byte partial header', steps: [Buffer.concat([read(VOLATILE, { sg: SG_PERSIST }), read(VOLATILE).subarray(0, 10)])] },
  { name: 'persistent READ, then a 10-byte partial header and FIN', steps: [Buffer.concat([read(VOLATILE, { sg: SG_PERSIST }), read(VOLATILE).subarray(0, 10)]), 'fin'] },
  { name: 'persistent READ, then a payload -5 header', steps: [Buffer.concat([read(VOLATILE, { sg: SG_PERSIST }), header(0, -5, Type.READ, SG_OWSHELL, 65536, 0)])] },
  { name: 'persistent READ, then an HTTP request line', steps: [Buffer.concat([read(VOLATILE, { sg: SG_PERSIST }), HTTP])] },
  { name: 'persistent READ, then a WRITE with no room for a path', steps: [Buffer.concat([read(VOLATILE, { sg: SG_PERSIST }), write(`/${DS2405}/PIO`, '1', { size: 22, sg: SG_PERSIST })])] },
  { name: 'persistent DIR of /', steps: [request(Type.DIR, '/', { sg: SG_PERSIST })] },

  // ---- good requests ----
  { name: 'READ', steps: [read(VOLATILE)] },
  { name: 'READ of a device property', steps: [read(`/${DS18B20}/family`)] },
  { name: 'PRESENT of a device', steps: [request(Type.PRESENT, `/${DS18B20}`)] },
  { name: 'PRESENT of a missing device', steps: [request(Type.PRESENT, '/28.000000000000')] },
  { name: 'PRESENT of /', steps: [request(Type.PRESENT, '/')] },
  { name: 'DIR of /', steps: [request(Type.DIR, '/')] },
  { name: 'DIRALL of /', steps: [request(Type.DIRALL, '/')] },
  { name: 'DIRALLSLASH of /', steps: [request(Type.DIRALLSLASH, '/')] },
  { name: 'GET of /', steps: [request(Type.GET, '/')] },
  { name: 'GET of a property', steps: [request(Type.GET, VOLATILE)] },
  { name: 'GETSLASH of a device', steps: [request(Type.GETSLASH, `/${DS2405}`)] },
  { name: 'READ, then another request 50 ms later', steps: [read(VOLATILE), wait(50), read(VOLATILE)] },
  { name: 'READ, then FIN 50 ms later', steps: [read(VOLATILE), wait(50), 'fin'] },
  { name: 'READ, client silent 3 s after the FIN, then late input', steps: [read(VOLATILE), wait(3000)] },
];

/**
 * Differences only a framework change can remove, each with the exact differences expected (any
 * other difference fails the case as usual). The test asserts they are still there, so it flags the
 * day one goes away.
 */
// Empty since owserver's connection closes as close(2) does (close({ waitForPeer: false })): the late
// input of 'READ, client silent 3 s after the FIN' now draws the kernel's RST, as owserver's does.
const FRAMEWORK_DIFFERENCES: ReadonlyMap<string, readonly string[]> = new Map<string, readonly string[]>([]);

/**
 * Cases whose outcome the default --close-grace window changes by design, with the exact
 * differences expected; with --close-grace 0 they must match like every other case.
 */
const CLOSE_GRACE_WINDOW: ReadonlyMap<string, readonly string[]> = new Map([
  // Within the window the answer is out but our FIN is not: input then is reset at once, where
  // owserver's FIN went out first and the input drew the reset.
  ['READ, then another request 50 ms later', ['ended with RST instead of FIN', "late input after the server's FIN: n/a instead of reset-on-data"]],
  // The point of the window: the client closes first, so TIME_WAIT lands on it.
  ['READ, then FIN 50 ms later', ["server ended after the client's FIN instead of before the client's FIN"]],
]);

/** Differences that are all timing buckets of the close, and not ones this case expects. */
function timingOnly(diffs: readonly string[], name: string): boolean {
  const expected = new Set([...(FRAMEWORK_DIFFERENCES.get(name) ?? []), ...(CLOSE_GRACE_WINDOW.get(name) ?? [])]);
  const unexpected = diffs.filter((d) => !expected.has(d));
  return unexpected.length > 0 && unexpected.every((d) => /^closed (at once|after a timeout|open) \(/.test(d));
}

describe('owserver differential: the real owserver 3.2p4 and portico, one battery of raw requests', () => {
  let real: RealOwserver;
  let portico: StartedPortico;
  let porticoNoGrace: StartedPortico;
  before(async () => {
    [real, portico, porticoNoGrace] = await Promise.all([
      startRealOwserver({ args: ['--timeout_server=1'] }),
      startPortico({ timeout_server: 1 }),
      startPortico({ timeout_server: 1, 'close-grace': 0 }),
    ]);
  });
  after(async () => {
    await Promise.all([real?.stop(), portico?.stop(), porticoNoGrace?.stop()]);
  });

  test('the battery has unique names and every listed difference names a case', () => {
    const names = new Set(battery.map((c) => c.name));
    assert.equal(names.size, battery.length, 'case names are unique');
    for (const name of [...FRAMEWORK_DIFFERENCES.keys(), ...CLOSE_GRACE_WINDOW.keys()]) assert.ok(names.has(name), `"${name}" is a case`);
  });

  describe('each case against all three', { concurrency: 12 }, () => {
    for (const c of battery) {
      test(c.name, { timeout: 30_000 }, async () => {
        let [theirs, ours, oursNoGrace] = await Promise.all([exchange(real.port, c.steps), exchange(portico.port, c.steps), exchange(porticoNoGrace.port, c.steps)]);
        // A close that differs only in its timing bucket ("at once" is under 500 ms) may be a timer that
        // fired late on a loaded machine (seen: portico's 100 ms grace took 804 ms with twelve cases and
        // other suites on two cores). Run such a case again, alone: a real difference comes back.
        // So may a close-grace case where the default portico matched: the client's 50 ms step and the
        // 100 ms grace run in this one loop, and after a stall past both the grace can fire first
        // (timers run before I/O), so portico closed first as owserver does.
        const timing = (): boolean => {
          const diffs = compareExchanges(theirs, ours);
          if (CLOSE_GRACE_WINDOW.has(c.name) && diffs.length === 0) return true;
          return timingOnly([...diffs, ...compareExchanges(theirs, oursNoGrace)], c.name);
        };
        for (let retry = 0; retry < 2 && timing(); retry++) {
          theirs = await exchange(real.port, c.steps);
          ours = await exchange(portico.port, c.steps);
          oursNoGrace = await exchange(porticoNoGrace.port, c.steps);
        }
        const report = (what: string, e: Exchange, diffs: string[]): string => `${c.name} — ${what}:\n  real:    ${summarize(theirs)}\n  portico: ${summarize(e)}\n  ${diffs.join('\n  ')}`;
        const diffs = compareExchanges(theirs, ours);
        const diffsNoGrace = compareExchanges(theirs, oursNoGrace);
        const framework = FRAMEWORK_DIFFERENCES.get(c.name) ?? [];
        if (framework.length > 0 && diffs.length === 0 && diffsNoGrace.length === 0) assert.fail(`${c.name}: portico now matches — take it off FRAMEWORK_DIFFERENCES`);
        assert.deepEqual(diffsNoGrace, framework, report('portico --close-grace 0', oursNoGrace, diffsNoGrace));
        const grace = CLOSE_GRACE_WINDOW.get(c.name) ?? framework;
        if (CLOSE_GRACE_WINDOW.has(c.name) && diffs.length === 0) assert.fail(`${c.name}: the default portico now matches — take it off CLOSE_GRACE_WINDOW`);
        assert.deepEqual(diffs, grace, report('portico (defaults)', ours, diffs));
      });
    }
  });
});
