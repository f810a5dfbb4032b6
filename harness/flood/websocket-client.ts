/**
 * The WebSocket protocol (RFC 6455, version 13) against an echo endpoint: the first request carries
 * the HTTP upgrade, then each message is one masked frame (text or binary) that the server must echo
 * back as one unmasked frame of the same type and payload.
 *
 * Built on the framework's client side: `buildClientUpgrade` / `checkUpgradeResponse` for the
 * handshake, `ResponseHeadParser` for the 101, `FrameWriter` (client role: masked) for requests and a
 * client-role `WebSocketReceiver` for replies — so every reply frame is checked as strictly as the
 * server checks ours (masking, lengths, UTF-8 of text, close codes).
 *
 * The upgrade and the first frame go out together; servers must accept data right behind the
 * handshake (RFC 6455 lets the client send once the 101 is in flight; `ws` and portico do).
 * protocolOptions: `path` (default "/"; flag --ws-path), `binary` (default true; false sends text frames),
 * `version` (13, or 8 for HyBi-08 — Sec-WebSocket-Version 8 uses the same framing).
 */
import {
  BufferPool,
  ByteQueue,
  FrameWriter,
  ResponseHeadParser,
  WebSocketReceiver,
  buildClientUpgrade,
  checkUpgradeResponse,
  type ClientUpgrade,
  type PooledBuffer,
  type PorticoError,
  type WebSocketCallbacks,
} from '../../framework/index.js';
import type { FloodOptions } from '../types.js';
import { echoPayload } from './echo-client.js';
import type { FloodProtocolClient, FloodProtocolSession, ReplyCheck } from './protocol-client.js';

const MAX_HEADER_BYTES = 8192;
/** Bytes copied into one pooled buffer at a time (a chunk from the socket may be larger). */
const POOL_BUFFER = 16 * 1024;

export class WebSocketProtocolClient implements FloodProtocolClient {
  readonly protocol = 'websocket' as const;
  readonly #size: number;
  readonly #path: string;
  readonly #binary: boolean;
  readonly #version: 13 | 8;
  readonly #host: string;
  readonly #writer = new FrameWriter({ role: 'client' });
  readonly #pool = new BufferPool({ bufferSize: POOL_BUFFER });

  constructor(options: FloodOptions) {
    const known = new Set(['path', 'binary', 'version']);
    for (const key of Object.keys(options.protocolOptions ?? {})) {
      if (!known.has(key)) throw new Error(`websocket flood: unknown protocolOptions.${key} (known: ${[...known].join(', ')})`);
    }
    const o = options.protocolOptions ?? {};
    const path = o['path'] ?? '/';
    // Origin-form only: the request line is `GET <path> HTTP/1.1`, so no spaces or control characters.
    if (typeof path !== 'string' || !/^\/[\x21-\x7e]*$/.test(path)) {
      throw new Error(`websocket flood: the path (--ws-path, protocolOptions.path) must start with "/", e.g. /echo, got ${JSON.stringify(path)}`);
    }
    this.#path = path;
    this.#binary = o['binary'] !== false;
    const version = typeof o['version'] === 'number' ? o['version'] : 13;
    if (version !== 13 && version !== 8) throw new Error(`websocket flood: version must be 13 or 8, got ${version}`);
    this.#version = version;
    if (!Number.isInteger(options.size) || options.size < 1) throw new Error(`websocket flood needs size >= 1, got ${options.size}`);
    this.#size = options.size;
    this.#host = `${options.host}:${options.port}`;
  }

