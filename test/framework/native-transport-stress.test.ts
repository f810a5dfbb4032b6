/**
 * NativeTcpTransport under randomized orderings on real TCP over 127.0.0.1: many clients running
 * random scripts against the echo handler, handlers that close, abort, shut down and cork at random
 * points while the peer writes, FINs or resets, and a bounded stop() while connections are mid-transfer.
 * Every scenario runs on both TCP transports with the same scripts (same seed): what the net.Socket
 * transport passes and the native one fails is a native transport bug.
 *
 * The scripts come from a seeded generator; the seed is printed (t.diagnostic) and named in every
 * failure message. The default seed is fixed; PORTICO_STRESS_SEED=<n> replays a run (TCP timing still
 * varies), PORTICO_STRESS_SEED=random explores a new one.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type * as net from 'node:net';
import { type TestContext, test } from 'node:test';
import { echoHandler } from '../../examples/echo/echo-handler.js';
import { type CloseReason, type Connection, type ConnectionCallbacks, type PooledBuffer, Server, type ServerOptions, type StopResult } from '../../framework/index.js';
import { seeded } from '../helpers/byte-chunks.js';
import { until } from '../helpers/memory-connection.js';
import { connectClient, drainedOrClosed } from '../helpers/tcp-client.js';

/** `npm test` runs the same scripts every time (a CI failure can be replayed); PORTICO_STRESS_SEED=<n> picks others, `random` a new one per run. */
const DEFAULT_SEED = 20261203;
const seedSetting = process.env['PORTICO_STRESS_SEED'];
const baseSeed = seedSetting === undefined ? DEFAULT_SEED : seedSetting === 'random' ? Date.now() % 2 ** 31 : Number(seedSetting);

type Random = () => number;

const int = (random: Random, min: number, max: number): number => min + Math.floor(random() * (max - min + 1));
/** Log-uniform in [min, max]: as many 10-byte chunks as 100 KiB ones. */
const logSize = (random: Random, min: number, max: number): number => Math.min(max, Math.floor(min * Math.pow(max / min, random())));
const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const sha = (data: Uint8Array | Uint8Array[]): string => {
  const hash = createHash('sha256');
  for (const part of Array.isArray(data) ? data : [data]) hash.update(part);
  return hash.digest('hex');
};

/** 1 MiB of seeded bytes; chunks are slices of it at random offsets. */
function sourceBytes(seed: number): Buffer {
  const random = seeded(seed);
  const bytes = Buffer.allocUnsafe(1024 * 1024);
  for (let i = 0; i < bytes.length; i += 4) bytes.writeUInt32LE(Math.floor(random() * 2 ** 32), i);
  return bytes;
}
const source = sourceBytes(baseSeed);
const slice = (random: Random, size: number): Buffer => {
  const at = int(random, 0, source.length - size);
  return source.subarray(at, at + size);
};

/** Open TCP handles of this process (accepted, connected and listening), by kind. */
function tcpHandles(): number {
  return process.getActiveResourcesInfo().filter((name) => name === 'TCPWrap' || name === 'TCPSocketWrap' || name === 'TCPServerWrap').length;
}

async function startServer(options: Partial<ServerOptions<unknown>> & Pick<ServerOptions<unknown>, 'handler'>): Promise<{ server: Server; port: number }> {
  const server = new Server({ host: '127.0.0.1', port: 0, ...options });
  const { port } = await server.listen();
  return { server, port };
}

/** Write and wait for the socket to take it (bounded: the caller's timers resume a paused reader). */
async function writeAll(socket: net.Socket, data: Uint8Array): Promise<void> {
  if (socket.destroyed) return;
  if (socket.write(data)) return;
  await drainedOrClosed(socket);
}

interface ClientResult {
  index: number;
  port: number;
  received: Buffer;
  /** 'end': the server's FIN after all its bytes; 'error': e.g. ECONNRESET; 'close': closed by us. */
  ended: 'end' | 'error' | 'close';
  errorCode?: string;
}

