import type { WebSocketVersion } from './handshake.js';
import type { PerMessageDeflateParams } from './permessage-deflate.js';

/** What a socket's handshake settled, as its read-only properties show it. */
export interface SocketInfo {
  readonly version: WebSocketVersion;
  readonly protocol: string | null;
  readonly path: string;
  readonly query: string | null;
  readonly origin: string | null;
  readonly extensions: string;
  readonly perMessageDeflate: PerMessageDeflateParams | null;
}

/** Distinct handshakes kept; a server whose clients vary more than this makes the rest their own. */
const DEFAULT_KEEP = 256;

/**
 * One frozen `SocketInfo` for every socket whose handshake settled the same things: the sockets of
 * a route mostly share path, version, origin and subprotocol, so 10,000 of them keep one object and
 * its strings, not 10,000 (~80 bytes each). Strings kept here are copies, never slices of a request
 * head (a slice would keep the whole head alive).
 */
export class SocketInfoCache {
  readonly #keep: number;
  readonly #infos = new Map<string, SocketInfo>();

  constructor(keep = DEFAULT_KEEP) {
    this.#keep = keep;
  }

  /** Distinct infos held. */
  get size(): number {
    return this.#infos.size;
  }

  /** The shared info equal to `info` (this one, copied, if it is the first). */
  intern(info: SocketInfo): SocketInfo {
    const key = [info.version, info.protocol ?? '\0', info.path, info.query ?? '\0', info.origin ?? '\0', info.extensions].join('\n');
    const known = this.#infos.get(key);
    if (known !== undefined) return known;
    const own: SocketInfo = Object.freeze({
      version: info.version,
      protocol: ownString(info.protocol),
      path: ownString(info.path)!,
      query: ownString(info.query),
      origin: ownString(info.origin),
      extensions: info.extensions,
      perMessageDeflate: info.perMessageDeflate === null ? null : Object.freeze({ ...info.perMessageDeflate }),
    });
    if (this.#infos.size < this.#keep) this.#infos.set(key, own);
    return own;
  }
}

/**
 * A string that holds its own characters: V8 makes a substring of 13 characters or more a view of the
 * string it was cut from, which would keep a whole request head alive for a path or an origin.
 */
export function ownString<S extends string | null>(s: S): S {
  // UTF-16 code units out and back: exact for any string, lone surrogates included.
  return (s === null || s.length < 13 ? s : Buffer.from(s, 'utf16le').toString('utf16le')) as S;
}
