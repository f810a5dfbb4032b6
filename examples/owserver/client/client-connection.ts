import * as net from 'node:net';
import { HEADER_SIZE } from '../protocol/constants.js';
import { type ResponseMessage, ResponseReader } from '../protocol/message-reader.js';
import { OwClientError } from './client-errors.js';

export type { ResponseMessage };

/** How many messages make one answer: DIR streams entries until its end marker. */
export type AnswerShape = 'single' | 'dir';

/**
 * One TCP connection to an owserver, used for one request at a time. Pings (payload < 0) are
 * skipped and restart the answer timeout, as owlib does.
 */
export class OwClientConnection {
  readonly socket: net.Socket;
  #reader = new ResponseReader();
  #open = false;
  #pending: {
    shape: AnswerShape;
    messages: ResponseMessage[];
    resolve: (m: ResponseMessage[]) => void;
    reject: (e: OwClientError) => void;
    timer: NodeJS.Timeout;
    timeoutMs: number;
  } | null = null;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('end', () => this.#fail(new OwClientError('OW_ERR_RECEIVE', 'server closed the connection before the full answer')));
    socket.on('error', (error: NodeJS.ErrnoException) => this.#fail(new OwClientError('OW_ERR_RECEIVE', `connection failed: ${error.code ?? error.message}`, { cause: error })));
    socket.on('close', () => {
      this.#open = false;
      this.#fail(new OwClientError('OW_ERR_RECEIVE', 'connection closed before the full answer'));
    });
  }

  static open(host: string, port: number, timeoutMs: number): Promise<OwClientConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port });
      const conn = new OwClientConnection(socket);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new OwClientError('OW_ERR_CONNECT', `connect to ${host}:${port} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      const onError = (error: NodeJS.ErrnoException): void => {
        clearTimeout(timer);
        reject(new OwClientError('OW_ERR_CONNECT', `cannot connect to ${host}:${port}: ${error.code ?? error.message}`, { cause: error }));
      };
      socket.once('error', onError);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.off('error', onError);
        conn.#open = true;
        resolve(conn);
      });
    });
  }

  /** Still usable: connected, not ended by the server, nothing unexpected received. */
  get isOpen(): boolean {
    return this.#open && !this.socket.destroyed && this.socket.readable && this.#reader.buffered === 0;
  }

  /** Send a request; resolves with the answer's messages. Rejects with OW_ERR_SEND if the write fails. */
  request(bytes: Uint8Array, shape: AnswerShape, timeoutMs: number): Promise<ResponseMessage[]> {
    if (this.#pending !== null) return Promise.reject(new OwClientError('OW_ERR_PROTOCOL', 'connection already has a request in flight'));
    if (!this.isOpen) return Promise.reject(new OwClientError('OW_ERR_SEND', 'connection is closed'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.#timeout(), timeoutMs);
      this.#pending = { shape, messages: [], resolve, reject, timer, timeoutMs };
      this.socket.write(bytes, (error) => {
        if (error) this.#fail(new OwClientError('OW_ERR_SEND', `send failed: ${error.message}`, { cause: error }));
      });
    });
  }

  close(): void {
    this.#open = false;
    this.socket.destroy();
  }

  /** Close sending FIN (client closes first, so TIME_WAIT stays on the client side). */
  end(): void {
    this.#open = false;
    this.socket.end();
    this.socket.once('end', () => this.socket.destroy());
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }

  #onData(chunk: Buffer): void {
    const pending = this.#pending;
    if (pending === null) {
      // Nothing asked: unexpected bytes make the connection unusable for reuse.
      this.#reader.push(chunk);
      return;
    }
    this.#reader.push(chunk);
    for (let message = this.#reader.next(); message !== null; message = this.#reader.next()) {
      if (message.header.payload < 0) {
        // A keep-alive ping: skip it, and give the server another full timeout.
        clearTimeout(pending.timer);
        pending.timer = setTimeout(() => this.#timeout(), pending.timeoutMs);
        continue;
      }
      pending.messages.push(message);
      const done = pending.shape === 'single' || message.header.ret < 0 || (message.header.payload === 0 && message.header.size === 0);
      if (done) {
        clearTimeout(pending.timer);
        this.#pending = null;
        pending.resolve(pending.messages);
        return;
      }
    }
    if (this.#reader.error !== null) this.#fail(new OwClientError('OW_ERR_PROTOCOL', `malformed answer: ${this.#reader.error.kind}`));
  }

  #timeout(): void {
    const pending = this.#pending;
    if (pending === null) return;
    this.#pending = null;
    this.close();
    pending.reject(new OwClientError('OW_ERR_TIMEOUT', `no answer within ${pending.timeoutMs} ms`));
  }

  #fail(error: OwClientError): void {
    const pending = this.#pending;
    if (pending === null) return;
    this.#pending = null;
    clearTimeout(pending.timer);
    pending.reject(error);
  }
}

export { HEADER_SIZE };
