import type * as net from 'node:net';
import type { SocketEndpoint } from '../transport/transport.js';

/** How a server receives accepted connections. */
export type AcceptMode = 'handle' | 'server';

/** An accepted native TCP handle (Node's `TCPWrap`), as far as the server uses it. */
export interface NativeTcpHandle {
  setNoDelay?(enable: boolean): number;
  reset?(onClose: () => void): number;
  close(onClose?: () => void): void;
  getpeername?(out: Record<string, unknown>): number;
}

/** Node calls `onconnection(status, handle)` on the listening handle for every accepted connection. */
export type OnConnection = (status: number, handle: NativeTcpHandle | undefined) => void;

interface ListeningHandle {
  onconnection?: unknown;
  readStart?: unknown;
}

const tcpMethods = ['setNoDelay', 'reset', 'close', 'getpeername'] as const;

/**
 * Take accepted connections straight from the listening handle, as Node's cluster round robin does:
 * one `net.Socket` per connection instead of the one `net.Server` builds plus ours. Returns null on
 * success, or why it cannot (then nothing was changed). `original` forwards a handle to net.Server's
 * own path, for a handle we find we cannot wrap.
 */
export function takeOverAccepts(server: net.Server, onConnection: (status: number, handle: NativeTcpHandle | undefined, original: OnConnection) => void): string | null {
  const handle = (server as unknown as { _handle?: ListeningHandle | null })._handle;
  if (handle === undefined || handle === null) return 'net.Server has no listening handle';
  if (typeof handle.onconnection !== 'function') return 'the listening handle has no onconnection callback';
  const proto = Object.getPrototypeOf(handle) as Record<string, unknown> | null;
  const missing = tcpMethods.filter((m) => typeof proto?.[m] !== 'function');
  if (missing.length > 0) return `the listening handle is not a TCP handle with ${missing.join(', ')}`;
  const original = handle.onconnection as OnConnection;
  handle.onconnection = function (this: unknown, status: number, clientHandle: NativeTcpHandle | undefined): void {
    onConnection(status, clientHandle, (s, h) => original.call(this, s, h));
  };
  return null;
}

/** The peer's address of an accepted handle (one getpeername). */
export function peerOf(handle: NativeTcpHandle): SocketEndpoint {
  const out: Record<string, unknown> = {};
  handle.getpeername?.(out);
  return {
    address: typeof out['address'] === 'string' ? out['address'] : '',
    port: typeof out['port'] === 'number' ? out['port'] : 0,
    family: out['family'] === 'IPv6' ? 'IPv6' : 'IPv4',
  };
}
