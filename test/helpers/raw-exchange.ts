/**
 * One scripted exchange on a fresh raw TCP connection, observed precisely enough to compare two
 * servers' close behaviour: every byte received, whether the server ended its side with FIN or RST
 * (a raw net.Socket: 'end' = FIN, ECONNRESET = RST), when (relative to the client's last step, and
 * before or after the client's own FIN), and how the server's socket answers late input after its
 * FIN — a descriptor that was really closed answers the first late segment with RST. Every wait is
 * bounded.
 */
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import { TCP_TIME_WAIT, parseProcNetTcp, readProcNetTcp } from '../../harness/time-wait.js';
import { assertNoTimeWaitOverflow, timeWaitOverflows } from './tcp-states.js';
import { HEADER, decodeHeader, splitMessages } from './owserver-wire.js';

/**
 * A write, a pause, or the client's FIN (half-close; the client keeps reading). A pause with
 * `thenAwaitEndMs` also waits (that long at most) for the server to have ended its side: for steps
 * meant to come after the server's close, so a server slowed by a busy machine meets the same order.
 */
export type Step = Buffer | { readonly waitMs: number; readonly thenAwaitEndMs?: number } | 'fin';

export interface ExchangeOptions {
  /** How long after the last step the connection may stay open before it counts as 'open'. Default 2500. */
  boundMs?: number;
  /** After the server's FIN, wait this long before writing late bytes (0 = do not probe). Default 150. */
  lateWriteAfterMs?: number;
}

/**
 * How the server's socket took late bytes written after its FIN:
 * - `reset-on-data`: the first late write went through and drew an RST (the peer's descriptor is closed);
 * - `reset-before-data`: the first late write already failed (the peer had reset the connection on its own);
 * - `silent`: both late writes went through and nothing came back (the peer is still reading, half-closed).
 */
export type LateInput = 'reset-on-data' | 'reset-before-data' | 'silent';

