/**
 * WebSocketReceiver beyond the Autobahn groups: size limits (checked at the header, before any payload
 * byte or allocation), the MASK rule per role, what happens after close and after a failure, buffer
 * ownership, callbacks that push or throw, and bytes handed over in a queue.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BufferPool, ByteQueue, ErrorCodes, Opcode, WebSocketReceiver } from '../../framework/index.js';
import { MessageBuffer } from '../../framework/websocket/message-buffer.js';
import { type WsEvent, binary, chunkings, close, failure, feed, ping, rawFrame, rawFrames, recorder, testPool, text } from '../helpers/ws-frames.js';

const pool = new BufferPool({ bufferSize: 4096 });

/** Push `data` one byte at a time; returns the events and how many bytes were pushed when the first event came. */
function byteByByte(data: Buffer, options: { maxMessageBytes?: number; maxFrameBytes?: number } = {}): { events: WsEvent[]; firstAt: number } {
  const events: WsEvent[] = [];
  const receiver = new WebSocketReceiver(recorder(events), { role: 'server', ...options });
  let firstAt = -1;
  for (let i = 0; i < data.length; i++) {
    receiver.push(pool.acquireCopy(data.subarray(i, i + 1)));
    if (firstAt < 0 && events.length > 0) firstAt = i + 1;
  }
  receiver.queue.clear();
  return { events, firstAt };
}

test('a declared 2^62-byte frame fails with 1009 after its 10 header bytes; 2^63 (top bit) with 1002', () => {
  const huge = rawFrame({ opcode: Opcode.BINARY, declared: 2n ** 62n });
  assert.equal(huge.length, 14, 'header and mask key only: no payload is ever sent');
  assert.deepEqual(byteByByte(huge), { events: [failure(1009, ErrorCodes.WS_MESSAGE_TOO_BIG)], firstAt: 10 });
  assert.deepEqual(byteByByte(rawFrame({ opcode: Opcode.BINARY, declared: 2n ** 63n })), { events: [failure(1002, ErrorCodes.WS_PROTOCOL)], firstAt: 10 });
  assert.deepEqual(byteByByte(rawFrame({ opcode: Opcode.TEXT, declared: 2n ** 63n + 5n })).firstAt, 10);
  // 2^53 - 1 is a safe integer, so it is the configured limit (16 MiB by default) that refuses it.
  assert.deepEqual(byteByByte(rawFrame({ opcode: Opcode.TEXT, declared: 2n ** 53n - 1n })), { events: [failure(1009, ErrorCodes.WS_MESSAGE_TOO_BIG)], firstAt: 10 });
  assert.equal(pool.outstanding, 0);
});

test('a frame promising 16 MiB but sending 1000 bytes holds about 2000 bytes, not 16 MiB', () => {
  const frame = rawFrame({ opcode: Opcode.BINARY, declared: 16n * 1024n * 1024n });
  const events: WsEvent[] = [];
  const receiver = new WebSocketReceiver(recorder(events), { role: 'server' });
  const before = process.memoryUsage().arrayBuffers;
  receiver.push(pool.acquireCopy(Buffer.concat([frame, Buffer.alloc(1000, 7)])));
  const grown = process.memoryUsage().arrayBuffers - before;
  assert.ok(grown < 1024 * 1024, `grew by ${grown} bytes`);
  assert.deepEqual(events, []);
  assert.equal(receiver.midMessage, true);
  receiver.queue.clear();
  // The growth rule itself: capacity stays within twice what arrived, whatever was promised.
  const buffer = new MessageBuffer(1 << 30);
  buffer.append(Buffer.alloc(1), 1 << 29);
  assert.equal(buffer.capacity, 2);
  for (let i = 0; i < 1000; i++) buffer.append(Buffer.alloc(10), 1 << 29);
  assert.ok(buffer.capacity <= 2 * buffer.length, `capacity ${buffer.capacity} for ${buffer.length}`);
  // A frame split across two reads is allocated once, at its full size, when its promise is small.
  const two = new MessageBuffer(1 << 20);
  two.append(Buffer.alloc(65522), 14);
  assert.equal(two.capacity, 65536);
  two.append(Buffer.alloc(14), 0);
  assert.equal(two.take().length, 65536);
});

