/**
 * One flood connection from connect to close: send the messages (ping-pong or pipelined), check
 * every reply, then close with FIN first — the client closes first so TIME_WAIT lands on the client,
 * as with real clients, and a server that leaves its own TIME_WAIT behind stands out.
 *
 * A reply checked with `serverCloses` (owserver without a persistence grant) ends that TCP connection
 * and the flood connection goes on over a new one, resending what was written and not answered. The
 * flood connection is still one connection in the counts, and its deadline covers every reconnect.
 */
import * as net from 'node:net';
import type { FloodProtocolSession } from './protocol-client.js';

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
  sent(bytes: number): void;
  received(bytes: number): void;
  reply(latencyMs: number): void;
  /** An error code worth counting that does not change the outcome (e.g. CLOSE_TIMEOUT). */
  note(code: string): void;
}

export interface ConnectionPlan {
  readonly host: string;
  readonly port: number;
  readonly session: FloodProtocolSession;
  readonly messages: number;
  readonly sendAfterReceive: boolean;
  /** Deadline for connect + every message + the close handshake. */
  readonly timeoutMs: number;
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
    let repliesLeft = plan.messages;
    /** Send times of requests still waiting for their reply, oldest first. */
    const sentAt: number[] = [];
    /** Earlier sockets, left after a `serverCloses` reply, still finishing their close. */
    const retired = new Set<net.Socket>();
    let socket: net.Socket | null = null;

    const settle = (result: ConnectionOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      socket?.destroy();
      for (const old of retired) old.destroy();
      resolve(result);
    };
    abort = () => settle({ kind: 'aborted' });

    const deadline = setTimeout(() => {
      if (phase === 'connecting' && !established) settle({ kind: 'failed', code: 'ETIMEDOUT' });
      else if (phase !== 'closing') {
        settle({ kind: 'bad', code: 'REPLY_TIMEOUT', detail: `${repliesLeft} of ${plan.messages} replies missing after ${plan.timeoutMs} ms` });
      } else {
        // Every reply arrived; only the server's FIN is missing. Worth counting, not a bad exchange.
        events.note('CLOSE_TIMEOUT');
        settle({ kind: 'ok' });
      }
    }, plan.timeoutMs);

    const send = (): void => {
      const bytes = plan.session.frameRequest(nextToSend++);
      sentAt.push(plan.now());
      socket!.write(bytes);
      events.sent(bytes.length);
    };

    const startClosing = (): void => {
      phase = 'closing';
      socket!.end();
    };

    /** The server closes after the last reply: finish that socket, go on with a new one. */
    const reconnect = (): void => {
      const old = socket!;
      retired.add(old);
      old.once('close', () => retired.delete(old));
      old.end();
      // Written but not answered: the old connection will never answer them, so they go again.
      nextToSend = plan.messages - repliesLeft;
      sentAt.length = 0;
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
        if (plan.messages === 0) return startClosing();
        if (plan.sendAfterReceive) return send();
        s.cork();
        while (nextToSend < plan.messages) send();
        s.uncork();
      });

      s.on('data', (chunk: Buffer) => {
        if (!current()) return;
        events.received(chunk.length);
        let serverCloses = false;
        for (const check of plan.session.receive(chunk)) {
          if (!check.ok) return settle({ kind: 'bad', code: check.code, detail: check.detail });
          events.reply(plan.now() - (sentAt.shift() ?? plan.now()));
          if (check.note !== undefined) events.note(check.note);
          repliesLeft--;
          if (check.serverCloses === true) serverCloses = true;
          else if (repliesLeft > 0 && plan.sendAfterReceive) send();
          if (repliesLeft === 0) startClosing();
        }
        if (serverCloses && repliesLeft > 0) reconnect();
      });

      s.on('end', () => {
        if (current() && phase === 'exchanging') {
          settle({ kind: 'bad', code: 'EARLY_CLOSE', detail: `server closed with ${repliesLeft} of ${plan.messages} replies missing` });
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