export interface Exchange {
  /** Every byte the server sent. */
  readonly received: Buffer;
  /**
   * How the server ended its side within the bound. An RST is recognised however the kernel reports
   * it: as ECONNRESET, as an EOF whose first late write fails at once, or (once the client has sent
   * its own FIN) by the connection leaving no TIME_WAIT behind.
   */
  readonly end: 'fin' | 'rst' | 'open';
  /** ms from the client's last step before it to the server's FIN or RST (null while open). */
  readonly endMs: number | null;
  /** When the client sent FIN: did the server end its side before it (null: the client never did, or the server never ended). */
  readonly serverEndedFirst: boolean | null;
  /** Only probed after a FIN from the server, while the client has not sent its own. */
  readonly lateInput: LateInput | null;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A server that resets right after its last bytes is sometimes seen as EOF, with the reset only
 * surfacing on the next write (Linux reports the stream's end before the error). A first write
 * within this long after the "FIN" that already fails means the server reset the connection.
 */
const RESET_RACE_MS = 300;

/**
 * Whether the connection between these two ports left a TIME_WAIT socket on either end: after both
 * sides sent FIN one of them always does, after an RST neither does. This is how a close is told
 * apart once the client has sent its own FIN (it can no longer write to probe for a reset).
 */
function closedWithFins(clientPort: number, serverPort: number): boolean {
  for (const text of readProcNetTcp()) {
    for (const row of parseProcNetTcp(text)) {
      if (row.state !== TCP_TIME_WAIT) continue;
      if ((row.localPort === clientPort && row.remotePort === serverPort) || (row.localPort === serverPort && row.remotePort === clientPort)) return true;
    }
  }
  return false;
}

/** Run `steps` on a fresh connection to 127.0.0.1:`port` and record what the server did. */
export function exchange(port: number, steps: readonly Step[], options: ExchangeOptions = {}): Promise<Exchange> {
  const boundMs = options.boundMs ?? 2500;
  const lateAfterMs = options.lateWriteAfterMs ?? 150;
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    socket.setNoDelay(true);
    const chunks: Buffer[] = [];
    let connected = false;
    let stepsDone = false;
    let lastStepAt: number | null = null;
    let clientFinAt: number | null = null;
    let end: Exchange['end'] = 'open';
    let endAt: number | null = null;
    let connectedAt = 0;
    /** The client's last step before the server ended its side: end times are measured from it. */
    let endRef = 0;
    // Late input: the client's writes after the server's FIN, and which of them first failed.
    let writesAfterFin = 0;
    let firstLateWriteAt: number | null = null;
    let lateInput: LateInput | null = null;
    let probing = false;
    let boundTimer: NodeJS.Timeout | null = null;
    let settled = false;
    let clientPort = 0;
    const overflowsAtStart = timeWaitOverflows();

    const finish = (): void => {
      if (settled) return;
      settled = true;
      if (boundTimer !== null) clearTimeout(boundTimer);
      if (clientFinAt !== null && endAt !== null) {
        // Both sides are done sending: the kernel's TIME_WAIT says whether with FINs or with an RST
        // (Linux sometimes reports an RST as the end of the stream). Our FIN must have left first.
        void (async () => {
          for (let i = 0; i < 20 && !socket.writableFinished && !socket.destroyed; i++) await sleep(10);
          await sleep(30);
          end = closedWithFins(clientPort, port) ? 'fin' : 'rst';
          if (end === 'rst') {
            try {
              assertNoTimeWaitOverflow(overflowsAtStart, 'raw exchange');
            } catch (error) {
              socket.destroy();
              reject(error as Error);
              return;
            }
          }
          socket.destroy();
          resolve(result());
        })();
        return;
      }
      socket.destroy();
      resolve(result());
    };
    const result = (): Exchange => ({
      received: Buffer.concat(chunks),
      end,
      endMs: endAt === null ? null : endAt - endRef,
      serverEndedFirst: clientFinAt === null || endAt === null ? null : endAt < clientFinAt,
      lateInput: end === 'fin' && clientFinAt === null ? lateInput : null,
    });
    const lateWriteFailed = (nth: number): void => {
      if (lateInput === null && end === 'fin' && nth <= 1 && firstLateWriteAt !== null && firstLateWriteAt - endAt! <= RESET_RACE_MS) {
        // An RST that overtook our read of the stream: the kernel reported EOF first, the reset on the next write.
        end = 'rst';
      } else {
        lateInput ??= nth <= 1 ? 'reset-before-data' : 'reset-on-data';
      }
      finish();
    };
    const write = (bytes: Buffer): void => {
      const nth = end === 'fin' ? ++writesAfterFin : 0;
      if (nth === 1) firstLateWriteAt = performance.now();
      socket.write(bytes, (error) => {
        if (error && nth > 0) lateWriteFailed(nth);
      });
    };
    /** After the server's FIN and the last step: two one-byte writes; a closed descriptor resets on the first. */
    const probeLateInput = async (): Promise<void> => {
      if (probing || settled) return;
      probing = true;
      await sleep(lateAfterMs);
      for (let i = 0; i < 2 && !settled; i++) {
        write(Buffer.from('x'));
        await sleep(100);
      }
      if (!settled) {
        lateInput ??= 'silent';
        finish();
      }
    };
    /** Once the steps are done and the server has ended: finish, or probe late input first. */
    const settleWhenDone = (): void => {
      if (!stepsDone || settled) return;
      if (endAt === null) {
        if (boundTimer === null) boundTimer = setTimeout(finish, boundMs);
        return;
      }
      if (end === 'fin' && clientFinAt === null && lateAfterMs > 0) void probeLateInput();
      else finish();
    };

    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => {
      if (endAt !== null) return;
      end = 'fin';
      endAt = performance.now();
      endRef = lastStepAt ?? connectedAt;
      settleWhenDone();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (!connected) {
        settled = true;
        reject(error);
        return;
      }
      const reset = error.code === 'ECONNRESET' || error.code === 'EPIPE';
      if (endAt === null && reset) {
        end = 'rst';
        endAt = performance.now();
        endRef = lastStepAt ?? connectedAt;
      } else if (end === 'fin' && reset) {
        lateWriteFailed(writesAfterFin);
        return;
      } else if (!reset) {
        settled = true;
        socket.destroy();
        reject(new Error(`unexpected socket error ${error.code ?? error.message}`));
        return;
      }
      finish();
    });
    socket.on('close', finish);

    socket.once('connect', () => {
      connected = true;
      connectedAt = performance.now();
      clientPort = socket.localPort ?? 0;
      void (async () => {
        for (const step of steps) {
          if (settled) return;
          if (step === 'fin') {
            socket.end();
            clientFinAt = performance.now();
          } else if (Buffer.isBuffer(step)) {
            if (!socket.writable) break;
            write(step);
          } else {
            await sleep(step.waitMs);
            // After a stall the timers phase runs before the poll phase: let a FIN or RST the kernel
            // already holds for us be seen before the next step, as it would be on an idle machine.
            await new Promise<void>((resolve) => setImmediate(resolve));
            const awaitEndUntil = performance.now() + (step.thenAwaitEndMs ?? 0);
            while (endAt === null && !settled && performance.now() < awaitEndUntil) await sleep(10);
          }
          lastStepAt = performance.now();
        }
        lastStepAt ??= performance.now();
        stepsDone = true;
        settleWhenDone();
      })();
    });
  });
}

