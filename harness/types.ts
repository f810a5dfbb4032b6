/**
 * The shapes shared by the harness modules: scenario in, report out. Every module of the harness
 * (launcher, flood, TIME_WAIT sampler, memory cap, lock and leak collectors, report writer) reads
 * or fills one part of these.
 */

/** A point of a time series; `t` is ms since the server was started (every series of a run shares that origin). */
export interface Sample {
  readonly t: number;
  readonly value: number;
}

export type FloodProtocol = 'echo' | 'owserver' | 'websocket' | 'raw';

/** What the flood does (EchoServerTest's knobs, plus wrk2's: duration, constant rate, warm-up). */
export interface FloodOptions {
  readonly protocol: FloodProtocol;
  readonly host: string;
  readonly port: number;
  /** Connections to make in total; null = no limit (only with durationMs: connections are renewed until the end). */
  readonly connections: number | null;
  /** Connections open at once. */
  readonly concurrency: number;
  /** Messages per connection; null = no limit (only with durationMs: each connection sends until the end). */
  readonly messages: number | null;
  /** Bytes per message. */
  readonly size: number;
  /** Wait for each reply before sending the next message (else pipeline all messages). Default true. */
  readonly sendAfterReceive: boolean;
  /** New connections per second, on an absolute schedule; 0 = as fast as possible. */
  readonly connectRate: number;
  /** Hard cap on the whole flood, ms: reaching it is a failure (CAPPED). */
  readonly durationCapMs: number;
  /**
   * Per-connection deadline for connect + all its messages, ms. With `rate` or without a message
   * limit it is per reply instead: each reply must come within it of the previous one.
   */
  readonly connectionTimeoutMs: number;
  /** Protocol-specific knobs, e.g. owserver { persistent: true, path: '/10.67C6697351FF/temperature' }. */
  readonly protocolOptions?: Readonly<Record<string, string | number | boolean>>;
  /**
   * Planned length of the flood after the warm-up, ms; reaching it is the normal end: connections
   * still open are closed and not counted in error. null (default) = the flood ends when its
   * `connections` are done.
   */
  readonly durationMs?: number | null;
  /** The first ms of the flood, whose messages, bytes and latencies are not counted (connections and errors are). Default 0. */
  readonly warmupMs?: number;
  /**
   * Target messages per second over the whole flood, spread evenly over the `concurrency` connection
   * slots, each on a constant-rate schedule; latency is measured from each message's intended send
   * time (wrk2's coordinated-omission correction). 0 (default) = each message as soon as allowed.
   */
  readonly rate?: number;
  /** Worker threads that run the connections (node:worker_threads); 1 (default) = in this thread. */
  readonly workers?: number;
  /**
   * Stop early once connections in error exceed this fraction for certain (the error budget is blown,
   * so the verdict can only be FAIL). null (default) = never.
   */
  readonly earlyStopBudget?: number | null;
}

export interface LatencySummary {
  readonly count: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly mean: number;
}

/** Counted over the measured window (after the warm-up): per second of it. */
export interface FloodThroughput {
  /** Length of the measured window, ms (the flood's length less the warm-up). */
  readonly measuredMs: number;
  readonly messagesPerSecond: number;
  readonly bytesSentPerSecond: number;
  readonly bytesReceivedPerSecond: number;
}

/**
 * The flood's outcome. One vocabulary everywhere (progress line, checks, summary, report): a
 * *connection* is one flood connection, *started* once its first connect is attempted and *made* once
 * a TCP handshake completed; it is *in error* when it failed to connect, was reset, got a bad or
 * missing reply, or was cut off by the duration cap or an interruption (not by the planned end of a
 * --duration run); it was *refused* when its connect failed with ECONNREFUSED.
 */
