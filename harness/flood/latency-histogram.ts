/**
 * A fixed-size HDR-style latency histogram (after Gil Tene's HdrHistogram): values are recorded in
 * whole microseconds, exact below 2,048 µs, then 1,024 log-linear buckets per power of two up to
 * 60 s. So three significant digits hold everywhere: a percentile is the midpoint of its bucket, at
 * most 1/2048 (≈ 0.05 %) of the value away from the exact sample, plus the 0.5 µs of rounding to µs.
 * Memory is fixed (17,408 counters) however many samples come in; histograms merge by adding counts,
 * so worker threads each keep one and the main thread adds them up (`snapshot` / `merge`).
 */
import type { LatencySummary } from '../types.js';

/** Sub-buckets per power of two in the exact range: 2^11 gives three significant decimal digits. */
const SUB_BITS = 11;
const SUB_BUCKETS = 1 << SUB_BITS;
const HALF = SUB_BUCKETS / 2;
/** 60 s: the longest latency the histogram resolves; longer ones land in the last bucket, `max` stays exact. */
export const HISTOGRAM_MAX_MICROS = 60_000_000;
const TOP_MSB = 31 - Math.clz32(HISTOGRAM_MAX_MICROS);
const BUCKETS = SUB_BUCKETS + (TOP_MSB - (SUB_BITS - 1)) * HALF;
/** Worst relative distance of a reported percentile from the exact sample (µs rounding aside). */
export const HISTOGRAM_RELATIVE_ERROR = 1 / SUB_BUCKETS;

function bucketOf(micros: number): number {
  if (micros < SUB_BUCKETS) return micros;
  const shift = 31 - Math.clz32(micros) - (SUB_BITS - 1);
  return SUB_BUCKETS + (shift - 1) * HALF + ((micros >>> shift) - HALF);
}

/** Midpoint of a bucket, in µs (exact in the linear range). */
function valueOf(bucket: number): number {
  if (bucket < SUB_BUCKETS) return bucket;
  const shift = Math.floor((bucket - SUB_BUCKETS) / HALF) + 1;
  const lower = (((bucket - SUB_BUCKETS) % HALF) + HALF) * 2 ** shift;
  return lower + (2 ** shift - 1) / 2;
}

/**
 * A histogram as plain data, for postMessage and JSON: `buckets` holds (bucket index, count) pairs
 * of the non-empty buckets only, flattened.
 */
export interface HistogramSnapshot {
  readonly buckets: readonly number[];
  readonly count: number;
  readonly sumMs: number;
  readonly minMs: number;
  readonly maxMs: number;
}

export class LatencyHistogram {
  // Float64: a long run at 100k msg/s passes 2^32 samples in a few hours.
  private readonly counts = new Float64Array(BUCKETS);
  private total = 0;
  private sumMs = 0;
  private minMs = Infinity;
  private maxMs = 0;

  /** A histogram holding what `snapshot` captured. */
  static fromSnapshot(snapshot: HistogramSnapshot): LatencyHistogram {
    const histogram = new LatencyHistogram();
    histogram.merge(snapshot);
    return histogram;
  }

  /** Records one latency, in ms (negative or non-finite values count as 0). */
  record(ms: number): void {
    const clean = Number.isFinite(ms) && ms > 0 ? ms : 0;
    const micros = Math.min(HISTOGRAM_MAX_MICROS, Math.round(clean * 1000));
    this.counts[bucketOf(micros)]! += 1;
    this.total += 1;
    this.sumMs += clean;
    if (clean > this.maxMs) this.maxMs = clean;
    if (clean < this.minMs) this.minMs = clean;
  }

  get count(): number {
    return this.total;
  }

  /** The largest value recorded, exact (not bucketed), in ms; 0 when empty. */
  get max(): number {
    return this.maxMs;
  }

  /** The value at quantile `q` (0..1): the sample of rank ceil(q·count), within the stated error; 0 when empty. */
  percentile(q: number): number {
    if (this.total === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.total));
    let seen = 0;
    for (let bucket = 0; bucket < BUCKETS; bucket++) {
      seen += this.counts[bucket]!;
      if (seen >= rank) return Math.max(this.minMs, Math.min(this.maxMs, valueOf(bucket) / 1000));
    }
    return this.maxMs;
  }

  /** Adds another histogram's samples (live or a snapshot from a worker): the union of both. */
  merge(other: LatencyHistogram | HistogramSnapshot): void {
    const snapshot = other instanceof LatencyHistogram ? other.snapshot() : other;
    const { buckets } = snapshot;
    if (buckets.length % 2 !== 0) throw new Error('histogram snapshot: buckets must be (index, count) pairs');
    for (let i = 0; i < buckets.length; i += 2) {
      const bucket = buckets[i]!;
      if (!Number.isInteger(bucket) || bucket < 0 || bucket >= BUCKETS) throw new Error(`histogram snapshot: bucket ${bucket} out of range`);
      this.counts[bucket]! += buckets[i + 1]!;
    }
    this.total += snapshot.count;
    this.sumMs += snapshot.sumMs;
    if (snapshot.count > 0) {
      this.maxMs = Math.max(this.maxMs, snapshot.maxMs);
      this.minMs = Math.min(this.minMs, snapshot.minMs);
    }
  }

  snapshot(): HistogramSnapshot {
    const buckets: number[] = [];
    if (this.total > 0) {
      for (let bucket = 0; bucket < BUCKETS; bucket++) if (this.counts[bucket]! > 0) buckets.push(bucket, this.counts[bucket]!);
    }
    return { buckets, count: this.total, sumMs: this.sumMs, minMs: this.total === 0 ? 0 : this.minMs, maxMs: this.maxMs };
  }

  summary(): LatencySummary {
    return {
      count: this.total,
      p50: this.percentile(0.5),
      p90: this.percentile(0.9),
      p99: this.percentile(0.99),
      p999: this.percentile(0.999),
      max: this.maxMs,
      mean: this.total === 0 ? 0 : this.sumMs / this.total,
    };
  }

  reset(): void {
    this.counts.fill(0);
    this.total = 0;
    this.sumMs = 0;
    this.minMs = Infinity;
    this.maxMs = 0;
  }
}
