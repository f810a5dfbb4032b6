/**
 * The owserver protocol (OWFS, reference shared/reference/owserver-protocol.md §1–§5) for the flood.
 * Each flood "message" is one owserver request: a READ of `protocolOptions.path`, or a DIRALL of "/"
 * (`protocolOptions.type: 'dirall'`). Replies are checked for shape (ret, payload, size, echoed
 * flags); a negative `ret` is a bad reply.
 *
 * Persistence (`protocolOptions.persistent`, default true) is asked for on every request, as owlib
 * does. A reply without the persistence bit means the server closes after it: a refused grant, or
 * every reply when persistence was not asked for. The check of such a reply says `serverCloses`, so
 * the flood connection carries on with the remaining messages on a new TCP connection; a refusal
 * also carries the information-only code PERSISTENCE_REFUSED.
 *
 * How connections are counted: a flood connection is one client's run of `messages` requests. It
 * uses one TCP connection while persistence is granted, one more after each refusal that leaves
 * messages to send, and without persistence one TCP connection per request — `connections` ×
 * `messages` requests and TCP connections in all, while the flood's connection counts stay per
 * flood connection.
 */
import { HEADER_SIZE, MAX_PAYLOAD, MessageType, Sg, describeRet } from '../../examples/owserver/protocol/constants.js';
import { encodeRequest } from '../../examples/owserver/protocol/header.js';
import { ResponseReader } from '../../examples/owserver/protocol/message-reader.js';
import type { FloodOptions } from '../types.js';
import type { FloodProtocolClient, FloodProtocolSession, ReplyCheck } from './protocol-client.js';

/** The temperature of the fake DS18B20 that `owserver --fake=...,28.4AEC29CDBAAB,...` simulates. */
export const DEFAULT_OWSERVER_PATH = '/28.4AEC29CDBAAB/temperature';

/** Information-only error code: a reply refused persistence (the flood reconnects; not a failure). */
export const PERSISTENCE_REFUSED = 'PERSISTENCE_REFUSED';

export type OwserverFloodRequest = 'read' | 'dirall';

/** What each flood message asks the server, from FloodOptions.protocolOptions and size. */
export interface OwserverFloodSettings {
  readonly request: OwserverFloodRequest;
  /** READ's path; DIRALL always lists "/". */
  readonly path: string;
  /** Ask for persistence on every request. */
  readonly persistent: boolean;
  /** READ's `size` field: the most bytes wanted (FloodOptions.size). */
  readonly readSize: number;
}

/** A passing check that also tells the flood the server closes the connection after this reply. */
export interface OwserverReplyOk {
  readonly ok: true;
  /** The server closes after this reply: the remaining messages go out on a new connection. */
  readonly serverCloses: boolean;
  /** An information-only error code to count (PERSISTENCE_REFUSED), not a failure. */
  readonly note?: string;
}

const knownOptions = ['type', 'path', 'persistent'] as const;

/** Reads and checks `protocolOptions` (unknown keys are errors: a typo must not pass silently). */
export function owserverFloodSettings(options: Pick<FloodOptions, 'size' | 'sendAfterReceive' | 'protocolOptions'>): OwserverFloodSettings {
  const raw = options.protocolOptions ?? {};
  for (const key of Object.keys(raw)) {
    if (!(knownOptions as readonly string[]).includes(key)) {
      throw new Error(`owserver flood: unknown protocolOptions.${key} (known: ${knownOptions.join(', ')})`);
    }
  }
  const type = raw['type'] ?? 'read';
  if (type !== 'read' && type !== 'dirall') throw new Error(`owserver flood: protocolOptions.type must be "read" or "dirall", got ${JSON.stringify(type)}`);
  const path = raw['path'] ?? DEFAULT_OWSERVER_PATH;
  if (typeof path !== 'string' || !path.startsWith('/')) throw new Error(`owserver flood: protocolOptions.path must be an absolute owfs path, got ${JSON.stringify(path)}`);
  if (type === 'dirall' && raw['path'] !== undefined) throw new Error('owserver flood: protocolOptions.path applies to "read" only (DIRALL lists "/")');
  const persistent = raw['persistent'] ?? true;
  if (typeof persistent !== 'boolean') throw new Error(`owserver flood: protocolOptions.persistent must be true or false, got ${JSON.stringify(persistent)}`);
  if (options.size < 1 || options.size > MAX_PAYLOAD) throw new Error(`owserver flood: size is READ's byte count and must be 1..${MAX_PAYLOAD}, got ${options.size}`);
  if (!persistent && !options.sendAfterReceive) {
    // The server answers one request and closes: requests written behind it are never answered.
    throw new Error('owserver flood: without persistence each connection carries one request, so pipelining (sendAfterReceive false) cannot work');
  }
  return { request: type, path: type === 'dirall' ? '/' : path, persistent, readSize: options.size };
}

export class OwserverProtocolClient implements FloodProtocolClient {
  readonly protocol = 'owserver' as const;
  readonly settings: OwserverFloodSettings;
  /** Every request of the flood is the same bytes, so they are framed once. */
  readonly #request: Buffer;
  readonly #sg: number;

