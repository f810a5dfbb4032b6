/**
 * `portico-harness compare before/report.json after/report.json [--threshold 5%]`: the deltas of two
 * runs — throughput, latency percentiles, RSS peak, TIME_WAIT — and an exit status a CI job can
 * gate on: 1 when a metric got worse by more than the threshold, 0 when none did, 2 on bad input.
 */
import { readFile, stat } from 'node:fs/promises';
import { isDeepStrictEqual } from 'node:util';
import { join } from 'node:path';
import { formatBytes, formatCount, formatLatency } from './report/format.js';
import type { RunReport } from './types.js';

/** Bad arguments or a file that is not a report: exit 2. */
export class CompareError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CompareError';
  }
}

export const compareExit = { same: 0, regression: 1, usage: 2 } as const;

/**
 * Reasons two reports cannot be compared at all (exit 2): a baseline that did not pass measured
 * nothing sound, and runs of different protocols measured different things.
 */
export function incomparable(before: RunReport, after: RunReport): string | null {
  if (before.result !== 'PASS') return `the before run's result is ${before.result}${before.error !== undefined ? ` (${before.error})` : ''}: it is no baseline`;
  const protocol = (r: RunReport): string | undefined => r.flood?.protocol;
  if (protocol(before) !== undefined && protocol(after) !== undefined && protocol(before) !== protocol(after)) {
    return `the runs used different protocols (${protocol(before)} → ${protocol(after)}): their figures measure different things`;
  }
  return null;
}

/** One compared figure: where it is in a report and which way is better. */
export interface ComparedMetric {
  /** The name --gate takes. */
  readonly key: string;
  readonly label: string;
  readonly better: 'higher' | 'lower';
  readonly format: (value: number) => string;
  /** null: not measured in that report. */
  readonly read: (report: RunReport) => number | null;
  /** A change smaller than this, in the metric's own unit, is never a regression (0 → 1 TIME_WAIT is noise). */
  readonly floor: number;
}

const finite = (value: unknown): number | null => (typeof value === 'number' && Number.isFinite(value) ? value : null);
/** Latencies of a run without a single reply are not 0 ms: they were not measured. */
const latency = (report: RunReport, pick: 'p50' | 'p90' | 'p99' | 'p999' | 'max'): number | null =>
  report.flood === null || !(report.flood.latencyMs.count > 0) ? null : finite(report.flood.latencyMs[pick]);
const perSecond = (format: (n: number) => string) => (n: number): string => `${format(n)}/s`;

export const comparedMetrics: readonly ComparedMetric[] = [
  { key: 'msgs', label: 'throughput (msg/s)', better: 'higher', format: (n) => formatCount(Math.round(n)), read: (r) => finite(r.flood?.throughput.messagesPerSecond), floor: 0 },
  { key: 'sent', label: 'bytes/s sent', better: 'higher', format: perSecond(formatBytes), read: (r) => finite(r.flood?.throughput.bytesSentPerSecond), floor: 0 },
  { key: 'received', label: 'bytes/s received', better: 'higher', format: perSecond(formatBytes), read: (r) => finite(r.flood?.throughput.bytesReceivedPerSecond), floor: 0 },
  { key: 'p50', label: 'latency p50', better: 'lower', format: formatLatency, read: (r) => latency(r, 'p50'), floor: 0.05 },
  { key: 'p90', label: 'latency p90', better: 'lower', format: formatLatency, read: (r) => latency(r, 'p90'), floor: 0.05 },
  { key: 'p99', label: 'latency p99', better: 'lower', format: formatLatency, read: (r) => latency(r, 'p99'), floor: 0.05 },
  { key: 'p99.9', label: 'latency p99.9', better: 'lower', format: formatLatency, read: (r) => latency(r, 'p999'), floor: 0.05 },
  { key: 'max', label: 'latency max', better: 'lower', format: formatLatency, read: (r) => latency(r, 'max'), floor: 0.05 },
  { key: 'rss', label: 'RSS peak', better: 'lower', format: formatBytes, read: (r) => finite(r.memory?.peakRssBytes), floor: 1024 * 1024 },
  {
    // Per connection: a faster run opens more connections and leaves more TIME_WAIT behind for the same behaviour.
    key: 'time-wait',
    label: 'TIME_WAIT peak per 1,000 connections (server side)',
    better: 'lower',
    format: (n) => n.toFixed(1),
    read: (r) => {
      const peak = finite(r.timeWait?.peak.server);
      const started = r.flood?.connectionsStarted ?? 0;
      return peak === null || started === 0 ? null : (peak * 1000) / started;
    },
    floor: 5,
  },
];

