import type { DeviceFormat, OwRequestFlags, PressureScale, TemperatureScale } from '../bus/bus.js';
import { MessageType, PATH_MAX, Ret, Sg } from './constants.js';
import type { RequestHeader } from './header.js';
import type { WireMessage } from './message-reader.js';

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

/**
 * Split a message body into path and data. The path is NUL-terminated (a missing NUL is accepted);
 * for WRITE it ends at `payload - size`, as owserver computes it, so a wrong `size` moves it.
 */
export function parseRequest(message: WireMessage<RequestHeader>): OwRequest {
  const { header, body, tokens } = message;
  const flags = decodeFlags(header.sg);
  let pathRegion = body;
  let data: Buffer = Buffer.alloc(0);
  let parseError: number | null = null;
  if (header.type === MessageType.WRITE) {
    const split = body.length - header.size;
    if (header.size < 0 || split < 0) {
      parseError = Ret.EBADMSG;
      pathRegion = Buffer.alloc(0);
    } else {
      pathRegion = body.subarray(0, split);
      data = body.subarray(split);
    }
  }
  let path: string | null = null;
  if (pathRegion.length > 0) {
    const nul = pathRegion.indexOf(0);
    const bytes = nul >= 0 ? pathRegion.subarray(0, nul) : pathRegion;
    // owlib's path parser refuses a path longer than PATH_MAX, and owserver answers every parse
    // failure with a plain -1 (a path of exactly PATH_MAX still parses; the payload rule may then apply).
    if (bytes.length > PATH_MAX) parseError ??= Ret.PATH;
    else path = bytes.toString('latin1');
  }
  return { header, path, data, tokens, flags, parseError };
}
