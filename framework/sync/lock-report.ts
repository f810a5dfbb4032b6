import type { LockClass } from './lock-class.js';

/** Where an ordering edge was first seen: the async chain (task) and the stack of the acquisition. */
export interface LockEdgeSite {
  readonly task: number;
  readonly stack: string;
}

export interface LockCycleEdge {
  readonly from: LockClass;
  readonly to: LockClass;
  readonly site: LockEdgeSite;
}

/** A finding of the lock-order detector. */
export interface LockOrderReport {
  readonly kind: 'inversion' | 'recursive-acquire' | 'deadlock';
  /** The edges around the cycle (for recursive-acquire: one edge from the class to itself). */
  readonly cycle: readonly LockCycleEdge[];
  /** Every edge was recorded by one async chain (LID's single-thread case). */
  readonly singleTask: boolean;
}

/** The cycle as class names, first repeated at the end: a => b => a. */
export function cycleNames(report: LockOrderReport): string[] {
  if (report.cycle.length === 0) return [];
  return [...report.cycle.map((e) => e.from.name), report.cycle[report.cycle.length - 1]!.to.name];
}

const titles: Record<LockOrderReport['kind'], string> = {
  inversion: 'lock-order inversion (potential deadlock)',
  'recursive-acquire': 'recursive acquisition of a held mutex (would hang forever)',
  deadlock: 'deadlock: acquisition refused, it would wait forever',
};

/** The TSan-shaped text report. */
export function formatLockReport(report: LockOrderReport): string {
  const lines = [`portico lockdep: ${titles[report.kind]}`, `  cycle: ${cycleNames(report).join(' => ')}`];
  for (const edge of report.cycle) {
    lines.push(`  ${edge.from.name} -> ${edge.to.name} first seen in task ${edge.site.task}:`);
    lines.push(...indentStack(edge.site.stack));
  }
  lines.push(`  single-task: ${report.singleTask ? 'yes' : 'no'}`);
  return lines.join('\n');
}

function indentStack(stack: string): string[] {
  const frames = stack
    .split('\n')
    .filter((line) => /^\s+at /.test(line))
    .filter((line) => !line.includes('/framework/sync/'));
  return (frames.length > 0 ? frames : ['(stack not captured)']).map((line) => `    ${line.trim()}`);
}

/** The JSON line the harness collects (its LockFinding). */
export function lockReportJson(report: LockOrderReport): { kind: LockOrderReport['kind']; cycle: string[]; singleTask: boolean; text: string } {
  return { kind: report.kind, cycle: cycleNames(report), singleTask: report.singleTask, text: formatLockReport(report) };
}
