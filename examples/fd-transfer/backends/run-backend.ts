import { HandoffReceiver, type HandlerSource, Server } from '../../../framework/index.js';
import type { BackendReady, BackendStatsMessage, BackendStopped } from '../backend-messages.js';
import { isBackendStop } from '../backend-messages.js';

/** Options every back end takes (from the front's config, JSON in argv[2]). */
export interface BackendRunOptions {
  /** Shown in stderr lines. */
  readonly name: string;
  readonly handler: HandlerSource<unknown>;
  /** Open connections allowed; over it a handoff is refused (the front answers 503). 0 = unlimited. */
  readonly maxConnections?: number;
  /** A connection with no read completed for this long gets its handler's `onIdle` (0 = off). */
  readonly idleReadMs?: number;
  /**
   * Test hook: a handed-over request head with `x-portico-crash: handoff` makes the process exit
   * before acknowledging (a back end dying mid-transfer). Off unless the config turns it on.
   */
  readonly crashHook?: boolean;
}

/** The back end's options from argv[2] (a JSON object), or {} when absent or malformed. */
export function backendArgs(): Readonly<Record<string, unknown>> {
  try {
    const parsed: unknown = JSON.parse(process.argv[2] ?? '{}');
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

const statsIntervalMs = 50;
const crashHeader = '\r\nx-portico-crash: handoff\r\n';

/**
 * Run a back-end process: a portico `Server` that adopts the connections its front hands over (and
 * also listens on 127.0.0.1 on an ephemeral port, which only the relay front of the benchmark uses),
 * reports its counters, and drains when the front says stop, sends SIGTERM, or goes away (the IPC
 * channel closing: a back end never outlives its front). SIGINT is left to the front.
 */
export async function runBackend(options: BackendRunOptions): Promise<void> {
  if (typeof process.send !== 'function') {
    process.stderr.write(`${options.name}: a back end runs forked by portico-fd-front (it needs an IPC channel)\n`);
    process.exit(2);
  }
  if (!process.connected) process.exit(0); // the front went away while we loaded
  const send = (message: BackendReady | BackendStatsMessage | BackendStopped): void => {
    if (process.connected) process.send!(message);
  };
  // Handlers first: a front that dies while we start must not leave us running (a 'disconnect' emitted
  // before anyone listened is gone; `process.connected` is checked again once we listen).
  let stopping = false;
  let listening: Promise<unknown> = Promise.resolve();
  const stop = async (deadlineMs: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await listening.catch(() => undefined);
    await finish(deadlineMs);
  };
  let finish = async (_deadlineMs: number): Promise<void> => {
    process.exit(0);
  };
  process.on('message', (message: unknown) => {
    if (isBackendStop(message)) void stop(message.deadlineMs);
  });
  process.on('disconnect', () => void stop(2000));
  process.on('SIGTERM', () => void stop(5000));
  // Ctrl-C in a terminal signals the whole process group, the front included: the front decides (it
  // tells us to stop, or its exit closes our channel), or it would see us exit and restart us.
  process.on('SIGINT', () => {});

  const server = new Server({
    host: '127.0.0.1',
    port: 0,
    handler: options.handler,
    maxConnections: options.maxConnections ?? 0,
    connection: { idle: { readMs: options.idleReadMs ?? 0 } },
  });
  const listen = server.listen();
  listening = listen;
  const address = await listen;
  const receiver = new HandoffReceiver(server, {
    // A head (up to the front's 64 KiB --max-head) and the rest of the read that completed it.
    maxLeftoverBytes: 256 * 1024,
    onHandoff: options.crashHook === true ? (leftover) => (leftover.toString('latin1').toLowerCase().includes(crashHeader) ? process.exit(70) : undefined) : undefined,
  });

  let last = '';
  const report = (): void => {
    const { accepted, active, closed } = server.stats;
    const key = `${accepted}/${active}/${closed}`;
    if (key === last) return;
    last = key;
    send({ type: 'portico:backend-stats', accepted, active, closed });
  };
  const ticker = setInterval(report, statsIntervalMs);

  finish = async (deadlineMs: number): Promise<void> => {
    receiver.close();
    const { aborted } = await server.stop({ deadlineMs });
    clearInterval(ticker);
    report();
    send({ type: 'portico:backend-stopped', aborted });
    if (process.connected) process.disconnect();
    process.exit(0);
  };
  if (!process.connected) {
    void stop(0);
    return;
  }
  send({ type: 'portico:backend-ready', port: address.port });
}
