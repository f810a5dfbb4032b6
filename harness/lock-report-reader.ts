/**
 * Reads the JSON-lines files a server under test leaves behind: lock-order reports (framework/sync,
 * or any server's own detector, with PORTICO_LOCKDEP_REPORT) and leak findings (the harness preload
 * with PORTICO_LEAK_REPORT). A line that does not parse or has the wrong shape is not dropped: it
 * comes back as a problem, and the run treats it as a failed check, since a detector that wrote
 * *something* found something.
 *
 * The lock-order format, one JSON object per line (README, "Lock-order reports from any server"):
 *   {"kind":"hello","detector":"<name>"}                        the detector is on (once, at start)
 *   {"kind":"inversion"|"recursive-acquire"|"deadlock",
 *    "cycle":["a","b","a"], "singleTask":false, "text":"…"}    a finding; singleTask and text optional
 * Without a hello or a finding, nobody was watching, and the check is NOT CHECKED rather than PASS.
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
  if (typeof v['kind'] !== 'string' || !lockKinds.includes(v['kind'])) return `kind: expected one of hello, ${lockKinds.join(', ')}, got ${JSON.stringify(v['kind'])}`;
  if (!isStringArray(v['cycle']) || v['cycle'].length === 0) return 'cycle: expected a non-empty array of lock names';
  const singleTask = v['singleTask'] ?? false;
  if (typeof singleTask !== 'boolean') return 'singleTask: expected true or false';
  const text = v['text'] ?? `${v['kind']}: ${v['cycle'].join(' => ')}`;
  if (typeof text !== 'string') return 'text: expected a string';
  return { kind: v['kind'] as LockFinding['kind'], cycle: v['cycle'], singleTask, text };
}

/** A `{"kind":"hello","detector":…}` line: the detector's name, or why the line is not one. */
function checkLockLine(value: unknown): LockFinding | { readonly hello: string } | string {
  if (typeof value === 'object' && value !== null && (value as Record<string, unknown>)['kind'] === 'hello') {
    const detector = (value as Record<string, unknown>)['detector'];
    return typeof detector === 'string' && detector !== '' ? { hello: detector } : 'hello: detector: expected the detector\'s name';
  }
  return checkLockFinding(value);
}

/** A lock-order report file: the findings, the detectors that reported in, and unreadable lines. */
export interface LockReport extends ReadFindings<LockFinding> {
  readonly detectors: string[];
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

export async function readLockReport(path: string): Promise<LockReport> {
  const { findings, problems } = await readJsonLines(path, checkLockLine);
  const detectors = new Set<string>();
  const found: LockFinding[] = [];
  for (const entry of findings) {
    if ('hello' in entry) detectors.add(entry.hello);
    else found.push(entry);
  }
  return { findings: found, problems, detectors: [...detectors] };
}
export const readLeakFindings = (path: string): Promise<ReadFindings<LeakFinding>> => readJsonLines(path, checkLeakFinding);
