/**
 * The zlib side of permessage-deflate without sockets: the process-wide job gate, and one direction's
 * message stream (context takeover or not, 8-bit windows, a zip bomb stopped at the limit, broken
 * input, a peer's final block, dispose at every stage releasing its context and its gate slot).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import * as zlib from 'node:zlib';
import { DEFLATE_TAIL, ErrorCodes, ZlibGate, ZlibMessageStream, openZlibContexts, type PorticoError } from '../../framework/index.js';
import { until } from '../helpers/memory-connection.js';

const T = { timeout: 20_000 };
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

interface Outcome {
  error: PorticoError | null;
  bytes: Buffer | null;
}

function run(stream: ZlibMessageStream, input: Buffer, limit?: number): Promise<Outcome> {
  return new Promise((resolve) => stream.run(input, (error, bytes) => resolve({ error, bytes }), limit));
}

function pair(options: { windowBits?: number; noContextTakeover?: boolean; gate?: ZlibGate } = {}): { deflater: ZlibMessageStream; inflater: ZlibMessageStream } {
  const gate = options.gate ?? new ZlibGate(4);
  const common = { windowBits: options.windowBits ?? 15, noContextTakeover: options.noContextTakeover ?? false, gate, post: (fn: () => void) => fn() };
  return { deflater: new ZlibMessageStream({ mode: 'deflate', ...common }), inflater: new ZlibMessageStream({ mode: 'inflate', ...common }) };
}

/** Text that compresses like chat traffic: JSON lines that repeat with small changes. */
function jsonish(length: number, seed = 1): Buffer {
  let out = '';
  for (let i = 0; out.length < length; i++) out += JSON.stringify({ type: 'chat', seq: i * seed, from: `user${(i * 7) % 13}`, text: 'hello there '.repeat(1 + (i % 3)) }) + '\n';
  return Buffer.from(out.slice(0, length), 'latin1');
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await tick();
}

describe('ZlibGate', () => {
  test('at most `limit` jobs run; the rest start in FIFO order as slots are released', () => {
    const gate = new ZlibGate(2);
    const started: number[] = [];
    for (let i = 0; i < 5; i++) gate.enter(() => started.push(i));
    assert.deepEqual(started, [0, 1]);
    assert.equal(gate.running, 2);
    assert.equal(gate.waiting, 3);
    gate.release();
    assert.deepEqual(started, [0, 1, 2]);
    gate.release();
    gate.release();
    assert.deepEqual(started, [0, 1, 2, 3, 4]);
    gate.release();
    gate.release();
    assert.equal(gate.running, 0);
    assert.equal(gate.stats.started, 5);
    assert.equal(gate.stats.maxWaiting, 3);
    assert.throws(() => gate.release(), { code: ErrorCodes.INVALID_STATE });
  });

  test('100 000 waiting jobs that release at once (cancelled by a mass disconnect) cost no stack depth', () => {
    const gate = new ZlibGate(1);
    let hold = true;
    gate.enter(() => {}); // holds the only slot
    let ran = 0;
    for (let i = 0; i < 100_000; i++) {
      gate.enter(() => {
        ran++;
        if (hold) gate.release();
      });
    }
    gate.release();
    hold = false;
    assert.equal(ran, 100_000);
    assert.equal(gate.running, 0);
    assert.equal(gate.waiting, 0);
  });

  test('the limit is checked', () => {
    assert.throws(() => new ZlibGate(0), { code: ErrorCodes.INVALID_ARGUMENT });
  });
});

