/**
 * A fixed-size latency histogram (HDR-like): exact below 256 µs, then 128 log-linear buckets per
 * power of two, so any percentile is within ~0.8 % of the true value whatever the number of samples.
 * A flood records millions of round trips; keeping them all in an array would not be bounded.
 */
import type { LatencySummary } from '../types.js';

const SUB_BUCKETS = 256;
const HALF = SUB_BUCKETS / 2;
const SUB_BITS = 7; // log2(HALF)
/** Values above ~35 min are clamped into the last bucket; `max` stays exact. */
const MAX_MICROS = 2 ** 31 - 1;
const BUCKETS = SUB_BUCKETS + (31 - SUB_BITS) * HALF;

function bucketOf(micros: number): number {
  if (micros < SUB_BUCKETS) return micros;
  const msb = 31 - Math.clz32(micros);
  const shift = msb - SUB_BITS;
  return SUB_BUCKETS + (shift - 1) * HALF + ((micros >>> shift) - HALF);
}

/** Midpoint of a bucket, in µs. */
function valueOf(bucket: number): number {
  if (bucket < SUB_BUCKETS) return bucket;
  const shift = Math.floor((bucket - SUB_BUCKETS) / HALF) + 1;
  const sub = ((bucket - SUB_BUCKETS) % HALF) + HALF;
  return sub * 2 ** shift + (2 ** shift - 1) / 2;
}

export class LatencyHistogram {
  private readonly counts = new Uint32Array(BUCKETS);
  private total = 0;
  private sumMs = 0;
  private maxMs = 0;

  /** Records one latency, in ms. */
  record(ms: number): void {
    const clean = Number.isFinite(ms) && ms > 0 ? ms : 0;
    const micros = Math.min(MAX_MICROS, Math.round(clean * 1000));
    this.counts[bucketOf(micros)]! += 1;
    this.total += 1;
    this.sumMs += clean;
    if (clean > this.maxMs) this.maxMs = clean;
  }

  get count(): number {
    return this.total;
  }

  /** The value at quantile `q` (0..1), in ms; 0 when empty. */
  percentile(q: number): number {
    if (this.total === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.total));
    let seen = 0;
    for (let bucket = 0; bucket < BUCKETS; bucket++) {
      seen += this.counts[bucket]!;
      if (seen >= rank) return Math.min(this.maxMs, valueOf(bucket) / 1000);
    }
    return this.maxMs;
  }

  summary(): LatencySummary {
    return {
      count: this.total,
      p50: this.percentile(0.5),
      p90: this.percentile(0.9),
      p99: this.percentile(0.99),
      max: this.maxMs,
      mean: this.total === 0 ? 0 : this.sumMs / this.total,
    };
  }

  reset(): void {
    this.counts.fill(0);
    this.total = 0;
    this.sumMs = 0;
    this.maxMs = 0;
  }
}