  openSession(connectionIndex: number): FloodProtocolSession {
    const upgrade = buildClientUpgrade({ host: this.#host, path: this.#path, version: this.#version, origin: `http://${this.#host}` });
    return new WebSocketSession(connectionIndex, this.#size, this.#binary, this.#path, upgrade, this.#writer, this.#pool);
  }
}

class WebSocketSession implements FloodProtocolSession, WebSocketCallbacks {
  readonly #pending: Buffer[] = [];
  readonly #queue = new ByteQueue({ maxBytes: MAX_HEADER_BYTES + 16 * 1024 * 1024 });
  readonly #head = new ResponseHeadParser({ maxHeadSize: MAX_HEADER_BYTES });
  #receiver: WebSocketReceiver | null = null;
  #checks: ReplyCheck[] = [];
  #failed = false;

  constructor(
    private readonly connectionIndex: number,
    private readonly size: number,
    private readonly binary: boolean,
    private readonly path: string,
    private readonly upgrade: ClientUpgrade,
    private readonly writer: FrameWriter,
    private readonly pool: BufferPool,
  ) {}

  #payload(messageIndex: number): Buffer {
    const bytes = echoPayload(this.connectionIndex, messageIndex, this.size);
    if (!this.binary) for (let i = 0; i < bytes.length; i++) bytes[i] = 0x21 + (bytes[i]! % 94); // printable ASCII
    return bytes;
  }

  frameRequest(messageIndex: number): Uint8Array {
    const payload = this.#payload(messageIndex);
    this.#pending.push(payload);
    const frames = this.writer.message(payload, { binary: this.binary });
    return Buffer.concat(messageIndex === 0 ? [this.upgrade.request, ...frames] : frames);
  }

  receive(chunk: Uint8Array): ReplyCheck[] {
    if (this.#failed) return [];
    this.#checks = [];
    for (let at = 0; at < chunk.length && !this.#failed; at += POOL_BUFFER) {
      const buffer = this.pool.acquireCopy(chunk.subarray(at, Math.min(chunk.length, at + POOL_BUFFER)));
      if (this.#receiver !== null) this.#receiver.push(buffer);
      else this.#handshake(buffer);
    }
    return this.#checks;
  }

  #handshake(buffer: PooledBuffer): void {
    this.#queue.append(buffer);
    const result = this.#head.parse(this.#queue);
    if (result.kind === 'more') return;
    if (result.kind === 'error') {
      this.#fail('BAD_HANDSHAKE', result.error.message);
      return;
    }
    const checked = checkUpgradeResponse(this.upgrade, result.head);
    if (checked.kind === 'reject') {
      // A 404 is almost always the wrong path (portico-websocket serves /echo, /chat, /broadcast).
      const hint =
        result.head.status === 404
          ? `, to GET ${this.path}: nothing to upgrade on that path? Give the server's WebSocket path with --ws-path (scenario: flood.protocolOptions.path)`
          : '';
      this.#fail('BAD_HANDSHAKE', checked.error.message + hint);
      return;
    }
    this.#queue.skip(result.consumed);
    // Replies are the size of requests: a bigger message is a server bug, refused at its header.
    this.#receiver = new WebSocketReceiver(this, { role: 'client', maxMessageBytes: this.size + 1024, queue: this.#queue });
    this.#receiver.parse();
  }

  #fail(code: string, detail: string): void {
    this.#failed = true;
    this.#checks.push({ ok: false, code, detail });
    this.#receiver?.dispose();
    this.#queue.clear();
  }

  // ---- WebSocketCallbacks: what the receiver found ----

  onMessage(data: string | Buffer, isBinary: boolean): void {
    if (this.#failed) return;
    const want = this.#pending.shift();
    if (want === undefined) {
      this.#fail('UNEXPECTED_DATA', 'a message with no request outstanding');
      return;
    }
    if (isBinary !== this.binary) {
      this.#fail('MISMATCH', `a ${isBinary ? 'binary' : 'text'} message, expected ${this.binary ? 'binary' : 'text'}`);
      return;
    }
    const got = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    if (!got.equals(want)) {
      this.#fail('MISMATCH', `echoed payload differs (${got.length} of ${want.length} bytes)`);
      return;
    }
    this.#checks.push({ ok: true });
  }

  onClose(code: number): void {
    this.#fail('WS_CLOSE', `server sent a close frame (${code})`);
  }

  onProtocolError(closeCode: number, error: PorticoError): void {
    this.#fail('BAD_FRAME', `${error.message} (would close with ${closeCode})`);
  }
}