  constructor(options: Pick<FloodOptions, 'size' | 'sendAfterReceive' | 'protocolOptions'>) {
    this.settings = owserverFloodSettings(options);
    // What ow-shell sends less ALIAS (owserver-protocol.md §3), plus the persistence bit if wanted.
    this.#sg = Sg.BUS_LIST | Sg.OWNET | (this.settings.persistent ? Sg.PERSISTENT : 0);
    const read = this.settings.request === 'read';
    this.#request = encodeRequest({ type: read ? MessageType.READ : MessageType.DIRALL, sg: this.#sg, size: read ? this.settings.readSize : 0 }, this.settings.path);
  }

  openSession(): FloodProtocolSession {
    return new OwserverSession(this.settings, this.#request, this.#sg);
  }
}

/** One flood connection's replies: counts outstanding requests, skips pings, checks each answer. */
class OwserverSession implements FloodProtocolSession {
  #reader = new ResponseReader();
  /** Requests sent on the current TCP connection and not yet answered. */
  #outstanding = 0;
  /** The last reply said the server closes: what arrives next belongs to a new connection. */
  #closing = false;

  constructor(
    private readonly settings: OwserverFloodSettings,
    private readonly request: Buffer,
    private readonly sg: number,
  ) {}

  frameRequest(): Uint8Array {
    if (this.#closing) {
      // The flood moved to a new connection: start over with empty framing state.
      this.#closing = false;
      this.#reader = new ResponseReader();
      this.#outstanding = 0;
    }
    this.#outstanding++;
    return this.request;
  }

  receive(chunk: Uint8Array): ReplyCheck[] {
    const checks: ReplyCheck[] = [];
    if (this.#closing) {
      checks.push({ ok: false, code: 'UNEXPECTED_DATA', detail: `${chunk.length} byte(s) after a reply that announced the close` });
      return checks;
    }
    this.#reader.push(chunk);
    for (;;) {
      const message = this.#reader.next();
      if (message === null) {
        const error = this.#reader.error;
        if (error !== null) checks.push({ ok: false, code: 'FRAMING', detail: `reply header announces ${error.payload} body bytes (limit ${MAX_PAYLOAD})` });
        return checks;
      }
      const { header, body } = message;
      if (header.payload < 0) continue; // keep-alive ping: the answer is still being worked on
      if (this.#outstanding === 0) {
        checks.push({ ok: false, code: 'UNEXPECTED_DATA', detail: `a ${HEADER_SIZE + body.length}-byte reply with no request outstanding` });
        return checks;
      }
      this.#outstanding--;
      const problem = this.#problem(header.ret, header.payload, header.size, header.offset, header.sg, body);
      if (problem !== null) {
        checks.push(problem);
        return checks;
      }
      const granted = (header.sg & Sg.PERSISTENT) !== 0;
      if (granted) {
        checks.push({ ok: true });
        continue;
      }
      this.#closing = true;
      const closes: OwserverReplyOk = this.settings.persistent ? { ok: true, serverCloses: true, note: PERSISTENCE_REFUSED } : { ok: true, serverCloses: true };
      checks.push(closes);
      if (this.#reader.inMessage) checks.push({ ok: false, code: 'UNEXPECTED_DATA', detail: `${this.#reader.buffered} byte(s) after a reply that announced the close` });
      return checks;
    }
  }

  /** Whatever is wrong with one reply, or null. */
  #problem(ret: number, payload: number, size: number, offset: number, sg: number, body: Buffer): ReplyCheck | null {
    const bad = (code: string, detail: string): ReplyCheck => ({ ok: false, code, detail });
    if (ret < 0) return bad('OW_ERROR', `${this.#what()}: ret ${describeRet(ret)}`);
    if ((sg & ~Sg.PERSISTENT) !== (this.sg & ~Sg.PERSISTENT)) {
      return bad('SG_MISMATCH', `${this.#what()}: reply sg 0x${hex(sg)} does not echo the request's 0x${hex(this.sg)}`);
    }
    if (!this.settings.persistent && (sg & Sg.PERSISTENT) !== 0) return bad('UNEXPECTED_GRANT', `${this.#what()}: persistence granted without being asked for`);
    if (this.settings.request === 'read') {
      if (ret !== payload || size !== payload || payload > this.settings.readSize || offset !== 0) {
        return bad('BAD_REPLY', `${this.#what()}: ret ${ret}, payload ${payload}, size ${size}, offset ${offset} (READ wants ret = payload = size <= ${this.settings.readSize}, offset 0)`);
      }
      if (payload === 0) return bad('BAD_REPLY', `${this.#what()}: empty value`);
      return null;
    }
    if (ret !== 0 || payload !== size + 1 || body[body.length - 1] !== 0) {
      return bad('BAD_REPLY', `${this.#what()}: ret ${ret}, payload ${payload}, size ${size} (DIRALL wants ret 0 and a NUL-terminated list, payload = size + 1)`);
    }
    return null;
  }

  #what(): string {
    return this.settings.request === 'read' ? `READ ${this.settings.path}` : 'DIRALL /';
  }
}

function hex(value: number): string {
  return (value >>> 0).toString(16);
}
