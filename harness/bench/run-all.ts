#!/usr/bin/env node
/**
 * `npm run bench [-- flags]`: the dispatcher, mutex, parser and framing micro-benchmarks, then the echo and owserver comparisons.
 * One argv serves both, so each bench skips the other's flags; anything neither knows is still an error
 * (checked up front, before minutes of benchmarking).
 */
import { dispatcherBenchFlags, runDispatcherBench } from './dispatcher-bench.js';
import { echoBenchFlags, runEchoBench } from './echo-bench.js';
import { exitWithError } from './fail.js';
import { flagsHelp, type IntFlag, parseIntFlags } from './flags.js';
import { runFramingBench } from './framing-bench.js';
import { mutexBenchFlags, runMutexBench } from './mutex-bench.js';
import { owserverBenchFlags, runOwserverBench } from './owserver-bench.js';
import { runParserBench } from './parser-bench.js';

async function main(argv: readonly string[]): Promise<void> {
  const all: IntFlag[] = [...dispatcherBenchFlags, ...echoBenchFlags].concat(mutexBenchFlags.filter((f) => !dispatcherBenchFlags.some((d) => d.name === f.name)));
  all.push(...owserverBenchFlags.filter((f) => !all.some((a) => a.name === f.name)));
  if (parseIntFlags(argv, all).help) {
    process.stdout.write(flagsHelp('npm run bench -- [options]', all));
    return;
  }
  await runDispatcherBench(argv, { ignoreUnknown: true });
  await runMutexBench(argv, { ignoreUnknown: true });
  await runParserBench(argv, { ignoreUnknown: true });
  await runFramingBench(argv, { ignoreUnknown: true });
  await runEchoBench(argv, { ignoreUnknown: true });
  await runOwserverBench(argv, { ignoreUnknown: true });
}

main(process.argv.slice(2)).catch((error: unknown) => exitWithError('bench', error));
