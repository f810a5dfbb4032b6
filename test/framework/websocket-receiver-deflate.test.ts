/**
 * WebSocketReceiver with an inflater (permessage-deflate), fed in every chunking: compressed messages
 * whole and in fragments, control frames between fragments, plain messages behind compressed ones —
 * reported in wire order although inflating is asynchronous, with every pooled buffer returned.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as zlib from 'node:zlib';
import { ByteQueue, WebSocketReceiver, ZlibGate, ZlibMessageStream } from '../../framework/index.js';
import { binary, chunkings, close, failure, ping, rawFrames, recorder, testPool, text, type WsEvent } from '../helpers/ws-frames.js';

const T = { timeout: 30_000 };

function compress(data: string | Buffer): Buffer {
  const out = zlib.deflateRawSync(typeof data === 'string' ? Buffer.from(data) : data, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  return out.subarray(0, out.length - 4);
}

async function feedAsync(
  data: Buffer,
  sizes: readonly number[],
  coalesce: boolean,
  maxMessageBytes = 1 << 20,
  done: (events: WsEvent[]) => boolean = () => false,
): Promise<{ events: WsEvent[]; resumed: number }> {
  const events: WsEvent[] = [];
  let resumed = 0;
  const callbacks = { ...recorder(events), onResumed: () => resumed++ };
  const inflater = new ZlibMessageStream({ mode: 'inflate', windowBits: 15, noContextTakeover: false, gate: new ZlibGate(1), post: (fn) => fn() });
  const receiver = new WebSocketReceiver(callbacks, { role: 'server', queue: new ByteQueue({ maxBytes: 1 << 22, coalesce }), inflater, maxMessageBytes });
  let at = 0;
  for (const size of sizes) {
    for (let end = at + size; at < end; ) {
      const n = Math.min(end - at, testPool.bufferSize);
      receiver.push(testPool.acquireCopy(data.subarray(at, at + n)));
      at += n;
    }
  }
  const deadline = Date.now() + 5000;
  while (receiver.state === 'open' && !done(events) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
  receiver.dispose();
  return { events, resumed };
}

describe('WebSocketReceiver with permessage-deflate', () => {
  const long = 'compressed, and in fragments: '.repeat(300);
  const bytes = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 31) & 0xff));
  const c1 = compress(long);
  const third = Math.floor(c1.length / 3);
  const stream = rawFrames(
    { opcode: 0x1, rsv1: true, fin: false, payload: c1.subarray(0, third) },
    { opcode: 0x9, payload: 'between' },
    { opcode: 0x0, fin: false, payload: c1.subarray(third, 2 * third) },
    { opcode: 0x0, fin: true, payload: c1.subarray(2 * third) },
    { opcode: 0x9, payload: 'after' },
    { opcode: 0x1, payload: 'plain behind it' },
    { opcode: 0x2, rsv1: true, payload: compress(bytes) },
    { opcode: 0x1, rsv1: true, payload: compress('') },
    { opcode: 0x8, payload: Buffer.from([0x03, 0xe8]) },
    { opcode: 0x1, payload: 'after the close' },
  );
  const expected = [ping('between'), text(long), ping('after'), text('plain behind it'), binary(bytes), text(''), close(1000)];

  for (const chunking of chunkings(stream.length, { seeds: 2 })) {
    test(`${chunking.name}: in wire order, every buffer returned`, T, async () => {
      const { events, resumed } = await feedAsync(stream, chunking.sizes, chunking.coalesce);
      assert.deepEqual(events, expected);
      assert.equal(resumed, 0, 'each inflated message was followed by more to parse, and the close ends it');
      assert.equal(testPool.outstanding, 0);
    });
  }

  test('a compressed message last in the input: onResumed says to read again', T, async () => {
    const one = rawFrames({ opcode: 0x1, rsv1: true, payload: compress('x'.repeat(5000)) });
    const { events, resumed } = await feedAsync(one, [7, one.length - 7], false, 1 << 20, (e) => e.length === 1);
    assert.deepEqual(events, [text('x'.repeat(5000))]);
    assert.equal(resumed, 1);
    assert.equal(testPool.outstanding, 0);
  });

  test('inflating past maxMessageBytes fails with 1009; a bad stream with 1007; RSV1 on a continuation with 1002', T, async () => {
    const bomb = rawFrames({ opcode: 0x2, rsv1: true, payload: compress(Buffer.alloc(100_000)) }, { opcode: 0x1, payload: 'never' });
    assert.deepEqual((await feedAsync(bomb, [bomb.length], true, 65536)).events, [failure(1009, 'PORTICO_ERR_WS_MESSAGE_TOO_BIG')]);
    const bad = rawFrames({ opcode: 0x1, rsv1: true, payload: Buffer.from([0xff, 0xff, 0xff]) });
    assert.deepEqual((await feedAsync(bad, [bad.length], true)).events, [failure(1007, 'PORTICO_ERR_WS_DEFLATE')]);
    const cont = rawFrames({ opcode: 0x1, rsv1: true, fin: false, payload: compress('a') }, { opcode: 0x0, rsv1: true, payload: 'b' });
    assert.deepEqual((await feedAsync(cont, [cont.length], true)).events, [failure(1002, 'PORTICO_ERR_WS_PROTOCOL')]);
    assert.equal(testPool.outstanding, 0);
  });
});
