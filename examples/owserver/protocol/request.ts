import type { DeviceFormat, OwRequestFlags, PressureScale, TemperatureScale } from '../bus/bus.js';
import { HEADER_SIZE, MessageType, PATH_MAX, Ret, SERVER_MESSAGE_BIT, Sg, TOKEN_SIZE } from './constants.js';
import type { RequestHeader } from './header.js';

/** A request as the server acts on it. */
export interface OwRequest {
  readonly header: RequestHeader;
  /** The path, or null when the message carried none (payload 0). */
  readonly path: string | null;
  /** WRITE data. */
  readonly data: Buffer;
  readonly tokens: readonly Buffer[];
  readonly flags: OwRequestFlags;
  /** A return code decided while parsing (e.g. -1 for a path longer than PATH_MAX), or null. */
  readonly parseError: number | null;
}

const temperatureScales: readonly TemperatureScale[] = ['C', 'F', 'K', 'R'];
const pressureScales: readonly PressureScale[] = ['mbar', 'atm', 'mmHg', 'inHg', 'psi', 'Pa'];
const deviceFormats: readonly DeviceFormat[] = ['f.i', 'fi', 'f.i.c', 'f.ic', 'fi.c', 'fic'];

/** Decode the `sg` word's flag bits and the unit / format fields. */
export function decodeFlags(sg: number): OwRequestFlags {
  return {
    busList: (sg & Sg.BUS_LIST) !== 0,
    alias: (sg & Sg.ALIAS) !== 0,
    uncached: (sg & Sg.UNCACHED) !== 0,
    trim: (sg & Sg.TRIM) !== 0,
    temperatureScale: temperatureScales[(sg & Sg.TEMPERATURE_MASK) >>> 16] ?? 'C',
    pressureScale: pressureScales[(sg & Sg.PRESSURE_MASK) >>> 18] ?? 'mbar',
    deviceFormat: deviceFormats[(sg >>> 24) & 0xff] ?? 'f.i',
  };
}

const EMPTY: Buffer = Buffer.alloc(0);

/** Anti-loop tokens a request header announces: the low 16 bits of `version` when the server bit is set. */
export function tokenCount(version: number): number {
  return (version & SERVER_MESSAGE_BIT) !== 0 ? version & 0xffff : 0;
}

/**
 * Parse one whole request message: the 24-byte header, `payload` body bytes, then the tokens the
 * header announces (the frame `RequestFramer` cuts; `payload` is known to be non-negative and to fit).
 * Everything the request keeps is copied out — the path as a string, WRITE data, the tokens — so
 * `frame` may be a view of a pooled read buffer that goes back to the pool right after.
 *
 * The path is NUL-terminated (a missing NUL is accepted); for WRITE it ends at `payload - size`, as
 * owserver computes it, so a wrong `size` moves it.
 */
export function parseRequest(frame: Buffer): OwRequest {
  const header: RequestHeader = {
    version: frame.readInt32BE(0),
    payload: frame.readInt32BE(4),
    type: frame.readInt32BE(8),
    sg: frame.readInt32BE(12),
    size: frame.readInt32BE(16),
    offset: frame.readInt32BE(20),
  };
  const flags = decodeFlags(header.sg);
  const bodyEnd = HEADER_SIZE + header.payload;
  let pathEnd = bodyEnd;
  let data = EMPTY;
  let parseError: number | null = null;
  if (header.type === MessageType.WRITE) {
    const split = bodyEnd - header.size;
    if (header.size < 0 || split < HEADER_SIZE) {
      parseError = Ret.EBADMSG;
      pathEnd = HEADER_SIZE;
    } else {
      pathEnd = split;
      data = Buffer.from(frame.subarray(split, bodyEnd));
    }
  }
  let path: string | null = null;
  if (pathEnd > HEADER_SIZE) {
    const nul = frame.indexOf(0, HEADER_SIZE);
    const end = nul >= 0 && nul < pathEnd ? nul : pathEnd;
    // owlib's path parser refuses a path longer than PATH_MAX, and owserver answers every parse
    // failure with a plain -1 (a path of exactly PATH_MAX still parses; the payload rule may then apply).
    if (end - HEADER_SIZE > PATH_MAX) parseError ??= Ret.PATH;
    else path = frame.toString('latin1', HEADER_SIZE, end);
  }
  const tokens: Buffer[] = [];
  const count = tokenCount(header.version);
  if (count > 0) {
    const all = Buffer.from(frame.subarray(bodyEnd, bodyEnd + count * TOKEN_SIZE));
    for (let at = 0; at < all.length; at += TOKEN_SIZE) tokens.push(all.subarray(at, at + TOKEN_SIZE));
  }
  return { header, path, data, tokens, flags, parseError };
}
