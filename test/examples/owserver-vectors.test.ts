/**
 * Golden vectors: every request captured from the real owserver 3.2p4 (reference vectors and the
 * ow-shell captures) is replayed byte for byte against the portico owserver, and the answer must be
 * the captured one — exactly, except the bytes the vector says vary (fake temperatures: then the
 * header words and the lengths must match and the value must look like one). Whether the server
 * closed the connection afterwards must match too.
 *
 * The same replay runs against the real owserver as a control, so a failure here is the portico
 * server's and not the comparator's.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { OwBus } from '../../examples/owserver/bus/bus.js';
import { SimulatedBus } from '../../examples/owserver/bus/simulated-bus.js';
import { startPortico } from '../helpers/owserver-portico.js';
import { goldenVectors, owshellCaptures } from '../helpers/owserver-vectors.js';
import { OwWire, Type, splitMessages, type Msg } from '../helpers/owserver-wire.js';
import { FAKE_IDS, startRealOwserver } from '../helpers/real-owserver.js';

const T = { timeout: 20_000 };

interface Case {
  name: string;
  writes: Buffer[];
  expected: Buffer;
  /** null: not recorded (ow-shell captures: the client closes first, after the answer). */
  closed: boolean | null;
  /** Indexes of response messages whose body is a random fake reading. */
  variableBodies: number[];
}

/** The vectors whose `varies` names random bytes, and which message bodies those are. */
const variable: Record<string, number[]> = {
  read_temperature: [0],
  read_temperature_fahrenheit: [0],
  read_offset_size: [0],
  get_file: [0],
  persistent_read_then_second_request: [0],
};

/** The persistent NOP vector: the capture's client closed after 1 s, the server had not. */
const LEFT_OPEN_WATCH_MS = 1000;

const requestType = (bytes: Buffer): number => bytes.readInt32BE(8);
const requestPath = (bytes: Buffer): string => {
  const payload = bytes.readInt32BE(4);
  const body = bytes.subarray(24, 24 + Math.max(0, payload));
  const nul = body.indexOf(0);
  return body.subarray(0, nul < 0 ? body.length : nul).toString('latin1');
};

const cases: Case[] = [
  ...goldenVectors.map((v): Case => {
    const variableBodies = variable[v.name] ?? [];
    return {
      name: `vector ${v.name}`,
      writes: v.request_hex.map((h) => Buffer.from(h, 'hex')),
      expected: Buffer.from(v.response_hex, 'hex'),
      closed: v.server_closed_connection,
      variableBodies,
    };
  }),
  ...owshellCaptures.map((c): Case => {
    const req = Buffer.from(c.request_hex, 'hex');
    // Temperature READs (owread, owread -F, owget's fallback READ) answer a random value.
    const random = requestType(req) === Type.READ && requestPath(req).endsWith('/temperature');
    return { name: `ow-shell ${c.command}`, writes: [req], expected: Buffer.from(c.response_hex, 'hex'), closed: true, variableBodies: random ? [0] : [] };
  }),
];

test('the vector table is complete: every vector whose value varies is known to the comparator', () => {
  assert.equal(goldenVectors.length, 30);
  assert.equal(owshellCaptures.length, 9);
  for (const v of goldenVectors) {
    const random = !v.varies.startsWith('nothing');
    assert.equal(random, v.name in variable, `${v.name}: varies "${v.varies}"`);
  }
});