test('message limit: many small fragments crossing it fail with 1009 at the header of the fragment that crosses', () => {
  const limit = 100;
  const fragment = (i: number, fin = false) => ({ opcode: i === 0 ? Opcode.BINARY : Opcode.CONTINUATION, payload: Buffer.alloc(30, i), fin });
  const three = rawFrames(fragment(0), fragment(1), fragment(2));
  const fourth = rawFrame(fragment(3, true));
  const { events, firstAt } = byteByByte(Buffer.concat([three, fourth]), { maxMessageBytes: limit });
  assert.deepEqual(events, [failure(1009, ErrorCodes.WS_MESSAGE_TOO_BIG)]);
  assert.equal(firstAt, three.length + 2, 'refused at the length byte, before its mask key and payload');
  // Exactly at the limit is delivered; the limit is per message, and control frames do not count.
  const exact = rawFrames(fragment(0), { opcode: Opcode.PING, payload: Buffer.alloc(125) }, fragment(1), fragment(2), { opcode: Opcode.CONTINUATION, payload: Buffer.alloc(10, 9) }, { opcode: Opcode.BINARY, payload: Buffer.alloc(100) });
  const expected = Buffer.concat([Buffer.alloc(30, 0), Buffer.alloc(30, 1), Buffer.alloc(30, 2), Buffer.alloc(10, 9)]);
  for (const chunking of chunkings(exact.length)) {
    assert.deepStrictEqual(feed(exact, chunking, { maxMessageBytes: limit }), [ping(Buffer.alloc(125)), binary(expected), binary(Buffer.alloc(100))], chunking.name);
  }
  // A frame limit below the message limit refuses a big single frame, not a message of small frames.
  assert.deepEqual(byteByByte(rawFrame({ opcode: Opcode.TEXT, payload: 'x'.repeat(60) }), { maxMessageBytes: 100, maxFrameBytes: 50 }).events, [failure(1009, ErrorCodes.WS_MESSAGE_TOO_BIG)]);
  assert.deepEqual(byteByByte(rawFrames({ opcode: Opcode.TEXT, payload: 'x'.repeat(50), fin: false }, { opcode: Opcode.CONTINUATION, payload: 'y'.repeat(50) }), { maxMessageBytes: 100, maxFrameBytes: 50 }).events, [text('x'.repeat(50) + 'y'.repeat(50))]);
  assert.equal(testPool.outstanding, 0);
});

test('the MASK rule: a server refuses unmasked frames, a client refuses masked ones (1002)', () => {
  const once = (data: Buffer, role: 'server' | 'client' = 'server'): WsEvent[] => feed(data, chunkings(data.length)[0]!, { role });
  assert.deepEqual(once(rawFrame({ opcode: Opcode.TEXT, payload: 'hi', mask: null })), [failure(1002, ErrorCodes.WS_PROTOCOL)]);
  assert.deepEqual(once(rawFrame({ opcode: Opcode.PING, mask: null })), [failure(1002, ErrorCodes.WS_PROTOCOL)]);
  assert.deepEqual(once(rawFrame({ opcode: Opcode.TEXT, payload: 'hi' }), 'client'), [failure(1002, ErrorCodes.WS_PROTOCOL)]);
  const fromServer = rawFrames({ opcode: Opcode.TEXT, payload: 'hi', mask: null }, { opcode: Opcode.PING, payload: 'p', mask: null });
  for (const chunking of chunkings(fromServer.length, { exhaustive: true })) {
    assert.deepStrictEqual(feed(fromServer, chunking, { role: 'client' }), [text('hi'), ping('p')], chunking.name);
  }
});

test('a 1-byte close payload fails with 1002 whatever the byte (0x0C would read as 3072)', () => {
  for (const byte of [0x00, 0x03, 0x0c, 0xff]) {
    const frame = rawFrame({ opcode: Opcode.CLOSE, payload: Buffer.from([byte]) });
    for (const chunking of chunkings(frame.length)) assert.deepEqual(feed(frame, chunking), [failure(1002, ErrorCodes.WS_PROTOCOL)]);
  }
});

test('after the close frame: state closed (already inside onClose), the rest dropped, later buffers released at once', () => {
  const events: WsEvent[] = [];
  let stateInside = '';
  const receiver = new WebSocketReceiver(
    { ...recorder(events), onClose: (code, reason) => { stateInside = receiver.state; events.push(close(code, reason)); } },
    { role: 'server', queue: new ByteQueue({ maxBytes: 1 << 16, coalesce: false }) },
  );
  receiver.push(pool.acquireCopy(rawFrames({ opcode: Opcode.TEXT, payload: 'a' }, { opcode: Opcode.CLOSE, payload: Buffer.from([0x03, 0xe9]) }, { opcode: Opcode.TEXT, payload: 'dropped' })));
  assert.equal(stateInside, 'closed');
  assert.equal(receiver.state, 'closed');
  assert.equal(receiver.queue.length, 0);
  receiver.push(pool.acquireCopy(rawFrame({ opcode: Opcode.TEXT, payload: 'late' })));
  assert.equal(pool.outstanding, 0, 'nothing held after close, without any clear()');
  assert.deepEqual(events, [text('a'), close(1001)]);
});

