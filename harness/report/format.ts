/**
 * Number and command formatting shared by the HTML report and the terminal summary. Every
 * formatter answers "n/a" for a missing or non-finite value, so a half-filled report never prints
 * "NaN" or "undefined".
 */

import type { CheckVerdict, RunVerdict } from '../types.js';

const notAvailable = 'n/a';

function usable(value: number | null | undefined): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/** 1234567 → "1,234,567"; fractions keep up to two decimals. */
export function formatCount(value: number | null | undefined): string {
  if (!usable(value)) return notAvailable;
  const rounded = Math.round(value * 100) / 100;
  const [whole = '0', fraction] = Math.abs(rounded).toString().split('.');
  // Grouping by hand keeps the output independent of the ICU data Node was built with.
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${rounded < 0 ? '-' : ''}${grouped}${fraction === undefined ? '' : `.${fraction}`}`;
}

/** Bytes in binary units: "812 B", "3.4 KiB", "256 MiB". */
export function formatBytes(value: number | null | undefined): string {
  if (!usable(value)) return notAvailable;
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let scaled = value;
  let unit = 0;
  while (Math.abs(scaled) >= 1024 && unit < units.length - 1) {
    scaled /= 1024;
    unit++;
  }
  const text = unit === 0 || Number.isInteger(scaled) ? scaled.toFixed(0) : scaled.toFixed(1);
  return `${text} ${units[unit]}`;
}

/** A latency: three significant digits below 100 ms ("0.213 ms"), whole ms above. */
export function formatLatency(ms: number | null | undefined): string {
  if (!usable(ms)) return notAvailable;
  if (ms === 0) return '0 ms';
  return Math.abs(ms) < 100 ? `${Number(ms.toPrecision(3))} ms` : `${formatCount(Math.round(ms))} ms`;
}

/** A duration: "850 ms" below a second, "12.3 s" above. */
export function formatDuration(ms: number | null | undefined): string {
  if (!usable(ms)) return notAvailable;
  return Math.abs(ms) < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** An argv as one could paste it into a POSIX shell (for display only; the harness never uses a shell). */
export function formatCommand(argv: readonly string[]): string {
  return argv.map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/**
 * The verdict shown everywhere. Guards against a writer that set `result` without looking at the
 * checks: never PASS over a FAIL row or over a requested check that was not made.
 */
export function reportResult(report: { readonly result: RunVerdict; readonly checks: readonly { readonly verdict: CheckVerdict; readonly requested: boolean }[] }): RunVerdict {
  if (report.result === 'FAIL' || report.checks.some((c) => c.verdict === 'FAIL')) return 'FAIL';
  if (report.result === 'INCOMPLETE' || report.checks.some((c) => c.requested && c.verdict !== 'PASS')) return 'INCOMPLETE';
  return 'PASS';
}
