import { Buffer } from 'node:buffer';
/**
 * @internal The bytes of one message being assembled from payload chunks. It never allocates for
 * bytes that have not arrived: a declared length is only a promise, so a peer that declares a 16 MiB
 * frame and sends one byte costs about two bytes here, not 16 MiB. Growth at least doubles, so a
 * message of many small fragments costs O(n) copies; the extra allocated is at most the bytes
 * received (capacity <= 2 x length), and never beyond `limit`.
 */
export class MessageBuffer {
  readonly #limit: number;
  #bytes: Buffer | null = null;
  #length = 0;

  /** `limit`: most bytes a message may have (already enforced by the caller; caps the growth). */
  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Bytes held. */
  get length(): number {
    return this.#length;
  }

  /** Capacity allocated (for tests and accounting). */
  get capacity(): number {
    return this.#bytes === null ? 0 : this.#bytes.length;
  }

  /**
   * Copy `chunk` in. `promised`: bytes the current frame still declares after this chunk; when the
   * buffer must grow anyway it grows far enough for them, up to the bytes received so far.
   */
  append(chunk: Uint8Array, promised: number): void {
    const n = chunk.length;
    if (n === 0) return;
    const need = this.#length + n;
    const capacity = this.capacity;
    if (need > capacity) {
      const grown = Math.max(need + Math.min(need, promised), capacity * 2);
      const bytes = Buffer.allocUnsafe(Math.max(need, Math.min(grown, this.#limit)));
      if (this.#length > 0) this.#bytes!.copy(bytes, 0, 0, this.#length);
      this.#bytes = bytes;
    }
    this.#bytes!.set(chunk, this.#length);
    this.#length = need;
  }

  /** The bytes as a Buffer the caller owns (a view of the last allocation); the buffer starts empty again. */
  take(): Buffer {
    const bytes = this.#bytes;
    const length = this.#length;
    this.#bytes = null;
    this.#length = 0;
    if (bytes === null) return Buffer.alloc(0);
    return length === bytes.length ? bytes : bytes.subarray(0, length);
  }

  /** The bytes decoded as UTF-8 (already validated by the caller); the buffer starts empty again. */
  takeText(): string {
    const bytes = this.#bytes;
    const length = this.#length;
    this.#bytes = null;
    this.#length = 0;
    return bytes === null ? '' : bytes.toString('utf8', 0, length);
  }

  /** Drop the bytes (a failed or abandoned message). */
  clear(): void {
    this.#bytes = null;
    this.#length = 0;
  }
}
