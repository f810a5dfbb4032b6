/**
 * Counts TIME_WAIT sockets of one server port from /proc/net/tcp{,6}, split by which end holds them.
 * The side that closes first keeps TIME_WAIT; a server that closes first piles them up on its port.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import type { TimeWaitCounts, TimeWaitResult } from './types.js';

/** `st` value of TIME_WAIT in /proc/net/tcp (include/net/tcp_states.h). */
export const TCP_TIME_WAIT = 0x06;

const TABLES = ['/proc/net/tcp', '/proc/net/tcp6'] as const;

export interface ProcNetTcpRow {
  localPort: number;
  remotePort: number;
  /** Kernel TCP state, e.g. 0x01 ESTABLISHED, 0x06 TIME_WAIT, 0x0A LISTEN. */
  state: number;
}

// "  12: 0100007F:1F90 0100007F:D2F4 06 ..." — IPv6 addresses are 32 hex digits instead of 8.
const ROW = /^\s*\d+:\s+[0-9A-Fa-f]+:([0-9A-Fa-f]{4})\s+[0-9A-Fa-f]+:([0-9A-Fa-f]{4})\s+([0-9A-Fa-f]{2})\s/;

/** Parses the text of /proc/net/tcp or /proc/net/tcp6 (header line skipped; a malformed row throws). */
export function parseProcNetTcp(text: string): { localPort: number; remotePort: number; state: number }[] {
  const rows: ProcNetTcpRow[] = [];
  const lines = text.split('\n');
  for (const [i, line] of lines.entries()) {
    if (line.trim() === '' || /^\s*sl\s/.test(line)) continue;
    const match = ROW.exec(line);
    if (match === null) throw new Error(`/proc/net/tcp line ${i + 1} is not a socket row: ${JSON.stringify(line.slice(0, 80))}`);
    rows.push({ localPort: parseInt(match[1]!, 16), remotePort: parseInt(match[2]!, 16), state: parseInt(match[3]!, 16) });
  }
  return rows;
}

/** The texts of /proc/net/tcp and /proc/net/tcp6; tcp6 is absent when IPv6 is off. */
export function readProcNetTcp(): string[] {
  const texts: string[] = [];
  for (const path of TABLES) {
    try {
      texts.push(readFileSync(path, 'utf8'));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  return texts;
}

/** The same texts, read off the main thread (a host with 90,000 sockets has a 15 MB table, 150 ms to read). */
export async function readProcNetTcpAsync(): Promise<string[]> {
  const texts = await Promise.all(
    TABLES.map((path) =>
      readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error;
        return null;
      }),
    ),
  );
  return texts.filter((text): text is string => text !== null);
}

/**
 * TIME_WAIT sockets whose local port (server's end) or remote port (clients' ends) is `port`. Only
 * the rows that mention `:PORT ` are parsed: on a busy host the tables hold tens of thousands of
 * other sockets, and parsing every row would stall the harness's event loop.
 *
 * A listening port can be handed out again while an earlier server's TIME_WAIT sockets on it still
 * live (up to 60 s), and those count too. `peerPorts`, the clients' own ports, counts only the rows
 * between the port and those clients.
 */
export function countTimeWait(port: number, tables: readonly string[] = readProcNetTcp(), peerPorts?: ReadonlySet<number>): TimeWaitCounts {
  let server = 0;
  let client = 0;
  const needle = `:${port.toString(16).toUpperCase().padStart(4, '0')} `;
  for (const text of tables) {
    let lastLine = -1;
    for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + needle.length)) {
      const start = text.lastIndexOf('\n', at) + 1;
      if (start === lastLine) continue; // both ports of one row
      lastLine = start;
      const end = text.indexOf('\n', at);
      const [row] = parseProcNetTcp(text.slice(start, end < 0 ? undefined : end));
      if (row === undefined || row.state !== TCP_TIME_WAIT) continue;
      if (row.localPort === port && (peerPorts === undefined || peerPorts.has(row.remotePort))) server++;
      if (row.remotePort === port && (peerPorts === undefined || peerPorts.has(row.localPort))) client++;
    }
  }
  return { server, client };
}

