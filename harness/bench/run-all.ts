#!/usr/bin/env node
/**
 * `npm run bench [-- flags]`: the dispatcher, mutex, parser and framing micro-benchmarks, then the
 * echo comparisons (100 connections × 64 B / 16 KiB, connection setup, scaling to 10,000 connections,
 * idle RSS after traffic, the issue 7 flood), the owserver comparison and the WebSocket comparison
 * against ws, and the harness load generator with 1 vs 2 worker threads (~30 s). About 6 minutes with the defaults on the 2-core machine (micro ~40 s, echo ~45 s,
 * connect ~55 s, scaling ~50 s, idle RSS ~20 s, flood 80–120 s, owserver ~55 s) plus the WebSocket
 * bench (~2.5 min) and the fd-transfer front vs a relaying front (~40 s); each bench's time is printed as it finishes.
 *
 * One argv serves them all, so each bench skips the others' flags; a flag several benches share
 * (--rounds, --duration-ms, --warmup-ms, --time-ms) goes to each of them, and each bench keeps its
 * own default when it is not given. Every bench's flags are checked up front, before minutes of
 * benchmarking; anything none of them knows is an error.
 */
import { connectBenchFlags, runConnectBench } from './connect-bench.js';
import { dispatcherBenchFlags, runDispatcherBench } from './dispatcher-bench.js';
import { echoBenchFlags, runEchoBench } from './echo-bench.js';
import { echoScalingBenchFlags, runEchoScalingBench } from './echo-scaling-bench.js';
import { exitWithError } from './fail.js';
import { fdTransferBenchFlags, runFdTransferBench } from './fd-transfer-bench.js';
import { type IntFlag, type ParseOptions, parseIntFlags } from './flags.js';
import { floodBenchFlags, runFloodBench } from './flood-bench.js';
import { framingBenchFlags, runFramingBench } from './framing-bench.js';
import { idleRssBenchFlags, runIdleRssBench } from './idle-rss-bench.js';
import { layersBenchFlags, runLayersBench } from './layers-bench.js';
import { loadgenWorkersBenchFlags, runLoadgenWorkersBench } from './loadgen-workers-bench.js';
import { mutexBenchFlags, runMutexBench } from './mutex-bench.js';
import { owserverBenchFlags, runOwserverBench } from './owserver-bench.js';
import { parserBenchFlags, runParserBench } from './parser-bench.js';
import { runWebsocketBench, websocketBenchFlags } from './websocket-bench.js';

interface BenchEntry {
  readonly name: string;
  readonly flags: readonly IntFlag[];
  readonly run: (argv: readonly string[], parse: ParseOptions) => Promise<void>;
}

const benches: readonly BenchEntry[] = [
  { name: 'dispatcher', flags: dispatcherBenchFlags, run: runDispatcherBench },
  { name: 'mutex', flags: mutexBenchFlags, run: runMutexBench },
  { name: 'parser', flags: parserBenchFlags, run: runParserBench },
  { name: 'framing', flags: framingBenchFlags, run: runFramingBench },
  { name: 'echo', flags: echoBenchFlags, run: runEchoBench },
  { name: 'connect', flags: connectBenchFlags, run: runConnectBench },
  { name: 'scaling', flags: echoScalingBenchFlags, run: runEchoScalingBench },
  { name: 'idle-rss', flags: idleRssBenchFlags, run: runIdleRssBench },
  { name: 'flood', flags: floodBenchFlags, run: runFloodBench },
  { name: 'loadgen-workers', flags: loadgenWorkersBenchFlags, run: runLoadgenWorkersBench },
  { name: 'owserver', flags: owserverBenchFlags, run: runOwserverBench },
  { name: 'websocket', flags: websocketBenchFlags, run: runWebsocketBench },
  { name: 'layers', flags: layersBenchFlags, run: runLayersBench },
  { name: 'fd-transfer', flags: fdTransferBenchFlags, run: runFdTransferBench },
];

/** One help line per flag name, naming the benches that take it; a shared flag lists each bench's default where they differ. */
function help(): string {
  const byName = new Map<string, { description: string; defaults: { bench: string; value: number | undefined }[] }>();
  for (const bench of benches) {
    for (const flag of bench.flags) {
      const entry = byName.get(flag.name) ?? { description: flag.description, defaults: [] };
      entry.defaults.push({ bench: bench.name, value: flag.default });
      byName.set(flag.name, entry);
    }
  }
  const rows = [...byName].map(([name, { description, defaults }]) => {
    const values = new Set(defaults.map((d) => d.value));
    const text = values.size === 1 ? String(defaults[0]!.value) : defaults.map((d) => `${d.bench} ${d.value}`).join(', ');
    const benchNames = ` [${defaults.map((d) => d.bench).join(', ')}]`;
    return [`  --${name} <n>`, `${description}${benchNames} (default: ${text})`] as const;
  });
  const width = Math.max(...rows.map(([a]) => a.length)) + 2;
  return `Usage: npm run bench -- [options]\n\nOptions:\n${rows.map(([a, b]) => a.padEnd(width) + b).join('\n')}\n`;
}

async function main(argv: readonly string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(help());
    return;
  }
  // Unknown flags (against the union), then each bench's own ranges, before anything runs.
  const union = new Map<string, IntFlag>();
  for (const bench of benches) for (const flag of bench.flags) if (!union.has(flag.name)) union.set(flag.name, { ...flag, default: 0, min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER });
  parseIntFlags(argv, [...union.values()]);
  for (const bench of benches) parseIntFlags(argv, bench.flags, { ignoreUnknown: true });

  const started = Date.now();
  for (const bench of benches) {
    const t0 = Date.now();
    await bench.run(argv, { ignoreUnknown: true });
    process.stderr.write(`[bench] ${bench.name}: ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
  }
  process.stderr.write(`[bench] all: ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
}

main(process.argv.slice(2)).catch((error: unknown) => exitWithError('bench', error));
