/**
 * A WebSocket client on a plain `net.Socket` for the conformance and bad-input tests: it writes
 * whatever bytes a test builds (malformed on purpose) and reads the server's frames with its own
 * parser, independent of the framework, and it records how the TCP stream ended (FIN or RST), which
 * no client library exposes.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import * as net from 'node:net';
import { drainedOrClosed } from './tcp-client.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** A frame as the server sent it. */
export interface ServerFrame {
  fin: boolean;
  /** RSV1–3 as the 3-bit number they form (must be 0: nothing is negotiated). */
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Buffer;
  /** The frame's bytes exactly as they arrived. */
  raw: Buffer;
}

/** How the server's byte stream ended: its FIN, an RST (ECONNRESET and friends), or not yet. */
export type StreamEnd = 'fin' | 'rst' | null;

/** What the upgrade request carries. */
export interface UpgradeRequestOptions {
  version?: 13 | 8;
  path?: string;
  /** Replace the generated Sec-WebSocket-Key (e.g. with an invalid one). */
  key?: string;
  /** Extra header lines, written as they are. */
  extra?: string[];
}

/** The upgrade request bytes and the accept value a 101 must carry. */
export function upgradeRequest(options: UpgradeRequestOptions = {}): { request: string; accept: string } {
  const version = options.version ?? 13;
  const key = options.key ?? randomBytes(16).toString('base64');
  const accept = createHash('sha1').update(key + GUID).digest('base64');
  const lines = [
    `GET ${options.path ?? '/echo'} HTTP/1.1`,
    'Host: 127.0.0.1',
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${key}`,
    `Sec-WebSocket-Version: ${version}`,
    // v8 clients name the origin differently (HyBi-08 section 4.1); sent so both code paths run.
    version === 13 ? 'Origin: http://conformance.test' : 'Sec-WebSocket-Origin: http://conformance.test',
    ...(options.extra ?? []),
  ];
  return { request: lines.join('\r\n') + '\r\n\r\n', accept };
}

/** A raw TCP client that accumulates everything the server sends. */
export class RawClient {
  readonly socket: net.Socket;
  /** The server's bytes not yet consumed by a read. */
  #chunks: Buffer[] = [];
  #length = 0;
  #total = 0;
  #end: StreamEnd = null;
  #errorCode: string | null = null;
  #closed = false;
  #wake: (() => void) | null = null;
  readonly #closedPromise: Promise<void>;
  readonly #port: number;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.#port = socket.localPort ?? 0; // kept: a closed socket forgets it
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.#chunks.push(chunk);
      this.#length += chunk.length;
      this.#total += chunk.length;
      this.#notify();
    });
    socket.on('end', () => {
      this.#end ??= RawClient.#resetAtEnd(socket) ? 'rst' : 'fin';
      if (this.#end === 'rst') this.#errorCode ??= 'ECONNRESET (reported as end of stream)';
      this.#notify();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      this.#errorCode ??= error.code ?? error.message;
      // An error after the FIN still means the server (or its kernel) reset the connection.
      if (this.#end === null || this.#end === 'fin') this.#end = 'rst';
      this.#notify();
    });
    this.#closedPromise = new Promise((resolve) =>
      socket.once('close', () => {
        this.#closed = true;
        this.#notify();
        resolve();
      }),
    );
  }

  /**
   * libuv reports an RST that arrives right behind the last bytes as an end of stream (uv__stream_io
   * sees the hang-up after a partial read), so 'end' alone cannot tell FIN from RST. The kernel can:
   * after an RST the socket has no peer (getpeername fails), after a FIN it still has one. Only
   * meaningful while our side is open: once our FIN is out too, a graceful close also ends the socket.
   */
  static #resetAtEnd(socket: net.Socket): boolean {
    if (socket.writableEnded) return false;
    const handle = (socket as unknown as { _handle?: { getpeername?(out: Record<string, unknown>): number } | null })._handle;
    if (handle === undefined || handle === null || typeof handle.getpeername !== 'function') return false;
    return handle.getpeername({}) !== 0;
  }

  /** Connect to 127.0.0.1:port (half-open allowed: the test decides when to send its FIN). */
  static connect(port: number, ms = 5000): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect to ${port} timed out`));
      }, ms);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new RawClient(socket));
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  }

  /** Connect and complete the opening handshake (101 with the right accept key); bytes after the head stay buffered. */
  static async open(port: number, options: UpgradeRequestOptions = {}): Promise<RawClient> {
    const client = await RawClient.connect(port);
    const { request, accept } = upgradeRequest(options);
    client.write(Buffer.from(request, 'latin1'));
    const head = await client.readHead();
    assert.match(head, /^HTTP\/1\.1 101 /, `101 expected, got ${JSON.stringify(head.slice(0, 80))}`);
    assert.ok(head.includes(`\r\nSec-WebSocket-Accept: ${accept}\r\n`), 'the accept key matches');
    return client;
  }

  /** The local port: the server sees it as the remote port (how tests find the server's socket). */
  get port(): number {
    return this.#port;
  }

  /** How the server's stream ended so far. */
  get end(): StreamEnd {
    return this.#end;
  }

  get errorCode(): string | null {
    return this.#errorCode;
  }

  /** Bytes received in total. */
  get totalReceived(): number {
    return this.#total;
  }

  /** Bytes received and not consumed. */
  get buffered(): number {
    return this.#length;
  }

  write(bytes: Uint8Array | string): void {
    if (!this.socket.destroyed && !this.socket.writableEnded) this.socket.write(bytes);
  }

  /** Write in pieces of `chop` bytes, one event-loop turn apart, so they leave as separate segments. */
  async writeChopped(bytes: Uint8Array, chop: number, pauseMs = 0): Promise<void> {
    for (let at = 0; at < bytes.length; at += chop) {
      this.write(bytes.subarray(at, Math.min(bytes.length, at + chop)));
      await new Promise((resolve) => (pauseMs > 0 ? setTimeout(resolve, pauseMs) : setImmediate(resolve)));
    }
  }

  /** Write respecting backpressure (large inputs); returns early if the socket closes meanwhile (no 'drain' then). */
  async writeAll(bytes: Uint8Array): Promise<void> {
    if (this.socket.destroyed || this.socket.writableEnded) return;
    if (this.socket.write(bytes)) return;
    await drainedOrClosed(this.socket);
  }

  /** Wait until `n` bytes are buffered (or the stream ended); true if they are. */
  async #want(n: number, ms: number, what: string): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (this.#length < n) {
      if (this.#end !== null || this.#closed) return false;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for ${what} (have ${this.#length} of ${n} bytes)`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return true;
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  /** Consume `n` buffered bytes (the caller made sure they are there). */
  #take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    let first = this.#chunks[0]!;
    if (first.length < n) {
      const joined = Buffer.concat(this.#chunks, this.#length);
      this.#chunks = [joined];
      first = joined;
    }
    const out = first.subarray(0, n);
    if (first.length === n) this.#chunks.shift();
    else this.#chunks[0] = first.subarray(n);
    this.#length -= n;
    return out;
  }

  #peek(n: number): Buffer {
    if (this.#chunks[0]!.length < n) this.#chunks = [Buffer.concat(this.#chunks, this.#length)];
    return this.#chunks[0]!.subarray(0, n);
  }

  /** The HTTP response head (through its empty line), as latin1 text. */
  async readHead(ms = 5000): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      if (this.#length > 0) {
        const all = this.#peek(this.#length);
        const end = all.indexOf('\r\n\r\n');
        if (end >= 0) return this.#take(end + 4).toString('latin1');
      }
      if (!(await this.#want(this.#length + 1, deadline - Date.now(), 'a response head'))) {
        throw new Error(`stream ended (${this.#end}) before a response head: ${JSON.stringify(this.#peekAll())}`);
      }
    }
  }

  /** Everything buffered, as text, without consuming it. */
  #peekAll(): string {
    return this.#length === 0 ? '' : this.#peek(this.#length).toString('latin1');
  }

  /** The whole HTTP response (head and body) up to the end of the stream. */
  async readResponse(ms = 5000): Promise<{ head: string; body: string; end: StreamEnd }> {
    await this.waitEnd(ms);
    const text = this.#take(this.#length).toString('latin1');
    const split = text.indexOf('\r\n\r\n');
    return { head: split < 0 ? text : text.slice(0, split + 4), body: split < 0 ? '' : text.slice(split + 4), end: this.#end };
  }

  /** The next server frame, or null if the stream ended first (with nothing partial left). */
  async nextFrame(ms = 2000): Promise<ServerFrame | null> {
    const deadline = Date.now() + ms;
    const left = (): number => Math.max(1, deadline - Date.now());
    if (!(await this.#want(2, left(), 'a frame header'))) return this.#ended();
    const head = this.#peek(2);
    const length7 = head[1]! & 0x7f;
    const masked = (head[1]! & 0x80) !== 0;
    const extra = length7 === 126 ? 2 : length7 === 127 ? 8 : 0;
    const headerSize = 2 + extra + (masked ? 4 : 0);
    if (!(await this.#want(headerSize, left(), 'a frame header'))) return this.#ended();
    const header = this.#peek(headerSize);
    let length: number;
    if (length7 === 126) length = header.readUInt16BE(2);
    else if (length7 === 127) length = Number(header.readBigUInt64BE(2));
    else length = length7;
    if (!(await this.#want(headerSize + length, left(), `a frame of ${length} bytes`))) return this.#ended();
    const raw = Buffer.from(this.#take(headerSize + length));
    const payload = raw.subarray(headerSize);
    if (masked) {
      const key = raw.subarray(headerSize - 4, headerSize);
      for (let i = 0; i < payload.length; i++) payload[i] = payload[i]! ^ key[i & 3]!;
    }
    return { fin: (raw[0]! & 0x80) !== 0, rsv: (raw[0]! >> 4) & 7, opcode: raw[0]! & 0x0f, masked, payload, raw };
  }

  #ended(): null {
    assert.equal(this.#length, 0, `the stream ended (${this.#end}) inside a frame: ${this.#length} bytes left`);
    return null;
  }

  /** The next frame, which must exist, be a server frame (unmasked, no RSV bits) and have this opcode. */
  async expectFrame(opcode: number, ms = 2000): Promise<ServerFrame> {
    const frame = await this.nextFrame(ms);
    assert.ok(frame !== null, `expected a frame with opcode ${opcode}, but the stream ended (${this.#end})`);
    assert.equal(frame.masked, false, 'server frames are never masked (RFC 6455 5.1)');
    assert.equal(frame.rsv, 0, 'no RSV bits without an extension');
    assert.equal(frame.opcode, opcode, `opcode of ${describe(frame)}`);
    return frame;
  }

  /** The next message (text or binary, possibly fragmented; control frames between fragments are not expected here). */
  async expectMessage(opcode: 1 | 2, ms = 2000): Promise<Buffer> {
    const first = await this.expectFrame(opcode, ms);
    const parts = [first.payload];
    let fin = first.fin;
    while (!fin) {
      const next = await this.expectFrame(0, ms);
      parts.push(next.payload);
      fin = next.fin;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  /** Wait for the end of the server's stream (FIN or RST) or the socket's close. */
  async waitEnd(ms = 3000): Promise<StreamEnd> {
    const deadline = Date.now() + ms;
    while (this.#end === null && !this.#closed) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`the server did not end the stream within ${ms} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return this.#end;
  }

  /**
   * The server must now end the stream with a FIN and nothing more (no byte after what was consumed),
   * then close cleanly once we send ours: no RST at any point.
   */
  async expectFin(ms = 3000): Promise<void> {
    await this.waitEnd(ms);
    assert.equal(this.#length, 0, `nothing after the close frame, got ${this.#length} bytes: ${this.#peekAll().slice(0, 40)}`);
    assert.equal(this.#end, 'fin', `the server ended with a FIN, not an RST (${this.#errorCode ?? ''})`);
    this.socket.end();
    await this.closed(ms);
    assert.equal(this.#errorCode, null, 'no RST after our FIN either');
  }

  /** The server must reset the connection (terminate, abort): an RST, not a FIN. */
  async expectRst(ms = 3000): Promise<void> {
    await this.waitEnd(ms);
    // libuv may report the end of stream before the error of an RST that came with the last bytes.
    if (this.#end === 'fin') await this.closed(300).catch(() => undefined);
    assert.equal(this.#end, 'rst', `the server reset the connection (got ${this.#end})`);
  }

  /** Resolves once the socket is closed (bounded). */
  async closed(ms = 3000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.#closedPromise,
      new Promise<void>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`socket not closed within ${ms} ms`)), ms);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  /** Nothing arrives (and the stream does not end) for `ms`. */
  async expectSilence(ms: number): Promise<void> {
    const before = this.#total;
    await new Promise((resolve) => setTimeout(resolve, ms));
    assert.equal(this.#total, before, 'nothing may arrive');
    assert.equal(this.#end, null, 'the stream stays open');
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** A short description of a frame for assertion messages. */
export function describe(frame: ServerFrame): string {
  const preview = frame.payload.length <= 16 ? frame.payload.toString('hex') : `${frame.payload.subarray(0, 16).toString('hex')}…`;
  return `frame opcode ${frame.opcode} fin ${frame.fin} ${frame.payload.length} bytes ${preview}`;
}

/** The exact bytes of the close frame a server sends: no payload, or the code and the UTF-8 reason. */
export function serverCloseBytes(code: number | null, reason = ''): Buffer {
  if (code === null) return Buffer.from([0x88, 0x00]);
  const text = Buffer.from(reason, 'utf8');
  const payload = Buffer.concat([Buffer.from([code >> 8, code & 0xff]), text]);
  return Buffer.concat([Buffer.from([0x88, payload.length]), payload]);
}
