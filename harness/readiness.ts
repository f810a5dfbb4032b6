/**
 * When may the flood start? Three answers, for three kinds of server (`--ready`):
 * - `line`: portico's JSON ready line on stdout, which also says the port (every portico binary);
 * - `port:N`: N is listening and the listening socket belongs to the server's process tree (any
 *   server that binds a known port; see listen-sockets.ts for why "someone listens" is not enough);
 * - `regex:RE`: a line on stdout or stderr matches (any server that logs when it is up).
 * Every wait is bounded, ends early when the server exits or the user interrupts, leaves no timer
 * behind, and fails with a message that says what to do next.
 */
import type { LaunchedServer } from './launcher.js';
import { type ListeningSocket, connectAddress, describeSocketHolders, portOwnership } from './listen-sockets.js';
import { formatDuration } from './report/format.js';
import type { Readiness, ReadySpec } from './types.js';

/** The server never became ready; the message says why, what to try, and what the server printed. */
export class ReadinessError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReadinessError';
  }
}

/** `line`, `port`, `port:N`, `port:{port}`, `regex:RE` → a ReadySpec; throws an Error saying what is accepted. */
export function parseReadySpec(text: string): ReadySpec {
  if (text === 'line') return { kind: 'line' };
  if (text === 'port' || text === 'port:{port}') return { kind: 'port', port: null };
  const port = /^port:(\d+)$/.exec(text);
  if (port !== null) {
    const n = Number(port[1]);
    if (n < 1 || n > 65535) throw new Error(`port ${n} out of range 1-65535`);
    return { kind: 'port', port: n };
  }
  if (text.startsWith('regex:')) {
    const pattern = text.slice('regex:'.length);
    if (pattern === '') throw new Error('regex: needs a pattern, e.g. regex:listening');
    try {
      new RegExp(pattern);
    } catch (error) {
      throw new Error(`not a valid regular expression: ${(error as Error).message}`);
    }
    return { kind: 'regex', pattern };
  }
  throw new Error('expected line, port:N (or port, for the {port} the harness picks) or regex:RE');
}

/** The spec as `--ready` takes it. */
export function formatReadySpec(spec: ReadySpec): string {
  if (spec.kind === 'line') return 'line';
  if (spec.kind === 'port') return spec.port === null ? 'port' : `port:${spec.port}`;
  return `regex:${spec.pattern}`;
}

