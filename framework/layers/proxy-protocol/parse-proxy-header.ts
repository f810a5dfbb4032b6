/**
 * The PROXY protocol header parser (haproxy `doc/proxy-protocol.txt`, versions 1 and 2): a pure
 * function over the bytes received so far, called again with more bytes after `need-more`. It never
 * throws on peer input; every answer is one of three results.
 *
 * Fail fast: while the bytes seen are too few to decide, the answer is `need-more` only if they are a
 * prefix of a header that could still be valid; so `GET / HTTP/1.1` is invalid at its first byte, not
 * after a timeout or 107 bytes.
 */
import { ErrorCodes, PorticoError } from '../../core/errors.js';
import { parseProxyV1 } from './parse-proxy-v1.js';
import { parseProxyV2 } from './parse-proxy-v2.js';
import { V1_PREFIX, V2_SIGNATURE } from './proxy-protocol-constants.js';
import { NEED_MORE, type ProxyParseResult, invalid } from './proxy-parse-result.js';

export type { ProxyParseResult } from './proxy-parse-result.js';

/** Limits and accepted versions of `parseProxyHeader`. */
export interface ProxyParseOptions {
  /** The versions accepted; a header of another version is invalid. Default `[1, 2]`. */
  readonly versions?: readonly (1 | 2)[];
  /**
   * The largest v2 length field accepted (bytes after the fixed 16-byte part: address block and TLVs),
   * checked before waiting for those bytes. Default 1024; at most 65535 (the field is 16 bits).
   */
  readonly maxV2Length?: number;
}

/** Default `maxV2Length`: room for a UNIX address block and a full set of TLVs, yet a bounded copy. */
export const DEFAULT_MAX_V2_LENGTH = 1024;

/**
 * Parse the PROXY protocol header at the start of `input` (all bytes received so far on the
 * connection). `done.consumed` is the header's exact length: the bytes after it belong to the protocol
 * above. `input` is not kept: `done.info` holds copies.
 *
 * @throws PorticoError (CONFIG) for options that are not valid — never for anything in `input`.
 */
export function parseProxyHeader(input: Uint8Array, options?: ProxyParseOptions): ProxyParseResult {
  const versions = options?.versions ?? [1, 2];
  const maxV2Length = options?.maxV2Length ?? DEFAULT_MAX_V2_LENGTH;
  checkOptions(versions, maxV2Length);
  if (input.length === 0) return NEED_MORE;
  if (input[0] === V1_PREFIX[0]) {
    if (!versions.includes(1)) return invalid('PROXY: a version 1 header where only version 2 is accepted');
    const matched = matchPrefix(input, V1_PREFIX);
    if (matched === 'mismatch') return invalid('PROXY: input is not a PROXY protocol header');
    return matched === 'partial' ? NEED_MORE : parseProxyV1(input);
  }
  if (input[0] === V2_SIGNATURE[0]) {
    if (!versions.includes(2)) return invalid('PROXY: a version 2 header where only version 1 is accepted');
    const matched = matchPrefix(input, V2_SIGNATURE);
    if (matched === 'mismatch') return invalid('PROXY: input is not a PROXY protocol header');
    return matched === 'partial' ? NEED_MORE : parseProxyV2(input, maxV2Length);
  }
  return invalid('PROXY: input is not a PROXY protocol header');
}

/** Whether `input` starts with `expected`, or is shorter and a prefix of it, or neither. */
function matchPrefix(input: Uint8Array, expected: Uint8Array): 'full' | 'partial' | 'mismatch' {
  const n = Math.min(input.length, expected.length);
  for (let i = 0; i < n; i++) if (input[i] !== expected[i]) return 'mismatch';
  return n === expected.length ? 'full' : 'partial';
}

function checkOptions(versions: readonly (1 | 2)[], maxV2Length: number): void {
  if (versions.length === 0 || versions.some((version) => version !== 1 && version !== 2)) {
    throw new PorticoError(ErrorCodes.CONFIG, 'layers', 'PROXY: versions must list 1, 2 or both');
  }
  if (!Number.isInteger(maxV2Length) || maxV2Length < 0 || maxV2Length > 0xffff) {
    throw new PorticoError(ErrorCodes.CONFIG, 'layers', `PROXY: maxV2Length must be an integer 0-65535, not ${maxV2Length}`);
  }
}
