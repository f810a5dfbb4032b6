import * as net from 'node:net';
import type { BufferPool } from '../buffers/buffer-pool.js';
import type { PooledBuffer } from '../buffers/pooled-buffer.js';
import { TcpTransport, type TcpReadMode } from '../transport/tcp-transport.js';
import { NativeTcpTransport } from '../transport/native-tcp-transport.js';
import { isNativeStreamHandle } from '../transport/native-stream.js';
import type { Transport } from '../transport/transport.js';
import type { Server } from './server.js';

/**
 * Handing accepted connections from one process to another (lighttpd's mod_fd_transfer, Node's
 * cluster round robin): a front accepts a connection, reads what it needs (a request head), and sends
 * the descriptor with `subprocess.send(message, handle)` — the raw TCP handle, never read by a
 * `net.Socket` stream, so no byte is left behind in a stream buffer — with the bytes it read in the
 * message. The receiving process adopts it into a `Server` as if accepted there, the bytes first, and
 * acknowledges. The front keeps its copy of the descriptor until the acknowledgement, so on a refusal
 * (or a back end that died) it can still answer the client itself; then it closes its copy, which
 * sends nothing on the wire while the back end's copy is open.
 */

/** The message a front sends along with a connection's descriptor. */
export interface HandoffMessage {
  readonly type: 'portico:handoff';
  /** The sender's transfer id, echoed in the acknowledgement. */
  readonly id: number;
  /** The bytes the sender already read from the connection (the request head and any after it), base64. */
  readonly leftover: string;
}

/** The receiver's answer: adopted (the sender closes its copy) or refused (the sender still owns the connection). */
export interface HandoffAck {
  readonly type: 'portico:handoff-ack';
  readonly id: number;
  readonly accepted: boolean;
  /** Why it was refused: `no-handle`, `bad-handle`, `bad-message`, `too-large`, `refused` (stopping or over the server's limit). */
  readonly reason?: string;
}

/** Build the message for one transfer. */
export function handoffMessage(id: number, leftover: Uint8Array): HandoffMessage {
  return { type: 'portico:handoff', id, leftover: Buffer.from(leftover.buffer, leftover.byteOffset, leftover.byteLength).toString('base64') };
}

export function isHandoffMessage(value: unknown): value is HandoffMessage {
  if (typeof value !== 'object' || value === null) return false;
  const m = value as Partial<HandoffMessage>;
  return m.type === 'portico:handoff' && typeof m.id === 'number' && typeof m.leftover === 'string';
}

export function isHandoffAck(value: unknown): value is HandoffAck {
  if (typeof value !== 'object' || value === null) return false;
  const m = value as Partial<HandoffAck>;
  return m.type === 'portico:handoff-ack' && typeof m.id === 'number' && typeof m.accepted === 'boolean';
}

/**
 * The native handle of a socket to pass to `subprocess.send` (the receiver then gets a raw handle it
 * wraps paused, exactly like an accepted one), or null when the socket has none (closed). Sending the
 * `net.Socket` itself also works, but the receiving `net.Socket` starts reading at once.
 */
export function handleOf(socket: net.Socket): object | null {
  const handle = (socket as unknown as { _handle?: object | null })._handle;
  return handle ?? null;
}

/** What a process receives handoffs on: `process` itself in a forked child. */
export interface HandoffChannel {
  on(event: 'message', listener: (message: unknown, handle: unknown) => void): unknown;
  off(event: 'message', listener: (message: unknown, handle: unknown) => void): unknown;
  send?(message: unknown): boolean;
}

export interface HandoffReceiverOptions {
  /** Where handoffs arrive and acknowledgements go. Default `process` (a child forked with an IPC channel). */
  channel?: HandoffChannel;
  /** Most leftover bytes one handoff may carry; more is refused (`too-large`) before decoding. Default 65536. */
  maxLeftoverBytes?: number;
  /** How adopted connections read: as the server's accepted ones do. Default 'onread'. */
  readMode?: TcpReadMode;
  /** Called with the leftover bytes before adoption (e.g. to log the request line). */
  onHandoff?(leftover: Buffer): void;
}

export interface HandoffStats {
  received: number;
  adopted: number;
  refused: number;
  /** Messages that were not handoffs (left for other listeners; not counted as refused). */
  ignored: number;
}

/**
 * Receives connections handed over by a front and adopts them into `server` (`Server.adopt`),
 * answering each with a `HandoffAck`. A connection whose peer left while in transit is adopted all the
 * same: its first read reports the close, as it would for a connection accepted here.
 */
