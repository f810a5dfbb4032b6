import { ErrorCodes, PorticoError } from '../../core/errors.js';
import type { ProxyInfo } from './proxy-info.js';

/**
 * What `parseProxyHeader` made of the bytes so far: not enough yet (every byte seen could still start a
 * valid header), a complete header of `consumed` bytes, or bytes no valid header can start with.
 */
export type ProxyParseResult =
  | { readonly kind: 'need-more' }
  | { readonly kind: 'done'; readonly consumed: number; readonly info: ProxyInfo }
  | { readonly kind: 'invalid'; readonly error: PorticoError };

export const NEED_MORE: ProxyParseResult = Object.freeze({ kind: 'need-more' });

/** An `invalid` result whose error has code PROXY_PROTOCOL, raised in the 'layers' layer. */
export function invalid(message: string): ProxyParseResult {
  return { kind: 'invalid', error: new PorticoError(ErrorCodes.PROXY_PROTOCOL, 'layers', message) };
}
