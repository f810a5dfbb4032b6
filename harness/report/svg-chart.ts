/**
 * Line charts as inline SVG strings, for a report page that must work offline (no chart library, no
 * script). The drawing is defensive: non-finite points are dropped, empty and flat data get a
 * usable scale, so a thin or broken run still renders instead of printing NaN coordinates.
 */
import { escapeHtml } from './escape-html.js';
import { formatTick, niceScale, type NiceScale } from './nice-scale.js';

export interface ChartPoint {
  readonly x: number;
  readonly y: number;
}

export interface ChartSeries {
  readonly name: string;
  readonly points: readonly ChartPoint[];
}

export interface HorizontalLine {
  readonly y: number;
  readonly label: string;
}

export interface LineChartOptions {
  readonly title: string;
  readonly series: readonly ChartSeries[];
  readonly xLabel: string;
  readonly yLabel: string;
  /** Default 720. */
  readonly width?: number;
  /** Default 300. */
  readonly height?: number;
  /** Reference lines across the plot, e.g. a memory cap; always inside the y range. */
  readonly horizontalLines?: readonly HorizontalLine[];
  /** Y tick labels; default round numbers with k/M/G suffixes. */
  readonly formatY?: (y: number) => string;
  /** An x range the axis covers whatever the data, so the charts of one report share their x axis. */
  readonly xDomain?: readonly [number, number];
}

/** Okabe–Ito: distinct for the common forms of colour blindness, and on white. */
const palette = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#999933'];
const referenceColour = '#C00000';

/** Rough advance of one 12 px sans-serif character, for laying out legend entries without a DOM. */
const charWidth = 6.8;

const margin = { left: 64, right: 20, bottom: 46 };
const titleHeight = 24;
const legendRowHeight = 18;

/** An SVG line chart of one or more series against a shared x axis. */
export function lineChart(options: LineChartOptions): string {
  const width = positiveOr(options.width, 720);
  const height = positiveOr(options.height, 300);
  const series = options.series.map((s) => ({ name: s.name, points: s.points.filter(isFinitePoint) }));
  const lines = (options.horizontalLines ?? []).filter((line) => Number.isFinite(line.y));

  const legend = layoutLegend(series.map((s) => legendText(s)), width - margin.left - margin.right);
  const top = titleHeight + legend.rows * legendRowHeight + 8;
  const plot = { left: margin.left, top, right: width - margin.right, bottom: height - margin.bottom };
  if (plot.bottom - plot.top < 40) plot.bottom = plot.top + 40;
  const svgHeight = Math.max(height, plot.bottom + margin.bottom);

  const allPoints = series.flatMap((s) => s.points);
  const xs = [...allPoints.map((p) => p.x), ...(options.xDomain ?? []).filter((x) => Number.isFinite(x))];
  // Y always starts at 0 so small wobbles don't look like swings; reference lines stay in range.
  const ys = [0, ...allPoints.map((p) => p.y), ...lines.map((line) => line.y)];
  const xScale = xs.length === 0 ? niceScale(0, 1) : niceScale(Math.min(...xs), Math.max(...xs), 6);
  const yScale = niceScale(Math.min(...ys), Math.max(...ys), 5);
  const px = (x: number): number => plot.left + ((x - xScale.min) / (xScale.max - xScale.min)) * (plot.right - plot.left);
  const py = (y: number): number => plot.bottom - ((y - yScale.min) / (yScale.max - yScale.min)) * (plot.bottom - plot.top);
  const formatY = options.formatY ?? ((y: number) => formatTick(y, yScale.step));

  const parts: string[] = [];
  parts.push(
    `<svg class="chart" width="${width}" height="${svgHeight}" viewBox="0 0 ${width} ${svgHeight}" role="img" aria-label="${escapeHtml(options.title)}" font-family="sans-serif" font-size="12">`,
  );
  parts.push(`<title>${escapeHtml(options.title)}</title>`);
  parts.push(`<rect x="0" y="0" width="${width}" height="${svgHeight}" fill="#ffffff"/>`);
  parts.push(`<text x="${plot.left}" y="16" font-size="14" font-weight="bold" fill="#222222">${escapeHtml(options.title)}</text>`);
  parts.push(...drawLegend(legend.entries, titleHeight, plot.left));
  parts.push(...drawGrid(xScale, yScale, plot, px, py, formatY));
  parts.push(
    `<path d="M${n(plot.left)} ${n(plot.top)}V${n(plot.bottom)}H${n(plot.right)}" fill="none" stroke="#444444" stroke-width="1"/>`,
  );
  for (const line of lines) parts.push(...drawReferenceLine(line, plot, py(line.y)));
  series.forEach((s, index) => parts.push(...drawSeries(s.points, palette[index % palette.length]!, px, py)));
  if (allPoints.length === 0) {
    parts.push(
      `<text x="${n((plot.left + plot.right) / 2)}" y="${n((plot.top + plot.bottom) / 2)}" text-anchor="middle" fill="#888888">no data</text>`,
    );
  }
  parts.push(
    `<text x="${n((plot.left + plot.right) / 2)}" y="${n(svgHeight - 8)}" text-anchor="middle" fill="#222222">${escapeHtml(options.xLabel)}</text>`,
  );
  const yLabelY = (plot.top + plot.bottom) / 2;
  parts.push(
    `<text x="14" y="${n(yLabelY)}" text-anchor="middle" transform="rotate(-90 14 ${n(yLabelY)})" fill="#222222">${escapeHtml(options.yLabel)}</text>`,
  );
  parts.push('</svg>');
  return parts.join('\n');
}