/** Follow a client socket until it is closed: what it received and how its input ended. */
function follow(socket: net.Socket, index: number, ms: number, what: () => string): Promise<ClientResult> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let ended: ClientResult['ended'] | null = null;
    let errorCode: string | undefined;
    const port = socket.localPort ?? 0;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`client ${index} (port ${port}) not closed within ${ms} ms, ${Buffer.concat(chunks).length} bytes in; ${what()}`));
    }, ms);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.once('end', () => {
      ended ??= 'end';
      // allowHalfOpen: answer the server's FIN once our own writes are done (the script ends them).
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      ended ??= 'error';
      errorCode = error.code;
    });
    socket.once('close', () => {
      clearTimeout(timer);
      resolve({ index, port, received: Buffer.concat(chunks), ended: ended ?? 'close', ...(errorCode !== undefined ? { errorCode } : {}) });
    });
  });
}

/** Run `count` jobs, `width` at a time. */
async function inBatches<T>(count: number, width: number, job: (index: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let start = 0; start < count; start += width) {
    const batch = await Promise.all(Array.from({ length: Math.min(width, count - start) }, (_, i) => job(start + i)));
    out.push(...batch);
  }
  return out;
}

/** What every scenario checks once its clients are gone: nothing open, nothing leaked, counts agree. */
async function checkAfter(server: Server, closedCounts: Map<number, number>, handlesBefore: number, tag: string, stop: { deadlineMs: number }): Promise<StopResult> {
  try {
    return await checkAfterOnce(server, closedCounts, handlesBefore, tag, stop);
  } catch (error) {
    // A handle the transport lost can never be closed and would keep this file running forever: once
    // the other tests had their time, end the process (the timer does not itself keep it alive).
    setTimeout(() => process.exit(1), 30_000).unref();
    throw error;
  }
}

async function checkAfterOnce(server: Server, closedCounts: Map<number, number>, handlesBefore: number, tag: string, stop: { deadlineMs: number }): Promise<StopResult> {
  await until(() => server.connections.size === 0, 5000, `${tag}: server.connections empty (${server.connections.size} left)`);
  const started = performance.now();
  const result = await server.stop({ deadlineMs: stop.deadlineMs });
  const took = performance.now() - started;
  assert.ok(took < stop.deadlineMs + 1000, `${tag}: stop() took ${Math.round(took)} ms`);
  assert.equal(result.forced, 0, `${tag}: a transport did not report its close (closed by force)`);
  assert.equal(server.pool.outstanding, 0, `${tag}: pooled buffers leaked: ${server.pool.outstanding}`);
  assert.equal(server.stats.closed, server.stats.accepted, `${tag}: accepted ${server.stats.accepted}, closed ${server.stats.closed}`);
  assert.equal(closedCounts.size, server.stats.accepted, `${tag}: onConnectionClosed seen for ${closedCounts.size} of ${server.stats.accepted} connections`);
  const twice = [...closedCounts].filter(([, n]) => n !== 1);
  assert.deepEqual(twice, [], `${tag}: onConnectionClosed more than once`);
  assert.equal(server.stats.callbackErrors, 0, `${tag}: a callback threw`);
  try {
    await until(() => tcpHandles() <= handlesBefore, 3000, 'TCP handles released');
  } catch {
    assert.fail(`${tag}: TCP handles left open: ${tcpHandles()} now, ${handlesBefore} before (${process.getActiveResourcesInfo().join(', ')})`);
  }
  return result;
}

const transports = [
  { nativeHandles: true, label: 'native handle' },
  { nativeHandles: false, label: 'net.Socket' },
] as const;

// ---- 1. many clients, random scripts, echo --------------------------------------------------------

type ClientEnding = 'fin' | 'rst' | 'destroy';

interface EchoScript {
  chunks: number[];
  /** Reading paused from the start for this long (0 = reads at once). */
  pauseMs: number;
  ending: ClientEnding;
  /** For rst/destroy: after this many chunks, and this long. */
  endAfter: number;
  endDelayMs: number;
}

