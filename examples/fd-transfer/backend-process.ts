import { type ChildProcess, fork } from 'node:child_process';
import type * as net from 'node:net';
import { handoffMessage, isHandoffAck, type TimerWheel, type WheelTimer } from '../../framework/index.js';
import { isBackendMessage, type BackendStop } from './backend-messages.js';
import type { BackendSpec } from './config.js';

/** How a transfer ended, as the front acts on it. */
export type TransferOutcome =
  /** The back end adopted the connection: the front closes its copy. */
  | 'accepted'
  /** The back end refused it (draining, at its connection limit): 503. */
  | 'refused'
  /** Too many transfers to this back end in flight already: 503. */
  | 'busy'
  /** The back end died or could not be reached before acknowledging: 502. */
  | 'failed'
  /** No acknowledgement within the ack timeout (the back end hangs or is still starting): 504. */
  | 'timeout';

/** One connection to hand over. */
export interface TransferRequest {
  /** The connection's native TCP handle (`handleOf(socket)`). */
  readonly handle: object;
  /** Every byte the front read from it. */
  readonly leftover: Buffer;
  /** Called once with the outcome. */
  done(outcome: TransferOutcome): void;
}

/** Per back end counters (the front's `stats()` prefixes them with the back end's name). */
export interface BackendStats {
  /** Processes started (the first start and every restart). */
  starts: number;
  /** Exits nobody asked for. */
  crashes: number;
  /** Connections the back end acknowledged. */
  transferred: number;
  /** Connections it refused. */
  refused: number;
  /** Refused by the front: too many in flight. */
  busy: number;
  /** Transfers lost with a back end that died, or whose send failed. */
  failed: number;
  timedOut: number;
  /** Its open connections, as last reported (0 while it is down). */
  active: number;
  /** Connections it had adopted and not yet closed when it died. */
  lost: number;
  /** Transfers sent or waiting for the back end to start, not yet acknowledged. */
  inFlight: number;
}

export interface BackendProcessOptions {
  /** Most transfers waiting or unacknowledged at once; more are answered 503. */
  maxInFlight: number;
  /** A transfer not acknowledged this long after it was queued (start-up included) is answered 504. */
  ackTimeoutMs: number;
  /** Restart delay after a crash: starts at `minMs`, doubles per crash up to `maxMs`; back to `minMs` after 10 s of uptime. */
  backoff: { minMs: number; maxMs: number };
  /** Runs the ack timeouts (one per transfer: a wheel entry is cheaper than a Node timer). */
  wheel: TimerWheel;
  /** Where the back end's stdout goes (it is not ours: our stdout carries the ready line). Default stderr. */
  stdout?: NodeJS.WritableStream;
}

type State = 'idle' | 'starting' | 'ready' | 'backoff' | 'stopping' | 'stopped';

interface Pending {
  readonly id: number;
  readonly request: TransferRequest;
  timer: WheelTimer | null;
}

/** After this much uptime, a crash restarts after the smallest backoff again. */
const stableAfterMs = 10_000;
/** After a stop's drain deadline, how long the process gets to exit before SIGKILL. */
const exitGraceMs = 3000;

let nextTransferId = 1;

/**
 * One back-end process as the front sees it: started on the first transfer (as mod_fd_transfer
 * fork-execs a back end on its first request), sent connections over its IPC channel, restarted with
 * backoff when it dies. The front keeps each connection until the back end acknowledges it.
 */
export class BackendProcess {
  readonly spec: BackendSpec;
  readonly stats: BackendStats = { starts: 0, crashes: 0, transferred: 0, refused: 0, busy: 0, failed: 0, timedOut: 0, active: 0, lost: 0, inFlight: 0 };
  readonly #options: BackendProcessOptions;
  #state: State = 'idle';
  #child: ChildProcess | null = null;
  #port = 0;
  #waiting: Pending[] = [];
  #unacked = new Map<number, Pending>();
  #backoffMs: number;
  #backoffTimer: NodeJS.Timeout | null = null;
  #startedAt = 0;
  /** Adopted by the current process, and closed by it as last reported: the difference is lost if it dies. */
  #adoptedThisLife = 0;
  #closedReported = 0;
  #acceptedReported = 0;
  #stopped: Promise<{ aborted: number }> | null = null;
  #abortedAtStop = 0;
  #readyWaiters: ((port: number | null) => void)[] = [];

