#!/usr/bin/env node
/**
 * Summarise a V8 CPU profile (`node --cpu-prof`): the functions with the most self time, as a
 * markdown table, so a benchmark's "where does the time go" fits in a report.
 *
 *   node dist/harness/bench/cpu-profile-summary.js PROFILE.cpuprofile [--top 25]
 *
 * Self time is the sampled time whose innermost frame is the function (timeDeltas summed per
 * node, nodes merged by function name, file and line). "(program)", "(garbage collector)" and
 * "(idle)" are V8's own buckets: native code outside JS, GC, waiting in epoll.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { exitWithError } from './fail.js';
import { FlagError } from './flags.js';
import { fmt, markdownTable } from './markdown.js';
import { isMain, repoRoot } from './paths.js';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface SelfTime {
  readonly name: string;
  readonly where: string;
  readonly ms: number;
  readonly share: number;
}

function shortUrl(url: string): string {
  if (url === '') return '';
  const file = url.startsWith('file://') ? new URL(url).pathname : url;
  const inRepo = path.relative(repoRoot, file);
  return inRepo.startsWith('..') ? file : inRepo;
}

/** Self time per function, largest first; `idle` excluded from the shares (it is not CPU). */
export function selfTimes(profile: CpuProfile): SelfTime[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const totals = new Map<string, { name: string; where: string; us: number }>();
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]!);
    if (node === undefined) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const name = functionName === '' ? '(anonymous)' : functionName;
    const where = url === '' ? '' : `${shortUrl(url)}:${lineNumber + 1}`;
    const key = `${name}\u0000${where}`;
    const entry = totals.get(key) ?? { name, where, us: 0 };
    entry.us += profile.timeDeltas[i] ?? 0;
    totals.set(key, entry);
  }
  const busy = [...totals.values()].filter((t) => t.name !== '(idle)').reduce((acc, t) => acc + t.us, 0);
  return [...totals.values()]
    .filter((t) => t.name !== '(idle)')
    .sort((a, b) => b.us - a.us)
    .map((t) => ({ name: t.name, where: t.where, ms: t.us / 1000, share: busy > 0 ? t.us / busy : 0 }));
}

function main(argv: readonly string[]): void {
  const file = argv.find((a) => !a.startsWith('--'));
  if (file === undefined) throw new FlagError('usage: cpu-profile-summary.js PROFILE.cpuprofile [--top N]');
  const at = argv.indexOf('--top');
  const top = at >= 0 ? Number(argv[at + 1]) : 25;
  const times = selfTimes(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile);
  const busyMs = times.reduce((acc, t) => acc + t.ms, 0);
  process.stdout.write(`busy (not idle) ${fmt(busyMs)} ms\n\n`);
  process.stdout.write(
    markdownTable(
      ['self ms', 'share', 'function', 'where'],
      times.slice(0, top).map((t) => [fmt(t.ms, 1), `${fmt(t.share * 100, 1)} %`, t.name, t.where]),
      [true, true, false, false],
    ) + '\n',
  );
}

if (isMain(import.meta.url)) {
  try {
    main(process.argv.slice(2));
  } catch (error) {
    exitWithError('cpu-profile-summary', error);
  }
}
