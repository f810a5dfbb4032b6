import { DONE, type HandshakeContext, type HandshakeHandler, type HandshakeStep } from './handshake.js';
import { SourceRanges } from './source-ranges.js';

export interface HealthCheckOptions {
  /**
   * Sources answered as monitors (HAProxy's `monitor-net`); others pass on to the next layer. Omitted:
   * every connection is answered (HAProxy's `mode health`).
   */
  readonly sources?: readonly string[];
  /** `text` (default): `OK\n`; `http`: an HTTP/1.0 200 response with `OK\n` as its body. */
  readonly response?: 'text' | 'http';
}

const TEXT = Buffer.from('OK\n', 'latin1');
const HTTP = Buffer.from('HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nOK\n', 'latin1');

/**
 * A monitor responder: a load balancer's (or an orchestrator's) health probe gets its answer from the
 * connection layers — the server is up and accepting — and is closed, without reaching the protocol.
 */
export function healthCheck(options: HealthCheckOptions = {}): HandshakeHandler {
  const sources = options.sources === undefined ? null : new SourceRanges(options.sources);
  const answer: HandshakeStep = { kind: 'respond-and-close', bytes: options.response === 'http' ? HTTP : TEXT };
  return {
    name: 'health-check',
    start(ctx: HandshakeContext): HandshakeStep {
      if (sources !== null && !sources.has(ctx.remote.address)) return DONE;
      return answer;
    },
  };
}
