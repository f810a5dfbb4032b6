/**
 * Open many loopback connections with a bounded number of connects in flight: ten thousand SYNs at
 * once would overflow the server's accept queue, and the dropped ones come back a second later (SYN
 * retransmit), which turns a CPU figure into a timing artefact. The bound keeps handshakes in flight
 * under the backlog; a server that accepts slower than the kernel completes handshakes can still
 * fill its queue (echo-scaling-bench reports the kernel's ListenOverflows for that).
 */
import * as net from 'node:net';
import * as tls from 'node:tls';

const HOST = '127.0.0.1';
export const CONNECT_TIMEOUT_MS = 10_000;
/** Connects in flight at once: under the smallest accept backlog in play (Node's 511). */
export const CONNECTS_IN_FLIGHT = 256;

/** How each connection starts: a PROXY header written first, TLS (certificate not checked: loopback benches). */
export interface ConnectStyle {
  /** Bytes written right after connecting (a PROXY protocol header), or null. */
  readonly prefix: Buffer | null;
  readonly tls: boolean;
}

export const PLAIN: ConnectStyle = { prefix: null, tls: false };

/** A PROXY v2 header for a made-up client (the load generator speaks for itself here). */
export function proxyHeader(version: 1 | 2): Buffer {
  if (version === 1) return Buffer.from('PROXY TCP4 192.0.2.1 127.0.0.1 40000 80\r\n', 'latin1');
  const signature = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
  return Buffer.concat([signature, Buffer.from([0x21, 0x11, 0x00, 0x0c, 192, 0, 2, 1, 127, 0, 0, 1, 0x9c, 0x40, 0x00, 0x50])]);
}

/**
 * A TCP (or TLS) connection to the loopback port, `style.prefix` written first; `onReady` runs once it
 * is usable (connected, and for TLS the handshake done). Errors come as the socket's 'error'.
 */
export function openSocket(port: number, style: ConnectStyle, onReady: () => void, localAddress?: string): net.Socket {
  const where = localAddress === undefined ? { host: HOST, port } : { host: HOST, port, localAddress };
  if (!style.tls) {
    const socket = net.connect(where);
    if (style.prefix !== null) socket.write(style.prefix);
    socket.once('connect', onReady);
    return socket;
  }
  // TLS after the prefix: the header goes in clear on the TCP socket, then the handshake.
  const tcp = net.connect(where);
  if (style.prefix !== null) tcp.write(style.prefix);
  const socket = tls.connect({ socket: tcp, rejectUnauthorized: false, servername: 'localhost' });
  tcp.once('error', (error) => socket.destroy(error));
  socket.once('secureConnect', onReady);
  return socket;
}

function connectOne(port: number, style: ConnectStyle): Promise<net.Socket | string> {
  return new Promise((resolve) => {
    const socket = openSocket(port, style, () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      // Until the caller attaches its own: an error with no listener would crash the process. The
      // socket is destroyed by it, which is how the caller learns of it (see dropped()).
      socket.on('error', () => {});
      socket.setNoDelay(true); // one small message per round trip: Nagle would add ~40 ms per message
      resolve(socket);
    });
    const fail = (code: string): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(code);
    };
    const timer: NodeJS.Timeout = setTimeout(() => fail('ETIMEDOUT'), CONNECT_TIMEOUT_MS);
    socket.once('error', (error: NodeJS.ErrnoException) => fail(error.code ?? 'ERROR'));
  });
}

export interface Connected {
  readonly sockets: net.Socket[];
  /** Connects that failed, by error code. */
  readonly failures: Record<string, number>;
  readonly failed: number;
}

/** Connect `count` sockets to 127.0.0.1:port, at most `inFlight` connects pending at a time. */
export async function connectMany(port: number, count: number, inFlight = CONNECTS_IN_FLIGHT, style: ConnectStyle = PLAIN): Promise<Connected> {
  const sockets: net.Socket[] = [];
  const failures: Record<string, number> = {};
  let failed = 0;
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      next++;
      const result = await connectOne(port, style);
      if (typeof result === 'string') {
        failed++;
        failures[result] = (failures[result] ?? 0) + 1;
      } else sockets.push(result);
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, lane));
  return { sockets, failures, failed };
}

/** Sockets already destroyed (reset or errored while their siblings were still connecting). */
export function dropped(sockets: readonly net.Socket[]): number {
  return sockets.filter((s) => s.destroyed).length;
}

/** end() every open socket and wait for them to close; after `graceMs` the rest are destroyed. */
export function closeAll(sockets: readonly net.Socket[], graceMs: number): Promise<void> {
  const open = sockets.filter((s) => !s.destroyed);
  return new Promise((resolve) => {
    let left = open.length;
    if (left === 0) return resolve();
    const timer = setTimeout(() => {
      for (const s of open) s.destroy();
    }, graceMs);
    for (const s of open) {
      s.once('close', () => {
        if (--left === 0) {
          clearTimeout(timer);
          resolve();
        }
      });
      s.end(); // graceful FIN, so the server sees an ordinary client close, not a reset
    }
  });
}