describe('ZlibMessageStream', () => {
  test('round trip with context takeover: a repeated message compresses to a fraction the second time', T, async () => {
    const { deflater, inflater } = pair();
    const message = jsonish(4000);
    const sizes: number[] = [];
    for (let i = 0; i < 20; i++) {
      const { error, bytes } = await run(deflater, message);
      assert.equal(error, null);
      assert.ok(!bytes!.subarray(-4).equals(DEFLATE_TAIL), 'the sync-flush tail is stripped');
      sizes.push(bytes!.length);
      const back = await run(inflater, bytes!, 1 << 20);
      assert.equal(back.error, null);
      assert.ok(back.bytes!.equals(message), `message ${i}`);
    }
    assert.ok(sizes[1]! * 5 < sizes[0]!, `context takeover: ${sizes[0]} bytes, then ${sizes[1]}`);
    assert.ok(deflater.hasContext && inflater.hasContext, 'contexts kept between messages');
    deflater.dispose();
    inflater.dispose();
  });

  test('without context takeover every message stands alone, and no context is held between messages', T, async () => {
    const { deflater, inflater } = pair({ noContextTakeover: true });
    const message = jsonish(4000);
    const first = await run(deflater, message);
    const second = await run(deflater, message);
    assert.ok(first.bytes!.equals(second.bytes!), 'same input, same output: nothing carried over');
    assert.equal(deflater.hasContext, false);
    // Each inflates on its own, with a fresh zlib stream (as a peer without our history would).
    for (const compressed of [first.bytes!, second.bytes!]) {
      assert.ok(zlib.inflateRawSync(Buffer.concat([compressed, DEFLATE_TAIL]), { finishFlush: zlib.constants.Z_SYNC_FLUSH }).equals(message));
      assert.ok((await run(inflater, compressed, 1 << 20)).bytes!.equals(message));
      assert.equal(inflater.hasContext, false);
    }
  });

  test('an 8-bit window: zlib deflates with 9 bits, which never reaches back further than 256 bytes', T, async () => {
    const { deflater } = pair({ windowBits: 8 });
    // Repeats at distance 300 (beyond a 256-byte window) and 200 (within it).
    const block = randomBytes(300);
    const near = randomBytes(100);
    const message = Buffer.concat([block, block, near, near, block, near, near]);
    // Three messages with context takeover: their sync-flushed blocks in a row are one DEFLATE stream,
    // which an inflater with a 256-byte window must read back (as a peer's would, across messages).
    const wire: Buffer[] = [];
    for (let i = 0; i < 3; i++) wire.push((await run(deflater, message)).bytes!, DEFLATE_TAIL);
    const inflated = zlib.inflateRawSync(Buffer.concat(wire), { windowBits: 8, finishFlush: zlib.constants.Z_SYNC_FLUSH });
    assert.ok(inflated.equals(Buffer.concat([message, message, message])));
    deflater.dispose();
  });

  test('a zip bomb stops at the limit: 10 MiB of zeros from 10 KiB, limit 1 MiB → 1009, context dropped, slot freed', T, async () => {
    const gate = new ZlibGate(1);
    const { inflater } = pair({ gate });
    const bomb = zlib.deflateRawSync(Buffer.alloc(10 * 1024 * 1024), { level: 9 });
    assert.ok(bomb.length < 11 * 1024);
    const before = process.memoryUsage().arrayBuffers;
    const started = performance.now();
    const { error, bytes } = await run(inflater, bomb, 1024 * 1024);
    const ms = performance.now() - started;
    assert.equal(bytes, null);
    assert.equal(error?.code, ErrorCodes.WS_MESSAGE_TOO_BIG);
    assert.equal(error?.closeCode, 1009);
    assert.equal(inflater.hasContext, false);
    assert.equal(gate.running, 0);
    assert.ok(process.memoryUsage().arrayBuffers - before < 8 * 1024 * 1024, 'the 10 MiB were never all produced');
    assert.ok(ms < 2000, `stopped early (${ms.toFixed(1)} ms)`);
    // At the limit exactly it passes.
    const exact = zlib.deflateRawSync(Buffer.alloc(65536, 1));
    assert.equal((await run(pair().inflater, exact, 65536)).bytes!.length, 65536);
    assert.equal((await run(pair().inflater, exact, 65535)).error?.closeCode, 1009);
  });

  test('bytes that do not inflate fail with 1007 (WS_DEFLATE)', T, async () => {
    const { inflater } = pair();
    const { error } = await run(inflater, Buffer.from([0xff, 0xff, 0xff, 0x12, 0x34]), 1 << 20);
    assert.equal(error?.code, ErrorCodes.WS_DEFLATE);
    assert.equal(error?.closeCode, 1007);
    assert.equal(inflater.hasContext, false);
  });

  test('a peer message ending in a final block (BFINAL): the next message starts a new stream', T, async () => {
    const { inflater } = pair();
    const a = Buffer.from('a message compressed as a whole DEFLATE stream');
    const b = Buffer.from('and the next one, from a fresh compressor');
    const first = await run(inflater, zlib.deflateRawSync(a), 1 << 20);
    assert.ok(first.bytes!.equals(a));
    const syncFlushed = zlib.deflateRawSync(b, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    const second = await run(inflater, syncFlushed.subarray(0, syncFlushed.length - 4), 1 << 20);
    assert.ok(second.bytes?.equals(b), `got ${second.bytes?.toString()} / ${second.error?.message}`);
    inflater.dispose();
  });

  test('an empty message: deflates to a byte or none, and inflates back to nothing', T, async () => {
    const { deflater, inflater } = pair();
    for (let i = 0; i < 2; i++) {
      const { bytes } = await run(deflater, Buffer.alloc(0));
      assert.ok(bytes!.length <= 1);
      assert.equal((await run(inflater, bytes!, 10)).bytes!.length, 0);
    }
    deflater.dispose();
    inflater.dispose();
  });

  test('one job at a time, and none after dispose', () => {
    const { deflater } = pair();
    deflater.run(Buffer.from('x'), () => {});
    assert.throws(() => deflater.run(Buffer.from('y'), () => {}), { code: ErrorCodes.INVALID_STATE });
    deflater.dispose();
    assert.throws(() => deflater.run(Buffer.from('z'), () => {}), { code: ErrorCodes.INVALID_STATE });
  });

  test('dispose while waiting for a slot, or while zlib works: no completion, the slot comes back, the context closes', T, async () => {
    await settle();
    const base = openZlibContexts();
    const gate = new ZlibGate(1);
    const busy = pair({ gate }).deflater;
    const waiting = pair({ gate }).deflater;
    let reported = 0;
    busy.run(randomBytes(512 * 1024), () => reported++);
    waiting.run(randomBytes(1024), () => reported++);
    assert.equal(gate.running, 1);
    assert.equal(gate.waiting, 1);
    assert.equal(openZlibContexts().deflate, base.deflate + 1);
    waiting.dispose();
    busy.dispose();
    assert.equal(gate.running, 0, 'the running job gave its slot back at dispose');
    assert.equal(gate.waiting, 0, 'the waiting job started and left at once');
    // zlib closes the disposed context once the job on the threadpool is done: wait for that (a loaded
    // machine may take a while), then see that nothing was reported for it.
    await until(() => openZlibContexts().deflate === base.deflate && openZlibContexts().inflate === base.inflate, 5000, 'the disposed contexts closed');
    await settle();
    assert.equal(reported, 0);
    assert.deepEqual(openZlibContexts(), base);
  });

  test('many streams through a small gate: every job completes, in order per stream, and the gate drains', T, async () => {
    await settle();
    const base = openZlibContexts();
    const gate = new ZlibGate(2);
    const streams = Array.from({ length: 20 }, () => pair({ gate }));
    await Promise.all(
      streams.map(async ({ deflater, inflater }, s) => {
        for (let i = 0; i < 5; i++) {
          const message = jsonish(2000 + i * 100, s + 1);
          const { bytes } = await run(deflater, message);
          assert.ok((await run(inflater, bytes!, 1 << 20)).bytes!.equals(message));
        }
      }),
    );
    assert.equal(gate.running, 0);
    assert.ok(gate.stats.maxWaiting > 0, 'jobs did wait for the gate');
    for (const { deflater, inflater } of streams) {
      deflater.dispose();
      inflater.dispose();
    }
    await settle();
    assert.deepEqual(openZlibContexts(), base);
  });
});
