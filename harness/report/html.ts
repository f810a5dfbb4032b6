/**
 * The run report as one self-contained HTML page: inline CSS and inline SVG only, no script and no
 * network references, so it can be archived as a CI artifact and opened anywhere, offline.
 */
import type { RunReport } from '../types.js';
import { escapeHtml } from './escape-html.js';
import { reportResult } from './format.js';
import { connectionsChart, latencyChart, memoryChart, throughputChart, timeWaitChart } from './html-charts.js';
import { checksSection, exitSection, floodSection, headerSection, leaksSection, locksSection, reproduceSection } from './html-sections.js';

const css = `
body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 1500px; padding: 16px 24px; color: #222; background: #f6f7f9; }
h1 { font-size: 24px; margin: 8px 0 12px; }
h2 { font-size: 19px; margin: 28px 0 10px; border-bottom: 1px solid #ccd; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 14px 0 6px; }
section, header { background: #fff; border: 1px solid #dde; border-radius: 6px; padding: 4px 16px 14px; margin-bottom: 16px; }
.badge { display: inline-block; white-space: nowrap; font-weight: bold; font-size: 0.8em; padding: 2px 10px; border-radius: 4px; color: #fff; vertical-align: middle; }
.badge.pass { background: #1a7f37; }
.badge.fail { background: #c62828; }
.badge.unchecked { background: #8a6d00; }
table { border-collapse: collapse; margin: 6px 0; font-size: 14px; }
table.grid th, table.grid td { border: 1px solid #d6d8de; padding: 4px 10px; text-align: left; vertical-align: top; }
table.grid thead th { background: #eef0f4; }
table.grid tr.fail td { background: #fdecea; }
table.grid tr.unchecked td { background: #fff8e1; }
table.kv th { text-align: left; font-weight: normal; color: #555; padding: 2px 16px 2px 0; vertical-align: top; }
table.kv td { padding: 2px 0; font-family: ui-monospace, monospace; word-break: break-all; }
details summary { cursor: pointer; color: #0b5394; margin: 6px 0; }
pre { background: #1e1e1e; color: #e6e6e6; padding: 10px 12px; border-radius: 4px; overflow-x: auto; font-size: 12px; line-height: 1.4; max-height: 480px; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; }
figure.chart-block { margin: 0; flex: 1 1 640px; max-width: 740px; }
svg.chart { max-width: 100%; height: auto; border: 1px solid #e4e4e4; }
.missing { color: #888; font-style: italic; }
div.missing { border: 1px dashed #bbb; padding: 40px; text-align: center; }
.note { color: #555; font-size: 13px; margin: 4px 0; }
.alert { color: #8a1010; background: #fdecea; border: 1px solid #f5c2c0; border-radius: 4px; padding: 6px 10px; font-weight: bold; }
article.finding { border-left: 4px solid #c62828; padding-left: 10px; margin: 10px 0; }
`;

/** Renders a whole run report as a standalone HTML document. */
export function renderHtml(report: RunReport): string {
  const verdict = reportResult(report);
  // One time origin (the server's start) and one x range for every chart.
  const x: readonly [number, number] = [0, report.durationMs / 1000];
  const charts = [connectionsChart(report.flood, x), latencyChart(report.flood, x), timeWaitChart(report.timeWait, x), memoryChart(report.memory, x), throughputChart(report.flood, x)];
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${verdict} — ${escapeHtml(report.scenario)} — portico harness report</title>`,
    `<style>${css}</style>`,
    '</head>',
    '<body>',
    headerSection(report),
    checksSection(report.checks),
    `<section id="charts"><h2>Over time</h2><div class="charts">${charts.join('')}</div></section>`,
    floodSection(report.flood),
    locksSection(report.locks),
    leaksSection(report.leaks, report.exit?.stopSignal ?? null),
    exitSection(report.exit),
    reproduceSection(report.provenance),
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
