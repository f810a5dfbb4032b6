/**
 * permessage-deflate in the WebSocket server over real TCP on 127.0.0.1: interop with the npm `ws`
 * client in every parameter variant, the 101's agreed parameters, order kept in both directions
 * around compressions, a zip bomb, RSV1 where it does not belong, version 8, and a mass disconnect
 * with compression in flight leaving no zlib context or gate slot behind. Raw sockets send what no
 * client library would. Every wait is bounded.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as net from 'node:net';
import { after, before, describe, test } from 'node:test';
import * as zlib from 'node:zlib';
import WebSocketClient from 'ws';
import {
  DEFLATE_TAIL,
  Server,
  broadcast,
  openZlibContexts,
  sharedZlibGate,
  webSocketServer,
  type PerMessageDeflateOptions,
  type WebSocket,
  type WebSocketHandler,
  type WebSocketServerOptions,
} from '../../framework/index.js';
import { websocketBinary, spawnServer } from '../helpers/spawn-server.js';
import { rawFrame, rawFrames } from '../helpers/ws-frames.js';

const T = { timeout: 30_000 };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor(check: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** Text that compresses like chat traffic (JSON lines repeating with small changes). */
function jsonish(length: number, seed = 1): string {
  let out = '';
  for (let i = 0; out.length < length; i++) out += JSON.stringify({ type: 'chat', seq: i * seed, from: `user${(i * 7) % 13}`, text: 'hello there '.repeat(1 + (i % 3)) }) + '\n';
  return out.slice(0, length);
}

/** Binary that compresses somewhat: a short random alphabet. */
function binaryish(length: number, seed: number): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  let x = seed * 2654435761;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    bytes[i] = (x >>> 24) & 0x0f;
  }
  return bytes;
}

type Event = { kind: 'message'; data: string | Buffer; isBinary: boolean } | { kind: 'ping'; payload: string } | { kind: 'close'; code: number; wasClean: boolean };

interface Harness {
  server: Server;
  port: number;
  opened: WebSocket[];
  events: Map<WebSocket, Event[]>;
  closes: { code: number; wasClean: boolean }[];
  room: Set<WebSocket>;
}

const BIG = jsonish(64 * 1024);
const BIG2 = jsonish(48 * 1024, 3);

async function startServer(perMessageDeflate: false | PerMessageDeflateOptions, extra: Partial<WebSocketServerOptions> = {}): Promise<Harness> {
  const opened: WebSocket[] = [];
  const events = new Map<WebSocket, Event[]>();
  const closes: { code: number; wasClean: boolean }[] = [];
  const room = new Set<WebSocket>();
  const base: Omit<WebSocketHandler, 'onMessage'> = {
    onOpen(ws) {
      opened.push(ws);
      events.set(ws, []);
    },
    onPing(ws, payload) {
      events.get(ws)!.push({ kind: 'ping', payload: payload.toString() });
    },
    onClose(ws, code, _reason, wasClean) {
      events.get(ws)!.push({ kind: 'close', code, wasClean });
      closes.push({ code, wasClean });
      room.delete(ws);
    },
  };
  const handlers: Record<string, WebSocketHandler> = {
    '/echo': {
      ...base,
      onMessage(ws, data, isBinary) {
        events.get(ws)!.push({ kind: 'message', data, isBinary });
        ws.send(data, { binary: isBinary });
      },
    },
    // A compressed message, then frames that must not overtake it, then the close.
    '/order': {
      ...base,
      onMessage(ws) {
        ws.send(BIG);
        ws.send('small after');
        ws.ping('p');
        ws.send(BIG2, { maxFramePayload: 10_000 });
        ws.send('tiny');
        ws.close(1000, 'done');
      },
    },
    '/record': {
      ...base,
      onMessage(ws, data, isBinary) {
        events.get(ws)!.push({ kind: 'message', data, isBinary });
        if (data === 'end') ws.send('ok');
      },
    },
    '/room': {
      ...base,
      onOpen(ws, head) {
        base.onOpen!(ws, head);
        room.add(ws);
      },
      onMessage(ws, data) {
        ws.send(BIG); // compressed for the sender: the broadcast must not overtake it
        broadcast(room, data);
      },
    },
    // Keeps zlib busy: every message is answered with eight large ones.
    '/flood': {
      ...base,
      onMessage(ws, _data, _isBinary) {
        for (let i = 0; i < 8; i++) ws.send(jsonish(64 * 1024, i + 1));
      },
    },
  };
  const server = new Server({
    host: '127.0.0.1',
    port: 0,
    handler: webSocketServer({
      perMessageDeflate,
      route(head) {
        const handler = handlers[head.target];
        return handler === undefined ? null : { kind: 'websocket', handler };
      },
      ...extra,
    }),
  });
  const address = await server.listen();
  return { server, port: address.port, opened, events, closes, room };
}

