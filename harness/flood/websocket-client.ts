/**
 * The WebSocket protocol (RFC 6455, version 13) against an echo endpoint: the first request carries
 * the HTTP upgrade, then each message is one masked frame (text or binary) that the server must echo
 * back as one unmasked frame of the same type and payload.
 *
 * The upgrade and the first frame go out together; servers must accept data right behind the
 * handshake (RFC 6455 lets the client send once the 101 is in flight; `ws` and portico do).
 * protocolOptions: `path` (default "/"), `binary` (default true; false sends text frames),
 * `version` (13, or 8 for HyBi-08 — Sec-WebSocket-Version 8 uses the same framing).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { FloodOptions } from '../types.js';
import { echoPayload } from './echo-client.js';
import type { FloodProtocolClient, FloodProtocolSession, ReplyCheck } from './protocol-client.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const MAX_HEADER_BYTES = 8192;

export class WebSocketProtocolClient implements FloodProtocolClient {
  readonly protocol = 'websocket' as const;
  readonly #size: number;
  readonly #path: string;
  readonly #binary: boolean;
  readonly #version: number;
  readonly #host: string;

  constructor(options: FloodOptions) {
    const known = new Set(['path', 'binary', 'version']);
    for (const key of Object.keys(options.protocolOptions ?? {})) {
      if (!known.has(key)) throw new Error(`websocket flood: unknown protocolOptions.${key} (known: ${[...known].join(', ')})`);
    }
    const o = options.protocolOptions ?? {};
    this.#path = typeof o['path'] === 'string' ? o['path'] : '/';
    this.#binary = o['binary'] !== false;
    this.#version = typeof o['version'] === 'number' ? o['version'] : 13;
    if (this.#version !== 13 && this.#version !== 8) throw new Error(`websocket flood: version must be 13 or 8, got ${this.#version}`);
    if (!Number.isInteger(options.size) || options.size < 1) throw new Error(`websocket flood needs size >= 1, got ${options.size}`);
    this.#size = options.size;
    this.#host = `${options.host}:${options.port}`;
  }

  openSession(connectionIndex: number): FloodProtocolSession {
    return new WebSocketSession(connectionIndex, this.#size, this.#binary, this.#upgrade());
  }

  #upgrade(): { request: Buffer; accept: string } {
    const key = randomBytes(16).toString('base64');
    const accept = createHash('sha1').update(key + GUID).digest('base64');
    const origin = this.#version === 8 ? 'Sec-WebSocket-Origin' : 'Origin';
    const request = Buffer.from(
      `GET ${this.#path} HTTP/1.1\r\nHost: ${this.#host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: ${this.#version}\r\n${origin}: http://${this.#host}\r\n\r\n`,
      'latin1',
    );
    return { request, accept };
  }
}

/** A masked client frame. */
function encodeFrame(opcode: number, payload: Buffer): Buffer {
  const length = payload.length;
  const extra = length < 126 ? 0 : length < 65536 ? 2 : 8;
  const frame = Buffer.allocUnsafe(2 + extra + 4 + length);
  frame[0] = 0x80 | opcode;
  if (extra === 0) frame[1] = 0x80 | length;
  else if (extra === 2) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeBigUInt64BE(BigInt(length), 2);
  }
  const mask = randomBytes(4);
  mask.copy(frame, 2 + extra);
  const at = 6 + extra;
  for (let i = 0; i < length; i++) frame[at + i] = payload[i]! ^ mask[i & 3]!;
  return frame;
}

class WebSocketSession implements FloodProtocolSession {
  readonly #pending: Buffer[] = [];
  #buffer: Buffer = Buffer.alloc(0);
  #handshakeDone = false;

  constructor(
    private readonly connectionIndex: number,
    private readonly size: number,
    private readonly binary: boolean,
    private readonly upgrade: { request: Buffer; accept: string },
  ) {}