/** Whether the pattern captures the port itself, as `(?<port>\d+)`. */
export function capturesPort(pattern: string): boolean {
  return /\(\?<port>/.test(pattern);
}

/** `{"event":"listening","server":…,"host":…,"port":N}` → its fields, else null. */
export function parseReadyLine(line: string): Readiness | null {
  const trimmed = line.trim();
  if (!trimmed.startsWith('{')) return null;
  try {
    const value = JSON.parse(trimmed) as Record<string, unknown>;
    if (value['event'] !== 'listening' || typeof value['port'] !== 'number') return null;
    return {
      by: 'line',
      server: typeof value['server'] === 'string' ? value['server'] : 'unknown',
      host: typeof value['host'] === 'string' ? value['host'] : '127.0.0.1',
      port: value['port'],
    };
  } catch {
    return null;
  }
}

export interface ReadinessOptions {
  readonly spec: ReadySpec;
  /** The port substituted for `{port}`, if the command had one. */
  readonly placeholderPort: number | null;
  readonly timeoutMs: number;
  /** A name for the server when it does not say its own (port and regex readiness). */
  readonly serverName: string;
  /** Rejects the wait early (ctrl-c). */
  readonly signal?: AbortSignal;
  /** How often `port` readiness looks at /proc; default 50 ms. */
  readonly pollMs?: number;
}

/** Resolves once the server is ready; rejects with a ReadinessError otherwise. */
export function waitForReadiness(server: LaunchedServer, options: ReadinessOptions): Promise<Readiness> {
  const { spec, timeoutMs } = options;
  const within = formatDuration(timeoutMs);
  const cleanups: (() => void)[] = [];
  let settled = false;

  return new Promise<Readiness>((resolve, reject) => {
    const finish = (outcome: Readiness | ReadinessError): void => {
      if (settled) return;
      settled = true;
      for (const cleanup of cleanups) cleanup();
      if (outcome instanceof ReadinessError) reject(outcome);
      else resolve(outcome);
    };
    const fail = (what: string): void => finish(new ReadinessError(`${what}\n${server.context()}`));

    /** Why the wait timed out, and what to try; or, after an exit, what it was waiting for. */
    let describeMissing: (timedOut: boolean) => string;
    if (spec.kind === 'line') {
      describeMissing = (timedOut) =>
        timedOut
          ? `the server printed no ready line within ${within}; if it does not print portico's JSON line ` +
            `({"event":"listening","port":N}), use --ready port:N or --ready regex:RE`
          : "it had not printed portico's JSON ready line";
      cleanups.push(
        server.onLine((line, stream) => {
          if (stream !== 'stdout') return;
          const ready = parseReadyLine(line);
          if (ready !== null) finish(ready);
        }),
      );
    } else if (spec.kind === 'regex') {
      const re = new RegExp(spec.pattern);
      describeMissing = (timedOut) =>
        timedOut
          ? `no line on the server's stdout or stderr matched /${spec.pattern}/ within ${within}` +
            ' (a server writing to a pipe may buffer its output: python needs -u or print(..., flush=True))'
          : `no line of its output had matched /${spec.pattern}/`;
      cleanups.push(
        server.onLine((line) => {
          const match = re.exec(line);
          if (match === null) return;
          const captured = match.groups?.['port'];
          const port = captured !== undefined ? Number(captured) : options.placeholderPort;
          if (port === null || !Number.isInteger(port) || port < 1 || port > 65535) {
            fail(`the ready pattern /${spec.pattern}/ matched ${JSON.stringify(line)}, but gave no usable port (captured ${JSON.stringify(captured)})`);
            return;
          }
          finish({ by: 'regex', server: options.serverName, host: '127.0.0.1', port });
        }),
      );
    } else {
      const port = spec.port ?? options.placeholderPort;
      if (port === null) {
        fail('--ready port needs a port: give port:N, or put {port} in the server command');
        return;
      }
      let foreign: ListeningSocket[] = [];
      describeMissing = (timedOut) => {
        const base = timedOut
          ? `port ${port} was not listening from the server (pid ${server.pid}) or its children within ${within}`
          : `port ${port} was not listening from it`;
        if (foreign.length === 0) return base;
        const holders = [...new Set(foreign.flatMap((s) => describeSocketHolders(s.inode)))];
        return `${base}; port ${port} IS listening, but that socket belongs to ${holders.join(', ') || 'another process'}, not to the server — is an old instance still running?`;
      };
      const poll = (): void => {
        if (settled || server.hasExited) return;
        const ownership = portOwnership(server.pid, port);
        foreign = ownership.foreign;
        const owned = ownership.owned.find((s) => s.family === 4) ?? ownership.owned[0];
        if (owned !== undefined) finish({ by: 'port', server: options.serverName, host: connectAddress(owned), port });
      };
      const interval = setInterval(poll, options.pollMs ?? 50);
      cleanups.push(() => clearInterval(interval));
      poll();
    }

    const timeout = setTimeout(() => fail(describeMissing(true)), timeoutMs);
    cleanups.push(() => clearTimeout(timeout));
    const onAbort = (): void => fail(`interrupted while waiting for the server to be ready (--ready ${formatReadySpec(spec)})`);
    if (options.signal?.aborted === true) onAbort();
    options.signal?.addEventListener('abort', onAbort);
    cleanups.push(() => options.signal?.removeEventListener('abort', onAbort));
    void server.exited.then(async (exit) => {
      // The ready line and the last stderr may still be in the pipes.
      await server.drained();
      const how = exit.signal !== null ? `signal ${exit.signal}` : `code ${exit.code}`;
      fail(`the server exited (${how}) before it was ready (--ready ${formatReadySpec(spec)}): ${describeMissing(false)}`);
    });
  });
}
