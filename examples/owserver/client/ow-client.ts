import { MessageType, Sg } from '../protocol/constants.js';
import { encodeRequest } from '../protocol/header.js';
import { type AnswerShape, OwClientConnection, type ResponseMessage } from './client-connection.js';
import { OwClientError } from './client-errors.js';

export interface OwClientOptions {
  host: string;
  port: number;
  /** Ask for persistence on every request (default true). */
  persistent?: boolean;
  /** Persistent connections kept per server (libow keeps 1; more lets concurrent callers reuse). Default 1. */
  poolSize?: number;
  /** Base `sg` flags (default BUS_LIST | OWNET, i.e. what ow-shell sends less ALIAS). */
  sg?: number;
  /** Per answer (reset by each ping). Default 5000. */
  timeoutMs?: number;
  connectTimeoutMs?: number;
}

export interface OwClientStats {
  requests: number;
  connectionsOpened: number;
  reused: number;
  resent: number;
  grantsRefused: number;
}

/** The parsed answer of one request. */
export interface OwAnswer {
  readonly ret: number;
  readonly sg: number;
  readonly size: number;
  readonly offset: number;
  readonly messages: readonly ResponseMessage[];
}

/**
 * owserver client following owlib's persistence rules (reference §5): ask for persistence on every
 * request, check the grant in every answer, reuse an idle connection only while it is still open,
 * resend once when *sending* on a reused connection fails, never retry after a failed read.
 * Concurrent callers: up to `poolSize` persistent connections, one request each at a time; the rest
 * go out on single-shot connections.
 */
export class OwClient {
  readonly options: Required<OwClientOptions>;
  readonly stats: OwClientStats = { requests: 0, connectionsOpened: 0, reused: 0, resent: 0, grantsRefused: 0 };
  #idle: OwClientConnection[] = [];
  #persistentInUse = 0;
  #closed = false;

  constructor(options: OwClientOptions) {
    this.options = {
      persistent: true,
      poolSize: 1,
      sg: Sg.BUS_LIST | Sg.OWNET,
      timeoutMs: 5000,
      connectTimeoutMs: 5000,
      ...options,
    };
  }

  /** READ a property: the raw value bytes. */
  async read(path: string, options: { size?: number; offset?: number; sg?: number } = {}): Promise<Buffer> {
    const answer = await this.request(MessageType.READ, path, null, { size: options.size ?? 65536, offset: options.offset ?? 0, ...(options.sg !== undefined ? { sg: options.sg } : {}) });
    return answer.messages[0]!.body.subarray(0, Math.max(0, answer.size));
  }

  /** WRITE a value; resolves with the bytes written. */
  async write(path: string, value: string | Uint8Array, options: { sg?: number } = {}): Promise<number> {
    const data = typeof value === 'string' ? Buffer.from(value, 'latin1') : value;
    const answer = await this.request(MessageType.WRITE, path, data, { size: data.length, ...(options.sg !== undefined ? { sg: options.sg } : {}) });
    return answer.size;
  }

  /** DIRALL (or DIRALLSLASH): the entries. */
  async dir(path: string, options: { slash?: boolean; sg?: number } = {}): Promise<string[]> {
    const answer = await this.request(options.slash ? MessageType.DIRALLSLASH : MessageType.DIRALL, path, null, { size: 0, ...(options.sg !== undefined ? { sg: options.sg } : {}) });
    return splitList(answer.messages[0]!.body);
  }

  /** DIR (one message per entry): the entries. */
  async dirStream(path: string, options: { sg?: number } = {}): Promise<string[]> {
    const answer = await this.request(MessageType.DIR, path, null, { size: 0, ...(options.sg !== undefined ? { sg: options.sg } : {}) }, 'dir');
    return answer.messages.filter((m) => m.header.payload > 0).map((m) => m.body.subarray(0, m.header.size).toString('latin1'));
  }

  /** PRESENT: true if the device (or path) exists. */
  async present(path: string, options: { sg?: number } = {}): Promise<boolean> {
    try {
      await this.request(MessageType.PRESENT, path, null, { size: 0, ...(options.sg !== undefined ? { sg: options.sg } : {}) });
      return true;
    } catch (error) {
      if (error instanceof OwClientError && error.code === 'OW_ERR_RESPONSE' && error.ret === -1) return false;
      throw error;
    }
  }

