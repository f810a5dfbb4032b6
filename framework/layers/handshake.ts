import type { PorticoError } from '../core/errors.js';
import type { SocketEndpoint, Transport } from '../transport/transport.js';
import type { ProxyInfo } from './proxy-protocol/proxy-info.js';

/**
 * What a handshake handler answers each time it is asked (HAProxy's handshake steps: finish and clear
 * your flag, subscribe for more, or fail the connection).
 * - `need-more`: wait for more bytes (the stack bounds how many it buffers);
 * - `done`: this handler is finished and consumed `consumed` bytes; the rest goes to the next layer;
 * - `reject`: fail the connection — `reset` (RST, nothing more said) or `close` (FIN);
 * - `respond-and-close`: write `bytes`, then close (a health check's answer);
 * - `wait`: the handler finishes later, by calling `ctx.settle(step)` (work off the socket);
 * - `replace-transport`: consume `consumed` bytes, then put the transport `replace` returns in place of
 *   the current one (TLS over TCP), handing it the bytes already read past this handler's part; the
 *   handler then waits as for `wait` (TLS: until the TLS handshake is done).
 */
export type HandshakeStep =
  | { readonly kind: 'need-more' }
  | { readonly kind: 'done'; readonly consumed: number }
  | { readonly kind: 'reject'; readonly error: PorticoError; readonly close: 'reset' | 'close' }
  | { readonly kind: 'respond-and-close'; readonly bytes: Uint8Array }
  | { readonly kind: 'wait' }
  | {
      readonly kind: 'replace-transport';
      readonly consumed: number;
      replace(current: Transport, leftover: readonly Uint8Array[]): Transport;
    };

/** Shared steps: no allocation for the common answers. */
export const NEED_MORE: HandshakeStep = Object.freeze({ kind: 'need-more' });
export const DONE: HandshakeStep = Object.freeze({ kind: 'done', consumed: 0 });
export const WAIT: HandshakeStep = Object.freeze({ kind: 'wait' });

/** What a handshake handler can see and do on its connection. */
export interface HandshakeContext {
  /** Accepted by a server, or opened by `connect`. */
  readonly direction: 'accepted' | 'outgoing';
  /** The current transport (TCP, or TLS once a handler replaced it). */
  readonly transport: Transport;
  /** The peer as the socket sees it (the proxy itself, behind a load balancer). */
  readonly socketRemote: SocketEndpoint;
  /** The peer as the layers above will see it: the PROXY header's client once one was accepted. */
  readonly remote: SocketEndpoint;
  /** Our end as the layers above will see it: the PROXY header's destination once one was accepted. */
  readonly local: SocketEndpoint;
  readonly proxied: ProxyInfo | null;
  /** Record what a PROXY header said: `remote` and `local` follow it when it carries addresses. */
  setProxied(info: ProxyInfo): void;
  /** Write bytes ahead of anything the protocol writes (send-proxy). */
  write(bytes: Uint8Array): void;
  /** Finish a `wait` (or `replace-transport`) step. Ignored once the connection failed or timed out. */
  settle(step: HandshakeStep): void;
  /** Run `fn` once when the connection ends, whether the handshake succeeded or not (release per-source counts). */
  onFinished(fn: () => void): void;
}

/**
 * One stage of a connection's setup, run in order before the data protocol (accept-proxy, TCP rules,
 * health check, TLS). A handler object serves every connection: keep per-connection state in closures
 * created in `start`, not on the handler.
 */
export interface HandshakeHandler {
  /** Short name for errors and stats: 'accept-proxy', 'tcp-rules', 'health-check', 'tls', 'send-proxy'. */
  readonly name: string;
  /**
   * The handler replaces the transport with one built on a `net.Socket` (TLS): a server with such a
   * layer accepts its connections as `net.Socket`s, not native handles. Default false.
   */
  readonly needsSocket?: boolean;
  /** Called once when this handler's turn comes. Return `need-more` to be given bytes. */
  start(ctx: HandshakeContext): HandshakeStep;
  /**
   * All bytes buffered and not yet consumed, contiguous. Called after `start` asked for more, at once if
   * bytes are already buffered, and whenever more arrive. Required if `start` can answer `need-more`.
   */
  onData?(ctx: HandshakeContext, input: Uint8Array): HandshakeStep;
}
