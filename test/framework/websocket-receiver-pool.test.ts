/**
 * Receivers lent between messages (ReceiverPool): a socket holds a frame parser only while a message is
 * arriving. What must hold: a receiver is given back only when nothing of a frame or message is in it;
 * one taken by another socket reports only to that socket and starts clean (no UTF-8 state, no open
 * message, no bytes); a socket mid-message keeps its own while others come and go. First on the pool
 * directly, then over real TCP with several raw clients whose frames interleave read by read.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Server, webSocketServer, type WebSocket } from '../../framework/index.js';
import type { RequestHead } from '../../framework/http/request-head-parser.js';
import { ReceiverPool } from '../../framework/websocket/receiver-pool.js';
import { close, failure, rawFrame, rawFrames, recorder, testPool, text, type WsEvent } from '../helpers/ws-frames.js';
import { RawClient } from '../helpers/ws-raw-client.js';

const TEXT = 1;
const BINARY = 2;
const CONT = 0;
const CLOSE = 8;
const PING = 9;
const T = { timeout: 20_000 };

const push = (receiver: ReturnType<ReceiverPool['acquire']>, bytes: Buffer): void => receiver.push(testPool.acquireCopy(bytes));

describe('ReceiverPool', () => {
  test('a receiver between messages goes back; one mid-frame, mid-message or closed does not', () => {
    const pool = new ReceiverPool({ role: 'server', maxMessageBytes: 1 << 20, maxBuffered: 1 << 20 });
    const events: WsEvent[] = [];
    const rows: [string, Buffer, boolean][] = [
      ['a whole message', rawFrame({ opcode: TEXT, payload: 'whole' }), true],
      ['half a frame header', rawFrame({ opcode: TEXT, payload: 'x' }).subarray(0, 1), false],
      ["a ping's first two bytes (its mask key not yet read)", rawFrame({ opcode: PING, payload: 'x' }).subarray(0, 2), false],
      ['a header without its payload', rawFrame({ opcode: BINARY, payload: Buffer.alloc(10) }).subarray(0, 6), false],
      ['the first fragment of a message', rawFrame({ opcode: TEXT, payload: 'frag', fin: false }), false],
      ['a close frame', rawFrame({ opcode: CLOSE, payload: Buffer.from([0x03, 0xe8]) }), false],
      ['a protocol error', rawFrame({ opcode: 3 }), false],
    ];
    // All taken before any goes back: each row has a receiver of its own.
    const receivers = rows.map(() => pool.acquire(recorder(events)));
    for (const [i, [what, bytes, back]] of rows.entries()) {
      const receiver = receivers[i]!;
      push(receiver, bytes);
      assert.equal(receiver.reusable, back, what);
      assert.equal(pool.release(receiver), back, what);
      if (!back) receiver.dispose();
    }
    assert.equal(pool.available, 1, 'only the receiver that saw a whole message was kept');
    assert.deepEqual(events.slice(0, 1), [text('whole')]);
  });

  test('a lent receiver reports only to its new socket and starts clean', () => {
    const pool = new ReceiverPool({ role: 'server', maxMessageBytes: 1 << 20, maxBuffered: 1 << 20 });
    const first: WsEvent[] = [];
    const second: WsEvent[] = [];
    const a = pool.acquire(recorder(first));
    // Text split inside a code point across two reads: the incremental UTF-8 validator is used.
    const euro = Buffer.from('€uro', 'utf8');
    const message = rawFrame({ opcode: TEXT, payload: euro });
    push(a, message.subarray(0, 7));
    push(a, message.subarray(7));
    assert.ok(pool.release(a));
    const b = pool.acquire(recorder(second));
    assert.equal(b, a, 'the same receiver is lent again');
    // A continuation with no message open must fail: nothing of the first socket's message is left.
    push(b, rawFrame({ opcode: CONT, payload: 'x' }));
    assert.deepEqual(first, [text('€uro')]);
    assert.deepEqual(second, [failure(1002, 'PORTICO_ERR_WS_PROTOCOL')]);
    b.dispose();
  });

  test('the pool keeps at most its limit; a receiver waiting in it holds no socket', () => {
    const pool = new ReceiverPool({ role: 'server', maxMessageBytes: 1024, maxBuffered: 4096 }, 2);
    const receivers = [0, 1, 2].map(() => pool.acquire(recorder([])));
    assert.deepEqual(receivers.map((r) => pool.release(r)), [true, true, false]);
    assert.equal(pool.available, 2);
    const events: WsEvent[] = [];
    const lent = pool.acquire(recorder(events));
    push(lent, rawFrames({ opcode: TEXT, payload: 'one' }, { opcode: CLOSE, payload: Buffer.from([0x03, 0xe8]) }));
    assert.deepEqual(events, [text('one'), close(1000)]);
    assert.equal(pool.release(lent), false, 'closed: never lent again');
  });
});

interface Seen {
  messages: string[];
  closes: number[];
}

describe('sockets sharing lent receivers over TCP', () => {
  let server: Server;
  let port: number;
  const heads: (string | null)[] = [];
  const users: (string | null)[] = [];
  const seen = new Map<number, Seen>();
  const sockets: WebSocket<string | null>[] = [];

  before(async () => {
    server = new Server({
      handler: webSocketServer<string | null>({
        route: () => ({
          kind: 'websocket',
          createUser: (head: RequestHead) => head.get('x-user'),
          handler: {
            onOpen(ws, head) {
              heads.push(head.get('cookie'));
              users.push(ws.user);
              sockets.push(ws);
              seen.set(ws.connection.remote.port, { messages: [], closes: [] });
            },
            onMessage(ws, data) {
              seen.get(ws.connection.remote.port)!.messages.push(typeof data === 'string' ? data : `binary:${data.length}`);
              ws.send(data);
            },
            onClose(ws, code) {
              seen.get(ws.connection.remote.port)!.closes.push(code);
            },
          },
        }),
      }),
    });
    ({ port } = await server.listen());
  });
  after(async () => {
    await server.stop();
  });

  test('onOpen and createUser get the upgrade request; the socket does not keep it', T, async () => {
    const client = await RawClient.open(port, { extra: ['Cookie: session=abc', 'X-User: ada'] });
    try {
      await waitFor(() => sockets.length > 0);
      assert.deepEqual(heads.at(-1), 'session=abc');
      assert.deepEqual(users.at(-1), 'ada');
      assert.equal('head' in sockets.at(-1)!, false, 'no head property on the socket');
    } finally {
      client.destroy();
    }
  });

  /**
   * Six clients step in turn, one write per step and a pause between (so each is its own read): while
   * one is mid-frame or mid-message, the others' whole messages take and return lent receivers.
   */
  test('messages interleaved read by read across six sockets: each gets exactly its own', T, async () => {
    const euro = Buffer.from('a€b€c', 'utf8');
    const badText = Buffer.from([0x61, 0xc3, 0x28]); // an invalid 2-byte sequence
    const big = rawFrame({ opcode: BINARY, payload: Buffer.alloc(3000, 7) });
    const scripts: Buffer[][] = [
      // A: a fragmented text message split inside a code point, a ping between its fragments.
      [rawFrame({ opcode: TEXT, payload: euro.subarray(0, 2), fin: false }), rawFrame({ opcode: PING, payload: 'p' }), rawFrame({ opcode: CONT, payload: euro.subarray(2, 5), fin: false }), rawFrame({ opcode: CONT, payload: euro.subarray(5), fin: true })],
      // B: whole messages, one per read: it takes and returns a receiver each time.
      [rawFrame({ opcode: TEXT, payload: 'b1' }), rawFrame({ opcode: TEXT, payload: 'b2' }), rawFrame({ opcode: TEXT, payload: 'b3' }), rawFrame({ opcode: TEXT, payload: 'b4' })],
      // C: a frame cut in three reads (header, half the payload, the rest).
      [big.subarray(0, 3), big.subarray(3, 1500), big.subarray(1500), rawFrame({ opcode: TEXT, payload: 'c-done' })],
      // D: invalid UTF-8 in its second fragment: 1007 for D alone.
      [rawFrame({ opcode: TEXT, payload: 'ok', fin: false }), rawFrame({ opcode: CONT, payload: badText, fin: true })],
      // F: a ping cut after its first two bytes (nothing queued, but the frame begun), then a message.
      [rawFrame({ opcode: PING, payload: 'pp' }).subarray(0, 2), rawFrame({ opcode: PING, payload: 'pp' }).subarray(2), rawFrame({ opcode: TEXT, payload: 'f' })],
      // E: two messages in one read, then a close.
      [rawFrames({ opcode: TEXT, payload: 'e1' }, { opcode: TEXT, payload: 'e2' }), rawFrame({ opcode: CLOSE, payload: Buffer.from([0x03, 0xe8]) })],
    ];
    const clients = await Promise.all(scripts.map(() => RawClient.open(port)));
    try {
      await waitFor(() => clients.every((c) => seen.has(c.port)));
      for (let step = 0; step < 4; step++) {
        for (let i = 0; i < clients.length; i++) {
          const bytes = scripts[i]![step];
          if (bytes !== undefined) clients[i]!.write(bytes);
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      }
      const [a, b, c, d, f, e] = clients.map((client) => client.port) as [number, number, number, number, number, number];
      // D and E: the server's close frame, its FIN, ours: then onClose.
      assert.deepEqual((await clients[3]!.expectFrame(CLOSE)).payload, Buffer.from([0x03, 0xef]));
      await clients[3]!.expectFin();
      assert.deepEqual((await clients[5]!.expectMessage(TEXT)).toString(), 'e1');
      assert.deepEqual((await clients[5]!.expectMessage(TEXT)).toString(), 'e2');
      assert.deepEqual((await clients[5]!.expectFrame(CLOSE)).payload, Buffer.from([0x03, 0xe8]));
      await clients[5]!.expectFin();
      await waitFor(() => seen.get(e)!.closes.length === 1 && seen.get(d)!.closes.length === 1 && seen.get(c)!.messages.length === 2 && seen.get(a)!.messages.length === 1);
      assert.deepEqual(seen.get(a)!.messages, ['a€b€c']);
      assert.deepEqual(seen.get(b)!.messages, ['b1', 'b2', 'b3', 'b4']);
      assert.deepEqual(seen.get(c)!.messages, ['binary:3000', 'c-done']);
      assert.deepEqual(seen.get(d)!.messages, []);
      assert.deepEqual(seen.get(d)!.closes, [1007]);
      assert.deepEqual(seen.get(e)!.messages, ['e1', 'e2']);
      assert.deepEqual(seen.get(f)!.messages, ['f']);
      assert.deepEqual((await clients[4]!.expectFrame(10)).payload, Buffer.from('pp'));
      assert.deepEqual(await clients[4]!.expectMessage(TEXT), Buffer.from('f'));
      assert.deepEqual(seen.get(e)!.closes, [1000]);
      // What A saw on the wire: the pong between the fragments, then its message echoed whole.
      assert.deepEqual((await clients[0]!.expectFrame(10)).payload, Buffer.from('p'));
      assert.deepEqual(await clients[0]!.expectMessage(TEXT), euro);
      assert.deepEqual((await clients[2]!.expectMessage(BINARY)).length, 3000);
      for (const client of [clients[0]!, clients[1]!, clients[2]!, clients[4]!]) assert.equal(seen.get(client.port)!.closes.length, 0, 'the others are still open');
    } finally {
      for (const client of clients) client.destroy();
    }
  });
});

