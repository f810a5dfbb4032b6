/**
 * Counts TIME_WAIT sockets of one server port from /proc/net/tcp{,6}, split by which end holds them.
 * The side that closes first keeps TIME_WAIT; a server that closes first piles them up on its port.
 */
import { readFileSync } from 'node:fs';
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

/** TIME_WAIT sockets whose local port (server's end) or remote port (clients' ends) is `port`. */
export function countTimeWait(port: number, tables: readonly string[] = readProcNetTcp()): TimeWaitCounts {
  let server = 0;
  let client = 0;
  for (const text of tables) {
    for (const row of parseProcNetTcp(text)) {
      if (row.state !== TCP_TIME_WAIT) continue;
      if (row.localPort === port) server++;
      if (row.remotePort === port) client++;
    }
  }
  return { server, client };
}

export interface TimeWaitSamplerOptions {
  /** Default 100 ms. */
  intervalMs?: number;
  /** The server runs in its own network namespace (counts are exact); default false. */
  netns?: boolean;
  /** Source of the table texts; default reads /proc/net/tcp{,6}. */
  readTables?: () => readonly string[];
  /** Clock in ms; sample `t` is now() minus now() at start(). */
  now?: () => number;
}

/** Samples the TIME_WAIT counts of a port from start() to stop(), on an unref'd timer. */
export class TimeWaitSampler {
  private readonly intervalMs: number;
  private readonly netns: boolean;
  private readonly readTables: () => readonly string[];
  private readonly now: () => number;
  private timer: NodeJS.Timeout | null = null;
  private startedAt = 0;
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
    this.now = options.now ?? (() => performance.now());
  }

  start(): void {
    if (this.before !== null) throw new Error('TimeWaitSampler.start() called twice');
    this.startedAt = this.now();
    this.before = this.sample(this.startedAt);
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
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
    this.samples.push({ t: at - this.startedAt, ...counts });
    this.peak = { server: Math.max(this.peak.server, counts.server), client: Math.max(this.peak.client, counts.client) };
    return counts;
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