export interface TimeWaitSamplerOptions {
  /** Default 100 ms. */
  intervalMs?: number;
  /** The server runs in its own network namespace (counts are exact); default false. */
  netns?: boolean;
  /**
   * Source of the table texts, read synchronously at every sample; default: /proc/net/tcp{,6}, read
   * synchronously for the first and last sample and off the main thread between them.
   */
  readTables?: () => readonly string[];
  /** Clock in ms; sample `t` is now() minus `origin`. */
  now?: () => number;
  /** The time origin of the samples, in now()'s base (a run's: the server's start); default now() at start(). */
  origin?: number;
}

/** Samples the TIME_WAIT counts of a port from start() to stop(), on an unref'd timer. */
export class TimeWaitSampler {
  private readonly intervalMs: number;
  private readonly netns: boolean;
  private readonly readTables: () => readonly string[];
  private readonly injectedTables: boolean;
  /** An off-thread read is under way: the next tick waits for it rather than piling up reads. */
  private reading = false;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | null = null;
  private origin = 0;
  private readonly givenOrigin: number | undefined;
  private before: TimeWaitCounts | null = null;
  private peak: TimeWaitCounts = { server: 0, client: 0 };
  private readonly samples: ({ t: number } & TimeWaitCounts)[] = [];
  private result: TimeWaitResult | null = null;

  constructor(
    private readonly port: number,
    options: TimeWaitSamplerOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? 100;
    if (!(this.intervalMs > 0)) throw new Error(`TimeWaitSampler intervalMs must be > 0, got ${this.intervalMs}`);
    this.netns = options.netns ?? false;
    this.readTables = options.readTables ?? readProcNetTcp;
    this.injectedTables = options.readTables !== undefined;
    this.now = options.now ?? (() => performance.now());
    this.givenOrigin = options.origin;
  }

  start(): void {
    if (this.before !== null) throw new Error('TimeWaitSampler.start() called twice');
    const at = this.now();
    this.origin = this.givenOrigin ?? at;
    this.before = this.sample(at);
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref();
  }

  private tick(): void {
    if (this.injectedTables) {
      this.sample();
      return;
    }
    if (this.reading) return;
    this.reading = true;
    readProcNetTcpAsync().then(
      (tables) => {
        this.reading = false;
        if (this.result === null) this.record(this.now(), countTimeWait(this.port, tables));
      },
      () => {
        // The synchronous samples at start and stop still report; one lost reading is a gap.
        this.reading = false;
      },
    );
  }

  /** Stops sampling and returns the result; later calls return the same result. */
  stop(): TimeWaitResult {
    if (this.result !== null) return this.result;
    if (this.before === null) throw new Error('TimeWaitSampler.stop() called before start()');
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    const after = this.sample();
    const note = this.netns ? undefined : hostNamespaceNote();
    this.result = {
      port: this.port,
      before: this.before,
      after,
      peak: this.peak,
      samples: [...this.samples],
      netns: this.netns,
      ...(note === undefined ? {} : { note }),
    };
    return this.result;
  }

  private sample(at = this.now()): TimeWaitCounts {
    const counts = countTimeWait(this.port, this.readTables());
    this.record(at, counts);
    return counts;
  }

  private record(at: number, counts: TimeWaitCounts): void {
    this.samples.push({ t: at - this.origin, ...counts });
    this.peak = { server: Math.max(this.peak.server, counts.server), client: Math.max(this.peak.client, counts.client) };
  }
}

function hostNamespaceNote(): string {
  let reuse = 'unknown';
  try {
    reuse = readFileSync('/proc/sys/net/ipv4/tcp_tw_reuse', 'utf8').trim();
  } catch {
    // The note still holds without the value.
  }
  return (
    `counted in the host network namespace (net.ipv4.tcp_tw_reuse=${reuse}): other loopback traffic to this port is ` +
    'included, and the kernel may reuse client-side TIME_WAIT tuples for new loopback connections, so client counts ' +
    'can understate and saturate; run with netns for exact counts'
  );
}
