/**
 * Raw owserver protocol on a real socket, for tests: build request bytes by hand, record every
 * byte / FIN / reset with timestamps, and cut the stream into response messages with a decoder of
 * our own (independent of the code under test). All waits are bounded.
 */
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import { SocketProbe, connectTo } from './spawn-server.js';

export const HEADER = 24;
/** What ow-shell sends: OWNET | ALIAS | BUS_LIST. */
export const SG_OWSHELL = 0x10a;
export const SG_PERSISTENT = 0x04;
/** ow-shell's flags plus the persistence bit (what owlib sends). */
export const SG_PERSIST = SG_OWSHELL | SG_PERSISTENT;

export const Type = { ERROR: 0, NOP: 1, READ: 2, WRITE: 3, DIR: 4, SIZE: 5, PRESENT: 6, DIRALL: 7, GET: 8, DIRALLSLASH: 9, GETSLASH: 10 } as const;

/** The keep-alive ping, byte for byte (reference §5). */
export const PING_BYTES = Buffer.from('00000000ffffffff00000000000000000000000000000000', 'hex');

/** Six big-endian int32. */
export function header(version: number, payload: number, type: number, sg: number, size: number, offset: number): Buffer {
  const out = Buffer.alloc(HEADER);
  [version, payload, type, sg, size, offset].forEach((v, i) => out.writeInt32BE(v | 0, i * 4));
  return out;
}

export interface RequestOptions {
  sg?: number;
  size?: number;
  offset?: number;
  version?: number;
  /** WRITE data (after the path's NUL). */
  data?: Buffer | string;
  /** Override the payload word (to lie about the body length). */
  payload?: number;
  /** Leave the NUL off the path. */
  noNul?: boolean;
  tokens?: readonly Buffer[];
}

/** A request message as ow-shell would send it (path NUL-terminated; WRITE: path, NUL, data). */
export function request(type: number, path: string | null, options: RequestOptions = {}): Buffer {
  const pathBytes = path === null ? Buffer.alloc(0) : Buffer.from(options.noNul ? path : `${path}\0`, 'latin1');
  const data = options.data === undefined ? Buffer.alloc(0) : Buffer.from(options.data);
  const body = Buffer.concat([pathBytes, data]);
  const size = options.size ?? (type === Type.WRITE ? data.length : type === Type.READ ? 65536 : 0);
  const head = header(options.version ?? 0, options.payload ?? body.length, type, options.sg ?? SG_OWSHELL, size, options.offset ?? 0);
  return Buffer.concat([head, body, ...(options.tokens ?? [])]);
}

/** A decoded response message. Pings (payload < 0) have an empty body. */
export interface Msg {
  version: number;
  payload: number;
  ret: number;
  sg: number;
  size: number;
  offset: number;
  body: Buffer;
  /** Header plus body, as received. */
  raw: Buffer;
  isPing: boolean;
}

export function decodeHeader(bytes: Buffer, at = 0): Omit<Msg, 'body' | 'raw' | 'isPing'> {
  const w = (i: number): number => bytes.readInt32BE(at + i * 4);
  return { version: w(0), payload: w(1), ret: w(2), sg: w(3), size: w(4), offset: w(5) };
}

/** Cut a byte stream into complete response messages; `rest` is an incomplete tail. */
export function splitMessages(bytes: Buffer): { messages: Msg[]; rest: Buffer } {
  const messages: Msg[] = [];
  let at = 0;
  while (bytes.length - at >= HEADER) {
    const h = decodeHeader(bytes, at);
    const bodyLength = Math.max(0, h.payload);
    if (bytes.length - at - HEADER < bodyLength) break;
    const raw = bytes.subarray(at, at + HEADER + bodyLength);
    messages.push({ ...h, body: raw.subarray(HEADER), raw, isPing: h.payload < 0 });
    at += HEADER + bodyLength;
  }
  return { messages, rest: bytes.subarray(at) };
}

