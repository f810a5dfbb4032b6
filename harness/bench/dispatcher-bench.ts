#!/usr/bin/env node
/**
 * CompletionDispatcher micro-benchmarks (tinybench):
 *   - inline: complete() at depth 0 runs the completion on the spot — the common case;
 *   - queued: maxInlineDepth 0 forces every completion through the per-target queue; the enqueue and
 *     the drain are timed separately (overriddenDuration) so the drain cost stands on its own;
 *   - chained reads: a million reads re-posted from onReadCompleted over MemoryTransport, through
 *     Connection, i.e. the real recursion-breaking path.
 *
 *   node dist/harness/bench/dispatcher-bench.js [--time-ms 1000] [--chain-reads 1000000] [--chain-iterations 5]
 */
import { Bench, type Task } from 'tinybench';
import { CompletionDispatcher, type Completion, type CompletionTarget, idleDispatchState } from '../../framework/index.js';
import { type ChainOutcome, runChainedReads } from './chained-reads.js';
import { exitWithError } from './fail.js';
import { flagsHelp, type IntFlag, type ParseOptions, parseIntFlags } from './flags.js';
import { fmt, markdownTable } from './markdown.js';
import { isMain } from './paths.js';

type DispatcherFlag = 'time-ms' | 'chain-reads' | 'chain-iterations';

export const dispatcherBenchFlags: readonly IntFlag<DispatcherFlag>[] = [
  { name: 'time-ms', description: 'tinybench time budget per micro-benchmark', default: 1000, min: 50, max: 30_000 },
  { name: 'chain-reads', description: 'reads per chained-read run', default: 1_000_000, min: 1000, max: 10_000_000 },
  { name: 'chain-iterations', description: 'timed chained-read runs', default: 5, min: 1, max: 50 },
];

/** Completions per tinybench iteration: one complete() is ~tens of ns, far below the timer's resolution. */
const BATCH = 1000;
/** Targets for the many-connection drain: the ready-list round-robin matters only with several. */
const TARGETS = 64;

interface Row {
  readonly name: string;
  /** How many operations one tinybench sample covers. */
  readonly opsPerSample: number;
  readonly unit: string;
  readonly notes: () => string;
}

function makeTarget(): CompletionTarget {
  return {
    ...idleDispatchState(),
    completionFailed(error) {
      throw error; // the bench completions never throw; if one does, the numbers are meaningless
    },
  };
}

let completionsRun = 0;
// Trivial but observable work, so the call cannot be optimised away.
const work: Completion<number> = () => {
  completionsRun++;
};

/** A queued-only dispatcher whose drains we run by hand, so timing sees the drain and nothing else. */
function manualDrainDispatcher(): { dispatcher: CompletionDispatcher; drainAll: () => void } {
  let scheduled: (() => void) | null = null;
  const dispatcher = new CompletionDispatcher({
    maxInlineDepth: 0,
    schedule: (fn) => {
      scheduled = fn;
    },
  });
  const drainAll = (): void => {
    // A drain turn is bounded (256 completions / 4 ms) and re-schedules itself; run turns until idle.
    while (scheduled !== null) {
      const fn: () => void = scheduled;
      scheduled = null;
      fn();
    }
  };
  return { dispatcher, drainAll };
}

function addMicroTasks(bench: Bench, rows: Row[]): void {
  const inline = new CompletionDispatcher();
  const one = makeTarget();
  bench.add('inline complete(), depth 0', () => {
    for (let i = 0; i < BATCH; i++) inline.complete(one, work, i);
  }, { async: false });
  rows.push({ name: 'inline complete(), depth 0', opsPerSample: BATCH, unit: 'completion', notes: () => (inline.stats.queued === 0 ? 'all ran inline' : `${fmt(inline.stats.queued)} queued?!`) });

  const q = manualDrainDispatcher();
  bench.add('queued: enqueue (maxInlineDepth 0)', () => {
    const t0 = bench.now();
    for (let i = 0; i < BATCH; i++) q.dispatcher.complete(one, work, i);
    const t1 = bench.now();
    q.drainAll();
    return { overriddenDuration: t1 - t0 };
  }, { async: false });
  rows.push({ name: 'queued: enqueue (maxInlineDepth 0)', opsPerSample: BATCH, unit: 'completion', notes: () => 'into 1 target queue; drain untimed' });

  bench.add('queued: drain, 1 target', () => {
    for (let i = 0; i < BATCH; i++) q.dispatcher.complete(one, work, i);
    const t0 = bench.now();
    q.drainAll();
    return { overriddenDuration: bench.now() - t0 };
  }, { async: false });
  rows.push({ name: 'queued: drain, 1 target', opsPerSample: BATCH, unit: 'completion', notes: () => 'enqueue untimed; includes bounded-turn re-scheduling' });

  const many = Array.from({ length: TARGETS }, makeTarget);
  bench.add(`queued: drain, ${TARGETS} targets`, () => {
    for (let i = 0; i < BATCH; i++) q.dispatcher.complete(many[i % TARGETS]!, work, i);
    const t0 = bench.now();
    q.drainAll();
    return { overriddenDuration: bench.now() - t0 };
  }, { async: false });
  rows.push({ name: `queued: drain, ${TARGETS} targets`, opsPerSample: BATCH, unit: 'completion', notes: () => 'round-robin over targets' });
}