function echoScript(random: Random): EchoScript {
  const chunks = Array.from({ length: int(random, 1, 6) }, () => logSize(random, 1, 256 * 1024));
  const r = random();
  const ending: ClientEnding = r < 0.6 ? 'fin' : r < 0.8 ? 'rst' : 'destroy';
  return {
    chunks,
    pauseMs: random() < 0.3 ? int(random, 10, 150) : 0,
    ending,
    endAfter: int(random, 0, chunks.length),
    endDelayMs: int(random, 0, 30),
  };
}

for (const { nativeHandles, label } of transports) {
  test(`${label}: 200 clients with random scripts against the echo handler: every graceful client gets its bytes back, nothing leaks`, { timeout: 20_000 }, async (t: TestContext) => {
    const seed = baseSeed;
    const tag = `[${label}, seed ${seed}]`;
    t.diagnostic(`seed ${seed} (PORTICO_STRESS_SEED=${seed} to replay)`);
    const random = seeded(seed);
    const scripts = Array.from({ length: 200 }, () => echoScript(random));
    const closedCounts = new Map<number, number>();
    const reasons = new Map<number, CloseReason>(); // by the client's port
    const ports = new Map<number, number>();
    const unmatched: string[] = [];
    const handler: ConnectionCallbacks = {
      ...echoHandler,
      onConnectionEstablished(conn) {
        ports.set(conn.id, conn.remote.port);
        echoHandler.onConnectionEstablished!(conn);
      },
      onConnectionClosed(conn, reason) {
        closedCounts.set(conn.id, (closedCounts.get(conn.id) ?? 0) + 1);
        // An RST before onConnectionEstablished leaves no port to match the client by (remote reads as port 0).
        const p = ports.get(conn.id) ?? 0;
        if (p > 0) reasons.set(p, reason);
        else unmatched.push(reason.kind);
      },
    };
    const handlesBefore = tcpHandles();
    // Small buffers: more reads fill theirs, so more go zero-copy into buffers of our own.
    const bufferSize = pick(random, [1024, 4096, 16 * 1024, 64 * 1024]);
    t.diagnostic(`${tag} bufferSize ${bufferSize}`);
    const { server, port } = await startServer({ handler, nativeHandles, bufferSize, connection: { lingerMs: 3000 } });
    const failures: string[] = [];
    const reasonFailures: string[] = [];
    try {
      const endings = new Map<number, ClientEnding>(); // by the client's port
      await inBatches(scripts.length, 25, async (index) => {
        const script = scripts[index]!;
        const rnd = seeded(seed + index);
        const client = await connectClient(port);
        endings.set(client.localPort ?? 0, script.ending);
        const sent: Buffer[] = [];
        const outcome = follow(client, index, 10_000, () => `${tag} script ${JSON.stringify(script)}`);
        if (script.pauseMs > 0) {
          client.pause();
          setTimeout(() => client.resume(), script.pauseMs);
        }
        for (let i = 0; i < script.chunks.length; i++) {
          if (script.ending !== 'fin' && i === script.endAfter) break;
          const chunk = slice(rnd, script.chunks[i]!);
          sent.push(chunk);
          await writeAll(client, chunk);
        }
        if (script.ending === 'fin') client.end();
        else {
          await sleep(script.endDelayMs);
          if (script.ending === 'rst') client.resetAndDestroy();
          else client.destroy();
        }
        const result = await outcome;
        if (script.ending !== 'fin') return;
        const what = `${tag} client ${index} ${JSON.stringify({ ...script, chunks: script.chunks.length, bytes: script.chunks.reduce((a, b) => a + b, 0) })}`;
        if (result.ended !== 'end') failures.push(`${what}: input ended by ${result.ended} ${result.errorCode ?? ''}, ${result.received.length} bytes in`);
        else if (sha(result.received) !== sha(sent)) failures.push(`${what}: got ${result.received.length} bytes, sent ${sent.reduce((a, b) => a + b.length, 0)} (or they differ)`);
      });
      assert.deepEqual(failures, [], `${tag}: graceful clients did not get their bytes back`);
      await until(() => server.connections.size === 0, 5000, `${tag}: connections closed`);
      assert.equal(server.stats.accepted, scripts.length, `${tag}: accepted`);
      // How the server saw each client end: a graceful client's FIN, answered, is a peer-close; an RST a reset.
      const seen = new Map<string, number>();
      for (const [clientPort, ending] of endings) {
        const reason = reasons.get(clientPort);
        if (reason === undefined && ending !== 'fin' && unmatched.length > 0) {
          unmatched.pop(); // closed before its port was known: an RST or close right after connect
          continue;
        }
        const key = `${ending}->${reason?.kind ?? 'none'}`;
        seen.set(key, (seen.get(key) ?? 0) + 1);
        if (ending === 'fin' && reason?.kind !== 'peer-close') reasonFailures.push(`${tag}: client on port ${clientPort} (fin): server closed with ${reason?.kind ?? 'nothing'}`);
        if (ending === 'rst' && reason?.kind !== 'reset') reasonFailures.push(`${tag}: client on port ${clientPort} (rst): server closed with ${reason?.kind ?? 'nothing'}`);
      }
      t.diagnostic(`${tag} client ending -> server close reason: ${JSON.stringify(Object.fromEntries(seen))}`);
      assert.deepEqual(reasonFailures, [], `${tag}: close reasons`);
    } finally {
      await checkAfter(server, closedCounts, handlesBefore, tag, { deadlineMs: 1000 });
    }
  });
}