test('after a protocol error: one onProtocolError, state failed, the error kept, later buffers released at once', () => {
  const events: WsEvent[] = [];
  const receiver = new WebSocketReceiver(recorder(events), { role: 'server' });
  receiver.push(pool.acquireCopy(rawFrames({ opcode: 3 }, { opcode: Opcode.TEXT, payload: 'x' })));
  receiver.push(pool.acquireCopy(rawFrame({ opcode: Opcode.TEXT, payload: 'y' })));
  receiver.parse();
  assert.equal(receiver.state, 'failed');
  assert.equal(receiver.error?.code, ErrorCodes.WS_PROTOCOL);
  assert.equal(receiver.error?.closeCode, 1002);
  assert.equal(receiver.error?.layer, 'websocket');
  assert.deepEqual(events, [failure(1002, ErrorCodes.WS_PROTOCOL)]);
  assert.equal(pool.outstanding, 0);
});

test('delivered payloads are owned copies: reusing the pooled buffers does not change them', () => {
  const events: WsEvent[] = [];
  const receiver = new WebSocketReceiver(recorder(events), { role: 'server' });
  const small = new BufferPool({ bufferSize: 256, maxPooled: 1 });
  const read = small.acquireCopy(rawFrames({ opcode: Opcode.BINARY, payload: Buffer.alloc(20, 0x41) }, { opcode: Opcode.PING, payload: 'pp' }));
  const memory = read.bytes;
  receiver.push(read);
  receiver.queue.releaseConsumed();
  memory.fill(0); // the pool's memory, as the next read would overwrite it
  assert.deepStrictEqual(events, [binary(Buffer.alloc(20, 0x41)), ping('pp')]);
  for (const e of events) assert.notEqual((e as { data?: Buffer; payload?: Buffer }).data?.buffer ?? (e as { payload: Buffer }).payload.buffer, memory.buffer);
});

test('a large whole binary message keeps the memory it was read into: the pool never lends that memory again', () => {
  const events: WsEvent[] = [];
  const receiver = new WebSocketReceiver(recorder(events), { role: 'server' });
  const small = new BufferPool({ bufferSize: 256, maxPooled: 4 });
  const payload = Buffer.from(Array.from({ length: 100 }, (_, i) => i));
  const read = small.acquireCopy(rawFrames({ opcode: Opcode.BINARY, payload }, { opcode: Opcode.TEXT, payload: 'after' }));
  const memory = read.bytes;
  receiver.push(read);
  receiver.queue.releaseConsumed();
  assert.deepStrictEqual(events, [binary(payload), text('after')]);
  const delivered = (events[0] as { data: Buffer }).data;
  assert.equal(delivered.buffer, memory.buffer, 'no copy: a view of the read buffer');
  assert.deepEqual(small.stats.pooled, 0, 'the disowned memory did not go back to the pool');
  assert.equal(small.outstanding, 0, 'the loan itself ended');
  assert.equal(receiver.queue.contiguousOwner, null, 'nothing in the receiver pins the memory once the application drops the view');
  // Later reads get other memory, and the queue's coalescing never writes into the delivered bytes.
  for (let i = 0; i < 4; i++) {
    const next = small.acquireCopy(rawFrame({ opcode: Opcode.BINARY, payload: Buffer.alloc(3, 0xee) }));
    assert.notEqual(next.bytes.buffer, memory.buffer);
    receiver.push(next);
  }
  receiver.queue.releaseConsumed();
  assert.deepEqual(delivered, payload);
  // A small message (under an eighth of the buffer) is still copied, and its buffer goes back.
  const pooledBefore = small.stats.pooled;
  receiver.push(small.acquireCopy(rawFrame({ opcode: Opcode.BINARY, payload: Buffer.alloc(31, 1) })));
  receiver.queue.releaseConsumed();
  assert.notEqual((events.at(-1) as { data: Buffer }).data.buffer.byteLength, 256);
  assert.equal(small.stats.pooled, pooledBefore);
  // A message split over two reads is gathered (a copy) and both reads go back to the pool.
  const split = rawFrame({ opcode: Opcode.BINARY, payload: Buffer.alloc(150, 2) });
  const first = small.acquireCopy(split.subarray(0, 60));
  const second = small.acquireCopy(split.subarray(60));
  const memories = [first.bytes.buffer, second.bytes.buffer];
  const created = small.stats.created;
  receiver.push(first);
  receiver.push(second);
  receiver.queue.releaseConsumed();
  const gathered = (events.at(-1) as { data: Buffer }).data;
  assert.deepEqual(gathered, Buffer.alloc(150, 2));
  assert.ok(!memories.includes(gathered.buffer));
  assert.equal(small.outstanding, 0);
  for (let i = 0; i < 2; i++) small.acquire().release();
  assert.equal(small.stats.created, created, 'both reads went back to the pool');
});