  /** GET: a directory's entries, or a property's value (as ow-shell's owget: DIRALL, then READ on -20). */
  async get(path: string, options: { slash?: boolean; sg?: number } = {}): Promise<{ kind: 'dir'; entries: string[] } | { kind: 'file'; value: Buffer }> {
    try {
      return { kind: 'dir', entries: await this.dir(path, options) };
    } catch (error) {
      if (error instanceof OwClientError && error.ret === -20) return { kind: 'file', value: await this.read(path, options) };
      throw error;
    }
  }

  /** Send one request; negative ret rejects with OW_ERR_RESPONSE. */
  async request(
    type: number,
    path: string | null,
    data: Uint8Array | null,
    fields: { size: number; offset?: number; sg?: number; version?: number; tokens?: readonly Uint8Array[]; rejectOnError?: boolean },
    shape: AnswerShape = 'single',
  ): Promise<OwAnswer> {
    if (this.#closed) throw new OwClientError('OW_ERR_SEND', 'client is closed');
    this.stats.requests++;
    const sgBase = fields.sg ?? this.options.sg;
    const { connection, persistent, reused } = await this.#checkout();
    const sg = persistent ? sgBase | Sg.PERSISTENT : sgBase & ~Sg.PERSISTENT;
    const bytes = encodeRequest({ version: fields.version ?? 0, type, sg, size: fields.size, offset: fields.offset ?? 0 }, path, data, fields.tokens ?? []);
    let conn = connection;
    let messages: ResponseMessage[];
    try {
      messages = await conn.request(bytes, shape, this.options.timeoutMs);
    } catch (error) {
      conn.close();
      const retryable = error instanceof OwClientError && error.code === 'OW_ERR_SEND' && reused;
      if (!retryable) {
        this.#checkin(conn, persistent, false);
        throw error;
      }
      // A reused persistent connection failed on send: reconnect once and resend once.
      this.stats.resent++;
      conn = await this.#connect();
      try {
        messages = await conn.request(bytes, shape, this.options.timeoutMs);
      } catch (again) {
        conn.close();
        this.#checkin(conn, persistent, false);
        throw again;
      }
    }
    const last = messages[messages.length - 1]!;
    const granted = (last.header.sg & Sg.PERSISTENT) !== 0;
    if (persistent && !granted) this.stats.grantsRefused++;
    this.#checkin(conn, persistent, persistent && granted);
    const failed = messages.find((m) => m.header.ret < 0);
    if (failed !== undefined && fields.rejectOnError !== false) throw OwClientError.response(failed.header.ret, `${path ?? ''}`);
    return { ret: last.header.ret, sg: last.header.sg, size: last.header.size, offset: last.header.offset, messages };
  }

  /** Close idle connections; the client can't be used afterwards. */
  close(): void {
    this.#closed = true;
    for (const conn of this.#idle) conn.end();
    this.#idle = [];
  }

  async #checkout(): Promise<{ connection: OwClientConnection; persistent: boolean; reused: boolean }> {
    if (this.options.persistent) {
      while (this.#idle.length > 0) {
        const conn = this.#idle.pop()!;
        if (conn.isOpen) {
          this.#persistentInUse++;
          this.stats.reused++;
          return { connection: conn, persistent: true, reused: true };
        }
        conn.close(); // the server closed it while idle: reconnect
      }
      if (this.#persistentInUse < this.options.poolSize) {
        this.#persistentInUse++;
        try {
          return { connection: await this.#connect(), persistent: true, reused: false };
        } catch (error) {
          this.#persistentInUse--;
          throw error;
        }
      }
    }
    return { connection: await this.#connect(), persistent: false, reused: false };
  }

  #checkin(conn: OwClientConnection, persistent: boolean, keep: boolean): void {
    if (persistent) this.#persistentInUse--;
    if (keep && !this.#closed && conn.isOpen) this.#idle.push(conn);
    else if (conn.isOpen) conn.end();
  }

  async #connect(): Promise<OwClientConnection> {
    const conn = await OwClientConnection.open(this.options.host, this.options.port, this.options.connectTimeoutMs);
    this.stats.connectionsOpened++;
    return conn;
  }
}

/** A DIRALL body: comma-separated, NUL-terminated. */
export function splitList(body: Buffer): string[] {
  const nul = body.indexOf(0);
  const text = (nul >= 0 ? body.subarray(0, nul) : body).toString('latin1');
  return text.length === 0 ? [] : text.split(',');
}