// ---- 2. server-side orderings: close, abort, shutdown, cork at random points ------------------------

type Move = 'echo' | 'write' | 'cork-writes' | 'shutdown-write' | 'shutdown-abort' | 'write-shutdown-abort' | 'close' | 'close-nowait' | 'abort' | 'cork-close' | 'cork-abort' | 'abort-close' | 'pause' | 'drop';
const moves: readonly (readonly [Move, number])[] = [
  ['echo', 30],
  ['write', 8],
  ['cork-writes', 10],
  ['shutdown-write', 7],
  ['shutdown-abort', 3],
  ['write-shutdown-abort', 3],
  ['close', 7],
  ['close-nowait', 4],
  ['abort', 4],
  ['cork-close', 4],
  ['cork-abort', 3],
  ['abort-close', 2],
  ['pause', 10],
  ['drop', 11],
];
const moveWeight = moves.reduce((a, [, w]) => a + w, 0);
function drawMove(random: Random): Move {
  let r = random() * moveWeight;
  for (const [move, weight] of moves) if ((r -= weight) < 0) return move;
  return 'drop';
}

type FinMove = 'default' | 'write-shutdown' | 'close' | 'abort' | 'cork-write-shutdown' | 'later';
const finMoves: readonly FinMove[] = ['default', 'write-shutdown', 'close', 'abort', 'cork-write-shutdown', 'later'];

interface Orderly {
  index: number;
  random: Random;
  port: number;
  log: string[];
  /** Every byte a write accepted (status other than 'closed'), in order. */
  accepted: Uint8Array[];
  /** Aborted, or closed without waiting for the peer (close(2) may then RST): bytes may be dropped. */
  aborted: boolean;
  closed: number;
  reason: CloseReason | null;
  violations: string[];
}

type ClientPlan = 'fin' | 'rst' | 'fin-late' | 'keep-writing';

