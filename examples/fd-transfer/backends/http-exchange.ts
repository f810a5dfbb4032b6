import { createHash, type Hash } from 'node:crypto';
import {
  type Connection,
  type ConnectionCallbacks,
  formatErrorResponse,
  formatResponseHead,
  type PooledBuffer,
  RequestHeadParser,
  type RequestHead,
} from '../../../framework/index.js';
import { ChunkedDecoder } from './chunked-decoder.js';

const CONTINUE = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');

/** The methods a path of this back end answers, or null for a path it does not have. */
function allowedMethods(path: string): string | null {
  if (path === '/http' || path === '/http/' || path === '/http/hello' || /^\/http\/bytes\/\d{1,10}$/.test(path)) return 'GET, HEAD';
  if (path === '/http/echo' || path === '/http/count') return 'POST, PUT';
  return null;
}

/** Largest response `/http/bytes/N` streams. */
export const MAX_STREAMED_BYTES = 1 << 30;
const MAX_HEAD_BYTES = 8192;
/** One block of the streamed response (a repeating pattern, so a client can check any byte). */
const BLOCK = Buffer.alloc(64 * 1024, 'portico fd-transfer stream\n');
const EMPTY: Buffer = Buffer.alloc(0);

type Phase = 'head' | 'body' | 'respond' | 'done';

/** What a request's body feeds: echoed back as it arrives, or counted and hashed. */
type BodySink = { kind: 'echo' } | { kind: 'count'; bytes: number; hash: Hash };

/**
 * HTTP/1.1 on a connection the front handed over (the request head arrives as the first read
 * completion). The back end reads the body itself, content-length or chunked, and streams its answer
 * with backpressure (reading and writing pause while the socket's queue is over its high-water mark).
 * The connection is persistent unless the request says `Connection: close` (or is HTTP/1.0): later
 * requests on it come straight here — the front saw only the first — so a client that is done closes
 * first and the TIME_WAIT stays on its side. Pipelined requests are answered in order.
 *
 * - `GET /http`, `/http/hello`: a short text naming this process
 * - `GET /http/bytes/N`: N bytes (Content-Length), streamed
 * - `POST /http/echo`: the body back as it arrives (Transfer-Encoding: chunked)
 * - `POST /http/count`: `{"bytes":N,"sha256":"…"}` of the body, once it is all read
 */
export class HttpExchange implements ConnectionCallbacks {
  #phase: Phase = 'head';
  #head: Buffer = Buffer.alloc(0);
  readonly #parser = new RequestHeadParser({ maxHeadSize: MAX_HEAD_BYTES });
  // body
  #remaining = 0;
  #chunked: ChunkedDecoder | null = null;
  #sink: BodySink = { kind: 'echo' };
  #waitingWritable = false;
  // streamed response
  #toStream = 0;
  #isHead = false;
  #keepAlive = false;
  /** Bytes of the next request that came with this one's head (a streamed answer is written first). */
  #next: Buffer = EMPTY;

  onConnectionEstablished(conn: Connection): void {
    conn.read();
  }