test('the queue never coalesces a later read into the free space of a disowned buffer (the pool may have lent it)', () => {
  const events: WsEvent[] = [];
  const receiver = new WebSocketReceiver(recorder(events), { role: 'server' });
  const small = new BufferPool({ bufferSize: 4096, maxPooled: 4 });
  const payload = Buffer.alloc(600, 0x42);
  const after = rawFrame({ opcode: Opcode.TEXT, payload: 'after' });
  receiver.push(small.acquireCopy(Buffer.concat([rawFrame({ opcode: Opcode.BINARY, payload }), after.subarray(0, 3)])));
  assert.deepStrictEqual(events, [binary(payload)]);
  const spare = small.acquireFor(500); // what the next large read of any connection would be copied into
  assert.equal(spare.bytes.buffer, (events[0] as { data: Buffer }).data.buffer, 'the tail of the disowned read');
  spare.bytes.fill(0xff);
  receiver.push(small.acquireCopy(after.subarray(3)));
  assert.deepStrictEqual(events, [binary(payload), text('after')]);
  assert.deepEqual(spare.bytes, Buffer.alloc(spare.capacity, 0xff), 'nothing was written into the lent tail');
  spare.release();
  receiver.dispose();
  assert.equal(small.outstanding, 0);
});

test('a push from inside a callback joins the running loop (no recursion, order kept); a throwing callback leaves the receiver consistent', () => {
  const events: WsEvent[] = [];
  const later = rawFrame({ opcode: Opcode.TEXT, payload: 'pushed from the callback' });
  let depth = 0;
  const receiver: WebSocketReceiver = new WebSocketReceiver(
    {
      ...recorder(events),
      onMessage: (data, isBinary) => {
        depth++;
        events.push({ type: 'message', data, binary: isBinary });
        if (data === 'first') receiver.push(pool.acquireCopy(later));
        assert.equal(depth, 1, 'never re-entered');
        depth--;
      },
    },
    { role: 'server' },
  );
  receiver.push(pool.acquireCopy(rawFrames({ opcode: Opcode.TEXT, payload: 'first' }, { opcode: Opcode.TEXT, payload: 'second' })));
  assert.deepEqual(events, [text('first'), text('second'), text('pushed from the callback')]);

  const seen: string[] = [];
  const throwing = new WebSocketReceiver(
    {
      ...recorder([]),
      onMessage: (data) => {
        seen.push(data as string);
        if (data === 'boom') throw new Error('handler bug');
      },
    },
    { role: 'server' },
  );
  assert.throws(() => throwing.push(pool.acquireCopy(rawFrames({ opcode: Opcode.TEXT, payload: 'boom' }, { opcode: Opcode.TEXT, payload: 'next' }))), /handler bug/);
  assert.equal(throwing.state, 'open');
  throwing.push(pool.acquireCopy(rawFrame({ opcode: Opcode.TEXT, payload: 'after' })));
  assert.deepEqual(seen, ['boom', 'next', 'after']);
  throwing.queue.clear();
  assert.equal(pool.outstanding, 0);
});

test('bytes left in a handed-over queue (behind a handshake) are parsed by parse()', () => {
  const queue = new ByteQueue({ maxBytes: 1 << 16 });
  queue.append(pool.acquireCopy(Buffer.concat([Buffer.from('GET / HTTP/1.1\r\n\r\n'), rawFrame({ opcode: Opcode.TEXT, payload: 'early' })])));
  queue.skip(18); // the handshake layer consumed its head
  const events: WsEvent[] = [];
  const receiver = new WebSocketReceiver(recorder(events), { role: 'server', queue });
  assert.equal(receiver.queue, queue);
  receiver.parse();
  assert.deepEqual(events, [text('early')]);
  queue.clear();
  assert.throws(() => new WebSocketReceiver(recorder([]), { role: 'server', maxMessageBytes: -1 }), { code: ErrorCodes.INVALID_ARGUMENT });
  assert.equal(pool.outstanding, 0);
});