export class HandoffReceiver<U = unknown> {
  readonly stats: HandoffStats = { received: 0, adopted: 0, refused: 0, ignored: 0 };
  readonly #server: Server<U>;
  readonly #channel: HandoffChannel;
  readonly #maxLeftover: number;
  readonly #readMode: TcpReadMode;
  readonly #onHandoff: ((leftover: Buffer) => void) | undefined;
  readonly #listener = (message: unknown, handle: unknown): void => this.#receive(message, handle);

  constructor(server: Server<U>, options: HandoffReceiverOptions = {}) {
    this.#server = server;
    this.#channel = options.channel ?? (process as unknown as HandoffChannel);
    this.#maxLeftover = options.maxLeftoverBytes ?? 65536;
    this.#readMode = options.readMode ?? 'onread';
    this.#onHandoff = options.onHandoff;
    this.#channel.on('message', this.#listener);
  }

  /** Stop listening for handoffs (connections already adopted stay with the server). */
  close(): void {
    this.#channel.off('message', this.#listener);
  }

  #receive(message: unknown, handle: unknown): void {
    if (!isHandoffMessage(message)) {
      if (typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'portico:handoff') {
        this.#refuse(typeof (message as { id?: unknown }).id === 'number' ? (message as { id: number }).id : -1, 'bad-message', handle);
      } else {
        this.stats.ignored++;
      }
      return;
    }
    this.stats.received++;
    if (handle === undefined || handle === null) {
      this.#refuse(message.id, 'no-handle', handle);
      return;
    }
    // Checked before decoding: base64 is 4 characters per 3 bytes.
    if (message.leftover.length > Math.ceil(this.#maxLeftover / 3) * 4) {
      this.#refuse(message.id, 'too-large', handle);
      return;
    }
    const bytes = Buffer.from(message.leftover, 'base64');
    if (bytes.length > this.#maxLeftover) {
      this.#refuse(message.id, 'too-large', handle);
      return;
    }
    this.#onHandoff?.(bytes);
    let transport: Transport;
    try {
      const pool = this.#server.pool;
      if (handle instanceof net.Socket) transport = transportFromSocket(handle, pool);
      else {
        // As the server accepts its own: on the native handle when it does (and the read mode allows).
        const native = this.#readMode === 'onread' && this.#server.nativeHandles && isNativeStreamHandle(handle) ? NativeTcpTransport.fromHandle(handle, pool) : null;
        transport = native ?? TcpTransport.fromHandle(handle, pool, this.#readMode);
      }
    } catch {
      this.#refuse(message.id, 'bad-handle', handle); // not a TCP handle (a pipe, a UDP socket)
      return;
    }
    if (!this.#server.adopt(transport, leftoverBuffers(this.#server.pool, bytes))) {
      this.#refuse(message.id, 'refused', null);
      transport.destroy(); // our copy only: the sender still has its own and answers the client
      return;
    }
    this.stats.adopted++;
    this.#ack({ type: 'portico:handoff-ack', id: message.id, accepted: true });
  }

  #refuse(id: number, reason: string, handle: unknown): void {
    this.stats.refused++;
    closeHandle(handle);
    this.#ack({ type: 'portico:handoff-ack', id, accepted: false, reason });
  }

  #ack(ack: HandoffAck): void {
    this.#channel.send?.(ack);
  }
}

/** Copy `bytes` into pooled buffers (each at most the pool's buffer size), in order. */
export function leftoverBuffers(pool: BufferPool, bytes: Uint8Array): PooledBuffer[] {
  const out: PooledBuffer[] = [];
  for (let offset = 0; offset < bytes.length; offset += pool.bufferSize) {
    out.push(pool.acquireCopy(bytes.subarray(offset, Math.min(bytes.length, offset + pool.bufferSize))));
  }
  return out;
}

/** A received `net.Socket` already started reading into its stream: pause it so its bytes wait for our first posted read. */
function transportFromSocket(socket: net.Socket, pool: BufferPool): TcpTransport {
  socket.pause();
  return TcpTransport.fromSocket(socket, pool);
}

/** Close our copy of a handle we refuse (the sender's copy keeps the connection open). */
function closeHandle(handle: unknown): void {
  if (handle instanceof net.Socket) {
    handle.destroy();
    return;
  }
  if (typeof handle === 'object' && handle !== null && typeof (handle as { close?: unknown }).close === 'function') (handle as { close(): void }).close();
}