  onReadCompleted(conn: Connection, buffer: PooledBuffer): void {
    const bytes = Buffer.from(buffer.data); // ours: the pooled buffer goes back at once
    buffer.release();
    if (this.#phase === 'head') this.#onHeadBytes(conn, bytes);
    else if (this.#phase === 'body') this.#onBody(conn, bytes);
    else conn.read(); // after the body: drain what a client sends until it closes
  }

  onWritable(conn: Connection): void {
    if (!this.#waitingWritable) return;
    this.#waitingWritable = false;
    if (this.#phase === 'body') conn.read();
    else if (this.#phase === 'respond') this.#pump(conn);
  }

  onClientClose(conn: Connection): void {
    // Between requests the client's FIN is the normal end; mid-request there is nothing to answer.
    if (this.#phase === 'head' || this.#phase === 'body') conn.close();
  }

  /** The connection's read idle timer: an idle persistent connection is closed gracefully, one stuck mid-request aborted. */
  onIdle(conn: Connection): void {
    if (this.#phase === 'respond' || this.#waitingWritable) return; // answering: no read is expected, the client is reading
    if (this.#phase === 'head' && this.#head.length === 0) conn.close();
    else conn.abort();
  }

  #onHeadBytes(conn: Connection, bytes: Buffer): void {
    this.#head = this.#head.length === 0 ? bytes : Buffer.concat([this.#head, bytes]);
    const result = this.#parser.parse(this.#head);
    if (result.kind === 'more') {
      conn.read();
      return;
    }
    if (result.kind === 'error') {
      this.#fail(conn, result.status, result.error.message);
      return;
    }
    const rest = this.#head.subarray(result.consumed);
    this.#head = Buffer.alloc(0);
    this.#keepAlive = result.head.version === '1.1' && !result.head.listHas('connection', 'close');
    this.#start(conn, result.head, rest);
  }

  #start(conn: Connection, head: RequestHead, rest: Buffer): void {
    const q = head.target.indexOf('?');
    const path = q < 0 ? head.target : head.target.slice(0, q);
    this.#isHead = head.method === 'HEAD';
    if (head.method === 'GET' || head.method === 'HEAD') {
      if (path === '/http' || path === '/http/' || path === '/http/hello') {
        const body = Buffer.from(`hello from back end ${process.pid}\n`);
        conn.write(formatResponseHead(200, [['Content-Type', 'text/plain'], ['Content-Length', String(body.length)], ...this.#connectionHeader()]));
        if (!this.#isHead) conn.write(body);
        this.#finish(conn, rest);
        return;
      }
      const m = /^\/http\/bytes\/(\d{1,10})$/.exec(path);
      if (m !== null && Number(m[1]) <= MAX_STREAMED_BYTES) {
        this.#toStream = this.#isHead ? 0 : Number(m[1]);
        conn.write(formatResponseHead(200, [['Content-Type', 'application/octet-stream'], ['Content-Length', m[1]!], ...this.#connectionHeader()]));
        this.#phase = 'respond';
        this.#next = rest;
        this.#pump(conn);
        return;
      }
    } else if (head.method === 'POST' || head.method === 'PUT') {
      if (path === '/http/echo' || path === '/http/count') {
        // Only chunked is decoded here: a body with another coding on it (gzip, chunked) cannot be read.
        const codings = (head.get('transfer-encoding') ?? '').split(',').map((c) => c.trim().toLowerCase()).filter((c) => c.length > 0);
        if (codings.some((c) => c !== 'chunked')) {
          this.#fail(conn, 501, `transfer coding ${codings.join(', ')} is not implemented (only chunked)`);
          return;
        }
        const expect = head.get('expect');
        if (expect !== undefined && expect !== null) {
          if (expect.trim().toLowerCase() !== '100-continue') {
            this.#fail(conn, 417, `cannot meet Expect: ${expect}`);
            return;
          }
          // The client holds its body until told to send it (RFC 9110 §10.1.1): say so now.
          if (head.version === '1.1' && (head.chunked || (head.contentLength ?? 0) > 0)) conn.write(CONTINUE);
        }
        this.#sink = path === '/http/echo' ? { kind: 'echo' } : { kind: 'count', bytes: 0, hash: createHash('sha256') };
        if (this.#sink.kind === 'echo') {
          conn.write(formatResponseHead(200, [['Content-Type', head.get('content-type') ?? 'application/octet-stream'], ['Transfer-Encoding', 'chunked'], ...this.#connectionHeader()]));
        }
        this.#chunked = head.chunked ? new ChunkedDecoder() : null;
        this.#remaining = head.contentLength ?? 0;
        this.#phase = 'body';
        if (this.#chunked === null && this.#remaining === 0) this.#bodyEnded(conn, rest);
        else this.#onBody(conn, rest);
        return;
      }
    }
    // A path that exists, asked with a method it does not take: 405 with what it does take (RFC 9110 §15.5.6).
    const allowed = allowedMethods(path);
    if (allowed !== null) {
      this.#fail(conn, 405, `${head.method} is not allowed on ${path}`, [['Allow', allowed]]);
      return;
    }
    this.#fail(conn, 404, `no ${head.method} ${path} on the HTTP back end`);
  }

  #onBody(conn: Connection, bytes: Buffer): void {
    let ended = false;
    let rest: Buffer = EMPTY;
    if (this.#chunked !== null) {
      const result = this.#chunked.push(bytes, (data) => this.#bodyData(conn, data));
      if (typeof result === 'object') {
        if (this.#sink.kind === 'echo') conn.abort(); // the 200 head is out: cut the chunked answer short
        else this.#fail(conn, 400, result.error);
        return;
      }
      ended = result === 'done';
      if (ended) rest = bytes.subarray(this.#chunked.endOffset);
    } else {
      const n = Math.min(this.#remaining, bytes.length);
      if (n > 0) this.#bodyData(conn, bytes.subarray(0, n));
      this.#remaining -= n;
      ended = this.#remaining === 0;
      rest = bytes.subarray(n);
    }
    if (ended) this.#bodyEnded(conn, Buffer.from(rest));
    else if (!this.#waitingWritable) conn.read(); // else onWritable posts it: the peer waits while we cannot write
  }

  #bodyData(conn: Connection, data: Buffer): void {
    if (data.length === 0) return;
    if (this.#sink.kind === 'count') {
      this.#sink.bytes += data.length;
      this.#sink.hash.update(data);
      return;
    }
    conn.cork();
    conn.write(`${data.length.toString(16)}\r\n`);
    conn.write(Buffer.from(data));
    const status = conn.write('\r\n');
    conn.uncork();
    if (status === 'over-high-water') this.#waitingWritable = true;
  }

  #bodyEnded(conn: Connection, rest: Buffer): void {
    const sink = this.#sink;
    if (sink.kind === 'echo') conn.write('0\r\n\r\n');
    else {
      const body = Buffer.from(JSON.stringify({ bytes: sink.bytes, sha256: sink.hash.digest('hex') }) + '\n');
      conn.write(formatResponseHead(200, [['Content-Type', 'application/json'], ['Content-Length', String(body.length)], ...this.#connectionHeader()]));
      conn.write(body);
    }
    this.#finish(conn, rest);
  }

  /** Write blocks until the queue is over its high-water mark (then `onWritable` resumes) or all is out. */
  #pump(conn: Connection): void {
    while (this.#toStream > 0) {
      const n = Math.min(this.#toStream, BLOCK.length);
      this.#toStream -= n;
      const status = conn.write(n === BLOCK.length ? BLOCK : BLOCK.subarray(0, n));
      if (status === 'closed') return;
      if (status === 'over-high-water' && this.#toStream > 0) {
        this.#waitingWritable = true;
        return;
      }
    }
    this.#finish(conn, this.#next);
  }

  #fail(conn: Connection, status: number, reason: string, headers: readonly [string, string][] = []): void {
    this.#phase = 'done';
    conn.write(formatErrorResponse(status, reason, headers));
    conn.close();
  }

  #connectionHeader(): [string, string][] {
    return this.#keepAlive ? [] : [['Connection', 'close']];
  }

  /**
   * The response is queued: close, or (persistent) start on the next request — `rest` holds the bytes
   * after this request's body that came in the same read (a pipelined request).
   */
  #finish(conn: Connection, rest: Buffer): void {
    this.#next = EMPTY;
    if (!this.#keepAlive) {
      this.#phase = 'done';
      conn.close();
      return;
    }
    this.#phase = 'head';
    this.#chunked = null;
    this.#remaining = 0;
    this.#waitingWritable = false;
    if (rest.length > 0) this.#onHeadBytes(conn, rest);
    else conn.read();
  }
}