for (const { nativeHandles, label } of transports) {
  test(`${label}: handlers close, abort, shut down and cork at random reads while the peer writes, FINs or resets: one close each, no throw, nothing leaks`, { timeout: 20_000 }, async (t: TestContext) => {
    const seed = baseSeed + 1;
    const tag = `[${label}, seed ${seed}]`;
    t.diagnostic(`seed ${seed} (PORTICO_STRESS_SEED=${baseSeed} to replay)`);
    const states: Orderly[] = [];
    const closedCounts = new Map<number, number>();
    const byPort = new Map<number, Orderly>();
    const violations: string[] = [];

    const guard = (conn: Connection<Orderly>, what: string, body: () => void): void => {
      const s = conn.user;
      if (s.closed > 0) s.violations.push(`${what} after onConnectionClosed`);
      try {
        body();
      } catch (error) {
        s.violations.push(`${what} threw: ${error instanceof Error ? error.message : String(error)}`);
      }
    };
    const write = (conn: Connection<Orderly>, data: Uint8Array | PooledBuffer, expectClosed = false): ReturnType<Connection['write']> => {
      const bytes = 'data' in data && !(data instanceof Uint8Array) ? Buffer.from(data.data) : Buffer.from(data as Uint8Array);
      const status = conn.write(data);
      if (status !== 'closed') conn.user.accepted.push(bytes);
      if (expectClosed && status !== 'closed') conn.user.violations.push(`write after shutdown/close answered ${status}`);
      return status;
    };
    const next = (conn: Connection<Orderly>, status: ReturnType<Connection['write']> | null): void => {
      if (status === 'over-high-water') return; // onWritable posts the next read
      conn.keepReading();
    };
    const onRead = (conn: Connection<Orderly>, buffer: PooledBuffer): void => {
      const s = conn.user;
      const move = drawMove(s.random);
      s.log.push(move);
      switch (move) {
        case 'echo':
          return next(conn, write(conn, buffer));
        case 'write':
          buffer.release();
          return next(conn, write(conn, slice(s.random, logSize(s.random, 1, 512 * 1024))));
        case 'cork-writes': {
          conn.cork();
          let status = write(conn, buffer);
          const nested = s.random() < 0.3;
          if (nested) conn.cork();
          for (let i = int(s.random, 1, 4); i > 0; i--) status = write(conn, slice(s.random, logSize(s.random, 1, 64 * 1024)));
          if (nested) conn.uncork();
          conn.uncork();
          return next(conn, status);
        }
        case 'shutdown-write':
          buffer.release();
          conn.shutdownWrite();
          write(conn, slice(s.random, 100), true);
          return next(conn, null);
        case 'shutdown-abort':
          // The RST asked for while our FIN is in flight (nothing queued): the transport waits for the shutdown.
          buffer.release();
          s.aborted = true;
          conn.shutdownWrite();
          conn.abort();
          return;
        case 'write-shutdown-abort':
          // ... and while the FIN waits behind queued writes: closed (FIN) instead, never lost.
          s.aborted = true;
          write(conn, buffer);
          write(conn, slice(s.random, logSize(s.random, 1024, 1024 * 1024)));
          conn.shutdownWrite();
          conn.abort();
          return;
        case 'close':
          write(conn, buffer);
          conn.close();
          write(conn, slice(s.random, 100), true);
          return;
        case 'close-nowait':
          // close(2) with the peer's input unread answers with RST, which may drop what we sent (documented).
          s.aborted = true;
          write(conn, buffer);
          conn.close({ waitForPeer: false });
          return;
        case 'abort':
          buffer.release();
          s.aborted = true;
          conn.abort();
          write(conn, slice(s.random, 100), true);
          return;
        case 'cork-close':
          conn.cork();
          write(conn, buffer);
          write(conn, slice(s.random, logSize(s.random, 1, 256 * 1024)));
          conn.close(); // no uncork: close must flush what cork held
          return;
        case 'cork-abort':
          conn.cork();
          write(conn, buffer);
          s.aborted = true;
          conn.abort();
          return;
        case 'abort-close':
          buffer.release();
          s.aborted = true;
          conn.abort();
          conn.close();
          conn.abort();
          conn.shutdownWrite();
          return;
        case 'pause':
          buffer.release();
          setTimeout(() => guardLate(conn, 'pause timer', () => conn.keepReading()), int(s.random, 1, 60));
          return;
        case 'drop':
          buffer.release();
          return next(conn, null);
      }
    };
    // A timer of ours may fire after the close: only then is a late call fine (it must be ignored).
    const guardLate = (conn: Connection<Orderly>, what: string, body: () => void): void => {
      try {
        body();
      } catch (error) {
        conn.user.violations.push(`${what} threw: ${error instanceof Error ? error.message : String(error)}`);
      }
    };
    const onFin = (conn: Connection<Orderly>): void => {
      const s = conn.user;
      const move = pick(s.random, finMoves);
      s.log.push(`fin:${move}`);
      switch (move) {
        case 'default':
          return conn.shutdownWrite();
        case 'write-shutdown':
          write(conn, slice(s.random, logSize(s.random, 1, 256 * 1024)));
          return conn.shutdownWrite();
        case 'close':
          write(conn, slice(s.random, logSize(s.random, 1, 64 * 1024)));
          return conn.close();
        case 'abort':
          s.aborted = true;
          return conn.abort();
        case 'cork-write-shutdown':
          conn.cork();
          write(conn, slice(s.random, logSize(s.random, 1, 64 * 1024)));
          write(conn, slice(s.random, logSize(s.random, 1, 64 * 1024)));
          return conn.shutdownWrite(); // uncorks by itself
        case 'later':
          setTimeout(() => guardLate(conn, 'fin timer', () => conn.shutdownWrite()), int(s.random, 1, 40));
          return;
      }
    };
    const handler: ConnectionCallbacks<Orderly> = {
      onConnectionEstablished: (conn) =>
        guard(conn, 'onConnectionEstablished', () => {
          conn.user.port = conn.remote.port;
          if (conn.user.port > 0) byPort.set(conn.user.port, conn.user);
          conn.read();
        }),
      onReadCompleted: (conn, buffer) => guard(conn, 'onReadCompleted', () => onRead(conn, buffer)),
      onWritable: (conn) => guard(conn, 'onWritable', () => conn.keepReading()),
      onClientClose: (conn) => guard(conn, 'onClientClose', () => onFin(conn)),
      onConnectionReset: (conn) => guard(conn, 'onConnectionReset', () => conn.user.log.push('reset')),
      onConnectionClosed: (conn, reason) => {
        const s = conn.user;
        s.closed++;
        s.reason = reason;
        closedCounts.set(conn.id, (closedCounts.get(conn.id) ?? 0) + 1);
      },
    };
    const handlesBefore = tcpHandles();
    const { server, port } = await startServer({
      handler: handler as ConnectionCallbacks<unknown>,
      nativeHandles,
      bufferSize: pick(seeded(seed), [2048, 16 * 1024, 64 * 1024]),
      connection: { lingerMs: 1500, highWaterMark: 32 * 1024, lowWaterMark: 8 * 1024 },
      createUser: () => {
        const index = states.length;
        const s: Orderly = { index, random: seeded(seed * 7919 + index), port: 0, log: [], accepted: [], aborted: false, closed: 0, reason: null, violations: [] };
        states.push(s);
        return s;
      },
    } as Partial<ServerOptions<unknown>> & Pick<ServerOptions<unknown>, 'handler'>);
    const plans = seeded(seed);
    const clientScripts = Array.from({ length: 160 }, () => {
      const r = plans();
      const plan: ClientPlan = r < 0.45 ? 'fin' : r < 0.65 ? 'rst' : r < 0.8 ? 'fin-late' : 'keep-writing';
      return { plan, chunks: Array.from({ length: int(plans, 1, 6) }, () => logSize(plans, 1, 128 * 1024)), pauseMs: plans() < 0.3 ? int(plans, 5, 100) : 0, rstAfterMs: int(plans, 0, 40) };
    });
    const dataFailures: string[] = [];
    try {
      const results = await inBatches(clientScripts.length, 40, async (index) => {
        const script = clientScripts[index]!;
        const rnd = seeded(seed + 1000 + index);
        const client = await connectClient(port);
        const outcome = follow(client, index, 12_000, () => `${tag} ${JSON.stringify(script)}; server log ${JSON.stringify(byPort.get(client.localPort ?? 0)?.log)}`);
        if (script.pauseMs > 0) {
          client.pause();
          setTimeout(() => client.resume(), script.pauseMs);
        }
        let serverEnded = false;
        client.once('end', () => (serverEnded = true));
        if (script.plan === 'rst') setTimeout(() => client.resetAndDestroy(), script.rstAfterMs);
        for (const size of script.chunks) await writeAll(client, slice(rnd, size));
        if (script.plan === 'keep-writing') {
          for (let i = 0; i < 40 && !client.destroyed && !serverEnded; i++) await writeAll(client, slice(rnd, logSize(rnd, 1, 64 * 1024)));
        }
        if (script.plan === 'fin-late') await Promise.race([sleep(int(rnd, 20, 200)), new Promise((resolve) => client.once('close', resolve))]);
        if (!client.destroyed) client.end();
        return { script, result: await outcome };
      });
      for (const { script, result } of results) {
        const s = byPort.get(result.port);
        if (s === undefined || result.ended !== 'end') continue;
        // The client read to our FIN: it has every byte a write accepted, unless the server aborted (an
        // abort behind a waiting shutdown closes with FIN instead of RST, dropping what was queued).
        if (s.aborted || (s.reason !== null && s.reason.kind !== 'local-close' && s.reason.kind !== 'peer-close')) continue;
        if (sha(result.received) !== sha(s.accepted)) {
          const want = s.accepted.reduce((a, b) => a + b.length, 0);
          dataFailures.push(`${tag} client ${result.index} (${script.plan}): got ${result.received.length} bytes, the server's writes accepted ${want} (or they differ); server log ${JSON.stringify(s.log)}, reason ${s.reason?.kind}`);
        }
      }
      await until(() => server.connections.size === 0, 5000, `${tag}: connections closed (${[...server.connections].map((c) => JSON.stringify((c.user as Orderly).log)).join('; ')})`);
      for (const s of states) {
        if (s.closed !== 1) violations.push(`connection ${s.index}: onConnectionClosed ${s.closed} times; log ${JSON.stringify(s.log)}`);
        for (const v of s.violations) violations.push(`connection ${s.index}: ${v}; log ${JSON.stringify(s.log)}`);
      }
      assert.deepEqual(violations, [], `${tag}: handler-visible violations`);
      assert.deepEqual(dataFailures, [], `${tag}: bytes accepted by write did not all arrive before our FIN`);
      const kinds = new Map<string, number>();
      for (const s of states) kinds.set(s.reason?.kind ?? 'none', (kinds.get(s.reason?.kind ?? 'none') ?? 0) + 1);
      t.diagnostic(`${tag} close reasons ${JSON.stringify(Object.fromEntries(kinds))}`);
    } finally {
      await checkAfter(server, closedCounts, handlesBefore, tag, { deadlineMs: 1000 });
    }
  });
}