function wsOpen(url: string, options: WebSocketClient.ClientOptions = {}): Promise<WebSocketClient> {
  const client = new WebSocketClient(url, options);
  return new Promise((resolve, reject) => {
    client.once('open', () => resolve(client));
    client.once('error', reject);
  });
}

/** Every message (and ping, and the close) a client gets, in order. */
function record(client: WebSocketClient): { events: string[]; messages: { data: Buffer; isBinary: boolean }[]; closed: Promise<number> } {
  const events: string[] = [];
  const messages: { data: Buffer; isBinary: boolean }[] = [];
  client.on('message', (data: Buffer, isBinary: boolean) => {
    messages.push({ data, isBinary });
    events.push(`message ${data.length}`);
  });
  client.on('ping', (payload: Buffer) => events.push(`ping ${payload.toString()}`));
  const closed = new Promise<number>((resolve) =>
    client.on('close', (code: number) => {
      events.push(`close ${code}`);
      resolve(code);
    }),
  );
  return { events, messages, closed };
}

// ---- a raw client: the handshake and frames written by hand -------------------------------------------

interface ServerFrame {
  fin: boolean;
  rsv1: boolean;
  opcode: number;
  payload: Buffer;
}

class RawClient {
  readonly socket: net.Socket;
  head = '';
  #buffer: Buffer = Buffer.alloc(0);
  #ended = false;
  #wake: (() => void) | null = null;

  constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      this.#wake?.();
    });
    const end = (): void => {
      this.#ended = true;
      this.#wake?.();
    };
    socket.on('end', end);
    socket.on('close', end);
    socket.on('error', end);
  }

  static async open(port: number, extensions: string | null, version = 13): Promise<RawClient> {
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    const client = new RawClient(socket);
    const lines = ['GET /echo HTTP/1.1', 'Host: 127.0.0.1', 'Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', `Sec-WebSocket-Version: ${version}`];
    if (extensions !== null) lines.push(`Sec-WebSocket-Extensions: ${extensions}`);
    socket.write(lines.join('\r\n') + '\r\n\r\n');
    await client.#until(() => client.#buffer.indexOf('\r\n\r\n') >= 0, 'the 101');
    const end = client.#buffer.indexOf('\r\n\r\n') + 4;
    client.head = client.#buffer.subarray(0, end).toString('latin1');
    client.#buffer = client.#buffer.subarray(end);
    return client;
  }

  /** The value of a response field, or null. */
  field(name: string): string | null {
    const match = new RegExp(`\\r\\n${name}: ([^\\r]*)\\r\\n`, 'i').exec(this.head);
    return match === null ? null : match[1]!;
  }

  send(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** The next frame from the server, or null once the connection ended. */
  async frame(): Promise<ServerFrame | null> {
    await this.#until(() => this.#complete() !== null || this.#ended, 'a frame');
    const size = this.#complete();
    if (size === null) return null;
    const b = this.#buffer;
    const len7 = b[1]! & 0x7f;
    const offset = len7 < 126 ? 2 : len7 === 126 ? 4 : 10;
    const frame = { fin: (b[0]! & 0x80) !== 0, rsv1: (b[0]! & 0x40) !== 0, opcode: b[0]! & 0x0f, payload: Buffer.from(b.subarray(offset, size)) };
    this.#buffer = b.subarray(size);
    return frame;
  }

  /** Frames until the server's close frame: its code. */
  async closeCode(): Promise<number | null> {
    for (;;) {
      const frame = await this.frame();
      if (frame === null) return null;
      if (frame.opcode === 0x8) return frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : 1005;
    }
  }

  #complete(): number | null {
    const b = this.#buffer;
    if (b.length < 2) return null;
    const len7 = b[1]! & 0x7f;
    const offset = len7 < 126 ? 2 : len7 === 126 ? 4 : 10;
    if (b.length < offset) return null;
    const length = len7 < 126 ? len7 : len7 === 126 ? b.readUInt16BE(2) : Number(b.readBigUInt64BE(2));
    return b.length >= offset + length ? offset + length : null;
  }

  async #until(check: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 5000;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`raw client: timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        setTimeout(resolve, 50);
      });
      this.#wake = null;
    }
  }
}

