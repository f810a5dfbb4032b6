import { DONE, NEED_MORE, type HandshakeContext, type HandshakeHandler, type HandshakeStep } from './handshake.js';
import { parseProxyHeader, type ProxyParseOptions } from './proxy-protocol/parse-proxy-header.js';

/** Options of `acceptProxy`: the versions accepted and the v2 size bound. */
export type AcceptProxyOptions = ProxyParseOptions;

/**
 * HAProxy's `accept-proxy`: every connection must start with a PROXY protocol header (v1 or v2). The
 * header is required, never guessed at (the spec's rule): bytes that cannot begin one reset the
 * connection at once with PORTICO_ERR_PROXY_PROTOCOL. Node has no MSG_PEEK, so the header is read and
 * parsed here and the bytes after it go on to the next layer (TLS, or the protocol) as their first
 * input. The header's client and destination become the connection's `remote` and `local`.
 */
export function acceptProxy(options: AcceptProxyOptions = {}): HandshakeHandler {
  parseProxyHeader(new Uint8Array(0), options); // a bad option throws now, at configuration time
  return {
    name: 'accept-proxy',
    start: () => NEED_MORE,
    onData(ctx: HandshakeContext, input: Uint8Array): HandshakeStep {
      const result = parseProxyHeader(input, options);
      switch (result.kind) {
        case 'need-more':
          return NEED_MORE;
        case 'invalid':
          return { kind: 'reject', close: 'reset', error: result.error };
        case 'done':
          ctx.setProxied(result.info);
          return result.consumed === 0 ? DONE : { kind: 'done', consumed: result.consumed };
      }
    },
  };
}
