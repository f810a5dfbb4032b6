/**
 * Axis scales with round tick values (1, 2, 2.5 or 5 times a power of ten), so chart axes read
 * 0, 50, 100 rather than 0, 47.3, 94.6.
 */

export interface NiceScale {
  readonly min: number;
  readonly max: number;
  readonly step: number;
  readonly ticks: readonly number[];
}

/** A round step of about `span / targetTicks`. */
export function niceStep(span: number, targetTicks: number): number {
  const raw = span / Math.max(1, targetTicks);
  if (!(raw > 0) || !Number.isFinite(raw)) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const normalized = raw / magnitude;
  const nice = normalized <= 1 ? 1 : normalized <= 2 ? 2 : normalized <= 2.5 ? 2.5 : normalized <= 5 ? 5 : 10;
  return nice * magnitude;
}

/**
 * A scale covering [low, high] whose ends are multiples of a round step. A degenerate range (one
 * value, or nothing at all) is widened so the result always has a positive span.
 */
export function niceScale(low: number, high: number, targetTicks = 5): NiceScale {
  let lo = Number.isFinite(low) ? low : 0;
  let hi = Number.isFinite(high) ? high : lo;
  if (hi < lo) [lo, hi] = [hi, lo];
  if (hi === lo) {
    // One value: centre it in a span of 10 % of its size (or 1 for zero) so it is drawn, not divided by.
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    if (lo >= 0 && lo - pad < 0) {
      hi = lo + pad;
      lo = 0;
    } else {
      lo -= pad;
      hi += pad;
    }
  }
  const step = niceStep(hi - lo, targetTicks);
  const min = Math.floor(lo / step + 1e-9) * step;
  const max = Math.ceil(hi / step - 1e-9) * step;
  const ticks: number[] = [];
  const count = Math.round((max - min) / step);
  for (let i = 0; i <= count; i++) ticks.push(roundOff(min + i * step));
  return { min: roundOff(min), max: roundOff(max), step, ticks };
}

/** Strips binary floating-point noise (0.30000000000000004 → 0.3). */
function roundOff(value: number): number {
  return Number(value.toPrecision(12));
}

/** How many decimals a tick step needs to be shown exactly (0.25 → 2, 5 → 0). */
export function decimalsFor(step: number): number {
  for (let decimals = 0; decimals < 12; decimals++) {
    const scaled = step * 10 ** decimals;
    if (Math.abs(scaled - Math.round(scaled)) < 1e-6 * Math.max(1, Math.abs(scaled))) return decimals;
  }
  return 12;
}

/** A tick label: "0.25", "40", "2.5k", "12M" — suffixes only once the step itself is that big. */
export function formatTick(value: number, step: number): string {
  const units: readonly [number, string][] = [
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'k'],
  ];
  for (const [size, suffix] of units) {
    if (step >= size) return `${(value / size).toFixed(decimalsFor(step / size))}${suffix}`;
  }
  const text = value.toFixed(decimalsFor(step));
  // "-0" from rounding a tiny negative reads as a bug on an axis.
  return /^-0(\.0*)?$/.test(text) ? text.slice(1) : text;
}
