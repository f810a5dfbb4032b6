import { ErrorCodes, PorticoError } from '../core/errors.js';
import { DONE, type HandshakeContext, type HandshakeHandler, type HandshakeStep } from './handshake.js';
import { encodeProxyHeaderV1, encodeProxyHeaderV2, type ProxyHeaderV2Input } from './proxy-protocol/encode-proxy-header.js';

/** What `sendProxy` announces: the version, and the connection it speaks for. */
export interface SendProxyOptions extends ProxyHeaderV2Input {
  readonly version: 1 | 2;
}

/**
 * HAProxy's `send-proxy` / `send-proxy-v2` for an outgoing connection: write the PROXY header before
 * anything else, naming the client this connection is made for (`source`) and the address that client
 * reached (`destination`) — usually a front connection's `remote` and `local`. TLVs and CRC32C are v2
 * only. The header is built once, when the handler is made: make one per outgoing connection.
 */
export function sendProxy(options: SendProxyOptions): HandshakeHandler {
  if (options.version !== 1 && options.version !== 2) throw new PorticoError(ErrorCodes.CONFIG, 'layers', `send-proxy version must be 1 or 2, got ${String(options.version)}`);
  if (options.version === 1 && ((options.tlvs?.length ?? 0) > 0 || options.crc32c === true)) {
    throw new PorticoError(ErrorCodes.CONFIG, 'layers', 'send-proxy v1 carries no TLVs or CRC32C: use version 2');
  }
  const header = options.version === 1 ? encodeProxyHeaderV1(options) : encodeProxyHeaderV2(options);
  return {
    name: 'send-proxy',
    start(ctx: HandshakeContext): HandshakeStep {
      ctx.write(header);
      return DONE;
    },
  };
}