/** A response message from its fields (for expected values). */
export function responseBytes(ret: number, sg: number, fields: { payload?: number; size?: number; offset?: number; body?: Buffer } = {}): Buffer {
  const body = fields.body ?? Buffer.alloc(0);
  return Buffer.concat([header(0, fields.payload ?? body.length, ret, sg, fields.size ?? 0, fields.offset ?? 0), body]);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * One client connection speaking raw owserver protocol. Records when the server's FIN / reset /
 * close arrived (ms since `openedAt`), so timeouts can be measured.
 */
export class OwWire {
  readonly socket: net.Socket;
  readonly probe: SocketProbe;
  readonly openedAt: number;
  /** performance.now() of the first end/error/close seen. */
  endedAt: number | null = null;
  /** How the stream ended: 'end' (FIN), 'error' (e.g. ECONNRESET) or 'close'. */
  endedBy: 'end' | 'error' | 'close' | null = null;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.openedAt = performance.now();
    const mark = (how: 'end' | 'error' | 'close') => (): void => {
      if (this.endedAt === null) {
        this.endedAt = performance.now();
        this.endedBy = how;
      }
    };
    // Before the probe's listeners, which wake the waiters: the timestamp must be set by then.
    socket.on('end', mark('end'));
    socket.on('error', mark('error'));
    socket.on('close', mark('close'));
    this.probe = new SocketProbe(socket);
  }

  static async open(port: number, host = '127.0.0.1'): Promise<OwWire> {
    const socket = await connectTo(port, { host, allowHalfOpen: true });
    socket.setNoDelay(true);
    return new OwWire(socket);
  }

  /** Server finished the stream (FIN, reset or close). */
  get ended(): boolean {
    return this.endedAt !== null;
  }

  /** Everything received so far. */
  get data(): Buffer {
    return this.probe.data;
  }

  get messages(): Msg[] {
    return splitMessages(this.data).messages;
  }

  /** Messages that are not pings. */
  get replies(): Msg[] {
    return this.messages.filter((m) => !m.isPing);
  }

  send(bytes: Buffer): void {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(bytes);
  }

  /** Send several writes with a gap between them (as the vectors were captured). */
  async sendAll(writes: readonly Buffer[], gapMs = 100): Promise<void> {
    for (let i = 0; i < writes.length; i++) {
      if (i > 0) await sleep(gapMs);
      this.send(writes[i]!);
    }
  }

  /** Send `bytes` in pieces of `pieceSize`, `gapMs` apart; stops early if the server ends the stream. */
  async trickle(bytes: Buffer, pieceSize: number, gapMs: number): Promise<void> {
    for (let at = 0; at < bytes.length; at += pieceSize) {
      if (this.ended) return;
      if (at > 0) await sleep(gapMs);
      if (this.ended) return;
      this.send(bytes.subarray(at, at + pieceSize));
    }
  }

  until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return this.probe.until(condition, timeoutMs, what);
  }

  /** Wait for `count` non-ping messages in all. */
  async waitReplies(count: number, timeoutMs = 5000): Promise<Msg[]> {
    await this.until(() => this.replies.length >= count || this.ended, timeoutMs, `${count} reply message(s)`);
    // The stream may have ended with the last bytes in the same turn: re-check.
    const replies = this.replies;
    if (replies.length < count) throw new Error(`server ended the stream after ${replies.length} of ${count} replies (${this.endedBy}); bytes: ${this.data.toString('hex')}`);
    return replies;
  }

  /** Wait until the server ends the stream; ms from `since` (default: connection open) to the end. */
  async waitEnded(timeoutMs = 5000, since = this.openedAt): Promise<number> {
    await this.until(() => this.ended, timeoutMs, 'the server to close the connection');
    return this.endedAt! - since;
  }

  /** Assert-friendly: true if the stream is still open after `ms`. */
  async staysOpen(ms: number): Promise<boolean> {
    await sleep(ms);
    return !this.ended;
  }

  /** The server still accepts a request on this connection (i.e. it has not closed it, and the socket is writable). */
  get writable(): boolean {
    return !this.ended && this.socket.writable;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** One request on a fresh connection: collect the whole stream until the server closes it. */
export async function oneShot(port: number, bytes: Buffer | readonly Buffer[], options: { gapMs?: number; timeoutMs?: number } = {}): Promise<{ data: Buffer; messages: Msg[]; endedBy: OwWire['endedBy']; ms: number }> {
  const wire = await OwWire.open(port);
  try {
    await wire.sendAll(Array.isArray(bytes) ? bytes : [bytes as Buffer], options.gapMs ?? 100);
    const ms = await wire.waitEnded(options.timeoutMs ?? 5000);
    return { data: wire.data, messages: wire.messages, endedBy: wire.endedBy, ms };
  } finally {
    wire.close();
  }
}

export { sleep };
