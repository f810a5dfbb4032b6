/**
 * The ordering suite on the memory transport: a connection over one end of a back-to-back pair (TCP
 * mode: no inline reads), a manual clock and a wheel with autoTick off, and the other end as the peer,
 * reading all the time. `Server` only accepts TCP, so `MemoryDrain` stands in for its registry and its
 * `stop()`, doing what `Server.stop()` does to each connection (beginDrain, then abortForDrain at the
 * deadline, on a real timer as the server's is).
 */
import { BufferPool, CompletionDispatcher, Connection, ErrorCodes, ManualClock, MemoryTransport, PorticoError, TimerWheel } from '../../framework/index.js';
import type { PeerSees } from './ordering-cases.js';
import { instrumentWheel } from './ordering-coverage.js';
import { LINGER_MS, type OpenRig, type OrderingRig, TICK_MS, sleep, turns, waitFor, within } from './ordering-harness.js';

/** The parts of `Server` a connection meets: the registry and the drain (server.ts `#drain`). */
export class MemoryDrain {
  readonly connections = new Set<Connection>();
  #stopping: Promise<void> | null = null;
  #emptyWaiters: (() => void)[] = [];

  finished(conn: Connection): void {
    if (!this.connections.delete(conn) || this.connections.size > 0) return;
    for (const w of this.#emptyWaiters.splice(0)) w();
  }

  #deadline: { at: number; timer: NodeJS.Timeout | null; expire: () => void } | null = null;

  stop(deadlineMs: number): Promise<void> {
    if (this.#stopping !== null) {
      // As Server.stop(): a shorter deadline pulls the drain deadline in.
      const d = this.#deadline;
      if (d !== null && Date.now() + deadlineMs < d.at) {
        d.at = Date.now() + deadlineMs;
        if (d.timer !== null) clearTimeout(d.timer);
        d.timer = setTimeout(d.expire, deadlineMs);
      }
      return this.#stopping;
    }
    this.#stopping = this.#drain(deadlineMs);
    return this.#stopping;
  }

  async #drain(deadlineMs: number): Promise<void> {
    for (const conn of [...this.connections]) conn.beginDrain();
    if (this.connections.size > 0 && !(await this.#emptyBeforeDeadline(deadlineMs))) {
      const error = new PorticoError(ErrorCodes.DRAIN_DEADLINE, 'server', `still open ${deadlineMs} ms after stop()`);
      for (const conn of [...this.connections]) conn.abortForDrain(error);
      await this.#emptyWithin(2000);
    }
  }

  #emptyBeforeDeadline(ms: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const d = { at: Date.now() + ms, timer: null as NodeJS.Timeout | null, expire: () => finish(false) };
      const finish = (empty: boolean): void => {
        if (this.#deadline !== d) return;
        if (d.timer !== null) clearTimeout(d.timer);
        this.#deadline = null;
        resolve(empty);
      };
      this.#deadline = d;
      d.timer = setTimeout(d.expire, ms);
      if (this.connections.size === 0) finish(true);
      else this.#emptyWaiters.push(() => finish(true));
    });
  }

  #emptyWithin(ms: number): Promise<boolean> {
    if (this.connections.size === 0) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      this.#emptyWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }
}

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
  const registry = new MemoryDrain();
  const conn = new Connection(transport, makeHandler(clock), undefined, { dispatcher, wheel, clock, pool, onFinished: (c) => registry.finished(c) }, {
    lingerMs: LINGER_MS,
    idle: { readMs: idleMs },
  });
  registry.connections.add(conn);

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

  let stopping: Promise<void> | null = null;
  const rig: OrderingRig = {
    conn,
    clock,
    wheel,
    timers,
    dispatcher,
    tracked: () => registry.connections.size,
    stop(deadlineMs) {
      const drain = registry.stop(deadlineMs); // a second stop() may pull the deadline in
      stopping ??= drain;
    },
    async finishStop() {
      stopping ??= registry.stop(1000);
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
