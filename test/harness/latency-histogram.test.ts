import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HISTOGRAM_RELATIVE_ERROR, LatencyHistogram } from '../../harness/flood/latency-histogram.js';

/** Deterministic samples spread over 1 µs .. 60 s on a log scale (xorshift32), in ms. */
function samples(n: number, seed = 7): number[] {
  let state = seed;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    const u = (state >>> 0) / 2 ** 32;
    out.push(0.001 * 10 ** (u * Math.log10(60_000_000))); // 1 µs .. 60 s
  }
  return out;
}

/** The sample of rank ceil(q·n), the definition the histogram approximates. */
function exactPercentile(sorted: readonly number[], q: number): number {
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1]!;
}

test('percentiles are within the stated relative error of the exact sorted values, over 1 µs .. 60 s', () => {
  const values = samples(200_000);
  const histogram = new LatencyHistogram();
  for (const v of values) histogram.record(v);
  const sorted = [...values].sort((a, b) => a - b);
  for (const q of [0.001, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 0.9999, 1]) {
    const exact = exactPercentile(sorted, q);
    const got = histogram.percentile(q);
    // Three significant digits, plus the 0.5 µs of rounding each sample to whole µs.
    const bound = exact * HISTOGRAM_RELATIVE_ERROR + 0.0005 + 1e-9;
    assert.ok(Math.abs(got - exact) <= bound, `q=${q}: got ${got}, exact ${exact}, bound ±${bound}`);
  }
  assert.equal(histogram.max, sorted.at(-1));
  const summary = histogram.summary();
  assert.equal(summary.count, 200_000);
  assert.ok(summary.p50 <= summary.p90 && summary.p90 <= summary.p99 && summary.p99 <= summary.p999 && summary.p999 <= summary.max);
});

test('the error bound is tight enough to tell neighbours apart: 1.000 ms, 1.002 ms and 1.004 ms stay distinct', () => {
  for (const ms of [1, 1.002, 1.004, 250.5, 59_000]) {
    const h = new LatencyHistogram();
    h.record(ms);
    h.record(ms * 10); // max clamps nothing below it
    assert.ok(Math.abs(h.percentile(0.5) - ms) <= ms * HISTOGRAM_RELATIVE_ERROR + 0.0005, `${ms}: ${h.percentile(0.5)}`);
  }
});

test('merge is the union: three histograms merged (live and through JSON snapshots) equal one fed everything', () => {
  const values = samples(30_000, 99);
  const whole = new LatencyHistogram();
  const parts = [new LatencyHistogram(), new LatencyHistogram(), new LatencyHistogram()];
  values.forEach((v, i) => {
    whole.record(v);
    parts[i % 3]!.record(v);
  });
  const merged = new LatencyHistogram();
  merged.merge(parts[0]!);
  merged.merge(JSON.parse(JSON.stringify(parts[1]!.snapshot())));
  merged.merge(LatencyHistogram.fromSnapshot(parts[2]!.snapshot()));
  const a = whole.snapshot();
  const b = merged.snapshot();
  assert.deepEqual(b.buckets, a.buckets);
  assert.equal(b.count, a.count);
  assert.equal(b.maxMs, a.maxMs);
  assert.equal(b.minMs, a.minMs);
  assert.ok(Math.abs(b.sumMs - a.sumMs) < 1e-6 * a.sumMs);
  for (const q of [0.5, 0.9, 0.99, 0.999]) assert.equal(merged.percentile(q), whole.percentile(q));
  // Merging an empty histogram changes nothing; a bad snapshot is refused.
  merged.merge(new LatencyHistogram());
  assert.deepEqual(merged.snapshot().buckets, a.buckets);
  assert.throws(() => merged.merge({ buckets: [1e9, 1], count: 1, sumMs: 1, minMs: 1, maxMs: 1 }), /out of range/);
});

test('fixed memory: values past 60 s land in the last bucket, max stays exact; empty and reset histograms read 0', () => {
  const h = new LatencyHistogram();
  assert.deepEqual(h.summary(), { count: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0 });
  h.record(1e9);
  h.record(-5);
  h.record(Number.NaN);
  assert.equal(h.max, 1e9);
  assert.equal(h.count, 3);
  assert.equal(h.percentile(0.5), 0);
  assert.ok(h.percentile(1) >= 59_000 && h.percentile(1) <= 1e9);
  assert.equal(h.snapshot().buckets.length, 4, 'two non-empty buckets, as (index, count) pairs');
  h.reset();
  assert.equal(h.count, 0);
  assert.equal(h.percentile(0.99), 0);
});