async function waitFor(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('a lent receiver when the handler closes, aborts or throws inside onMessage (real TCP)', () => {
  let server: Server;
  let port: number;
  /** onClose per socket, by the client's port. */
  const closes = new Map<number, { code: number; wasClean: boolean; seen: string[] }>();

  before(async () => {
    server = new Server({
      handler: webSocketServer<{ port: number; seen: string[] }>({
        route: () => ({
          kind: 'websocket',
          createUser: () => ({ port: 0, seen: [] }),
          handler: {
            onOpen(ws) {
              ws.user.port = ws.connection.remote.port; // while open: kept for onClose
            },
            onMessage(ws, data) {
              const text = typeof data === 'string' ? data : data.toString();
              ws.user.seen.push(text);
              if (text === 'terminate') ws.terminate();
              else if (text === 'throw') throw new Error('handler failed');
              else if (text === 'close') ws.close(1000);
              else ws.send(data);
            },
            onClose(ws, code, _reason, wasClean) {
              closes.set(ws.user.port, { code, wasClean, seen: [...ws.user.seen] });
            },
          },
        }),
      }),
    });
    ({ port } = await server.listen());
  });
  after(async () => {
    await server.stop();
  });

  const cases: { name: string; first: string; end: 'rst' | 'close'; code: number; seen: string[] }[] = [
    { name: 'terminate() with a second message in the same read', first: 'terminate', end: 'rst', code: 1006, seen: ['terminate'] },
    { name: 'a throw with a second message in the same read', first: 'throw', end: 'rst', code: 1006, seen: ['throw'] },
    { name: 'close() with a second message in the same read', first: 'close', end: 'close', code: 1000, seen: ['close'] },
  ];
  for (const c of cases) {
    test(`${c.name}: that socket ends as it should, and the next socket's receiver starts clean`, T, async () => {
      const client = await RawClient.open(port);
      const clientPort = client.port;
      try {
        client.write(rawFrames({ opcode: TEXT, payload: c.first }, { opcode: TEXT, payload: 'after' }));
        if (c.end === 'rst') {
          await client.expectRst();
        } else {
          assert.deepEqual((await client.expectFrame(CLOSE)).payload, Buffer.from([0x03, 0xe8]));
          client.write(rawFrame({ opcode: CLOSE, payload: Buffer.from([0x03, 0xe8]) }));
          await client.waitEnd();
        }
      } finally {
        client.destroy();
      }
      await waitFor(() => closes.has(clientPort));
      const closed = closes.get(clientPort)!;
      assert.equal(closed.code, c.code);
      if (c.end === 'rst') assert.deepEqual(closed.seen, c.seen, 'nothing after the abort reached the handler');
      else assert.equal(closed.seen[0], c.first);
      // A fresh socket: a fragmented text split inside a code point and a whole message, echoed intact.
      const next = await RawClient.open(port);
      try {
        const euro = Buffer.from('x€y', 'utf8');
        next.write(rawFrame({ opcode: TEXT, payload: euro.subarray(0, 2), fin: false }));
        await new Promise((resolve) => setTimeout(resolve, 5));
        next.write(rawFrames({ opcode: CONT, payload: euro.subarray(2), fin: true }, { opcode: TEXT, payload: 'whole' }));
        assert.deepEqual(await next.expectMessage(TEXT), euro);
        assert.deepEqual((await next.expectMessage(TEXT)).toString(), 'whole');
      } finally {
        next.destroy();
      }
    });
  }
});
