/**
 * The report's time-series charts: one function per chart, each turning its part of a RunReport
 * into an HTML block with an inline SVG, or a "not measured" note when that part is null.
 */
import type { FloodResult, MemoryResult, TimeWaitResult } from '../types.js';
import { escapeHtml } from './escape-html.js';
import { formatBytes } from './format.js';
import { lineChart, type ChartPoint } from './svg-chart.js';

const mebibyte = 1024 * 1024;
const timeLabel = 'time since the server started (s)';

/** Every chart of a report covers the same x range: from the server's start to the report. */
export type TimeDomain = readonly [number, number];

function timeAxis(xDomain: TimeDomain | undefined): { xLabel: string; xDomain?: TimeDomain } {
  return xDomain === undefined ? { xLabel: timeLabel } : { xLabel: timeLabel, xDomain };
}

/** A chart block; `body` is the SVG or the reason there is none. */
function chartBlock(body: string, notes: readonly string[] = []): string {
  const noteHtml = notes.map((note) => `<p class="note">${escapeHtml(note)}</p>`).join('');
  return `<figure class="chart-block">${body}${noteHtml}</figure>`;
}

function notMeasured(title: string): string {
  return chartBlock(`<div class="missing"><strong>${escapeHtml(title)}</strong><br>not measured</div>`);
}

/** Report times are ms since start; axes read better in seconds. */
function seconds(t: number): number {
  return t / 1000;
}

export function connectionsChart(flood: FloodResult | null, xDomain?: TimeDomain): string {
  const title = 'Connections completed per second';
  if (flood === null) return notMeasured(title);
  const points = flood.connectionsPerSecond.map((s) => ({ x: seconds(s.t), y: s.value }));
  return chartBlock(lineChart({ title, series: [{ name: 'connections/s', points }], ...timeAxis(xDomain), yLabel: 'connections/s' }));
}

/** Replies per second (warm-up included, marked), the flood's throughput over time. */
export function throughputChart(flood: FloodResult | null, xDomain?: TimeDomain): string {
  const title = 'Messages answered per second';
  if (flood === null) return notMeasured(title);
  const points = flood.messagesPerSecond.map((s) => ({ x: seconds(s.t), y: s.value }));
  const t = flood.throughput;
  const notes = [
    `${Math.round(t.messagesPerSecond)} msg/s, ${formatBytes(t.bytesSentPerSecond)}/s sent and ${formatBytes(t.bytesReceivedPerSecond)}/s received over the measured ${(t.measuredMs / 1000).toFixed(1)} s${flood.warmup.ms > 0 ? `, after a ${(flood.warmup.ms / 1000).toFixed(1)} s warm-up (drawn, not counted)` : ''}.`,
    `The flood ran from ${(flood.startMs / 1000).toFixed(2)} s to ${((flood.startMs + flood.durationMs) / 1000).toFixed(2)} s after the server started.`,
  ];
  return chartBlock(lineChart({ title, series: [{ name: 'replies/s', points }], ...timeAxis(xDomain), yLabel: 'messages/s' }), notes);
}

export function latencyChart(flood: FloodResult | null, xDomain?: TimeDomain): string {
  const title = 'Message round-trip latency';
  if (flood === null) return notMeasured(title);
  const p50 = flood.latencyOverTime.map((s) => ({ x: seconds(s.t), y: s.p50 }));
  const p99 = flood.latencyOverTime.map((s) => ({ x: seconds(s.t), y: s.p99 }));
  return chartBlock(
    lineChart({
      title,
      series: [
        { name: 'p50', points: p50 },
        { name: 'p99', points: p99 },
      ],
      ...timeAxis(xDomain),
      yLabel: 'latency (ms)',
    }),
  );
}

export function timeWaitChart(timeWait: TimeWaitResult | null, xDomain?: TimeDomain): string {
  const title = 'Sockets in TIME_WAIT';
  if (timeWait === null) return notMeasured(title);
  const server = timeWait.samples.map((s) => ({ x: seconds(s.t), y: s.server }));
  const client = timeWait.samples.map((s) => ({ x: seconds(s.t), y: s.client }));
  const notes = [
    timeWait.netns
      ? `Counted in a private network namespace (exact), port ${timeWait.port}.`
      : `Counted in the host's network namespace (port ${timeWait.port}): other traffic and loopback port reuse can skew the counts.`,
  ];
  if (timeWait.note !== undefined && timeWait.note !== '') notes.push(timeWait.note);
  return chartBlock(
    lineChart({
      title,
      series: [
        { name: 'server side (local port = server port)', points: server },
        { name: 'client side (remote port = server port)', points: client },
      ],
      ...timeAxis(xDomain),
      yLabel: 'sockets',
    }),
    notes,
  );
}

export function memoryChart(memory: MemoryResult | null, xDomain?: TimeDomain): string {
  const title = 'Server resident memory (RSS)';
  if (memory === null) return notMeasured(title);
  const rss = memory.samples.map((s) => ({ x: seconds(s.t), y: s.value / mebibyte }));
  const series: { name: string; points: readonly ChartPoint[] }[] = [{ name: 'RSS', points: rss }];
  if (memory.killedByCap) {
    // The kill happens right after the last sample the poller saw; mark it there.
    const last = rss.at(-1) ?? { x: 0, y: memory.peakRssBytes / mebibyte };
    series.push({ name: 'killed by cap', points: [last] });
  }
  const horizontalLines =
    memory.capBytes === null ? [] : [{ y: memory.capBytes / mebibyte, label: `cap ${formatBytes(memory.capBytes)} (${memory.method})` }];
  const notes = [
    `Peak RSS ${formatBytes(memory.peakRssBytes)}; cap ${memory.capBytes === null ? 'none' : formatBytes(memory.capBytes)}; method ${memory.method}.`,
  ];
  if (memory.note !== undefined && memory.note !== '') notes.push(memory.note);
  const banner = memory.killedByCap ? '<p class="alert">The server was killed by the memory cap.</p>' : '';
  return chartBlock(
    banner +
      lineChart({
        title,
        series,
        ...timeAxis(xDomain),
        yLabel: 'RSS (MiB)',
        horizontalLines,
        // Ticks arrive already rounded to 1/2/2.5/5 steps; toPrecision only hides float noise.
        formatY: (y) => `${Number(y.toPrecision(6))} MiB`,
      }),
    notes,
  );
}
