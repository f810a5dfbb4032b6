#!/usr/bin/env node
/**
 * Parser micro-benchmarks (tinybench): the owserver request framer (the framework's length-prefixed
 * framer plus the request parse) on requests arriving whole, in one big pipelined chunk, and trickled
 * in 7-byte pieces; and the response encoder. Input arrives as pooled buffers filled with
 * `acquireCopy` (the copy a socket read does), as the server gets it.
 *
 *   node dist/harness/bench/parser-bench.js [--time-ms 1000]
 */
import { Bench } from 'tinybench';
import { MessageType, Sg } from '../../examples/owserver/protocol/constants.js';
import { encodeRequest } from '../../examples/owserver/protocol/header.js';
import { RequestFramer } from '../../examples/owserver/protocol/request-framer.js';
import { ResponseBuilder } from '../../examples/owserver/server/response.js';
import { BufferPool } from '../../framework/index.js';
import { exitWithError } from './fail.js';
import { flagsHelp, type IntFlag, type ParseOptions, parseIntFlags } from './flags.js';
import { fmt, markdownTable } from './markdown.js';
import { isMain } from './paths.js';

export const parserBenchFlags: readonly IntFlag<'time-ms'>[] = [
  { name: 'time-ms', description: 'tinybench time budget per micro-benchmark', default: 1000, min: 50, max: 30_000 },
];

const BATCH = 100;
const request = encodeRequest({ type: MessageType.READ, sg: Sg.BUS_LIST | Sg.OWNET | Sg.PERSISTENT, size: 65536 }, '/28.4AEC29CDBAAB/temperature');
const pipelined = Buffer.concat(Array.from({ length: BATCH }, () => request));
const pool = new BufferPool({ bufferSize: 16384 }); // the owserver's read size
let parsed = 0;

function feed(reader: RequestFramer, bytes: Buffer): void {
  reader.push(pool.acquireCopy(bytes));
  for (let request = reader.next(); request !== null; request = reader.next()) parsed++;
}

export async function runParserBench(argv: readonly string[], parse: ParseOptions = {}): Promise<void> {
  const { help, values } = parseIntFlags(argv, parserBenchFlags, parse);
  if (help) {
    process.stdout.write(flagsHelp('node dist/harness/bench/parser-bench.js [options]', parserBenchFlags));
    return;
  }
  const bench = new Bench({ time: values['time-ms'], warmupTime: Math.min(250, values['time-ms']), throws: true });
  const rows: [string, number][] = [
    ['owserver request, one chunk per request', BATCH],
    ['owserver requests, 100 pipelined in one chunk', BATCH],
    ['owserver request trickled in 7-byte chunks', BATCH],
    ['owserver READ response encode', BATCH],
  ];
  bench.add(rows[0]![0], () => {
    const reader = new RequestFramer();
    for (let i = 0; i < BATCH; i++) feed(reader, request);
    reader.clear();
  });
  bench.add(rows[1]![0], () => {
    const reader = new RequestFramer();
    feed(reader, pipelined);
    reader.clear();
  });
  bench.add(rows[2]![0], () => {
    const reader = new RequestFramer();
    for (let i = 0; i < BATCH; i++) {
      for (let at = 0; at < request.length; at += 7) feed(reader, request.subarray(at, at + 7));
    }
    reader.clear();
  });
  const value = Buffer.from('     24.5223');
  bench.add(rows[3]![0], () => {
    for (let i = 0; i < BATCH; i++) new ResponseBuilder(0x10e, true).data(value, 0).build();
  });
  process.stderr.write('parsers: micro-benchmarks ...\n');
  const tasks = await bench.run();
  const table = rows.map(([name, ops]) => {
    const r = tasks.find((t) => t.name === name)?.result;
    const ns = r !== undefined && 'latency' in r ? (r.latency.mean * 1e6) / ops : null;
    return [name, ns === null ? 'n/a' : `${fmt(ns, 0)} ns/message`];
  });
  process.stdout.write(`\n## Parsers (tinybench, mean per message)\n\n${markdownTable(['benchmark', 'cost'], table, [false, true])}\n`);
  if (pool.outstanding !== 0) throw new Error(`parser bench leaked ${pool.outstanding} pooled buffers`);
  process.stderr.write(`parsers: ${fmt(parsed)} requests parsed\n`);
}

if (isMain(import.meta.url)) {
  runParserBench(process.argv.slice(2)).catch((error: unknown) => exitWithError('parser-bench', error));
}