function addChainTasks(bench: Bench, rows: Row[], reads: number): void {
  for (const maxInlineDepth of [8, 0]) {
    const name = `${fmt(reads)} chained reads, maxInlineDepth ${maxInlineDepth}`;
    let last: ChainOutcome | null = null;
    // A fresh dispatcher per run: its stats then describe exactly one chain.
    bench.add(name, async () => {
      last = await runChainedReads(new CompletionDispatcher({ maxInlineDepth }), reads);
      if (last.leakedBuffers !== 0) throw new Error(`${last.leakedBuffers} pooled buffers leaked`);
    }, { async: true });
    rows.push({
      name,
      opsPerSample: reads,
      unit: 'read',
      notes: () => {
        if (last === null) return '';
        const s = last.stats;
        return `inline=${fmt(s.inline)} queued=${fmt(s.queued)} maxDepth=${s.maxDepth} yields=${fmt(s.yields)}`;
      },
    });
  }
}

function renderRows(tasks: readonly Task[], rows: readonly Row[]): string {
  const body = rows.map((row) => {
    const task = tasks.find((t) => t.name === row.name);
    const result = task?.result;
    if (result === undefined || !('latency' in result)) {
      const why = result !== undefined && 'error' in result ? result.error.message : (result?.state ?? 'missing');
      return [row.name, 'n/a', 'n/a', '0', `failed: ${why}`];
    }
    const nsPerOp = (result.latency.mean * 1e6) / row.opsPerSample;
    return [row.name, `${fmt(nsPerOp, nsPerOp < 100 ? 1 : 0)} ns/${row.unit}`, `±${fmt(result.latency.rme, 1)} %`, String(result.latency.samplesCount), row.notes()];
  });
  return markdownTable(['benchmark', 'cost', 'rme', 'samples', 'notes'], body, [false, true, true, true, false]);
}

/** Run the dispatcher benchmarks and print their table. */
export async function runDispatcherBench(argv: readonly string[], parse: ParseOptions = {}): Promise<void> {
  const { help, values: flags } = parseIntFlags(argv, dispatcherBenchFlags, parse);
  if (help) {
    process.stdout.write(flagsHelp('node dist/harness/bench/dispatcher-bench.js [options]', dispatcherBenchFlags));
    return;
  }
  const rows: Row[] = [];
  const micro = new Bench({ time: flags['time-ms'], warmupTime: Math.min(250, flags['time-ms']), throws: true });
  addMicroTasks(micro, rows);
  // A chained run is long (hundreds of ms): a fixed number of runs, not a time budget.
  const chain = new Bench({ time: 0, iterations: flags['chain-iterations'], warmupIterations: 1, warmupTime: 0, throws: true });
  addChainTasks(chain, rows, flags['chain-reads']);

  process.stderr.write('dispatcher: micro-benchmarks ...\n');
  const tasks = await micro.run();
  process.stderr.write('dispatcher: chained reads ...\n');
  tasks.push(...(await chain.run()));
  process.stdout.write(`\n## CompletionDispatcher (tinybench, mean per operation)\n\n${renderRows(tasks, rows)}\n`);
  process.stderr.write(`dispatcher: ${fmt(completionsRun)} micro-benchmark completions run\n`);
}

if (isMain(import.meta.url)) {
  runDispatcherBench(process.argv.slice(2)).catch((error: unknown) => exitWithError('dispatcher-bench', error));
}
