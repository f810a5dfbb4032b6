import { Sg } from '../protocol/constants.js';
import { encodeResponse } from '../protocol/header.js';

/** Builds the response messages of one request with the right `sg` (persistence bit as granted). */
export class ResponseBuilder {
  readonly #sg: number;
  readonly #parts: Buffer[] = [];

  constructor(requestSg: number, keepOpen: boolean) {
    this.#sg = keepOpen ? requestSg | Sg.PERSISTENT : requestSg & ~Sg.PERSISTENT;
  }

  /** ret < 0: an error (payload 0, size 0). */
  error(ret: number): this {
    this.#parts.push(encodeResponse({ version: 0, payload: 0, ret, sg: this.#sg, size: 0, offset: 0 }));
    return this;
  }

  /** A status without body (NOP, WRITE: size = bytes written). */
  status(ret: number, size = 0, offset = 0): this {
    this.#parts.push(encodeResponse({ version: 0, payload: 0, ret, sg: this.#sg, size, offset }));
    return this;
  }

  /** READ data: ret = payload = size = data length; offset echoed. */
  data(bytes: Uint8Array, offset: number): this {
    this.#parts.push(encodeResponse({ version: 0, payload: bytes.length, ret: bytes.length, sg: this.#sg, size: bytes.length, offset }, bytes));
    return this;
  }

  /** NUL-terminated text (DIR element, DIRALL): payload = size + 1. */
  text(value: string, offset = 0): this {
    if (value.length === 0) {
      // An empty listing is sent with no body at all, not a lone NUL (as owserver does for /alarm).
      this.#parts.push(encodeResponse({ version: 0, payload: 0, ret: 0, sg: this.#sg, size: 0, offset }));
      return this;
    }
    const bytes = Buffer.from(`${value}\0`, 'latin1');
    this.#parts.push(encodeResponse({ version: 0, payload: bytes.length, ret: 0, sg: this.#sg, size: bytes.length - 1, offset }, bytes));
    return this;
  }

  /** PRESENT: the 8-byte ROM id, size 0. */
  raw(bytes: Uint8Array): this {
    this.#parts.push(encodeResponse({ version: 0, payload: bytes.length, ret: 0, sg: this.#sg, size: 0, offset: 0 }, bytes));
    return this;
  }

  /** All messages as one buffer: one write, one segment where it fits. */
  build(): Buffer {
    return this.#parts.length === 1 ? this.#parts[0]! : Buffer.concat(this.#parts);
  }
}

/** The keep-alive ping: version 0, payload -1, everything else 0, no body. */
export const PING = encodeResponse({ version: 0, payload: -1, ret: 0, sg: 0, size: 0, offset: 0 });