  #payload(messageIndex: number): Buffer {
    const bytes = echoPayload(this.connectionIndex, messageIndex, this.size);
    if (!this.binary) for (let i = 0; i < bytes.length; i++) bytes[i] = 0x21 + (bytes[i]! % 94); // printable ASCII
    return bytes;
  }

  frameRequest(messageIndex: number): Uint8Array {
    const payload = this.#payload(messageIndex);
    this.#pending.push(payload);
    const frame = encodeFrame(this.binary ? 2 : 1, payload);
    return messageIndex === 0 ? Buffer.concat([this.upgrade.request, frame]) : frame;
  }

  receive(chunk: Uint8Array): ReplyCheck[] {
    this.#buffer = this.#buffer.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.#buffer, chunk]);
    const checks: ReplyCheck[] = [];
    if (!this.#handshakeDone) {
      const end = this.#buffer.indexOf('\r\n\r\n');
      if (end < 0) {
        if (this.#buffer.length > MAX_HEADER_BYTES) checks.push({ ok: false, code: 'BAD_HANDSHAKE', detail: 'no end of the HTTP response headers' });
        return checks;
      }
      const head = this.#buffer.subarray(0, end).toString('latin1');
      this.#buffer = this.#buffer.subarray(end + 4);
      const problem = this.#checkHandshake(head);
      if (problem !== null) return [{ ok: false, code: 'BAD_HANDSHAKE', detail: problem }];
      this.#handshakeDone = true;
    }
    for (;;) {
      const frame = this.#nextFrame();
      if (frame === null) return checks;
      if ('error' in frame) return [...checks, frame.error];
      const { opcode, payload } = frame;
      if (opcode === 0x9 || opcode === 0xa) continue; // ping / pong: not a reply
      if (opcode === 0x8) return [...checks, { ok: false, code: 'WS_CLOSE', detail: `server sent a close frame${payload.length >= 2 ? ` (${payload.readUInt16BE(0)})` : ''}` }];
      const want = this.#pending.shift();
      if (want === undefined) return [...checks, { ok: false, code: 'UNEXPECTED_DATA', detail: 'a frame with no request outstanding' }];
      const expected = this.binary ? 2 : 1;
      if (opcode !== expected) return [...checks, { ok: false, code: 'MISMATCH', detail: `opcode ${opcode}, expected ${expected}` }];
      if (!payload.equals(want)) return [...checks, { ok: false, code: 'MISMATCH', detail: `echoed payload differs (${payload.length} of ${want.length} bytes)` }];
      checks.push({ ok: true });
    }
  }

  #checkHandshake(head: string): string | null {
    const [status, ...lines] = head.split('\r\n');
    if (!/^HTTP\/1\.1 101 /.test(status ?? '')) return `expected 101 Switching Protocols, got "${status}"`;
    const headers = new Map(lines.map((l) => [l.slice(0, l.indexOf(':')).trim().toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
    if (headers.get('upgrade')?.toLowerCase() !== 'websocket') return 'missing "Upgrade: websocket"';
    if (headers.get('sec-websocket-accept') !== this.upgrade.accept) return `wrong Sec-WebSocket-Accept "${headers.get('sec-websocket-accept')}"`;
    return null;
  }

  /** One complete server frame (unmasked; fragments are not expected from an echo). */
  #nextFrame(): { opcode: number; payload: Buffer } | { error: ReplyCheck } | null {
    const b = this.#buffer;
    if (b.length < 2) return null;
    const opcode = b[0]! & 0x0f;
    const fin = (b[0]! & 0x80) !== 0;
    if (!fin) return { error: { ok: false, code: 'FRAGMENTED', detail: 'fragmented echo frames are not supported by the flood' } };
    if ((b[1]! & 0x80) !== 0) return { error: { ok: false, code: 'MASKED_FRAME', detail: 'a server frame must not be masked' } };
    let length = b[1]! & 0x7f;
    let at = 2;
    if (length === 126) {
      if (b.length < 4) return null;
      length = b.readUInt16BE(2);
      at = 4;
    } else if (length === 127) {
      if (b.length < 10) return null;
      const big = b.readBigUInt64BE(2);
      if (big > BigInt(this.size + 1024)) return { error: { ok: false, code: 'OVERSIZED_FRAME', detail: `frame of ${big} bytes` } };
      length = Number(big);
      at = 10;
    }
    if (b.length < at + length) return null;
    const payload = b.subarray(at, at + length);
    this.#buffer = b.subarray(at + length);
    return { opcode, payload };
  }
}
