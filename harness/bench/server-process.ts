import { createInterface } from 'node:readline';
import { type Exit, type SpawnOptions, spawnNode, terminate, type Tracked } from './children.js';

const READY_TIMEOUT_MS = 15_000;
const STOP_GRACE_MS = 10_000;

export interface RunningServer {
  readonly name: string;
  readonly pid: number;
  readonly port: number;
  /** The whole ready line (a server may say more than where it listens: ws-baseline-server names its addons). */
  readonly ready: Readonly<Record<string, unknown>>;
  /** SIGTERM and wait; SIGKILL after a grace period. */
  stop(): Promise<Exit>;
}

interface ReadyLine {
  event: 'listening';
  server: string;
  host: string;
  port: number;
}

function asReadyLine(line: string): ReadyLine | null {
  try {
    const value = JSON.parse(line) as Partial<ReadyLine> | null;
    if (value?.event === 'listening' && typeof value.port === 'number' && typeof value.server === 'string') return value as ReadyLine;
  } catch {
    // not JSON: some other output, keep waiting
  }
  return null;
}

/**
 * Start a server process and wait for its `{"event":"listening",...}` line: the only reliable signal
 * that it accepts connections, and how we learn the port it picked.
 */
export async function startServer(name: string, script: string, args: readonly string[], options: Pick<SpawnOptions, 'cpu'> = {}): Promise<RunningServer> {
  const tracked: Tracked = spawnNode(script, args, options);
  const lines = createInterface({ input: tracked.child.stdout! });
  try {
    const ready = await new Promise<ReadyLine>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name}: no ready line within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
      lines.on('line', (line) => {
        const parsed = asReadyLine(line);
        if (parsed === null) return;
        clearTimeout(timer);
        resolve(parsed);
      });
      void tracked.exited.then((exit) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited before it was ready (code ${exit.code}, signal ${exit.signal}): ${tracked.stderrTail().trim()}`));
      });
    });
    // Keep draining stdout (the 'line' listener stays): a child blocked on a full pipe would skew results.
    return { name, pid: tracked.pid, port: ready.port, ready: ready as unknown as Record<string, unknown>, stop: () => terminate(tracked, STOP_GRACE_MS) };
  } catch (error) {
    await terminate(tracked, 1000);
    throw error;
  }
}
