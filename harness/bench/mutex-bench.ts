#!/usr/bin/env node
/**
 * AsyncMutex micro-benchmarks (tinybench): an uncontended `withLock` without the lock-order
 * detector, with it (steady state: the chain is cached, so a Set lookup and an ALS scope), and a
 * nested pair (two classes) with it; plus a contended hand-over between two chains.
 *
 *   node dist/harness/bench/mutex-bench.js [--time-ms 1000]
 */
import { Bench, type Task } from 'tinybench';
import { AsyncMutex, LockOrderDetector } from '../../framework/index.js';
import { exitWithError } from './fail.js';
import { flagsHelp, type IntFlag, type ParseOptions, parseIntFlags } from './flags.js';
import { fmt, markdownTable } from './markdown.js';
import { isMain } from './paths.js';

export const mutexBenchFlags: readonly IntFlag<'time-ms'>[] = [
  { name: 'time-ms', description: 'tinybench time budget per micro-benchmark', default: 1000, min: 50, max: 30_000 },
];

/** Lock operations per tinybench iteration. */
const BATCH = 100;
let counter = 0;
const body = (): void => {
  counter++;
};

function tasks(bench: Bench): string[] {
  const plain = new AsyncMutex('bench.plain', { detector: null });
  const detector = new LockOrderDetector();
  const tracked = new AsyncMutex('bench.tracked', { detector });
  const outer = new AsyncMutex('bench.outer', { detector });
  const inner = new AsyncMutex('bench.inner', { detector });
  const contended = new AsyncMutex('bench.contended', { detector: null });
  const names = ['uncontended withLock, no detector', 'uncontended withLock, detector on', 'nested pair, detector on', 'contended hand-over (2 chains), no detector'];
  bench.add(names[0]!, async () => {
    for (let i = 0; i < BATCH; i++) await plain.withLock(body);
  });
  bench.add(names[1]!, async () => {
    for (let i = 0; i < BATCH; i++) await tracked.withLock(body);
  });
  bench.add(names[2]!, async () => {
    for (let i = 0; i < BATCH; i++) await outer.withLock(() => inner.withLock(body));
  });
  bench.add(names[3]!, async () => {
    const chain = async (): Promise<void> => {
      for (let i = 0; i < BATCH / 2; i++) await contended.withLock(body);
    };
    await Promise.all([chain(), chain()]);
  });
  return names;
}

function render(results: readonly Task[], names: readonly string[]): string {
  const mean = (name: string): number | null => {
    const r = results.find((t) => t.name === name)?.result;
    return r !== undefined && 'latency' in r ? (r.latency.mean * 1e6) / BATCH : null;
  };
  const base = mean(names[0]!);
  const rows = names.map((name) => {
    const ns = mean(name);
    return [name, ns === null ? 'n/a' : `${fmt(ns, 0)} ns/op`, ns === null || base === null ? '' : `${fmt(ns / base, 2)}×`];
  });
  return markdownTable(['benchmark', 'cost', 'vs no detector'], rows, [false, true, true]);
}

export async function runMutexBench(argv: readonly string[], parse: ParseOptions = {}): Promise<void> {
  const { help, values } = parseIntFlags(argv, mutexBenchFlags, parse);
  if (help) {
    process.stdout.write(flagsHelp('node dist/harness/bench/mutex-bench.js [options]', mutexBenchFlags));
    return;
  }
  const bench = new Bench({ time: values['time-ms'], warmupTime: Math.min(250, values['time-ms']), throws: true });
  const names = tasks(bench);
  process.stderr.write('mutex: micro-benchmarks ...\n');
  const results = await bench.run();
  process.stdout.write(`\n## AsyncMutex (tinybench, mean per lock operation)\n\n${render(results, names)}\n`);
  process.stderr.write(`mutex: ${fmt(counter)} critical sections run\n`);
}

if (isMain(import.meta.url)) {
  runMutexBench(process.argv.slice(2)).catch((error: unknown) => exitWithError('mutex-bench', error));
}