export interface FloodResult {
  readonly protocol: FloodProtocol;
  /** null: no limit (a --duration run). */
  readonly connectionsPlanned: number | null;
  readonly connectionsStarted: number;
  readonly connectionsMade: number;
  /** Connect failed (refused, timeout). */
  readonly connectionsFailed: number;
  /** Of the failed: refused (ECONNREFUSED). */
  readonly connectionsRefused: number;
  /** Reset by the server (ECONNRESET / EPIPE) after connecting. */
  readonly connectionsReset: number;
  /** Finished with a wrong or missing reply. */
  readonly connectionsBad: number;
  /** Cut off by the duration cap or an interruption (CAPPED, ABORTED). */
  readonly connectionsCut: number;
  /** Still open at the planned end of a --duration run (or an early stop), closed by the flood: not errors. */
  readonly connectionsEnded: number;
  /** failed + reset + bad + cut: what the error budget counts. */
  readonly connectionsInError: number;
  /** Messages and bytes after the warm-up. */
  readonly messagesSent: number;
  readonly messagesReceived: number;
  readonly bytesSent: number;
  readonly bytesReceived: number;
  /** What the warm-up exchanged (not in the counts above, nor in the latencies). */
  readonly warmup: { readonly ms: number; readonly messagesSent: number; readonly messagesReceived: number; readonly bytesSent: number; readonly bytesReceived: number };
  readonly throughput: FloodThroughput;
  /** Error code → count (ECONNREFUSED, ETIMEDOUT, MISMATCH, ...). */
  readonly errors: Readonly<Record<string, number>>;
  /** Error code → the detail of the first bad reply with that code (e.g. what arrived instead). */
  readonly errorExamples: Readonly<Record<string, string>>;
  /**
   * Per-message latency, ms: from the intended send time under --rate (coordinated-omission
   * corrected), else from the actual send — then the same as serviceTimeMs.
   */
  readonly latencyMs: LatencySummary;
  /** Per-message round trip from the actual send (uncorrected), ms. */
  readonly serviceTimeMs: LatencySummary;
  /** latencyMs is measured from intended send times (--rate given). */
  readonly latencyCorrected: boolean;
  readonly durationMs: number;
  /** When the flood started, ms since the time origin of its series (in a harness run: the server's start). */
  readonly startMs: number;
  /** Stopped by the duration cap before finishing. */
  readonly cappedByDuration: boolean;
  /** Why the flood stopped itself early (the error budget was blown), else null. */
  readonly stoppedEarly: string | null;
  /** The flood's resolved settings, so the run can be repeated. */
  readonly settings: FloodSettings;
  /** Connections completed per second, per bucket (100 ms to 1 s wide: see sampleIntervalMs in flood.ts). */
  readonly connectionsPerSecond: readonly Sample[];
  /** Replies per second, per bucket. */
  readonly messagesPerSecond: readonly Sample[];
  /** p50/p99 latency per bucket (buckets without replies have no point). */
  readonly latencyOverTime: readonly { readonly t: number; readonly p50: number; readonly p99: number }[];
}

/** FloodOptions as the flood ran them: every optional knob filled in. */
export type FloodSettings = Required<Omit<FloodOptions, 'protocolOptions'>> & Pick<FloodOptions, 'protocolOptions'>;

/** Live progress, for the terminal line; the same counters as FloodResult. */
export interface FloodProgress {
  readonly elapsedMs: number;
  readonly connectionsStarted: number;
  readonly connectionsDone: number;
  readonly connectionsPlanned: number | null;
  readonly open: number;
  readonly messagesReceived: number;
  /** Replies per second over the last progress interval. */
  readonly messagesPerSecond: number;
  /** Connections in error (FloodResult.connectionsInError). */
  readonly errors: number;
  readonly refused: number;
  /** Still in the warm-up: messages are not counted yet. */
  readonly warmingUp: boolean;
}

export interface TimeWaitCounts {
  /** Local port = server port: TIME_WAIT held by the server's end. */
  readonly server: number;
  /** Remote port = server port: held by the clients' ends. */
  readonly client: number;
}

export interface TimeWaitResult {
  readonly port: number;
  readonly before: TimeWaitCounts;
  readonly after: TimeWaitCounts;
  readonly peak: TimeWaitCounts;
  readonly samples: readonly ({ readonly t: number } & TimeWaitCounts)[];
  /** Ran inside a fresh network namespace (exact counts), else the host's (loopback reuse saturates counts). */
  readonly netns: boolean;
  readonly note?: string;
}

