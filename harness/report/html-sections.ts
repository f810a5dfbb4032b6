/**
 * The report's text sections (header, checks, flood totals, lock-order and leak findings, server
 * exit), each a function from its part of the RunReport to an HTML fragment. All report text goes
 * through escapeHtml; null parts render as "not measured".
 */
import type { CheckResult, CheckVerdict, FloodResult, LeakFinding, LockFinding, RunProvenance, RunReport, RunVerdict, ServerExit } from '../types.js';
import { escapeHtml } from './escape-html.js';
import { formatBytes, formatCommand, formatCount, formatDuration, formatLatency, reportResult } from './format.js';

const badgeClass: Record<CheckVerdict | RunVerdict, string> = { PASS: 'pass', FAIL: 'fail', 'NOT CHECKED': 'unchecked', INCOMPLETE: 'unchecked' };

function badge(verdict: CheckVerdict | RunVerdict): string {
  return `<span class="badge ${badgeClass[verdict]}">${verdict}</span>`;
}

function section(id: string, title: string, body: string): string {
  return `<section id="${id}"><h2>${escapeHtml(title)}</h2>${body}</section>`;
}

const notMeasured = '<p class="missing">not measured</p>';

/** Rows of label → already-formatted value, as a two-column table. */
function keyValueTable(rows: readonly (readonly [string, string])[]): string {
  const body = rows.map(([key, value]) => `<tr><th scope="row">${escapeHtml(key)}</th><td>${escapeHtml(value)}</td></tr>`).join('');
  return `<table class="kv"><tbody>${body}</tbody></table>`;
}

function pre(text: string): string {
  return text === '' ? '<p class="missing">(empty)</p>' : `<pre>${escapeHtml(text)}</pre>`;
}

export function headerSection(report: RunReport): string {
  const ready = report.ready === null ? 'never became ready' : `${report.ready.server} on ${report.ready.host}:${report.ready.port} (ready by ${report.ready.by})`;
  const facts = keyValueTable([
    ['server command', formatCommand(report.serverCommand)],
    ...(report.ranAs !== undefined ? [['ran as', `${formatCommand(report.ranAs.argv)} (${report.ranAs.why})`] as [string, string]] : []),
    ['listening', ready],
    ['started at', report.startedAt],
    ['run time', formatDuration(report.durationMs)],
    ['harness', `portico-harness ${report.provenance.harnessVersion}, Node ${report.provenance.nodeVersion}, ${report.provenance.platform}`],
    ['command', report.provenance.command === null ? '(run as a library)' : formatCommand(report.provenance.command)],
  ]);
  const error = report.error === undefined ? '' : `<div class="alert"><strong>The run could not complete:</strong>${pre(report.error)}</div>`;
  return `<header><h1>${badge(reportResult(report))} ${escapeHtml(report.scenario)}</h1>${facts}${error}</header>`;
}

export function checksSection(checks: readonly CheckResult[]): string {
  if (checks.length === 0) return section('checks', 'Checks', '<p class="missing">no checks recorded</p>');
  const rows = checks
    .map((check) => `<tr class="${badgeClass[check.verdict]}"><td>${escapeHtml(check.name)}</td><td>${badge(check.verdict)}</td><td>${escapeHtml(check.detail)}</td></tr>`)
    .join('');
  return section(
    'checks',
    'Checks',
    `<table class="grid"><thead><tr><th>check</th><th>result</th><th>detail</th></tr></thead><tbody>${rows}</tbody></table>`,
  );
}