/** A message as a client compresses it on its own (no context): raw DEFLATE, sync-flushed, tail removed. */
function compress(data: string | Buffer): Buffer {
  const out = zlib.deflateRawSync(typeof data === 'string' ? Buffer.from(data) : data, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  return out.subarray(0, out.length - 4);
}

function inflate(payload: Buffer): Buffer {
  return zlib.inflateRawSync(Buffer.concat([payload, DEFLATE_TAIL]), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
}

// ---- the tests -----------------------------------------------------------------------------------------

describe('permessage-deflate with the npm ws client', () => {
  const serverVariants: [string, PerMessageDeflateOptions][] = [
    ['server defaults', {}],
    ['server threshold 0', { threshold: 0 }],
    ['server 9-bit windows', { serverMaxWindowBits: 9, clientMaxWindowBits: 9 }],
    ['server no context takeover both ways', { serverNoContextTakeover: true, clientNoContextTakeover: true }],
  ];
  const clientVariants: [string, WebSocketClient.PerMessageDeflateOptions | true][] = [
    ['client defaults', true],
    ['client server_no_context_takeover', { serverNoContextTakeover: true }],
    ['client client_no_context_takeover', { clientNoContextTakeover: true }],
    ['client server_max_window_bits=10', { serverMaxWindowBits: 10 }],
    ['client client_max_window_bits=11', { clientMaxWindowBits: 11 }],
    ['client 8-bit windows', { serverMaxWindowBits: 8, clientMaxWindowBits: 8 }],
    ['client threshold 0, no context takeover', { threshold: 0, serverNoContextTakeover: true, clientNoContextTakeover: true }],
  ];
  const sizes = [16, 125, 1000, 1023, 1024, 4096, 65535, 65536, 128 * 1024];

  for (const [serverName, serverOptions] of serverVariants) {
    describe(serverName, () => {
      let s: Harness;
      before(async () => {
        s = await startServer(serverOptions);
      });
      after(async () => {
        await s.server.stop({ deadlineMs: 1000 });
      });

      for (const [clientName, clientOptions] of clientVariants) {
        test(`${clientName}: text and binary of 16 B to 128 KiB, then 50 in a row, echoed intact and in order`, T, async () => {
          const client = await wsOpen(`ws://127.0.0.1:${s.port}/echo`, { perMessageDeflate: clientOptions });
          const ws = s.opened.at(-1)!;
          assert.equal(client.extensions, 'permessage-deflate', 'negotiated (ws lists extension names only)');
          assert.match(ws.extensions, /^permessage-deflate(;|$)/);
          assert.ok(ws.perMessageDeflate !== null);
          const got = record(client);
          const sent: { data: Buffer; isBinary: boolean }[] = [];
          for (const size of sizes) {
            sent.push({ data: Buffer.from(jsonish(size, size)), isBinary: false });
            sent.push({ data: binaryish(size, size), isBinary: true });
          }
          for (let i = 0; i < 50; i++) sent.push({ data: Buffer.from(jsonish(500 + i * 97, i)), isBinary: false });
          for (const m of sent) client.send(m.isBinary ? m.data : m.data.toString('latin1'), { binary: m.isBinary });
          await waitFor(() => got.messages.length === sent.length, 15_000, `${sent.length} echoes`);
          for (let i = 0; i < sent.length; i++) {
            assert.equal(got.messages[i]!.isBinary, sent[i]!.isBinary, `message ${i} type`);
            assert.ok(got.messages[i]!.data.equals(sent[i]!.data), `message ${i} (${sent[i]!.data.length} bytes) intact`);
          }
          // Compression really happened, both ways: far fewer bytes than the payloads on the wire.
          const payloadBytes = sent.reduce((n, m) => n + m.data.length, 0);
          assert.ok(ws.connection.stats.bytesRead < payloadBytes * 0.6, `read ${ws.connection.stats.bytesRead} of ${payloadBytes}`);
          assert.ok(ws.connection.stats.bytesWritten < payloadBytes * 0.6, `wrote ${ws.connection.stats.bytesWritten} of ${payloadBytes}`);
          client.close(1000);
          assert.equal((await once(client, 'close'))[0], 1000);
        });
      }
    });
  }

  describe('order, close and broadcast around compressions', () => {
    let s: Harness;
    before(async () => {
      s = await startServer({});
    });
    after(async () => {
      await s.server.stop({ deadlineMs: 1000 });
    });

    test('server → client: nothing overtakes a compressed message, the close frame included', T, async () => {
      const client = await wsOpen(`ws://127.0.0.1:${s.port}/order`, { perMessageDeflate: true });
      const got = record(client);
      client.send('go');
      assert.equal(await got.closed, 1000);
      assert.deepEqual(got.events, [`message ${BIG.length}`, 'message 11', 'ping p', `message ${BIG2.length}`, 'message 4', 'close 1000']);
      assert.equal(got.messages[0]!.data.toString(), BIG);
      assert.equal(got.messages[2]!.data.toString(), BIG2);
      await waitFor(() => s.closes.length > 0, 5000, 'onClose');
      assert.deepEqual(s.closes.at(-1), { code: 1000, wasClean: true });
    });

    test('client → server: a compressed message is delivered before what followed it (uncompressed, a ping)', T, async () => {
      const client = await wsOpen(`ws://127.0.0.1:${s.port}/record`, { perMessageDeflate: true });
      const ws = s.opened.at(-1)!;
      const got = record(client);
      client.send(BIG);
      client.send('plain', { compress: false });
      client.ping('between');
      client.send(BIG2);
      client.send('end', { compress: false });
      await waitFor(() => got.messages.length === 1, 5000, 'ok');
      const events = s.events.get(ws)!;
      assert.deepEqual(
        events.map((e) => (e.kind === 'message' ? `message ${String(e.data).length}` : e.kind === 'ping' ? `ping ${e.payload}` : e.kind)),
        [`message ${BIG.length}`, 'message 5', 'ping between', `message ${BIG2.length}`, 'message 3'],
      );
      client.close();
      await once(client, 'close');
    });

    test('the peer closes while our compressed echo is in flight: the echo and our close frame still go out first', T, async () => {
      const client = await wsOpen(`ws://127.0.0.1:${s.port}/echo`, { perMessageDeflate: true });
      const got = record(client);
      client.send(BIG);
      client.close(4000, 'bye');
      assert.equal(await got.closed, 4000);
      assert.deepEqual(got.events, [`message ${BIG.length}`, 'close 4000']);
      await waitFor(() => s.closes.length > 0 && s.closes.at(-1)!.code === 4000, 5000, 'onClose');
      assert.equal(s.closes.at(-1)!.wasClean, true);
    });

    test('prepared frames (broadcast) go out uncompressed, behind the compressed message sent before them', T, async () => {
      const a = await wsOpen(`ws://127.0.0.1:${s.port}/room`, { perMessageDeflate: true });
      const b = await wsOpen(`ws://127.0.0.1:${s.port}/room`, { perMessageDeflate: true });
      await waitFor(() => s.room.size === 2, 5000, 'two members');
      const gotA = record(a);
      const gotB = record(b);
      a.send('to all');
      await waitFor(() => gotA.messages.length === 2 && gotB.messages.length === 1, 5000, 'the broadcast');
      assert.deepEqual(gotA.events, [`message ${BIG.length}`, 'message 6']);
      assert.equal(gotB.messages[0]!.data.toString(), 'to all');
      a.close();
      b.close();
      await waitFor(() => s.room.size === 0, 5000, 'room empty');
    });

    test('bufferedAmount counts what waits behind a compression', T, async () => {
      const client = await wsOpen(`ws://127.0.0.1:${s.port}/record`, { perMessageDeflate: true });
      const ws = s.opened.at(-1)!;
      const got = record(client);
      const before = ws.bufferedAmount;
      ws.send(BIG);
      ws.send(BIG2);
      assert.ok(ws.bufferedAmount >= before + BIG.length + BIG2.length, `bufferedAmount ${ws.bufferedAmount}`);
      await waitFor(() => got.messages.length === 2, 5000, 'both');
      await waitFor(() => ws.bufferedAmount === 0, 5000, 'all written');
      client.close();
      await once(client, 'close');
    });
  });
});

describe('permessage-deflate with a raw client', () => {
  let s: Harness;
  let off: Harness;
  before(async () => {
    s = await startServer({}, { maxMessageBytes: 1024 * 1024 });
    off = await startServer(false);
  });
  after(async () => {
    await s.server.stop({ deadlineMs: 1000 });
    await off.server.stop({ deadlineMs: 1000 });
  });

  test('the 101 carries the agreed parameters; the socket reports them; a declined offer leaves compression off', T, async () => {
    const raw = await RawClient.open(s.port, 'permessage-deflate; client_max_window_bits=10; server_no_context_takeover');
    assert.match(raw.head, /^HTTP\/1\.1 101 /);
    assert.equal(raw.field('Sec-WebSocket-Extensions'), 'permessage-deflate; server_no_context_takeover; client_max_window_bits=10');
    await waitFor(() => s.opened.length > 0, 5000, 'onOpen');
    assert.equal(s.opened.at(-1)!.extensions, 'permessage-deflate; server_no_context_takeover; client_max_window_bits=10');
    assert.deepEqual(s.opened.at(-1)!.perMessageDeflate, { serverNoContextTakeover: true, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 10 });
    raw.socket.destroy();
    const declined = await RawClient.open(s.port, 'permessage-deflate; server_max_window_bits=16, x-unknown');
    assert.match(declined.head, /^HTTP\/1\.1 101 /);
    assert.equal(declined.field('Sec-WebSocket-Extensions'), null);
    declined.socket.destroy();
    const disabled = await RawClient.open(off.port, 'permessage-deflate');
    assert.equal(disabled.field('Sec-WebSocket-Extensions'), null);
    disabled.socket.destroy();
  });

  test('a compressed message in fragments, a ping between them; echoes: compressed from the threshold, plain below it', T, async () => {
    const raw = await RawClient.open(s.port, 'permessage-deflate');
    const text = jsonish(20_000);
    const compressed = compress(text);
    const third = Math.floor(compressed.length / 3);
    raw.send(
      rawFrames(
        { opcode: 0x1, rsv1: true, fin: false, payload: compressed.subarray(0, third) },
        { opcode: 0x0, fin: false, payload: compressed.subarray(third, 2 * third) },
        { opcode: 0x9, payload: 'mid' },
        { opcode: 0x0, fin: true, payload: compressed.subarray(2 * third) },
        { opcode: 0x1, payload: 'short' },
      ),
    );
    const pong = await raw.frame();
    assert.deepEqual([pong!.opcode, pong!.payload.toString()], [0xa, 'mid']);
    const echo = await raw.frame();
    assert.equal(echo!.rsv1, true, 'a 20 000-byte echo is compressed');
    assert.equal(echo!.opcode, 0x1);
    assert.equal(inflate(echo!.payload).toString(), text);
    const short = await raw.frame();
    assert.deepEqual([short!.rsv1, short!.payload.toString()], [false, 'short']);
    raw.socket.destroy();
  });

  test('a zip bomb (10 MiB of zeros in about 10 KiB) against maxMessageBytes 1 MiB: 1009, stopped at the limit', T, async () => {
    const bomb = compress(Buffer.alloc(10 * 1024 * 1024));
    assert.ok(bomb.length < 12 * 1024, `bomb of ${bomb.length} bytes`);
    const before = process.memoryUsage().arrayBuffers;
    const opened = s.opened.length;
    const raw = await RawClient.open(s.port, 'permessage-deflate');
    await waitFor(() => s.opened.length > opened, 5000, 'onOpen');
    const events = s.events.get(s.opened.at(-1)!)!;
    raw.send(rawFrame({ opcode: 0x2, rsv1: true, payload: bomb }));
    assert.equal(await raw.closeCode(), 1009);
    await waitFor(() => events.at(-1)?.kind === 'close', 5000, 'onClose');
    assert.deepEqual(events, [{ kind: 'close', code: 1009, wasClean: false }]);
    assert.ok(process.memoryUsage().arrayBuffers - before < 8 * 1024 * 1024, 'never held the 10 MiB');
    raw.socket.destroy();
    // Exactly at the limit is allowed.
    const ok = await RawClient.open(s.port, 'permessage-deflate');
    ok.send(rawFrame({ opcode: 0x2, rsv1: true, payload: compress(Buffer.alloc(1024 * 1024, 7)) }));
    const echo = await ok.frame();
    assert.equal(inflate(echo!.payload).length, 1024 * 1024);
    ok.socket.destroy();
  });

  const failures: [string, string | null, (port: number) => Buffer, number][] = [
    ['RSV1 on a continuation frame', 'permessage-deflate', () => rawFrames({ opcode: 0x1, rsv1: true, fin: false, payload: compress('abc') }, { opcode: 0x0, rsv1: true, payload: 'x' }), 1002],
    ['RSV1 on a ping', 'permessage-deflate', () => rawFrame({ opcode: 0x9, rsv1: true, payload: 'p' }), 1002],
    ['RSV1 on a close frame', 'permessage-deflate', () => rawFrame({ opcode: 0x8, rsv1: true, payload: Buffer.from([0x03, 0xe8]) }), 1002],
    ['RSV1 when the client offered nothing', null, () => rawFrame({ opcode: 0x1, rsv1: true, payload: compress('abc') }), 1002],
    ['compressed bytes that do not inflate', 'permessage-deflate', () => rawFrame({ opcode: 0x1, rsv1: true, payload: Buffer.from([0xff, 0xff, 0xff, 0x01]) }), 1007],
    ['a compressed text message that is not UTF-8', 'permessage-deflate', () => rawFrame({ opcode: 0x1, rsv1: true, payload: compress(Buffer.from([0x61, 0xc3, 0x28])) }), 1007],
    ['a compressed message over the limit on the wire', 'permessage-deflate', () => rawFrame({ opcode: 0x2, rsv1: true, payload: Buffer.alloc(1024 * 1024 + 1) }), 1009],
  ];
  for (const [name, offer, frames, code] of failures) {
    test(`${name} → ${code}`, T, async () => {
      const raw = await RawClient.open(s.port, offer);
      raw.send(frames(s.port));
      raw.send(rawFrame({ opcode: 0x1, payload: 'never echoed' }));
      assert.equal(await raw.closeCode(), code);
      assert.equal(await raw.frame(), null, 'nothing after the close frame');
      raw.socket.destroy();
    });
  }

  test('RSV1 to a server without perMessageDeflate → 1002', T, async () => {
    const raw = await RawClient.open(off.port, 'permessage-deflate');
    raw.send(rawFrame({ opcode: 0x1, rsv1: true, payload: compress('abc') }));
    assert.equal(await raw.closeCode(), 1002);
    raw.socket.destroy();
  });

  test('version 8 never negotiates deflate, and RSV1 from it fails with 1002', T, async () => {
    const raw = await RawClient.open(s.port, 'permessage-deflate; client_max_window_bits', 8);
    assert.match(raw.head, /^HTTP\/1\.1 101 /);
    assert.equal(raw.field('Sec-WebSocket-Extensions'), null);
    await waitFor(() => s.opened.length > 0 && s.opened.at(-1)!.version === 8, 5000, 'the v8 socket');
    assert.equal(s.opened.at(-1)!.perMessageDeflate, null);
    assert.equal(s.opened.at(-1)!.extensions, '');
    raw.send(rawFrame({ opcode: 0x1, rsv1: true, payload: compress('abc') }));
    assert.equal(await raw.closeCode(), 1002);
    raw.socket.destroy();
    const client = await wsOpen(`ws://127.0.0.1:${s.port}/echo`, { protocolVersion: 8, perMessageDeflate: true });
    assert.equal(client.extensions, '');
    const echoed = once(client, 'message');
    client.send(BIG);
    assert.equal(String((await echoed)[0]), BIG);
    client.close();
    await once(client, 'close');
  });
});

describe('mass disconnect with compression in flight', () => {
  test('40 sockets dropped mid-compression: every zlib context closes and the gate drains', T, async () => {
    const concurrency = 3;
    const gate = sharedZlibGate(concurrency);
    const s = await startServer({ concurrency });
    try {
      // Contexts of earlier tests may still be closing (zlib closes after the threadpool job): take the
      // baseline once the counts have held still for 200 ms.
      let baseline = openZlibContexts();
      for (let still = 0, until = Date.now() + 5000; still < 4 && Date.now() < until; ) {
        await sleep(50);
        const now = openZlibContexts();
        still = now.deflate === baseline.deflate && now.inflate === baseline.inflate ? still + 1 : 0;
        baseline = now;
      }
      const clients = await Promise.all(Array.from({ length: 40 }, () => wsOpen(`ws://127.0.0.1:${s.port}/flood`, { perMessageDeflate: true })));
      let received = 0;
      for (const client of clients) {
        client.on('message', () => received++);
        client.on('error', () => {});
        client.send(jsonish(100_000, 5)); // the server inflates it, then compresses eight answers
      }
      await waitFor(() => gate.waiting > 20 && openZlibContexts().deflate > baseline.deflate + 3, 10_000, 'zlib jobs queued at the gate, compressions under way');
      for (const client of clients) client.terminate();
      await waitFor(() => s.closes.length === 40, 10_000, 'all 40 closes');
      await waitFor(() => gate.running === 0 && gate.waiting === 0, 5000, 'the gate drained');
      await waitFor(() => openZlibContexts().deflate === baseline.deflate && openZlibContexts().inflate === baseline.inflate, 5000, 'every context closed');
      assert.ok(received < 40 * 8, `cut short mid-flood (${received} of ${40 * 8} delivered)`);
      assert.ok(s.closes.every((c) => c.code === 1006));
      // The server still compresses for the next client.
      const client = await wsOpen(`ws://127.0.0.1:${s.port}/echo`, { perMessageDeflate: true });
      const echoed = once(client, 'message');
      client.send(BIG);
      assert.equal(String((await echoed)[0]), BIG);
      client.close();
      await once(client, 'close');
    } finally {
      await s.server.stop({ deadlineMs: 1000 });
    }
  });
});

describe('portico-websocket --deflate', () => {
  test('the example binary negotiates permessage-deflate and echoes through it', T, async (t) => {
    const server = await spawnServer({ script: websocketBinary, args: ['--port', '0', '--deflate'], t });
    const client = await wsOpen(`ws://127.0.0.1:${server.port}/echo`, { perMessageDeflate: true });
    assert.equal(client.extensions, 'permessage-deflate');
    const echoed = once(client, 'message');
    client.send(BIG);
    assert.equal(String((await echoed)[0]), BIG);
    client.close();
    await once(client, 'close');
    const plain = await spawnServer({ script: websocketBinary, args: ['--port', '0'], t });
    const other = await wsOpen(`ws://127.0.0.1:${plain.port}/echo`, { perMessageDeflate: true });
    assert.equal(other.extensions, '', 'off by default');
    other.close();
    await once(other, 'close');
  });
});