function positiveOr(value: number | undefined, fallback: number): number {
  return value !== undefined && Number.isFinite(value) && value > 0 ? value : fallback;
}

function isFinitePoint(point: ChartPoint): boolean {
  return Number.isFinite(point.x) && Number.isFinite(point.y);
}

/** SVG coordinates with two decimals: enough for the eye, short for long series. */
function n(value: number): string {
  return String(Math.round(value * 100) / 100);
}

function legendText(series: { readonly name: string; readonly points: readonly ChartPoint[] }): string {
  return series.points.length === 0 ? `${series.name} (no data)` : series.name;
}

interface LegendEntry {
  readonly text: string;
  readonly x: number;
  readonly row: number;
}

/** Flows legend entries left to right, wrapping to a new row when one would overflow the plot width. */
function layoutLegend(texts: readonly string[], maxWidth: number): { entries: LegendEntry[]; rows: number } {
  const entries: LegendEntry[] = [];
  let x = 0;
  let row = 0;
  for (const text of texts) {
    const entryWidth = 26 + text.length * charWidth + 18;
    if (x > 0 && x + entryWidth > maxWidth) {
      x = 0;
      row++;
    }
    entries.push({ text, x, row });
    x += entryWidth;
  }
  return { entries, rows: texts.length === 0 ? 0 : row + 1 };
}

function drawLegend(entries: readonly LegendEntry[], top: number, left: number): string[] {
  const parts: string[] = [];
  entries.forEach((entry, index) => {
    const colour = palette[index % palette.length]!;
    const x = left + entry.x;
    const y = top + entry.row * legendRowHeight + 9;
    parts.push(`<path d="M${n(x)} ${n(y)}h20" stroke="${colour}" stroke-width="3"/>`);
    parts.push(`<text x="${n(x + 26)}" y="${n(y + 4)}" fill="#222222">${escapeHtml(entry.text)}</text>`);
  });
  return parts;
}

interface PlotArea {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

function drawGrid(
  xScale: NiceScale,
  yScale: NiceScale,
  plot: PlotArea,
  px: (x: number) => number,
  py: (y: number) => number,
  formatY: (y: number) => string,
): string[] {
  const parts: string[] = [];
  for (const tick of yScale.ticks) {
    const y = n(py(tick));
    parts.push(`<path d="M${n(plot.left)} ${y}H${n(plot.right)}" stroke="#e4e4e4" stroke-width="1"/>`);
    parts.push(`<text x="${n(plot.left - 6)}" y="${y}" dy="4" text-anchor="end" fill="#444444">${escapeHtml(safeLabel(formatY(tick)))}</text>`);
  }
  for (const tick of xScale.ticks) {
    const x = n(px(tick));
    parts.push(`<path d="M${x} ${n(plot.bottom)}v5" stroke="#444444" stroke-width="1"/>`);
    parts.push(
      `<text x="${x}" y="${n(plot.bottom + 18)}" text-anchor="middle" fill="#444444">${escapeHtml(formatTick(tick, xScale.step))}</text>`,
    );
  }
  return parts;
}

/** A caller's formatter may be sloppy; the chart still never shows "NaN" or "undefined". */
function safeLabel(label: unknown): string {
  return typeof label === 'string' && !/NaN|undefined/.test(label) ? label : '';
}

function drawReferenceLine(line: HorizontalLine, plot: PlotArea, y: number): string[] {
  return [
    `<path d="M${n(plot.left)} ${n(y)}H${n(plot.right)}" stroke="${referenceColour}" stroke-width="1.5" stroke-dasharray="6 4"/>`,
    `<text x="${n(plot.right - 4)}" y="${n(y - 5)}" text-anchor="end" fill="${referenceColour}">${escapeHtml(line.label)}</text>`,
  ];
}

function drawSeries(points: readonly ChartPoint[], colour: string, px: (x: number) => number, py: (y: number) => number): string[] {
  if (points.length === 0) return [];
  // Sorted by x so a series recorded out of order still draws as a line, not a scribble.
  const sorted = [...points].sort((a, b) => a.x - b.x);
  const coordinates = sorted.map((p) => `${n(px(p.x))},${n(py(p.y))}`).join(' ');
  const parts = [
    `<polyline points="${coordinates}" fill="none" stroke="${colour}" stroke-width="2" stroke-linejoin="round" stroke-linecap="round"/>`,
  ];
  // A one-point polyline draws nothing; a dot makes a lone sample (or a marker series) visible.
  if (sorted.length === 1) parts.push(`<circle cx="${n(px(sorted[0]!.x))}" cy="${n(py(sorted[0]!.y))}" r="4" fill="${colour}"/>`);
  return parts;
}