export function floodSection(flood: FloodResult | null): string {
  if (flood === null) return section('flood', 'Flood totals', notMeasured);
  const t = flood.throughput;
  const settings = flood.settings;
  const totals = keyValueTable([
    ['protocol', flood.protocol],
    ['connections planned', flood.connectionsPlanned === null ? 'no limit' : formatCount(flood.connectionsPlanned)],
    ['connections started', formatCount(flood.connectionsStarted)],
    ['connections made', formatCount(flood.connectionsMade)],
    ['in error', formatCount(flood.connectionsInError)],
    ['connect failed', `${formatCount(flood.connectionsFailed)} (${formatCount(flood.connectionsRefused)} refused)`],
    ['reset by server', formatCount(flood.connectionsReset)],
    ['bad reply', formatCount(flood.connectionsBad)],
    ['cut off (cap, interrupt)', formatCount(flood.connectionsCut)],
    ['open at the planned end', formatCount(flood.connectionsEnded)],
    ['messages sent', formatCount(flood.messagesSent)],
    ['messages received', formatCount(flood.messagesReceived)],
    ['bytes sent', `${formatCount(flood.bytesSent)} (${formatBytes(flood.bytesSent)})`],
    ['bytes received', `${formatCount(flood.bytesReceived)} (${formatBytes(flood.bytesReceived)})`],
    ['throughput', `${formatCount(Math.round(t.messagesPerSecond))} msg/s; ${formatBytes(t.bytesSentPerSecond)}/s sent, ${formatBytes(t.bytesReceivedPerSecond)}/s received (over ${formatDuration(t.measuredMs)})`],
    ['warm-up (not counted)', settings.warmupMs > 0 ? `${formatDuration(settings.warmupMs)}: ${formatCount(flood.warmup.messagesReceived)} messages` : 'none'],
    ['duration', `${formatDuration(flood.durationMs)}${flood.cappedByDuration ? ' — stopped by the duration cap' : ''}${flood.stoppedEarly !== null ? ` — ${flood.stoppedEarly}` : ''}`],
    [
      'settings',
      `${settings.concurrency} at once, ${settings.messages ?? 'unlimited'} × ${settings.size} B per connection, ${settings.sendAfterReceive ? 'ping-pong' : 'pipelined'}` +
        `${settings.durationMs !== null ? `, duration ${formatDuration(settings.durationMs)}` : ''}${settings.rate > 0 ? `, rate ${formatCount(settings.rate)} msg/s` : ''}` +
        `${settings.connectRate > 0 ? `, connect rate ${formatCount(settings.connectRate)}/s` : ''}, ${settings.workers} worker${settings.workers > 1 ? ' threads' : ' (main thread)'}`,
    ],
  ]);
  const row = (label: string, l: FloodResult['latencyMs']): string =>
    `<tr><th scope="row">${escapeHtml(label)}</th>${[l.count, l.p50, l.p90, l.p99, l.p999, l.max, l.mean]
      .map((v, i) => `<td>${escapeHtml(i === 0 ? formatCount(v) : formatLatency(v))}</td>`)
      .join('')}</tr>`;
  const latency =
    `<table class="grid"><thead><tr><th></th><th>samples</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th><th>mean</th></tr></thead><tbody>` +
    (flood.latencyCorrected
      ? row('latency from intended send (corrected)', flood.latencyMs) + row('service time from actual send', flood.serviceTimeMs)
      : row('round trip', flood.latencyMs)) +
    '</tbody></table>';
  const errorEntries = Object.entries(flood.errors).sort((a, b) => b[1] - a[1]);
  const errors =
    errorEntries.length === 0
      ? '<p>No errors.</p>'
      : `<table class="grid"><thead><tr><th>error</th><th>count</th><th>first seen</th></tr></thead><tbody>${errorEntries
          .map(([code, count]) => `<tr><td>${escapeHtml(code)}</td><td>${escapeHtml(formatCount(count))}</td><td>${escapeHtml(flood.errorExamples[code] ?? '')}</td></tr>`)
          .join('')}</tbody></table>`;
  return section('flood', 'Flood totals', `${totals}<h3>Round-trip latency</h3>${latency}<h3>Errors</h3>${errors}`);
}

export function locksSection(locks: readonly LockFinding[]): string {
  if (locks.length === 0) return section('locks', 'Lock-order findings', '<p>None reported.</p>');
  const items = locks
    .map((lock) => {
      const scope = lock.singleTask ? 'single task' : 'across tasks';
      return `<article class="finding"><h3>${escapeHtml(lock.kind)} (${scope}): ${escapeHtml(lock.cycle.join(' → '))}</h3>${pre(lock.text)}</article>`;
    })
    .join('');
  return section('locks', `Lock-order findings (${locks.length})`, items);
}

export function leaksSection(leaks: readonly LeakFinding[], stopSignal: string | null): string {
  if (leaks.length === 0) return section('leaks', 'Leak findings', '<p>None reported.</p>');
  const items = leaks
    .map((leak) => {
      const resources = leak.resources.length === 0 ? '(none listed)' : leak.resources.join(', ');
      return `<article class="finding"><h3>Still active after ${escapeHtml(stopSignal ?? 'the stop signal')}: ${escapeHtml(resources)}</h3>${pre(leak.detail)}</article>`;
    })
    .join('');
  return section('leaks', `Leak findings (${leaks.length})`, items);
}

export function exitSection(exit: ServerExit | null): string {
  if (exit === null) return section('exit', 'Server exit', notMeasured);
  const how = exit.stopSignal === null ? 'exited before the harness stopped it' : exit.killed ? 'SIGKILLed after the stop deadline' : exit.clean ? 'exited cleanly' : 'exited, not with code 0';
  const facts = keyValueTable([
    ['outcome', how],
    ['exit code', exit.code === null ? 'none' : String(exit.code)],
    ['signal', exit.signal ?? 'none'],
    exit.stopSignal === null ? ['stop signal', 'none sent'] : [`time from ${exit.stopSignal} to exit`, formatDuration(exit.stopMs)],
  ]);
  return section('exit', 'Server exit', `${facts}<h3>stderr (tail)</h3>${pre(exit.stderrTail)}`);
}

/** The resolved scenario as a scenario file: saved as JSON, `portico-harness run` repeats the run. */
export function reproduceSection(provenance: RunProvenance): string {
  const json = JSON.stringify(provenance.scenario, null, 2);
  return section(
    'reproduce',
    'Reproduce',
    `<p>Every setting of this run, defaults included, in the scenario-file shape (<code>provenance.scenario</code> in report.json); ` +
      `saved as a file, <code>portico-harness run &lt;file&gt;</code> runs it again.</p><details><summary>resolved scenario</summary>${pre(json)}</details>`,
  );
}
