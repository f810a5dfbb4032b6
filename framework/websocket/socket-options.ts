import { ErrorCodes, PorticoError } from '../core/errors.js';
import { checkRange } from '../framing/checks.js';
import { MAX_BUFFER_SIZE } from '../buffers/buffer-pool.js';
import { DEFAULT_MAX_MESSAGE_BYTES } from './receiver.js';
import { ReceiverPool } from './receiver-pool.js';
import { SocketInfoCache } from './socket-info.js';

/** What a slow consumer (more than `maxBufferedBytes` queued) gets: its messages dropped, or closed. */
export type SlowConsumerPolicy = 'drop' | 'close';

/** The per-socket limits and timers a server's and a client's sockets share. Every one has a documented default. */
export interface WebSocketSocketOptions {
  /** Largest message, fragments together (close 1009 over it, before allocating). Default 16 MiB. */
  maxMessageBytes?: number;
  /**
   * Most bytes a socket may have queued for sending before `slowConsumer` applies to the next send.
   * Default 4 MiB. Reading from a socket pauses while its own queue is over the connection's high-water
   * mark, so an echo peer that never reads is bounded by that; this bounds what others send it.
   */
  maxBufferedBytes?: number;
  /** Default 'close' (with 1008). */
  slowConsumer?: SlowConsumerPolicy;
  /** After our close frame, how long the peer has to answer with its own before the TCP connection is reset. Default 5000 ms. */
  closeTimeoutMs?: number;
  /** Ping each socket this often and terminate one that has not answered the previous ping; 0 = off. Default 0. */
  heartbeatMs?: number;
}

/**
 * A lent receiver's queue holds at most an unfinished frame header or control payload (14 + 125 bytes)
 * and the one read just appended (a read is posted only after the last one was parsed): one read of
 * the largest pool, with room to spare.
 */
const RECEIVE_QUEUE_BYTES = MAX_BUFFER_SIZE + 64 * 1024;

/** @internal What a socket itself needs, whichever side opened it, and what the sockets of one server (or client) share. */
export interface WebSocketRuntimeOptions {
  readonly role: 'server' | 'client';
  readonly maxMessageBytes: number;
  readonly maxBufferedBytes: number;
  readonly slowConsumer: SlowConsumerPolicy;
  readonly closeTimeoutMs: number;
  readonly heartbeatMs: number;
  /** Receivers lent to these sockets while a message arrives (every one made with these options). */
  readonly receivers: ReceiverPool;
  /** The handshake facts these sockets share. */
  readonly infos: SocketInfoCache;
}

/** @internal Fill in the socket defaults and check each value (INVALID_ARGUMENT names the option). */
export function resolveSocketOptions(options: WebSocketSocketOptions, role: 'server' | 'client'): WebSocketRuntimeOptions {
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  checkRange(maxMessageBytes, 0, Number.MAX_SAFE_INTEGER, 'maxMessageBytes', 'websocket');
  const resolved: WebSocketRuntimeOptions = {
    role,
    maxMessageBytes,
    maxBufferedBytes: options.maxBufferedBytes ?? 4 * 1024 * 1024,
    slowConsumer: options.slowConsumer ?? 'close',
    closeTimeoutMs: options.closeTimeoutMs ?? 5000,
    heartbeatMs: options.heartbeatMs ?? 0,
    receivers: new ReceiverPool({ role, maxMessageBytes, maxBuffered: RECEIVE_QUEUE_BYTES }),
    infos: new SocketInfoCache(),
  };
  checkRange(resolved.maxBufferedBytes, 0, Number.MAX_SAFE_INTEGER, 'maxBufferedBytes', 'websocket');
  checkRange(resolved.closeTimeoutMs, 1, 2 ** 31 - 1, 'closeTimeoutMs', 'websocket');
  checkRange(resolved.heartbeatMs, 0, 2 ** 31 - 1, 'heartbeatMs', 'websocket');
  if (resolved.slowConsumer !== 'drop' && resolved.slowConsumer !== 'close') {
    throw new PorticoError(ErrorCodes.INVALID_ARGUMENT, 'websocket', `slowConsumer must be 'drop' or 'close', got ${String(resolved.slowConsumer)}`);
  }
  return resolved;
}
