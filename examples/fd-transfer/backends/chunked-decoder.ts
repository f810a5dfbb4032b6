/**
 * A bounded decoder of the chunked transfer coding (RFC 9112 §7.1), an explicit state machine over
 * whatever bytes arrive: each `push` hands the chunk data it finds to `onData` (views of the input,
 * valid during the call) and says whether the body ended. Chunk extensions are skipped, trailer fields
 * read and dropped; a size line or the trailer section over its limit, a size over 2^53 - 1 or a
 * missing CRLF is an error (the caller answers 400).
 */
export type ChunkedResult = 'more' | 'done' | { readonly error: string };

const SIZE = 0;
const DATA = 1;
const DATA_CR = 2;
const DATA_LF = 3;
const TRAILER = 4;
const DONE = 5;

const CR = 0x0d;
const LF = 0x0a;
/** Longest chunk-size line (size and extensions) we accept. */
const MAX_SIZE_LINE = 1024;
/** Most trailer bytes we read past. */
const MAX_TRAILER = 8192;

export class ChunkedDecoder {
  #state = SIZE;
  #line = '';
  #remaining = 0;
  #trailerBytes = 0;
  /** After a `push` that returned 'done': where in its input the body ended (the rest is the next request). */
  endOffset = 0;

  get done(): boolean {
    return this.#state === DONE;
  }

  push(input: Buffer, onData: (data: Buffer) => void): ChunkedResult {
    let i = 0;
    while (i < input.length) {
      switch (this.#state) {
        case SIZE:
        case TRAILER: {
          const lf = input.indexOf(LF, i);
          const end = lf < 0 ? input.length : lf + 1;
          this.#line += input.toString('latin1', i, end);
          i = end;
          if (this.#state === SIZE && this.#line.length > MAX_SIZE_LINE) return { error: 'chunk-size line too long' };
          if (this.#state === TRAILER && this.#trailerBytes + this.#line.length > MAX_TRAILER) return { error: 'trailer too large' };
          if (lf < 0) continue;
          const line = this.#line;
          this.#line = '';
          if (line.length < 2 || line.charCodeAt(line.length - 2) !== CR) return { error: 'a chunk line not ending in CRLF' };
          if (this.#state === TRAILER) {
            this.#trailerBytes += line.length;
            if (this.#trailerBytes > MAX_TRAILER) return { error: 'trailer too large' };
            if (line.length === 2) {
              this.#state = DONE;
              this.endOffset = i;
              return 'done';
            }
            continue;
          }
          const m = /^([0-9A-Fa-f]{1,13})[ \t]*(?:;[^\r\n]*)?\r\n$/.exec(line);
          if (m === null) return { error: 'a malformed chunk-size line' };
          const size = parseInt(m[1]!, 16);
          if (size === 0) this.#state = TRAILER;
          else {
            this.#remaining = size;
            this.#state = DATA;
          }
          continue;
        }
        case DATA: {
          const n = Math.min(this.#remaining, input.length - i);
          onData(input.subarray(i, i + n));
          i += n;
          this.#remaining -= n;
          if (this.#remaining === 0) this.#state = DATA_CR;
          continue;
        }
        case DATA_CR:
          if (input[i++] !== CR) return { error: 'chunk data not followed by CRLF' };
          this.#state = DATA_LF;
          continue;
        case DATA_LF:
          if (input[i++] !== LF) return { error: 'chunk data not followed by CRLF' };
          this.#state = SIZE;
          continue;
        default:
          return 'done';
      }
    }
    return 'more';
  }
}
