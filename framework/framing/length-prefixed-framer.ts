import { ErrorCodes } from '../core/errors.js';
import type { ReadonlyByteQueue } from './byte-queue.js';
import { checkRange, framingError } from './checks.js';
import { Framer, type FramerOptions } from './framer.js';

/** Options of a `LengthPrefixedFramer`. */
export interface LengthPrefixedFramerOptions extends FramerOptions {
  /** Header bytes (the minimum, with `headerLength`) needed before the lengths can be read. */
  headerSize: number;
  /**
   * The body length the header declares. The frame starts at queue offset 0 and its whole header
   * (`headerLength` bytes) is buffered: read it with the queue's peeks. Throw to reject the header.
   */
  bodyLength: (header: ReadonlyByteQueue, headerLength: number) => number;
  /**
   * For variable headers (WebSocket: 2 to 14 bytes): called once `headerSize` bytes are buffered,
   * returns the whole header's length. Default: the header is always `headerSize` bytes.
   */
  headerLength?: (header: ReadonlyByteQueue) => number;
  /** Largest frame, header included. Declared lengths are checked against it before anything is buffered or allocated for them. */
  maxFrame: number;
}

const HEADER = 0;
const LENGTH = 1;
const BODY = 2;
type State = typeof HEADER | typeof LENGTH | typeof BODY;

/**
 * Frames with a header that declares the body length (owserver's 24-byte header, PROXY v2, WebSocket
 * with `headerLength`). Each frame is returned whole, header then body: the body starts at the header
 * length. Default `maxBuffered`: `maxFrame` + 64 KiB (a whole frame plus one read).
 */
export class LengthPrefixedFramer extends Framer {
  /** Largest frame accepted, header included. */
  readonly maxFrame: number;
  readonly #headerSize: number;
  readonly #bodyLength: (header: ReadonlyByteQueue, headerLength: number) => number;
  readonly #headerLengthOf: ((header: ReadonlyByteQueue) => number) | undefined;
  #state: State = HEADER;
  #headerLength = 0;
  #frameLength = 0;

  constructor(options: LengthPrefixedFramerOptions) {
    checkRange(options.maxFrame, 1, Number.MAX_SAFE_INTEGER, 'maxFrame', 'protocol');
    checkRange(options.headerSize, 1, options.maxFrame, 'headerSize', 'protocol');
    super(options, options.maxFrame + 65536, options.maxFrame);
    this.maxFrame = options.maxFrame;
    this.#headerSize = options.headerSize;
    this.#bodyLength = options.bodyLength;
    this.#headerLengthOf = options.headerLength;
  }

  /** @internal */
  protected decode(): number {
    const queue = this.queue;
    for (;;) {
      switch (this.#state) {
        case HEADER: {
          if (queue.length < this.#headerSize) return -1;
          const length = this.#headerLengthOf === undefined ? this.#headerSize : this.#headerLengthOf(queue);
          if (!Number.isInteger(length) || length < this.#headerSize) {
            throw framingError(ErrorCodes.BAD_FRAME, `header length ${length} is not an integer of at least ${this.#headerSize}`);
          }
          if (length > this.maxFrame) throw framingError(ErrorCodes.INPUT_TOO_LARGE, `header of ${length} bytes exceeds maxFrame ${this.maxFrame}`);
          this.#headerLength = length;
          this.#state = LENGTH;
          break;
        }
        case LENGTH: {
          if (queue.length < this.#headerLength) return -1;
          const body = this.#bodyLength(queue, this.#headerLength);
          if (!Number.isInteger(body) || body < 0) throw framingError(ErrorCodes.BAD_FRAME, `declared body length ${body} is not a non-negative integer`);
          if (body > this.maxFrame - this.#headerLength) {
            throw framingError(ErrorCodes.INPUT_TOO_LARGE, `declared frame of ${this.#headerLength} + ${body} bytes exceeds maxFrame ${this.maxFrame}`);
          }
          this.#frameLength = this.#headerLength + body;
          this.#state = BODY;
          break;
        }
        case BODY:
          return queue.length >= this.#frameLength ? this.#frameLength : -1;
      }
    }
  }

  /** @internal */
  protected taken(): void {
    this.#state = HEADER;
  }

  /** @internal */
  protected reset(): void {
    this.#state = HEADER;
  }
}