// ---- 3. a bounded stop() while connections are mid-transfer --------------------------------------

type StopMove = 'pump' | 'pump-shutdown' | 'pump-close' | 'cork-hold' | 'read-only' | 'no-read' | 'pump-abort-later';
const stopMoves: readonly StopMove[] = ['pump', 'pump-shutdown', 'pump-close', 'cork-hold', 'read-only', 'no-read', 'pump-abort-later'];

interface Pumping {
  random: Random;
  move: StopMove;
  sent: number;
  closed: number;
}

for (const { nativeHandles, label } of transports) {
  test(`${label}: stop({ deadlineMs: small }) with 100 connections mid-transfer to clients that do not read: stop resolves in time, everything closed, nothing leaks`, { timeout: 20_000 }, async (t: TestContext) => {
    const seed = baseSeed + 2;
    const tag = `[${label}, seed ${seed}]`;
    t.diagnostic(`seed ${seed} (PORTICO_STRESS_SEED=${baseSeed} to replay)`);
    const random = seeded(seed);
    const closedCounts = new Map<number, number>();
    const block = source.subarray(0, 64 * 1024);
    let established = 0;
    let index = 0;
    const pump = (conn: Connection<Pumping>, limit: number): boolean => {
      while (conn.user.sent < limit) {
        conn.user.sent += block.length;
        const status = conn.write(block);
        if (status === 'closed') return false;
        if (status === 'over-high-water') return false;
      }
      return true;
    };
    const handler: ConnectionCallbacks<Pumping> = {
      onConnectionEstablished(conn) {
        established++;
        switch (conn.user.move) {
          case 'pump':
            pump(conn, Infinity);
            conn.read();
            return;
          case 'pump-shutdown':
            pump(conn, 2 * 1024 * 1024);
            // Everything queued at once (past the high-water mark): the FIN waits behind writes the peer never reads.
            while (conn.user.sent < 2 * 1024 * 1024) {
              conn.user.sent += block.length;
              conn.write(block);
            }
            conn.shutdownWrite();
            conn.read();
            return;
          case 'pump-close':
            for (let i = 0; i < 16; i++) conn.write(block);
            conn.close();
            return;
          case 'cork-hold':
            conn.cork();
            for (let i = 0; i < int(conn.user.random, 1, 8); i++) conn.write(block);
            conn.read(); // never uncorked: stop() must still get it closed
            return;
          case 'read-only':
            conn.read();
            return;
          case 'no-read':
            return; // input piles up in the kernel, nothing posted
          case 'pump-abort-later':
            pump(conn, Infinity);
            conn.read();
            return;
        }
      },
      onReadCompleted(conn, buffer) {
        buffer.release();
        if (conn.user.move === 'pump-abort-later' && conn.user.random() < 0.05) {
          conn.abort();
          return;
        }
        conn.keepReading();
      },
      onWritable(conn) {
        if (conn.user.move === 'pump' || conn.user.move === 'pump-abort-later') pump(conn, Infinity);
      },
      onConnectionClosed(conn) {
        conn.user.closed++;
        closedCounts.set(conn.id, (closedCounts.get(conn.id) ?? 0) + 1);
      },
    };
    const handlesBefore = tcpHandles();
    const { server, port } = await startServer({
      handler: handler as ConnectionCallbacks<unknown>,
      nativeHandles,
      connection: { lingerMs: 10_000 }, // stop()'s deadline, not linger, must end the closing ones
      createUser: () => {
        const r = seeded(seed * 31 + index++);
        return { random: r, move: pick(r, stopMoves), sent: 0, closed: 0 };
      },
    } as Partial<ServerOptions<unknown>> & Pick<ServerOptions<unknown>, 'handler'>);
    const clients: net.Socket[] = [];
    const deadlineMs = int(random, 20, 300);
    try {
      for (let i = 0; i < 100; i++) {
        const client = await connectClient(port);
        client.on('error', () => {});
        client.pause(); // never reads
        clients.push(client);
        // Upload without waiting: some of it sits in the server's kernel buffer unread.
        client.write(slice(random, logSize(random, 1, 512 * 1024)));
        if (random() < 0.2) client.end();
      }
      await until(() => established === 100, 5000, `${tag}: 100 established (${established})`);
      await sleep(int(random, 0, 100));
      const open = server.connections.size;
      const started = performance.now();
      const result = await server.stop({ deadlineMs });
      const took = performance.now() - started;
      t.diagnostic(`${tag} stop(${deadlineMs} ms) took ${Math.round(took)} ms: ${JSON.stringify(result)}`);
      assert.equal(result.forced, 0, `${tag}: transports that did not report their close after the abort (closed by force): ${result.forced}`);
      assert.ok(took < deadlineMs + 1500, `${tag}: stop({ deadlineMs: ${deadlineMs} }) took ${Math.round(took)} ms`);
      assert.equal(server.connections.size, 0, `${tag}: connections left after stop()`);
      assert.equal(result.closedGracefully + result.aborted, open, `${tag}: stop() accounted for ${result.closedGracefully + result.aborted} of the ${open} open`);
    } finally {
      for (const client of clients) client.destroy();
      await checkAfter(server, closedCounts, handlesBefore, tag, { deadlineMs: 500 });
    }
  });
}