/** Timing buckets for comparing two servers' closes within a tolerance (see `compareExchanges`). */
export function endTiming(e: Exchange, promptMs: number): 'at once' | 'after a timeout' | 'open' {
  if (e.end === 'open' || e.endMs === null) return 'open';
  return e.endMs < promptMs ? 'at once' : 'after a timeout';
}

/** A response message, field by field, for messages in the diff. */
function describeMessages(bytes: Buffer): { messages: string[]; rest: string } {
  const { messages, rest } = splitMessages(bytes);
  return {
    messages: messages.map((m) => `{version ${m.version}, payload ${m.payload}, ret ${m.ret}, sg 0x${(m.sg >>> 0).toString(16)}, size ${m.size}, offset ${m.offset}, body ${m.body.length > 0 ? JSON.stringify(m.body.toString('latin1')) : '-'}}`),
    rest: rest.toString('hex'),
  };
}

/**
 * Every way `actual` differs from `expected`: each response header field by name, each body, the
 * bytes after the last whole message, how and when the server ended its side (bucketed: at once
 * is under `promptMs` after the client's last step), before or after the client's FIN, and how
 * late input was taken. Empty when they match.
 */
export function compareExchanges(expected: Exchange, actual: Exchange, promptMs = 500): string[] {
  const out: string[] = [];
  const a = splitMessages(expected.received);
  const b = splitMessages(actual.received);
  if (a.messages.length !== b.messages.length) {
    out.push(`${b.messages.length} message(s) instead of ${a.messages.length}: got ${describeMessages(actual.received).messages.join(' ')}; expected ${describeMessages(expected.received).messages.join(' ')}`);
  } else {
    a.messages.forEach((m, i) => {
      const n = b.messages[i]!;
      for (const field of ['version', 'payload', 'ret', 'sg', 'size', 'offset'] as const) {
        if (m[field] !== n[field]) out.push(`message ${i}: ${field} ${n[field]} instead of ${m[field]}`);
      }
      if (!m.body.equals(n.body)) out.push(`message ${i}: body ${JSON.stringify(n.body.toString('latin1'))} instead of ${JSON.stringify(m.body.toString('latin1'))}`);
    });
  }
  if (!a.rest.equals(b.rest)) out.push(`trailing bytes ${b.rest.toString('hex') || '(none)'} instead of ${a.rest.toString('hex') || '(none)'}`);
  if (expected.end !== actual.end) out.push(`ended with ${actual.end.toUpperCase()} instead of ${expected.end.toUpperCase()}`);
  const [te, ta] = [endTiming(expected, promptMs), endTiming(actual, promptMs)];
  if (te !== ta) out.push(`closed ${ta} (${actual.endMs?.toFixed(0) ?? '-'} ms) instead of ${te} (${expected.endMs?.toFixed(0) ?? '-'} ms)`);
  if (expected.serverEndedFirst !== actual.serverEndedFirst) {
    const say = (v: boolean | null): string => (v === null ? 'n/a' : v ? "before the client's FIN" : "after the client's FIN");
    out.push(`server ended ${say(actual.serverEndedFirst)} instead of ${say(expected.serverEndedFirst)}`);
  }
  if (expected.lateInput !== actual.lateInput) out.push(`late input after the server's FIN: ${actual.lateInput ?? 'n/a'} instead of ${expected.lateInput ?? 'n/a'}`);
  return out;
}

/** A one-line summary for messages: "2 msgs (ret 0,-1), FIN at once, late input reset-on-data". */
export function summarize(e: Exchange, promptMs = 500): string {
  const { messages, rest } = splitMessages(e.received);
  const rets = messages.map((m) => (m.isPing ? 'ping' : String(m.ret))).join(',');
  const tail = rest.length > 0 ? ` + ${rest.length} stray bytes` : '';
  const first = e.serverEndedFirst === null ? '' : e.serverEndedFirst ? ", before the client's FIN" : ", after the client's FIN";
  return `${messages.length} msg(s) (ret ${rets || '-'})${tail}, ${e.end.toUpperCase()} ${endTiming(e, promptMs)}${e.endMs === null ? '' : ` (${e.endMs.toFixed(0)} ms)`}${first}${e.lateInput === null ? '' : `, late input ${e.lateInput}`}`;
}

export { HEADER, decodeHeader };
