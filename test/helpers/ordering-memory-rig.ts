/**
 * The ordering suite on the memory transport: a connection over one end of a back-to-back pair (TCP
 * mode: no inline reads), a manual clock and a wheel with autoTick off, and the other end as the peer,
 * reading all the time. `Server` only accepts TCP, so the rig drains with the server's own drain
 * (`ConnectionDrain`: beginDrain, abortForDrain at the deadline on a real timer, force after that).
 */
import { BufferPool, CompletionDispatcher, Connection, ManualClock, MemoryTransport, TimerWheel } from '../../framework/index.js';
import { ConnectionDrain, type DrainResult } from '../../framework/server/connection-drain.js';
import type { PeerSees } from './ordering-cases.js';
import { instrumentWheel } from './ordering-coverage.js';
import { LINGER_MS, type OpenRig, type OrderingRig, TICK_MS, sleep, turns, waitFor, within } from './ordering-harness.js';

export const openMemoryRig: OpenRig = async ({ makeHandler, pool, log, idleMs }) => {
  const clock = new ManualClock();
  const wheel = new TimerWheel({ clock, tickMs: TICK_MS, autoTick: false });
  const timers = instrumentWheel(wheel);
  const dispatcher = new CompletionDispatcher();
  const peerPool = new BufferPool({ bufferSize: pool.bufferSize });
  const transport = new MemoryTransport(pool, 'server');
  const peer = new MemoryTransport(peerPool, 'client');
  transport.peer = peer;
  peer.peer = transport;
  const registry = new ConnectionDrain();
  const conn = new Connection(transport, makeHandler(clock), undefined, { dispatcher, wheel, clock, pool, onFinished: (c) => registry.finished(c) }, {
    lingerMs: LINGER_MS,
    idle: { readMs: idleMs },
  });
  registry.add(conn);

  const seen = { bytes: '', fin: false, rst: false };
  let frozen = false;
  peer.attach({
    onData(buffer) {
      if (!frozen) seen.bytes += buffer.data.toString();
      buffer.release();
      return true;
    },
    onEnd() {
      if (!frozen) seen.fin = true;
    },
    onWriteShut() {},
    onError() {
      if (!frozen) seen.rst = true;
    },
    onClosed() {},
  });
  peer.resumeReading();
  conn.start();
  if (!(await waitFor(() => log.conn !== null, 3000))) throw new Error('the connection was never established');
  await turns(2);

  let stopping: Promise<DrainResult> | null = null;
  const rig: OrderingRig = {
    conn,
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
      clock.advance(idleMs + 2 * TICK_MS);
    },
    async separate() {
      await sleep(2);
      await turns(4);
    },
    async settleTick() {
      clock.advance(TICK_MS);
      wheel.advance();
      await turns(2);
    },
    peerWrite() {
      if (!peer.isClosed) peer.write(Buffer.from('p'), () => {});
    },
    peerFin() {
      peer.shutdownWrite();
    },
    peerRst() {
      if (peer.isClosed) return;
      frozen = true;
      peer.reset();
    },
    async peerSees(): Promise<PeerSees> {
      await turns(4);
      // What reached the peer's end, as TCP tests read it from the kernel: an RST after the FIN the peer
      // read is not reported to it, and an RST right behind a FIN is reported instead of the FIN.
      return { ...seen, fin: seen.fin || (!frozen && peer.finByPeer), rst: seen.rst || (!frozen && peer.resetByPeer) };
    },
    async dispose() {
      if (!peer.isClosed) peer.destroy();
      if (peerPool.outstanding !== 0) throw new Error(`the peer leaked ${peerPool.outstanding} buffers`);
    },
  };
  return rig;
};