/** Compare what a server sent with the capture; `where` names the server for messages. */
function compareAnswer(c: Case, got: Buffer, where: string): void {
  if (c.variableBodies.length === 0) {
    assert.equal(got.toString('hex'), c.expected.toString('hex'), `${c.name} (${where}): response bytes`);
    return;
  }
  const want = splitMessages(c.expected);
  const have = splitMessages(got);
  assert.equal(want.rest.length, 0, `${c.name}: the capture splits into whole messages`);
  assert.equal(have.rest.length, 0, `${c.name} (${where}): a partial message at the end: ${got.toString('hex')}`);
  assert.equal(have.messages.length, want.messages.length, `${c.name} (${where}): message count; got ${got.toString('hex')}`);
  want.messages.forEach((w: Msg, i) => {
    const h = have.messages[i]!;
    if (!c.variableBodies.includes(i)) {
      assert.equal(h.raw.toString('hex'), w.raw.toString('hex'), `${c.name} (${where}): message ${i}`);
      return;
    }
    // A random reading: every header word, and the length, must be the captured one.
    assert.equal(h.raw.subarray(0, 24).toString('hex'), w.raw.subarray(0, 24).toString('hex'), `${c.name} (${where}): header of message ${i}`);
    assert.equal(h.body.length, w.body.length, `${c.name} (${where}): body length of message ${i}`);
    const text = h.body.toString('latin1');
    if (w.body.length === 12) assert.match(text, /^ *-?\d+(\.\d+)?$/, `${c.name} (${where}): a 12-character right-aligned value, got ${JSON.stringify(text)}`);
    else assert.match(text, /^[ \d.-]+$/, `${c.name} (${where}): part of a formatted value, got ${JSON.stringify(text)}`);
  });
}

/** Replay one case on a fresh connection and compare; returns nothing, asserts everything. */
async function replay(port: number, c: Case, where: string): Promise<void> {
  const wire = await OwWire.open(port);
  try {
    await wire.sendAll(c.writes, 100);
    if (c.closed === false) {
      await wire.until(() => wire.data.length >= c.expected.length || wire.ended, 3000, `${c.name}: the answer`);
      assert.ok(await wire.staysOpen(LEFT_OPEN_WATCH_MS), `${c.name} (${where}): the server must keep the connection open (it closed: ${wire.endedBy})`);
    } else {
      // The server closes after its answer; the client never closes first here.
      await wire.waitEnded(5000);
      // After an answer the close must be graceful (a reset could destroy the answer in flight).
      // After a framing error nothing was sent, and the reference only says "closes": FIN or RST.
      if (c.expected.length > 0) assert.equal(wire.endedBy, 'end', `${c.name} (${where}): a graceful close (FIN), not ${wire.endedBy}`);
    }
    compareAnswer(c, wire.data, where);
  } finally {
    wire.close();
  }
}

/**
 * The ping vector was captured with `--pingcrazy --no_persistence`: one ping, then the answer. portico
 * pings after 1 s without output, so its bus is made to take 1.3 s for that read (one ping at 1 s).
 */
function slowReads(inner: OwBus, ms: number): OwBus {
  return {
    stat: (p, f) => inner.stat(p, f),
    dir: (p, f) => inner.dir(p, f),
    read: async (p, f) => {
      await new Promise((r) => setTimeout(r, ms));
      return inner.read(p, f);
    },
    write: (p, d, f) => inner.write(p, d, f),
    present: (p, f) => inner.present(p, f),
  };
}

const isPingVector = (c: Case): boolean => c.name === 'vector ping_keepalive';

describe('portico owserver answers every golden vector as the real owserver did', { concurrency: false }, () => {
  for (const c of cases) {
    test(c.name, T, async (t) => {
      const server = isPingVector(c)
        ? await startPortico({ no_persistence: true }, { t, bus: slowReads(SimulatedBus.fake(FAKE_IDS), 1300) })
        : await startPortico({}, { t });
      await replay(server.port, c, 'portico');
    });
  }
});

test('control: the real owserver 3.2p4 still answers every vector as captured', { timeout: 40_000 }, async (t) => {
  const real = await startRealOwserver({ t });
  const pingcrazy = await startRealOwserver({ t, args: ['--pingcrazy', '--no_persistence'] });
  await Promise.all(cases.map((c) => replay(isPingVector(c) ? pingcrazy.port : real.port, c, 'real owserver')));
});
