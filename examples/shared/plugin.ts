import type { FlagSpec, FlagValues } from './flags.js';

/** A running example server, as the host and the binaries see it. */
export interface StartedServer {
  readonly host: string;
  readonly port: number;
  /** A page a person can open (printed on stderr once ready), if the server has one. */
  readonly url?: string;
  /** Graceful drain; resolves when every connection is closed. */
  stop(): Promise<{ aborted: number }>;
  /** Counters worth summing across worker processes (accepted, active, ...), if the server keeps any. */
  stats?(): Readonly<Record<string, number>>;
}

/** An example server the `portico` host can load (WASP-style pluggable server). */
export interface ServerPlugin {
  /** The name in the ready line and the host config, e.g. "echo". */
  readonly name: string;
  readonly summary: string;
  /** Every option it takes; `host` and `port` are always among them. */
  readonly flags: readonly FlagSpec[];
  /**
   * Checks between flags that no single flag can make (a low bound above its high one): throws
   * PORTICO_ERR_CONFIG. Run on the resolved flags before anything starts (a usage error, exit 2).
   */
  validate?(options: FlagValues): void;
  start(options: FlagValues): Promise<StartedServer>;
}

/** The flags every server has. */
export const listenFlags: readonly FlagSpec[] = [
  { name: 'host', kind: 'string', description: 'address to listen on', default: '127.0.0.1' },
  { name: 'port', kind: 'integer', description: 'TCP port; 0 picks a free one', default: 0, min: 0, max: 65535 },
  {
    name: 'backlog',
    kind: 'integer',
    description: 'queue of connections the kernel completed and we have not accepted yet (Linux caps it at net.core.somaxconn)',
    default: 511,
    min: 1,
    max: 65535,
  },
];

/** The ready line every portico server prints on stdout once it accepts connections. */
export function readyLine(server: string, host: string, port: number): string {
  return JSON.stringify({ event: 'listening', server, host, port });
}
