/**
 * Test rig for the TCP proxy example: plain node:net backends the tests script, a byte pattern to
 * stream and check without holding it all, and a listener that never accepts (for connect timeouts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import { drainedOrClosed } from './tcp-client.js';
import type { AfterHook } from './spawn-server.js';

/** A node:net server standing in for the proxy's backend; every accepted socket is kept. */
export interface TestBackend {
  readonly port: number;
  readonly sockets: net.Socket[];
  /** The `index`th accepted socket (0 = the first), once it arrives (bounded). */
  accepted(index?: number, timeoutMs?: number): Promise<net.Socket>;
  close(): Promise<void>;
}

/** Start a backend on 127.0.0.1 (half-open allowed, so FIN and RST stay the test's business); closed after the test. */
export async function startBackend(t: AfterHook, onSocket: (socket: net.Socket) => void = () => {}): Promise<TestBackend> {
  const sockets: net.Socket[] = [];
  const waiters = new Set<() => void>();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => {}); // the tests look at errors through their own listeners
    sockets.push(socket);
    onSocket(socket);
    for (const w of [...waiters]) w();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  const close = (): Promise<void> => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  };
  t.after(close);
  return {
    port,
    sockets,
    accepted(index = 0, timeoutMs = 5_000) {
      return new Promise<net.Socket>((resolve, reject) => {
        const check = (): void => {
          const s = sockets[index];
          if (s === undefined) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(s);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`backend: connection #${index} not accepted within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close,
  };
}

/** The backend echoes every byte and answers FIN with FIN once the echo is written. */
export function echoSocket(socket: net.Socket): void {
  socket.pipe(socket);
}

/** A port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen({ host: '127.0.0.1', port: 0 }, () => resolve()));
  const { port } = s.address() as net.AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/**
 * A listener that completes no handshake: a child whose event loop is blocked listens with backlog 1,
 * and filler connections fill its queue, so the kernel drops further SYNs and a connect hangs — the
 * loopback way to make a connect time out. Killed after the test.
 */
export async function blackholeListener(t: AfterHook): Promise<number> {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '-e',
      `const s = require('net').createServer(); s.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
         process.stdout.write(s.address().port + '\\n');
         Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 30000);
       });`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const fillers: net.Socket[] = [];
  t.after(() => {
    for (const s of fillers) s.destroy();
    child.kill('SIGKILL');
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    child.once('exit', () => reject(new Error('blocked listener exited')));
  });
  for (let i = 0; i < 4; i++) {
    const s = net.connect({ host: '127.0.0.1', port });
    s.on('error', () => {});
    fillers.push(s);
  }
  // Let the fillers' handshakes fill the accept queue; later SYNs are then dropped.
  await new Promise((resolve) => setTimeout(resolve, 200));
  return port;
}

/**
 * A long byte stream made of one random block repeated (its length is odd, so a reordered or lost
 * chunk shows): written in pieces by `writer`, checked as it arrives by `checker`, never held whole.
 */
export class BytePattern {
  readonly block: Buffer = randomBytes(65_537);

  /** The pattern's bytes at [offset, offset + length). */
  slice(offset: number, length: number): Buffer {
    const out = Buffer.allocUnsafe(length);
    let filled = 0;
    while (filled < length) {
      const at = (offset + filled) % this.block.length;
      const n = Math.min(length - filled, this.block.length - at);
      this.block.copy(out, filled, at, at + n);
      filled += n;
    }
    return out;
  }

  /** Write `total` bytes of the pattern to `socket`, respecting its backpressure; resolves when all are handed over. */
  async write(socket: net.Socket, total: number, piece = 65_536): Promise<void> {
    for (let offset = 0; offset < total && !socket.destroyed; offset += piece) {
      if (!socket.write(this.slice(offset, Math.min(piece, total - offset)))) await drainedOrClosed(socket);
    }
  }

  /** Count what arrives on `socket` and check it against the pattern. */
  checker(socket: net.Socket): { readonly received: number; readonly mismatchAt: number | null } {
    const state = { received: 0, mismatchAt: null as number | null };
    socket.on('data', (chunk: Buffer) => {
      if (state.mismatchAt === null && !chunk.equals(this.slice(state.received, chunk.length))) state.mismatchAt = state.received;
      state.received += chunk.length;
    });
    return state;
  }
}

/** Poll until `predicate` holds (every 10 ms), or throw naming `what` after `ms`. */
export async function eventually(predicate: () => boolean, ms: number, what: string | (() => string)): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Resolve once `read()` has not changed for `quietMs` (the stream stalled), bounded by `ms`. */
export async function stalled(read: () => number, quietMs: number, ms: number, what: string): Promise<number> {
  const deadline = Date.now() + ms;
  let last = read();
  let since = Date.now();
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    // After a stall the timers phase runs before the poll phase: let pending I/O move the count first,
    // or a stalled loop would look like a stalled stream.
    await new Promise((resolve) => setImmediate(resolve));
    const now = read();
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) return now;
    if (Date.now() > deadline) throw new Error(`${what} did not stall within ${ms} ms (at ${now})`);
  }
}

/**
 * How a socket's peer went away: 'reset' or 'fin' (or 'open' if neither yet). An RST that arrives right
 * after data is reported by libuv as end of stream, like a FIN; the kernel still knows: after an RST the
 * socket has no peer any more (getpeername fails), after a FIN it has. So ask it — with our side still
 * open (allowHalfOpen), as the proxy's own transport does.
 */
export function peerEnd(socket: net.Socket, error: NodeJS.ErrnoException | null, ended: boolean): 'reset' | 'fin' | 'open' {
  if (error !== null && ['ECONNRESET', 'EPIPE'].includes(error.code ?? '')) return 'reset';
  if (!ended) return 'open';
  const handle = (socket as unknown as { _handle?: { getpeername?(out: Record<string, unknown>): number } | null })._handle;
  if (handle === null || handle === undefined || typeof handle.getpeername !== 'function') return 'reset'; // closed by an error already
  return handle.getpeername({}) === 0 ? 'fin' : 'reset';
}

/**
 * Connect and wait (bounded) until the server gives up on us: 'reset' or 'fin' as `peerEnd` tells them
 * apart. A reset that beats the connect's completion (the kernel finished the handshake, the server
 * reset at once) counts as 'reset' too.
 */
export async function connectUntilDropped(port: number, timeoutMs = 5_000, send: string | null = null): Promise<'reset' | 'fin'> {
  const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  try {
    return await new Promise<'reset' | 'fin'>((resolve, reject) => {
      let error: NodeJS.ErrnoException | null = null;
      let ended = false;
      const timer = setTimeout(() => reject(new Error(`port ${port}: not dropped within ${timeoutMs} ms`)), timeoutMs);
      const settle = (): void => {
        const how = peerEnd(socket, error, ended);
        if (how === 'open') return;
        clearTimeout(timer);
        resolve(how);
      };
      socket.on('connect', () => {
        if (send !== null) socket.write(send);
      });
      socket.on('data', () => {});
      socket.on('error', (e: NodeJS.ErrnoException) => {
        error = e;
        settle();
      });
      socket.on('end', () => {
        ended = true;
        settle();
      });
    });
  } finally {
    socket.destroy();
  }
}