export type MemoryCapMethod = 'cgroup-v1' | 'rss-poll' | 'none';

export interface MemoryResult {
  readonly capBytes: number | null;
  readonly method: MemoryCapMethod;
  readonly peakRssBytes: number;
  readonly killedByCap: boolean;
  /** RSS over time, bytes. */
  readonly samples: readonly Sample[];
  readonly note?: string;
}

/** One lock-order report from a server's detector (framework/sync, PORTICO_LOCKDEP=1). */
export interface LockFinding {
  readonly kind: 'inversion' | 'recursive-acquire' | 'deadlock';
  /** Lock class names around the cycle, first repeated at the end: ["a", "b", "a"]. */
  readonly cycle: readonly string[];
  readonly singleTask: boolean;
  /** The TSan-shaped text report with both acquisition stacks. */
  readonly text: string;
}

/** What still kept the server alive after the stop signal (from the harness preload). */
export interface LeakFinding {
  /** process.getActiveResourcesInfo() at report time, e.g. ["TCPServerWrap", "Timeout"]. */
  readonly resources: readonly string[];
  /** why-is-node-running's text, when available. */
  readonly detail: string;
}

export interface ServerExit {
  readonly code: number | null;
  readonly signal: string | null;
  /** The signal the harness sent to stop it; null when it exited before the harness asked (crash, memory cap). */
  readonly stopSignal: string | null;
  /** Exited by itself with code 0 within the deadline after the stop signal. */
  readonly clean: boolean;
  /** ms from the stop signal to exit; 0 when no stop signal was sent. */
  readonly stopMs: number;
  /** Had to be SIGKILLed. */
  readonly killed: boolean;
  readonly stderrTail: string;
}

/**
 * PASS and FAIL are findings; NOT CHECKED means the harness could not look (the reason says why),
 * which is never the same as "nothing found".
 */
export type CheckVerdict = 'PASS' | 'FAIL' | 'NOT CHECKED';

export interface CheckResult {
  readonly name: string;
  readonly verdict: CheckVerdict;
  /** The scenario asked for this check; a requested check that was NOT CHECKED makes the run INCOMPLETE. */
  readonly requested: boolean;
  readonly detail: string;
}

/**
 * The run's verdict: PASS only if every requested check passed; FAIL if any check failed (or the run
 * could not happen); INCOMPLETE if nothing failed but a requested check could not be made.
 */
export type RunVerdict = 'PASS' | 'FAIL' | 'INCOMPLETE';

/** Pass/fail thresholds of a run. */
export interface Thresholds {
  /** Failed + reset + bad connections allowed, as a fraction of planned (0.01 = 1 %). Default 0. */
  readonly errorBudget: number;
  /** Peak server-side TIME_WAIT sockets allowed; null = not checked. */
  readonly timeWaitBudget: number | null;
  /** Must exit by itself, with an accepted code, within stopDeadlineMs of the stop signal. Default true. */
  readonly mustExitClean: boolean;
  /**
   * Exit codes that count as a clean stop; default [0]. Death by signal N counts as code 128 + N (as a
   * shell reports it), so 143 accepts a server killed by SIGTERM.
   */
  readonly acceptExitCodes: readonly number[];
  readonly stopDeadlineMs: number;
  /** Fail on single-task lock inversions too (LID's -skipSingleThread off). Default true. */
  readonly failOnSingleTaskInversion: boolean;
  /**
   * A server with no handler for the stop signal (anything not built on portico) dies *by* the
   * signal, so "exit 0" can never hold for it: with this set, such a death inside the deadline and
   * without SIGKILL passes the clean-exit check (`ServerExit.clean` still records false), the same as
   * adding 128 + the signal's number to acceptExitCodes. Default false.
   */
  readonly acceptSignalExit: boolean;
  /**
   * Stop the flood once the error budget is blown for certain (FloodOptions.earlyStopBudget). Default:
   * on for --duration runs, off for runs of a fixed number of connections (whose counts stay exact).
   */
  readonly earlyStop: boolean;
}