export interface MetricDelta {
  readonly key: string;
  readonly label: string;
  readonly before: number | null;
  readonly after: number | null;
  /** (after - before) / before, in %; ±Infinity from 0; null when either side was not measured. */
  readonly changePercent: number | null;
  /** Worse by more than the threshold (or measured before and not after), and gated. */
  readonly regression: boolean;
  readonly gated: boolean;
}

export interface Comparison {
  readonly thresholdPercent: number;
  readonly deltas: readonly MetricDelta[];
  readonly regressions: readonly string[];
  /** Why the two runs may not be comparable (different settings, a failed run, an older report). */
  readonly notes: readonly string[];
}

/** Compares two reports metric by metric; `gate` limits which metrics can be a regression (default all). */
export function compareReports(before: RunReport, after: RunReport, thresholdPercent: number, gate: readonly string[] | null = null): Comparison {
  const deltas = comparedMetrics.map((metric): MetricDelta => {
    const a = metric.read(before);
    const b = metric.read(after);
    const gated = gate === null || gate.includes(metric.key);
    let changePercent: number | null = null;
    if (a !== null && b !== null) changePercent = a === b ? 0 : a === 0 ? (b > a ? Infinity : -Infinity) : ((b - a) / a) * 100;
    const worse = changePercent !== null && (metric.better === 'higher' ? -changePercent : changePercent) > thresholdPercent && Math.abs(b! - a!) > metric.floor;
    // Measured before and not after (the server never started, no reply came back): as bad as it gets.
    const lost = a !== null && b === null;
    return { key: metric.key, label: metric.label, before: a, after: b, changePercent, regression: gated && (worse || lost), gated };
  });
  const regressions = deltas.filter((d) => d.regression).map((d) => d.key);
  // A baseline that passed and a run that did not: the worst regression, whatever its figures say.
  if (before.result === 'PASS' && after.result !== 'PASS') regressions.unshift('result');
  return { thresholdPercent, deltas, regressions, notes: comparabilityNotes(before, after) };
}

function comparabilityNotes(before: RunReport, after: RunReport): string[] {
  const notes: string[] = [];
  for (const [which, report] of [['before', before], ['after', after]] as const) {
    if (report.result !== 'PASS') notes.push(`the ${which} run's result is ${report.result}`);
    if (report.provenance === undefined) notes.push(`the ${which} report has no resolved scenario (written by an older harness)`);
  }
  if (before.provenance !== undefined && after.provenance !== undefined) {
    const differences = differingPaths(before.provenance.scenario, after.provenance.scenario, '');
    if (differences.length > 0) notes.push(`the scenarios differ: ${differences.slice(0, 8).join('; ')}${differences.length > 8 ? `; … ${differences.length - 8} more` : ''}`);
    for (const key of ['harnessVersion', 'nodeVersion', 'platform'] as const) {
      if (before.provenance[key] !== after.provenance[key]) notes.push(`${key} ${before.provenance[key]} → ${after.provenance[key]}`);
    }
  }
  return notes;
}

/** "flood.concurrency 4 → 8" for every leaf that differs. */
function differingPaths(a: unknown, b: unknown, path: string): string[] {
  const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isRecord(a) && isRecord(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    return keys.flatMap((key) => differingPaths(a[key], b[key], path === '' ? key : `${path}.${key}`));
  }
  return isDeepStrictEqual(a, b) ? [] : [`${path} ${JSON.stringify(a) ?? 'absent'} → ${JSON.stringify(b) ?? 'absent'}`];
}

function formatChange(delta: MetricDelta): string {
  const change = delta.changePercent;
  if (change === null) return 'n/a';
  if (!Number.isFinite(change)) return change > 0 ? '+∞ %' : '-∞ %';
  return `${change >= 0 ? '+' : ''}${change.toFixed(1)} %`;
}

/** The comparison as a table for the terminal, ending with a RESULT line. */
export function formatComparison(comparison: Comparison, names: { readonly before: string; readonly after: string }): string {
  const rows: string[][] = [['metric', 'before', 'after', 'change', '']];
  for (const d of comparison.deltas) {
    const metric = comparedMetrics.find((m) => m.key === d.key)!;
    const show = (v: number | null): string => (v === null ? 'not measured' : metric.format(v));
    const verdict = d.regression ? `REGRESSION (${metric.better} is better)` : d.gated ? '' : '(not gated)';
    rows.push([`${d.label} [${d.key}]`, show(d.before), show(d.after), formatChange(d), verdict]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = [`before: ${names.before}`, `after:  ${names.after}`, ''];
  for (const row of rows) lines.push(row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : i < 4 ? cell.padStart(widths[i]!) : cell)).join('  ').trimEnd());
  if (comparison.notes.length > 0) lines.push('', ...comparison.notes.map((note) => `note: ${note}`));
  const threshold = `${comparison.thresholdPercent} %`;
  lines.push(
    '',
    comparison.regressions.length === 0
      ? `RESULT: no regression past ${threshold}`
      : `RESULT: REGRESSION past ${threshold}: ${comparison.regressions.join(', ')}`,
  );
  return lines.join('\n');
}

