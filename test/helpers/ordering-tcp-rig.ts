/**
 * The ordering suite on real TCP over 127.0.0.1: a `Server` per case (its own pool, dispatcher and a
 * wheel on the real clock that the case advances), and a node:net client with allowHalfOpen that reads
 * all the time. What the peer saw: its bytes, then FIN and/or RST. A read error (ECONNRESET) is an RST
 * with no FIN before it. 'end' alone proves nothing: libuv reports end of stream for an RST that
 * arrives together with data (POLLHUP after a partial read), and an RST after a FIN the client read
 * shows only to a write. So after an 'end' the kernel's state of the connection decides (tcp-states):
 * the client's end still in CLOSE_WAIT = FIN and no RST; gone = reset, and a probe write says whether
 * a FIN came first (EPIPE: Linux's error for an RST in CLOSE_WAIT) or not (ECONNRESET); a client that
 * sent its own FIN is closed by Node, and a graceful end leaves one end in TIME_WAIT where an RST
 * leaves none.
 */
import type * as net from 'node:net';
import { CompletionDispatcher, type Connection, NativeTcpTransport, Server, TcpTransport, TimerWheel, systemClock } from '../../framework/index.js';
import type { PeerSees } from './ordering-cases.js';
import { instrumentWheel } from './ordering-coverage.js';
import { LINGER_MS, LONG_DEADLINE_MS, type OpenRig, type OrderingRig, TICK_MS, sleep, turns, waitFor, within } from './ordering-harness.js';
import { connectClient } from './tcp-client.js';
import { assertNoTimeWaitOverflow, connectionStatesAsync, timeWaitOverflows } from './tcp-states.js';

/** The rig on accepted connections as native handles (the default) or as `net.Socket`s (`nativeHandles: false`). */
export const tcpRig = (nativeHandles: boolean): OpenRig => async ({ makeHandler, pool, log, idleMs }) => {
  const clock = systemClock;
  const wheel = new TimerWheel({ clock, tickMs: TICK_MS, autoTick: false });
  const timers = instrumentWheel(wheel);
  const dispatcher = new CompletionDispatcher();
  const server = new Server({
    host: '127.0.0.1',
    port: 0,
    handler: makeHandler(clock),
    pool,
    dispatcher,
    wheel,
    clock,
    drainDeadlineMs: LONG_DEADLINE_MS,
    connection: { lingerMs: LINGER_MS, idle: { readMs: idleMs } },
    nativeHandles,
  });
  const { port } = await server.listen();
  let client: net.Socket;
  try {
    client = await connectClient(port, { allowHalfOpen: true });
  } catch (error) {
    await server.stop({ deadlineMs: 0 });
    throw error;
  }
  const clientPort = client.localPort!;
  const overflowsAtStart = timeWaitOverflows();
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
  if (!(await waitFor(() => log.conn !== null, 3000))) {
    client.destroy();
    await server.stop({ deadlineMs: 0 });
    throw new Error('the server never established the connection');
  }
  await turns(3);

  let stopping: Promise<unknown> | null = null;
  const rig: OrderingRig = {
    conn: log.conn as unknown as Connection,
    clock,
    wheel,
    timers,
    dispatcher,
    tracked: () => server.connections.size,
    stop(deadlineMs) {
      const p = server.stop({ deadlineMs });
      p.catch(() => {});
      stopping ??= p;
    },
    async finishStop() {
      stopping ??= server.stop({ deadlineMs: 1000 });
      await within(stopping, 5000, 'server.stop() resolving');
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
      client.end();
    },
    peerRst() {
      if (client.destroyed) return;
      frozen = true;
      // Node refuses an RST while a shutdown is in flight (EINVAL) and then drops the handle unclosed
      // (the process cannot exit): reset once the FIN is out, as TcpTransport does.
      if (client.writableEnded && !client.writableFinished) client.once('finish', () => client.resetAndDestroy());
      else client.resetAndDestroy();
    },
    async peerSees(): Promise<PeerSees> {
      await waitFor(() => frozen || seen.fin || seen.error !== null, 1000);
      await turns(3);
      const bytes = seen.bytes;
      // A read error means no FIN came first (a read returns end of stream before an error).
      if (frozen || seen.error !== null || !seen.fin) return { bytes, fin: seen.fin, rst: seen.error !== null };
      const states = await connectionStatesAsync(port, clientPort);
      if (ended) {
        // Both sent FIN and Node closed the client (no probe possible): a graceful end leaves the end
        // that sent FIN first in TIME_WAIT; an RST leaves nothing. (Whether a FIN preceded that RST is
        // taken from 'end'; no case sends such a client bytes and an RST together.)
        const rst = states.server !== 'TIME_WAIT' && states.client !== 'TIME_WAIT';
        if (rst) assertNoTimeWaitOverflow(overflowsAtStart, 'ordering case');
        return { bytes, fin: true, rst };
      }
      if (states.client === 'CLOSE_WAIT') return { bytes, fin: true, rst: false };
      // The client's end was reset, but 'end' does not prove a FIN came: after a partial read with
      // POLLHUP, libuv reports end of stream without reading the RST. A write tells: EPIPE = the RST came
      // after a FIN (Linux's error for an RST in CLOSE_WAIT), ECONNRESET = it came without one.
      frozen = true;
      const code = await new Promise<string | null>((resolve) => {
        const timer = setTimeout(() => resolve(null), 1000);
        client.once('error', (error: NodeJS.ErrnoException) => {
          clearTimeout(timer);
          resolve(error.code ?? error.message);
        });
        client.write('probe');
      });
      if (code !== 'EPIPE' && code !== 'ECONNRESET') throw new Error(`client end ${states.client ?? 'gone'} but a write gave ${code ?? 'no error'}`);
      return { bytes, fin: code === 'EPIPE', rst: true };
    },
    async dispose() {
      client.destroy();
      if (stopping === null) await server.stop({ deadlineMs: 0 }).catch(() => {});
      const transport = log.conn!.transport;
      const expected = nativeHandles ? 'NativeTcpTransport' : 'TcpTransport';
      if (transport.constructor.name !== expected) throw new Error(`the server's transport is a ${transport.constructor.name}, not a ${expected}`);
      if (transport instanceof NativeTcpTransport) {
        if (!(await waitFor(() => transport.closed, 1000))) throw new Error("the server's native handle is still open");
        return;
      }
      const socket = (transport as TcpTransport).socket;
      const handle = (socket as unknown as { _handle: unknown })._handle;
      if (!socket.destroyed || handle !== null) throw new Error(`the server's socket is still open (destroyed ${socket.destroyed}, handle ${handle === null ? 'null' : 'kept'})`);
    },
  };
  return rig;
};