/**
 * How the harness knows the server is ready to be flooded.
 * - line: it printed portico's `{"event":"listening",...}` JSON line on stdout (the port comes from it).
 * - port: `port` is in LISTEN state and the socket belongs to the server's process tree; null = the
 *   port the harness substituted for `{port}` in the command.
 * - regex: a line on stdout or stderr matched; the port is the match's `port` group, else `{port}`'s.
 */
export type ReadySpec =
  | { readonly kind: 'line' }
  | { readonly kind: 'port'; readonly port: number | null }
  | { readonly kind: 'regex'; readonly pattern: string };

/** What readiness found: where to flood. */
export interface Readiness {
  readonly by: ReadySpec['kind'];
  /** The ready line's "server", else a name from the command. */
  readonly server: string;
  readonly host: string;
  readonly port: number;
}

/** A harness run: which server, which load, which checks. Scenario files under ci/ are these. */
export interface Scenario {
  readonly name: string;
  /**
   * Shell-free argv of the server, e.g. ["node", "dist/examples/echo/main.js"]. Every `{port}` in it
   * is replaced by a free port the harness picks; nothing is appended unless portArg is set.
   */
  readonly server: readonly string[];
  readonly ready: ReadySpec;
  /** Append `--port 0` unless the command names a port (--port, -p): the harness's behaviour before `{port}`. */
  readonly portArg: boolean;
  /** The flood; its earlyStopBudget comes from thresholds (earlyStop, errorBudget). */
  readonly flood: Omit<FloodSettings, 'host' | 'port' | 'earlyStopBudget'>;
  /** e.g. 256 MiB; null = no cap. */
  readonly memoryCapBytes: number | null;
  readonly lockOrder: boolean;
  /** true: required (NOT CHECKED makes the run INCOMPLETE); 'auto': for node servers; false: off. */
  readonly leakCheck: boolean | 'auto';
  readonly netns: boolean;
  readonly readyTimeoutMs: number;
  /** Sent to stop the server (haproxy stops gracefully on SIGUSR1). Default SIGTERM. */
  readonly stopSignal: NodeJS.Signals;
  readonly thresholds: Thresholds;
}

/** What repeats a run: the settings it ran with and what ran it. */
export interface RunProvenance {
  /** portico's package.json version, the harness's own. */
  readonly harnessVersion: string;
  /** process.version, e.g. "v20.11.1". */
  readonly nodeVersion: string;
  /** process.platform and process.arch, e.g. "linux x64". */
  readonly platform: string;
  /** The harness's command line as given (`portico-harness run …`); null when run as a library. */
  readonly command: readonly string[] | null;
  /**
   * The resolved scenario in the scenario-file shape, every default filled in: `portico-harness run
   * report.json` runs it again (and so does a file holding just this object).
   */
  readonly scenario: Readonly<Record<string, unknown>>;
}

export interface RunReport {
  /** The scenario's name. */
  readonly scenario: string;
  /** Versions, command line and resolved scenario: how to repeat this run. */
  readonly provenance: RunProvenance;
  /** The argv as run: `{port}` substituted, `--port 0` appended with portArg (never the cgroup wrapper). */
  readonly serverCommand: readonly string[];
  /**
   * Present when the command ran other than as written: a node script (an installed bin on PATH, or
   * a path, whose first line is a node shebang) run as `node <script> …`, so the leak preload could go in.
   */
  readonly ranAs?: { readonly argv: readonly string[]; readonly why: string };
  readonly ready: Readiness | null;
  readonly startedAt: string;
  /** From the server's start (the time origin of every series in the report) to the report. */
  readonly durationMs: number;
  readonly flood: FloodResult | null;
  readonly timeWait: TimeWaitResult | null;
  readonly memory: MemoryResult | null;
  readonly locks: readonly LockFinding[];
  readonly leaks: readonly LeakFinding[];
  readonly exit: ServerExit | null;
  readonly checks: readonly CheckResult[];
  readonly result: RunVerdict;
  /** result === 'PASS'. */
  readonly pass: boolean;
  /** Set when the run could not happen at all (server never ready, bad scenario). */
  readonly error?: string;
}
