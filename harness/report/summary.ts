/**
 * The run report as a few lines of plain text for the terminal (and CI logs): every check with its
 * verdict, the figures one looks at first, and a last line a script can grep for.
 */
import type { RunReport } from '../types.js';
import { formatBytes, formatCommand, formatCount, formatDuration, formatLatency, reportResult } from './format.js';

/** Check details may carry newlines (stacks); a summary line must stay one line. */
function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

/**
 * Plain-text summary of a run, ending with `RESULT: PASS`, `RESULT: FAIL` or `RESULT: INCOMPLETE`.
 * The run's error (the server's own stderr among it) keeps its lines, indented: this is the one
 * place it is printed.
 */
export function formatSummary(report: RunReport): string {
  const lines: string[] = [];
  lines.push(`scenario: ${report.scenario}`);
  lines.push(`server:   ${formatCommand(report.serverCommand)}`);
  if (report.ranAs !== undefined) lines.push(`ran as:   ${formatCommand(report.ranAs.argv)} (${report.ranAs.why})`);
  if (report.error !== undefined) {
    const [first = '', ...rest] = report.error.trimEnd().split(/\r?\n/);
    lines.push(`error:    ${first}`, ...rest.map((line) => `          ${line}`.trimEnd()));
  }

  const verdictWidth = 'NOT CHECKED'.length;
  const nameWidth = Math.max(0, ...report.checks.map((check) => oneLine(check.name).length));
  for (const check of report.checks) {
    lines.push(`${check.verdict.padEnd(verdictWidth)}  ${oneLine(check.name).padEnd(nameWidth)}  ${oneLine(check.detail)}`.trimEnd());
  }
  if (report.checks.length === 0) lines.push('(no checks recorded)');

  const flood = report.flood;
  if (flood === null) {
    lines.push('connections: not measured');
  } else {
    const planned = flood.connectionsPlanned === null ? 'no limit' : `${formatCount(flood.connectionsPlanned)} planned`;
    lines.push(
      `connections: ${formatCount(flood.connectionsStarted)} started (${planned}), ${formatCount(flood.connectionsMade)} made, ` +
        `${formatCount(flood.connectionsInError)} in error: ${formatCount(flood.connectionsFailed)} failed (${formatCount(flood.connectionsRefused)} refused), ` +
        `${formatCount(flood.connectionsReset)} reset, ${formatCount(flood.connectionsBad)} bad, ${formatCount(flood.connectionsCut)} cut off` +
        (flood.cappedByDuration ? ' (stopped by the duration cap)' : ''),
    );
    const t = flood.throughput;
    lines.push(
      `messages:    ${formatCount(flood.messagesSent)} sent, ${formatCount(flood.messagesReceived)} received` +
        (flood.warmup.ms > 0 ? ` after a ${formatDuration(flood.warmup.ms)} warm-up (${formatCount(flood.warmup.messagesReceived)} not counted)` : ''),
    );
    lines.push(
      `throughput:  ${formatCount(Math.round(t.messagesPerSecond))} msg/s, ${formatBytes(t.bytesSentPerSecond)}/s sent, ${formatBytes(t.bytesReceivedPerSecond)}/s received over ${formatDuration(t.measuredMs)}` +
        (flood.settings.workers > 1 ? ` (${flood.settings.workers} worker threads)` : ''),
    );
    // A rate asked for and not reached: the latencies are then not those of the asked-for load.
    if (flood.settings.rate > 0 && t.messagesPerSecond < 0.9 * flood.settings.rate) {
      lines.push(
        `rate:        ${formatCount(Math.round(t.messagesPerSecond))} of the ${formatCount(flood.settings.rate)} msg/s asked (${Math.round((100 * t.messagesPerSecond) / flood.settings.rate)}%): ` +
          'the server or the load generator could not keep up (more --concurrency or --workers, or a lower --rate)',
      );
    }
    // The first bad reply of each kind, so a count comes with what actually arrived.
    for (const [code, detail] of Object.entries(flood.errorExamples).slice(0, 3)) lines.push(`first ${code}: ${oneLine(detail)}`);
    const l = flood.latencyMs;
    const s = flood.serviceTimeMs;
    if (l.count === 0) {
      lines.push('latency:     no replies were measured');
    } else {
      lines.push(
        `latency:     p50 ${formatLatency(l.p50)}, p90 ${formatLatency(l.p90)}, p99 ${formatLatency(l.p99)}, p99.9 ${formatLatency(l.p999)}, max ${formatLatency(l.max)}` +
          (flood.latencyCorrected ? ` (from intended send times at ${formatCount(flood.settings.rate)} msg/s; service time p50 ${formatLatency(s.p50)}, p99 ${formatLatency(s.p99)}, max ${formatLatency(s.max)})` : ''),
      );
    }
  }

  const timeWait = report.timeWait;
  lines.push(
    timeWait === null
      ? 'TIME_WAIT:   not measured'
      : `TIME_WAIT:   peak server ${formatCount(timeWait.peak.server)}, client ${formatCount(timeWait.peak.client)}${timeWait.netns ? '' : ' (host namespace)'}`,
  );

  const memory = report.memory;
  if (memory === null) {
    lines.push('RSS:         not measured');
  } else {
    const cap = memory.capBytes === null ? 'no cap' : `cap ${formatBytes(memory.capBytes)}`;
    lines.push(`RSS:         peak ${formatBytes(memory.peakRssBytes)}, ${cap}${memory.killedByCap ? ' — KILLED BY CAP' : ''}`);
  }

  if (report.locks.length > 0) lines.push(`lock order:  ${report.locks.length} finding(s): ${report.locks.map((l) => l.cycle.join(' -> ')).join('; ')}`);
  if (report.leaks.length > 0) lines.push(`leaks:       ${report.leaks.map((l) => l.resources.join(', ') || '(unnamed)').join('; ')}`);
  if (report.exit !== null) {
    const exit = report.exit;
    const how = exit.killed ? 'SIGKILLed' : `code ${exit.code === null ? 'none' : exit.code}, signal ${exit.signal ?? 'none'}`;
    const when = exit.stopSignal === null ? 'before the harness sent any stop signal' : `${formatDuration(exit.stopMs)} after ${exit.stopSignal}`;
    lines.push(`exit:        ${how}, ${when}${exit.clean ? ' (clean)' : ''}`);
  }

  const result = reportResult(report);
  lines.push(`RESULT: ${result}${result === 'INCOMPLETE' ? ` (not checked: ${report.checks.filter((c) => c.requested && c.verdict === 'NOT CHECKED').map((c) => c.name).join(', ')})` : ''}`);
  return lines.join('\n');
}
