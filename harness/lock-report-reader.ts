/**
 * Reads the JSON-lines files a server under test leaves behind: lock-order findings (framework/sync
 * with PORTICO_LOCKDEP_REPORT) and leak findings (the harness preload with PORTICO_LEAK_REPORT).
 * A line that does not parse or has the wrong shape is not dropped: it comes back as a problem, and
 * the run treats it as a failed check, since a detector that wrote *something* found something.
 */
import { readFile } from 'node:fs/promises';
import type { LeakFinding, LockFinding } from './types.js';

export interface ReadFindings<T> {
  readonly findings: T[];
  /** "line 3: not JSON (…)" and the like. */
  readonly problems: string[];
}

type Check<T> = (value: unknown) => T | string;

const isStringArray = (value: unknown): value is string[] => Array.isArray(value) && value.every((v) => typeof v === 'string');

const lockKinds: readonly string[] = ['inversion', 'recursive-acquire', 'deadlock'];

/** A LockFinding, or why the value is not one. */
export function checkLockFinding(value: unknown): LockFinding | string {
  if (typeof value !== 'object' || value === null) return 'expected an object';
  const v = value as Record<string, unknown>;
  if (typeof v['kind'] !== 'string' || !lockKinds.includes(v['kind'])) return `kind: expected one of ${lockKinds.join(', ')}, got ${JSON.stringify(v['kind'])}`;
  if (!isStringArray(v['cycle'])) return 'cycle: expected an array of lock class names';
  if (typeof v['singleTask'] !== 'boolean') return 'singleTask: expected true or false';
  if (typeof v['text'] !== 'string') return 'text: expected a string';
  return { kind: v['kind'] as LockFinding['kind'], cycle: v['cycle'], singleTask: v['singleTask'], text: v['text'] };
}

/** A LeakFinding, or why the value is not one. */
export function checkLeakFinding(value: unknown): LeakFinding | string {
  if (typeof value !== 'object' || value === null) return 'expected an object';
  const v = value as Record<string, unknown>;
  if (!isStringArray(v['resources'])) return 'resources: expected an array of strings';
  if (typeof v['detail'] !== 'string') return 'detail: expected a string';
  return { resources: v['resources'], detail: v['detail'] };
}

/** Parse JSON lines (blank lines skipped); a missing file means nothing was reported. */
export async function readJsonLines<T>(path: string, check: Check<T>): Promise<ReadFindings<T>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { findings: [], problems: [] };
    return { findings: [], problems: [`cannot read ${path}: ${(error as Error).message}`] };
  }
  const findings: T[] = [];
  const problems: string[] = [];
  text.split('\n').forEach((line, index) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      problems.push(`${path} line ${index + 1}: not JSON (${(error as Error).message})`);
      return;
    }
    const checked = check(value);
    if (typeof checked === 'string') problems.push(`${path} line ${index + 1}: ${checked}`);
    else findings.push(checked);
  });
  return { findings, problems };
}

export const readLockFindings = (path: string): Promise<ReadFindings<LockFinding>> => readJsonLines(path, checkLockFinding);
export const readLeakFindings = (path: string): Promise<ReadFindings<LeakFinding>> => readJsonLines(path, checkLeakFinding);
