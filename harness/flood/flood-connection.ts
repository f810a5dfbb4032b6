/**
 * One flood connection from connect to close: send the messages (ping-pong or pipelined), check
 * every reply, then close with FIN first — the client closes first so TIME_WAIT lands on the client,
 * as with real clients, and a server that leaves its own TIME_WAIT behind stands out.
 *
 * A reply checked with `serverCloses` (owserver without a persistence grant) ends that TCP connection
 * and the flood connection goes on over a new one, resending what was written and not answered. The
 * flood connection is still one connection in the counts, and its deadline covers every reconnect.
 *
 * Under a constant rate (`nextDue`), each message has an intended send time on the slot's schedule; it
 * goes out at that time, or — ping-pong — as soon as the previous reply is in if that is later. The
 * reply's latency is counted from the intended time (wrk2's coordinated-omission correction: a stalled
 * server delays every message scheduled behind the stall, and each of them says so), and its service
 * time from the actual send. A message never goes out before its intended time (see timer-at.ts), so
 * its latency is never below its service time.
 */
import * as net from 'node:net';
import type { FloodProtocolSession } from './protocol-client.js';
import { type TimerAt, setTimerAt } from './timer-at.js';

/** How a connection ended; `code` is what FloodResult.errors counts. */
export type ConnectionOutcome =
  | { readonly kind: 'ok' }
  /** Never connected: refused, timed out. */
  | { readonly kind: 'failed'; readonly code: string }
  /** Reset (ECONNRESET, EPIPE) after connecting. */
  | { readonly kind: 'reset'; readonly code: string }
  /** Wrong or missing reply, or closed early by the server. */
  | { readonly kind: 'bad'; readonly code: string; readonly detail: string }
  /** Stopped by the flood (duration cap or abort), not by the server. */
  | { readonly kind: 'aborted' };

/** What a connection reports while it runs (all optional work is the listener's). */
export interface ConnectionEvents {
  connected(): void;
  /** `at` is plan.now() when written. */
  sent(bytes: number, at: number): void;
  received(bytes: number, at: number): void;
  /** `latencyMs` from the intended send time, `serviceMs` from the actual one; `at` the reply's arrival. */
  reply(latencyMs: number, serviceMs: number, at: number): void;
  /** An error code worth counting that does not change the outcome (e.g. CLOSE_TIMEOUT). */
  note(code: string): void;
}

export interface ConnectionPlan {
  readonly host: string;
  readonly port: number;
  readonly session: FloodProtocolSession;
  /** null: until aborted. */
  readonly messages: number | null;
  readonly sendAfterReceive: boolean;
  /**
   * Deadline for connect + every message + the close handshake; with `perReply`, for the connect and
   * then for each reply after the previous one (a long-lived or rate-limited connection).
   */
  readonly timeoutMs: number;
  readonly perReply?: boolean;
  /** The intended send time (in now()'s time base) of the next message on this slot's schedule; absent = now. */
  readonly nextDue?: () => number;
  readonly now: () => number;
}

/** A started connection: its outcome, and a way to stop it at once. */
export interface RunningConnection {
  readonly outcome: Promise<ConnectionOutcome>;
  abort(): void;
}

const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