  constructor(spec: BackendSpec, options: BackendProcessOptions) {
    this.spec = spec;
    this.#options = options;
    this.#backoffMs = options.backoff.minMs;
  }

  /** The process id while one runs, else null. */
  get pid(): number | null {
    return this.#child?.pid ?? null;
  }

  /** The back end's own listening port on 127.0.0.1 once ready, else 0. */
  get port(): number {
    return this.#state === 'ready' ? this.#port : 0;
  }

  get state(): State {
    return this.#state;
  }

  /** Hand a connection over; `request.done` says how it went (always, exactly once). */
  transfer(request: TransferRequest): void {
    if (this.#state === 'stopping' || this.#state === 'stopped') {
      request.done('refused');
      this.stats.refused++;
      return;
    }
    if (this.stats.inFlight >= this.#options.maxInFlight) {
      this.stats.busy++;
      request.done('busy');
      return;
    }
    const wheel = this.#options.wheel;
    const pending: Pending = { id: nextTransferId++, request, timer: null };
    pending.timer = wheel.schedule(wheel.options.clock.now() + this.#options.ackTimeoutMs, BackendProcess.#ackTimerFired, { backend: this, pending });
    this.stats.inFlight++;
    if (this.#state === 'ready') this.#send(pending);
    else {
      this.#waiting.push(pending);
      if (this.#state === 'idle') this.#start();
    }
  }

  /** Relay mode: `callback(port)` once the back end listens (starting it if need be), or `callback(null)` if it cannot. */
  whenReady(callback: (port: number | null) => void): void {
    if (this.#state === 'ready') callback(this.#port);
    else if (this.#state === 'stopping' || this.#state === 'stopped') callback(null);
    else {
      this.#readyWaiters.push(callback);
      if (this.#state === 'idle') this.#start();
    }
  }

  /** Start the process now (instead of on the first transfer). */
  start(): void {
    if (this.#state === 'idle') this.#start();
  }

  /** Fail what is waiting, ask the process to drain within `deadlineMs`, SIGKILL it if it has not exited soon after. */
  stop(deadlineMs: number): Promise<{ aborted: number }> {
    if (this.#stopped !== null) return this.#stopped;
    const was = this.#state;
    this.#state = 'stopping';
    if (this.#backoffTimer !== null) clearTimeout(this.#backoffTimer);
    for (const pending of this.#waiting.splice(0)) this.#settle(pending, 'refused');
    for (const waiter of this.#readyWaiters.splice(0)) waiter(null);
    const child = this.#child;
    if (child === null || (was !== 'ready' && was !== 'starting')) {
      this.#state = 'stopped';
      return (this.#stopped = Promise.resolve({ aborted: 0 }));
    }
    this.#stopped = new Promise((resolve) => {
      const kill = setTimeout(() => child.kill('SIGKILL'), deadlineMs + exitGraceMs);
      child.once('exit', () => {
        clearTimeout(kill);
        this.#state = 'stopped';
        resolve({ aborted: this.#abortedAtStop });
      });
      const stop: BackendStop = { type: 'portico:backend-stop', deadlineMs };
      // Not ready yet: it holds no connection and may not listen for messages.
      if (was === 'starting' || !child.connected) child.kill('SIGTERM');
      else child.send(stop, (error) => error && child.kill('SIGTERM'));
    });
    return this.#stopped;
  }

  #start(): void {
    this.#state = 'starting';
    this.stats.starts++;
    this.#adoptedThisLife = 0;
    this.#closedReported = 0;
    this.#acceptedReported = 0;
    this.#startedAt = Date.now();
    let child: ChildProcess;
    try {
      child = fork(this.spec.module, [JSON.stringify(this.spec.options)], {
        stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
        execArgv: [],
        serialization: 'json',
      });
    } catch (error) {
      process.stderr.write(`portico-fd-front: cannot start back end ${this.spec.name}: ${(error as Error).message}\n`);
      this.#exited();
      return;
    }
    this.#child = child;
    child.stdout?.pipe(this.#options.stdout ?? process.stderr, { end: false });
    child.on('message', (message: unknown) => this.#message(child, message));
    child.once('error', (error) => {
      process.stderr.write(`portico-fd-front: back end ${this.spec.name}: ${error.message}\n`);
      if (child.exitCode === null && child.signalCode === null && child.pid === undefined) this.#exitedFrom(child);
    });
    child.once('exit', () => this.#exitedFrom(child));
  }

  #message(child: ChildProcess, message: unknown): void {
    if (child !== this.#child) return;
    if (isHandoffAck(message)) {
      const pending = this.#unacked.get(message.id);
      if (pending === undefined) return; // timed out already: the connection was answered then
      this.#unacked.delete(message.id);
      if (message.accepted) this.#adoptedThisLife++;
      this.#settle(pending, message.accepted ? 'accepted' : 'refused');
      return;
    }
    if (!isBackendMessage(message)) return;
    switch (message.type) {
      case 'portico:backend-ready':
        if (this.#state !== 'starting') return;
        this.#port = message.port;
        this.#state = 'ready';
        for (const pending of this.#waiting.splice(0)) this.#send(pending);
        for (const waiter of this.#readyWaiters.splice(0)) waiter(this.#port);
        return;
      case 'portico:backend-stats':
        this.#acceptedReported = message.accepted;
        this.#closedReported = message.closed;
        this.stats.active = message.active;
        return;
      case 'portico:backend-stopped':
        this.#abortedAtStop = message.aborted;
        return;
    }
  }

  #send(pending: Pending): void {
    const child = this.#child;
    if (child === null || !child.connected) {
      this.#settle(pending, 'failed');
      return;
    }
    this.#unacked.set(pending.id, pending);
    // The raw handle, not a net.Socket: the back end wraps it paused, as an accepted one (see handoff.ts).
    child.send(handoffMessage(pending.id, pending.request.leftover), pending.request.handle as net.Socket, (error) => {
      if (error === null || error === undefined || !this.#unacked.has(pending.id)) return;
      this.#unacked.delete(pending.id);
      this.#settle(pending, 'failed');
    });
  }

  static #ackTimerFired(_now: number, arg: { backend: BackendProcess; pending: Pending }): void {
    arg.pending.timer = null;
    arg.backend.#timedOut(arg.pending);
  }

  #timedOut(pending: Pending): void {
    if (!this.#unacked.delete(pending.id)) {
      const i = this.#waiting.indexOf(pending);
      if (i < 0) return;
      this.#waiting.splice(i, 1);
    }
    this.#settle(pending, 'timeout');
  }

  #settle(pending: Pending, outcome: TransferOutcome): void {
    pending.timer?.cancel();
    pending.timer = null;
    this.stats.inFlight--;
    if (outcome === 'accepted') this.stats.transferred++;
    else if (outcome === 'refused') this.stats.refused++;
    else if (outcome === 'failed') this.stats.failed++;
    else if (outcome === 'timeout') this.stats.timedOut++;
    pending.request.done(outcome);
  }

  #exitedFrom(child: ChildProcess): void {
    if (child !== this.#child) return;
    this.#exited();
  }

  /** The process is gone: what it held is lost, what was sent to it failed; restart unless stopping. */
  #exited(): void {
    this.#child = null;
    this.#port = 0;
    // Connections it adopted that it had not reported closed: their clients lost them with it.
    const adopted = Math.max(this.#adoptedThisLife, this.#acceptedReported);
    if (this.#state !== 'stopping' && this.#state !== 'stopped') this.stats.lost += Math.max(0, adopted - this.#closedReported);
    this.stats.active = 0;
    for (const pending of [...this.#unacked.values()]) this.#settle(pending, 'failed');
    this.#unacked.clear();
    for (const waiter of this.#readyWaiters.splice(0)) waiter(null);
    if (this.#state === 'stopping' || this.#state === 'stopped') return;
    this.stats.crashes++;
    for (const pending of this.#waiting.splice(0)) this.#settle(pending, 'failed');
    if (Date.now() - this.#startedAt >= stableAfterMs) this.#backoffMs = this.#options.backoff.minMs;
    const delay = this.#backoffMs;
    this.#backoffMs = Math.min(this.#options.backoff.maxMs, this.#backoffMs * 2);
    // Said on the front's stderr, as the proxy says a backend error: a crash must not go unnoticed.
    process.stderr.write(
      JSON.stringify({ event: 'backend-exit', backend: this.spec.name, crashes: this.stats.crashes, lost: this.stats.lost, restartInMs: delay }) + '\n',
    );
    this.#state = 'backoff';
    this.#backoffTimer = setTimeout(() => {
      this.#backoffTimer = null;
      if (this.#state === 'backoff') this.#start();
    }, delay);
  }
}