/** "5%", "5", "2.5 %" → 5, 5, 2.5. */
export function parseThreshold(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*%?$/.exec(text.trim());
  if (match === null) throw new CompareError(`--threshold: expected a percentage such as 5% or 2.5%, got ${JSON.stringify(text)}`);
  return Number(match[1]);
}

/** A report.json (or a folder holding one), checked to be a harness report. */
export async function readReport(path: string): Promise<RunReport> {
  let file = path;
  try {
    if ((await stat(path)).isDirectory()) file = join(path, 'report.json');
  } catch (error) {
    throw new CompareError(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new CompareError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new CompareError(`${file}: not valid JSON: ${(error as Error).message}`);
  }
  const looksLikeReport =
    typeof value === 'object' && value !== null && typeof (value as Record<string, unknown>)['result'] === 'string' && Array.isArray((value as Record<string, unknown>)['checks']) && 'flood' in value;
  if (!looksLikeReport) throw new CompareError(`${file}: not a portico-harness report.json (no "result", "checks" and "flood")`);
  return value as RunReport;
}

export function compareUsage(): string {
  return `Usage: portico-harness compare <before/report.json> <after/report.json> [--threshold 5%] [--gate m,m,…] [--json]

Prints how each figure changed from the first run to the second and exits
  0  no gated metric got worse by more than the threshold (default 5%)
  1  at least one did (or was measured before and not after): a regression
  2  bad arguments, or a file that is not a report
A folder holding report.json may be given instead of the file.
Metrics (--gate picks the ones that can fail; default all):
${comparedMetrics.map((m) => `  ${m.key.padEnd(10)} ${m.label} (${m.better} is better)`).join('\n')}
--json prints the comparison as JSON instead of the table.
Notes say when the two runs are not alike: other settings (the resolved scenarios differ), other
harness or Node versions, or a run that did not PASS.
`;
}

/** `portico-harness compare …`; returns the exit status. */
export async function runCompare(argv: readonly string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  try {
    const files: string[] = [];
    let threshold = 5;
    let gate: string[] | null = null;
    let json = false;
    for (let i = 0; i < argv.length; i++) {
      const arg = argv[i]!;
      const eq = arg.indexOf('=');
      const name = arg.startsWith('--') ? (eq >= 0 ? arg.slice(2, eq) : arg.slice(2)) : null;
      const value = (): string => {
        const v = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
        if (v === undefined || v === '') throw new CompareError(`--${name} needs a value`);
        return v;
      };
      if (name === null) files.push(arg);
      else if (name === 'help') {
        out.write(compareUsage());
        return compareExit.same;
      } else if (name === 'threshold') threshold = parseThreshold(value());
      else if (name === 'json') json = true;
      else if (name === 'gate') {
        gate = value().split(',').map((m) => m.trim());
        const unknown = gate.filter((m) => !comparedMetrics.some((c) => c.key === m));
        if (unknown.length > 0) throw new CompareError(`--gate: unknown metric ${unknown.join(', ')} (known: ${comparedMetrics.map((m) => m.key).join(', ')})`);
      } else throw new CompareError(`unknown option --${name}`);
    }
    if (files.length !== 2) throw new CompareError(`expected two reports (before and after), got ${files.length}`);
    const [before, after] = await Promise.all(files.map(readReport));
    const cannot = incomparable(before!, after!);
    if (cannot !== null) throw new CompareError(cannot);
    const comparison = compareReports(before!, after!, threshold, gate);
    out.write(json ? `${JSON.stringify(comparison, (_, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 2)}\n` : `${formatComparison(comparison, { before: files[0]!, after: files[1]! })}\n`);
    return comparison.regressions.length > 0 ? compareExit.regression : compareExit.same;
  } catch (error) {
    if (!(error instanceof CompareError)) throw error;
    err.write(`portico-harness compare: ${error.message}\n${error.message.startsWith('expected two') || error.message.startsWith('unknown option') ? `\n${compareUsage()}` : ''}`);
    return compareExit.usage;
  }
}
