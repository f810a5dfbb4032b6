/**
 * The ordering suite over TLS on 127.0.0.1: TCP accepted as `Server` accepts it (a native handle read
 * in onread mode), `TlsTransport.server` over it, and the case's connection once the handshake
 * finished; `Server` only runs TCP, so the rig drains with the server's own `ConnectionDrain` (as the
 * memory rig does). The peer is a node:tls client over a TCP socket of its own (allowHalfOpen), reading
 * all the time: its FIN is `end()` (close_notify, then FIN), its RST an RST on that TCP socket.
 *
 * What the peer saw is read as the TCP rig reads it, one layer down: TLS's 'end' (close_notify or FIN)
 * counts as FIN, a read error as RST with no FIN before it, and after an 'end' the kernel's state of
 * the connection (and, if need be, a probe write on the TCP socket) says whether an RST followed.
 * Where the peer closed too and Node released its socket, whether our FIN preceded our RST is taken
 * from the server's side (see peerSees).
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { CompletionDispatcher, Connection, TcpTransport, TimerWheel, TlsTransport, systemClock } from '../../framework/index.js';
import { takeOverAccepts } from '../../framework/server/accept-handles.js';
import { ConnectionDrain, type DrainResult } from '../../framework/server/connection-drain.js';
import type { PeerSees } from './ordering-cases.js';
import { instrumentWheel } from './ordering-coverage.js';
import { LINGER_MS, type OpenRig, type OrderingRig, TICK_MS, sleep, turns, waitFor, within } from './ordering-harness.js';
import { selfSignedCert } from './self-signed-cert.js';
import { assertNoTimeWaitOverflow, connectionStatesAsync, timeWaitOverflows } from './tcp-states.js';

let sharedContext: tls.SecureContext | null = null;

export const openTlsRig: OpenRig = async ({ makeHandler, pool, log, idleMs }) => {
  const clock = systemClock;
  const wheel = new TimerWheel({ clock, tickMs: TICK_MS, autoTick: false });
  const timers = instrumentWheel(wheel);
  const dispatcher = new CompletionDispatcher();
  const registry = new ConnectionDrain();
  const { cert, key } = selfSignedCert();
  const secureContext = (sharedContext ??= tls.createSecureContext({ cert, key }));
  const handler = makeHandler(clock);
  let transport: TlsTransport | null = null;
  let handshakeFailure: Error | null = null;
  // Whether the server's RST went out before or after its FIN (close_notify, then FIN): see peerSees.
  let serverReset: { afterFin: boolean } | null = null;

  const listener = net.createServer({ pauseOnConnect: true, allowHalfOpen: true }, (socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen(0, '127.0.0.1', () => resolve());
  });
  const why = takeOverAccepts(listener, (status, handle) => {
    if (status < 0 || handle === undefined || transport !== null) return;
    handle.setNoDelay?.(true);
    const t = (transport = TlsTransport.server(TcpTransport.fromHandle(handle, pool, 'onread'), { secureContext }));
    const tcp = t.tcpSocket;
    const resetAndDestroy = tcp.resetAndDestroy.bind(tcp);
    tcp.resetAndDestroy = () => {
      serverReset ??= { afterFin: t.socket.writableFinished };
      return resetAndDestroy();
    };
    t.onSecure((error) => {
      if (error !== null) {
        handshakeFailure = error;
        return;
      }
      const conn = new Connection(t, handler, undefined, { dispatcher, wheel, clock, pool, onFinished: (c) => registry.finished(c) }, { lingerMs: LINGER_MS, idle: { readMs: idleMs } });
      registry.add(conn);
      conn.start();
    });
  });
  if (why !== null) throw new Error(`cannot take over accepts: ${why}`);
  const { port } = listener.address() as net.AddressInfo;
  const closeListener = (): Promise<void> => new Promise((resolve) => listener.close(() => resolve()));

  const raw = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  const client = tls.connect({ socket: raw, host: '127.0.0.1', servername: 'localhost', ca: cert });
  // What the client sees, until it resets the connection itself.
  const seen = { bytes: '', fin: false, error: null as string | null };
  let frozen = false;
  let ended = false;
  client.on('data', (chunk: Buffer) => {
    if (!frozen) seen.bytes += chunk.toString();
  });
  client.on('end', () => {
    if (!frozen) seen.fin = true;
  });
  client.on('error', (error: NodeJS.ErrnoException) => {
    if (!frozen) seen.error = error.code ?? error.message;
  });
  if (!(await waitFor(() => log.conn !== null || handshakeFailure !== null, 5000)) || log.conn === null) {
    client.destroy();
    (transport as TlsTransport | null)?.destroy();
    await closeListener();
    throw new Error(`the server never established the connection${handshakeFailure !== null ? `: ${(handshakeFailure as Error).message}` : ''}`);
  }
  const clientPort = raw.localPort!;
  const overflowsAtStart = timeWaitOverflows();
  await turns(3);

  let stopping: Promise<DrainResult> | null = null;
  const rig: OrderingRig = {
    conn: log.conn as unknown as Connection,
    clock,
    wheel,
    timers,
    dispatcher,
    tracked: () => registry.connections.size,
    stop(deadlineMs) {
      const drain = registry.drain(deadlineMs); // a second stop() may pull the deadline in
      stopping ??= drain;
    },
    async finishStop() {
      stopping ??= registry.drain(1000);
      await within(stopping, 5000, 'stop resolving');
    },
    async passIdleDeadline() {
      // The wheel only fires when the case advances it; wait until the idle deadline is due.
      const due = log.establishedAt + idleMs + 2 * TICK_MS;
      await waitFor(() => clock.now() >= due, 2000);
    },
    async separate() {
      await sleep(2);
      await turns(4);
    },
    async settleTick() {
      wheel.advance();
      await sleep(TICK_MS);
    },
    peerWrite() {
      if (!client.destroyed && !client.writableEnded) client.write('p');
    },
    peerFin() {
      if (client.destroyed || client.writableEnded) return;
      ended = true;
      client.end(); // close_notify, then FIN
    },
    peerRst() {
      if (raw.destroyed) return;
      frozen = true;
      // TLS shuts the TCP handle itself (close_notify, then FIN): while that shutdown is in flight
      // libuv refuses the RST, so reset once it is done, as TlsTransport does.
      if (client.writableEnded && !client.writableFinished) client.once('finish', () => raw.resetAndDestroy());
      else raw.resetAndDestroy();
    },
    async peerSees(): Promise<PeerSees> {
      await waitFor(() => frozen || seen.fin || seen.error !== null, 1000);
      await turns(3);
      const bytes = seen.bytes;
      if (frozen || seen.error !== null || !seen.fin) return { bytes, fin: seen.fin, rst: seen.error !== null };
      const states = await connectionStatesAsync(port, clientPort);
      if (ended) {
        // Both sent FIN and Node closed the client: a graceful end leaves one end in TIME_WAIT, an RST
        // none. Whether a FIN came before that RST: a TLS peer's 'end' does not say — its close_notify
        // write into the reset connection takes the error, and its read then finds end of stream. The
        // server knows: a FIN can only have gone out if its RST came after its shutdown.
        const rst = states.server !== 'TIME_WAIT' && states.client !== 'TIME_WAIT';
        if (rst) assertNoTimeWaitOverflow(overflowsAtStart, 'ordering case (TLS)');
        const fin = serverReset === null || (serverReset as { afterFin: boolean }).afterFin;
        return { bytes, fin, rst };
      }
      if (states.client === 'CLOSE_WAIT') return { bytes, fin: true, rst: false };
      // As on TCP: 'end' does not prove a FIN (POLLHUP after a partial read); a write on the TCP socket
      // tells — EPIPE = the RST came after a FIN, ECONNRESET = without one.
      frozen = true;
      const code = await new Promise<string | null>((resolve) => {
        const timer = setTimeout(() => resolve(null), 1000);
        raw.once('error', (error: NodeJS.ErrnoException) => {
          clearTimeout(timer);
          resolve(error.code ?? error.message);
        });
        raw.write('probe');
      });
      if (code !== 'EPIPE' && code !== 'ECONNRESET') throw new Error(`client end ${states.client ?? 'gone'} but a write gave ${code ?? 'no error'}`);
      return { bytes, fin: code === 'EPIPE', rst: true };
    },
    async dispose() {
      client.destroy();
      raw.destroy();
      if (stopping === null) await registry.drain(0).catch(() => undefined);
      await closeListener();
      const t = log.conn!.transport as TlsTransport;
      const handle = (t.tcpSocket as unknown as { _handle: unknown })._handle;
      if (!t.tcpSocket.destroyed || handle !== null) throw new Error(`the server's TCP socket is still open (destroyed ${t.tcpSocket.destroyed}, handle ${handle === null ? 'null' : 'kept'})`);
      if (!t.socket.destroyed) throw new Error("the server's TLS socket is still open");
    },
  };
  return rig;
};