export function startConnection(plan: ConnectionPlan, events: ConnectionEvents): RunningConnection {
  let abort: () => void = () => {};
  const outcome = new Promise<ConnectionOutcome>((resolve) => {
    let phase: 'connecting' | 'exchanging' | 'closing' = 'connecting';
    let settled = false;
    /** Some TCP connection of this flood connection was established: later connects are reconnects. */
    let established = false;
    let nextToSend = 0;
    let repliesDone = 0;
    const limit = plan.messages;
    const moreToSend = (): boolean => limit === null || nextToSend < limit;
    /**
     * The replies still owed, from the real counts, e.g. `3 of 10 replies missing after 300 ms (10
     * sent, 7 received)`; `when` goes after "missing". Ping-pong sends one message at a time, so
     * the planned messages not yet sent are named apart from the ones sent and unanswered.
     */
    const missing = (when: string): string => {
      const sent = nextToSend;
      const unsent = limit !== null && sent < limit ? `, ${limit - sent} of ${limit} not sent yet` : '';
      return `${sent - repliesDone} of ${sent} replies missing${when} (${sent} sent, ${repliesDone} received${unsent})`;
    };
    /** What the session knows of the reply it still waits for (raw: what did arrive). */
    const pending = (): string => {
      const known = plan.session.pendingReply?.();
      return known === undefined ? '' : `: ${known}`;
    };
    /** Intended and actual send times of requests still waiting for their reply, oldest first. */
    const sentAt: { intended: number; actual: number }[] = [];
    let sendTimer: TimerAt | null = null;
    /** Earlier sockets, left after a `serverCloses` reply, still finishing their close. */
    const retired = new Set<net.Socket>();
    let socket: net.Socket | null = null;

    const settle = (result: ConnectionOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      sendTimer?.cancel();
      socket?.destroy();
      for (const old of retired) old.destroy();
      resolve(result);
    };
    abort = () => settle({ kind: 'aborted' });

    const deadline = setTimeout(() => {
      if (phase === 'connecting' && !established) settle({ kind: 'failed', code: 'ETIMEDOUT' });
      else if (phase !== 'closing') {
        settle({ kind: 'bad', code: 'REPLY_TIMEOUT', detail: `${missing(` after ${plan.timeoutMs} ms`)}${pending()}` });
      } else {
        // Every reply arrived; only the server's FIN is missing. Worth counting, not a bad exchange.
        events.note('CLOSE_TIMEOUT');
        settle({ kind: 'ok' });
      }
    }, plan.timeoutMs);

    const sendOne = (intended: number | null): void => {
      const bytes = plan.session.frameRequest(nextToSend++);
      const actual = plan.now();
      sentAt.push({ intended: intended ?? actual, actual });
      socket!.write(bytes);
      events.sent(bytes.length, actual);
    };

    /**
     * The next message at its intended time; `chain`: then the ones after it (pipelining on a
     * schedule). Overdue messages go out at once, in a loop, not by recursion.
     */
    const sendWhenDue = (chain: boolean): void => {
      if (plan.nextDue === undefined) return sendOne(null);
      for (;;) {
        const due = plan.nextDue();
        if (due > plan.now()) {
          sendTimer = setTimerAt(due, plan.now, () => {
            sendTimer = null;
            if (settled || phase !== 'exchanging') return;
            sendOne(due);
            if (chain && moreToSend()) sendWhenDue(true);
          });
          return;
        }
        sendOne(due);
        if (!chain || !moreToSend()) return;
      }
    };

    const startClosing = (): void => {
      phase = 'closing';
      sendTimer?.cancel();
      sendTimer = null;
      socket!.end();
    };

    /** The server closes after the last reply: finish that socket, go on with a new one. */
    const reconnect = (): void => {
      const old = socket!;
      retired.add(old);
      old.once('close', () => retired.delete(old));
      old.end();
      // Written but not answered: the old connection will never answer them, so they go again.
      nextToSend = repliesDone;
      sentAt.length = 0;
      sendTimer?.cancel();
      sendTimer = null;
      phase = 'connecting';
      socket = open();
    };

    const open = (): net.Socket => {
      const s = net.connect({ host: plan.host, port: plan.port });
      const current = (): boolean => s === socket && !settled;

      s.on('connect', () => {
        if (!current()) return;
        phase = 'exchanging';
        s.setNoDelay(true);
        if (!established) {
          established = true;
          events.connected();
        }
        if (limit === 0) return startClosing();
        if (plan.perReply === true) deadline.refresh();
        if (plan.sendAfterReceive) return sendWhenDue(false);
        if (plan.nextDue !== undefined) return sendWhenDue(true);
        s.cork();
        while (moreToSend()) sendOne(null);
        s.uncork();
      });

      s.on('data', (chunk: Buffer) => {
        if (!current()) return;
        const at = plan.now();
        events.received(chunk.length, at);
        let serverCloses = false;
        for (const check of plan.session.receive(chunk)) {
          if (!check.ok) return settle({ kind: 'bad', code: check.code, detail: check.detail });
          const sent = sentAt.shift() ?? { intended: at, actual: at };
          events.reply(at - sent.intended, at - sent.actual, at);
          if (plan.perReply === true) deadline.refresh();
          if (check.note !== undefined) events.note(check.note);
          repliesDone++;
          const more = limit === null || repliesDone < limit;
          if (check.serverCloses === true) serverCloses = true;
          else if (more && plan.sendAfterReceive) sendWhenDue(false);
          if (!more) startClosing();
        }
        if (serverCloses && (limit === null || repliesDone < limit)) reconnect();
      });

      s.on('end', () => {
        if (current() && phase === 'exchanging') {
          settle({ kind: 'bad', code: 'EARLY_CLOSE', detail: `server closed with ${missing('')}${pending()}` });
        }
      });

      s.on('close', () => {
        if (!current()) return;
        if (phase === 'closing') settle({ kind: 'ok' });
        else settle({ kind: 'bad', code: 'EARLY_CLOSE', detail: `connection closed during ${phase}` });
      });

      s.on('error', (error: NodeJS.ErrnoException) => {
        if (!current()) return;
        const code = error.code ?? 'ERROR';
        if (RESET_CODES.has(code)) {
          // A reset needs a completed handshake: a server that accepts and resets at once makes the
          // connect itself end in ECONNRESET, before 'connect' is emitted. It was made, then reset.
          if (!established) {
            established = true;
            events.connected();
          }
          settle({ kind: 'reset', code });
        } else if (phase === 'connecting' && !established) settle({ kind: 'failed', code });
        else settle({ kind: 'bad', code, detail: phase === 'connecting' ? `reconnect: ${error.message}` : error.message });
      });
      return s;
    };

    socket = open();
  });
  return { outcome, abort: () => abort() };
}
