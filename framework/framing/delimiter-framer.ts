import { ErrorCodes } from '../core/errors.js';
import { checkRange, framingError } from './checks.js';
import { Framer, type FramerOptions } from './framer.js';

/** Options of a `DelimiterFramer`. */
export interface DelimiterFramerOptions extends FramerOptions {
  /** What ends a line: a byte (0 for NUL), bytes, or a string of latin1 bytes such as `'\r\n'`. */
  delimiter: Uint8Array | number | string;
  /** Longest line accepted, delimiter excluded. Longer ones fail as soon as maxLine + delimiter bytes are buffered. */
  maxLine: number;
  /** Return each line with its delimiter. Default false. */
  keepDelimiter?: boolean;
}

/**
 * Lines ended by a delimiter (HTTP heads and PROXY v1 with CRLF, NUL-terminated strings). The scan is
 * bounded by `maxLine` and resumes where the last one stopped, so trickled input is scanned once.
 * Default `maxBuffered`: `maxLine` + delimiter + 64 KiB.
 */
export class DelimiterFramer extends Framer {
  /** Longest line accepted, delimiter excluded. */
  readonly maxLine: number;
  readonly #delimiter: Uint8Array | number;
  readonly #delimiterLength: number;
  readonly #keep: boolean;
  // Stream position before which no delimiter can start (already scanned).
  #scannedTo = 0;

  constructor(options: DelimiterFramerOptions) {
    const delimiter = typeof options.delimiter === 'string' ? Buffer.from(options.delimiter, 'latin1') : options.delimiter;
    if (typeof delimiter === 'number') checkRange(delimiter, 0, 255, 'delimiter byte', 'protocol');
    else checkRange(delimiter.length, 1, 256, 'delimiter length', 'protocol');
    const d = typeof delimiter === 'number' ? 1 : delimiter.length;
    checkRange(options.maxLine, 0, Number.MAX_SAFE_INTEGER - d, 'maxLine', 'protocol');
    super(options, options.maxLine + d + 65536, options.maxLine + d);
    this.maxLine = options.maxLine;
    this.#delimiter = typeof delimiter !== 'number' && delimiter.length === 1 ? delimiter[0]! : delimiter;
    this.#delimiterLength = d;
    this.#keep = options.keepDelimiter ?? false;
  }

  /** @internal */
  protected decode(): number {
    const queue = this.queue;
    const d = this.#delimiterLength;
    const window = this.maxLine + d;
    const limit = Math.min(queue.length, window);
    const from = Math.min(Math.max(0, this.#scannedTo - queue.position), limit);
    const at = queue.indexOf(this.#delimiter, from, limit);
    if (at >= 0) return this.#keep ? at + d : at;
    if (queue.length >= window) {
      throw framingError(ErrorCodes.INPUT_TOO_LARGE, `no delimiter within ${window} bytes: a line longer than maxLine ${this.maxLine}`);
    }
    // Starts before limit - d + 1 were all checked; a delimiter there would have ended within limit.
    this.#scannedTo = queue.position + Math.max(from, limit - d + 1);
    return -1;
  }

  /** @internal */
  protected taken(): void {
    if (!this.#keep) this.queue.skip(this.#delimiterLength);
  }

  /** @internal */
  protected reset(): void {
    this.#scannedTo = 0;
  }
}
