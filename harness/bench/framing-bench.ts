#!/usr/bin/env node
/**
 * Framing micro-benchmarks (tinybench): ByteQueue peeks, reads and indexOf inside one buffer and
 * across buffers; LengthPrefixedFramer (owserver-shaped 64-byte requests) and DelimiterFramer
 * (40-byte CRLF lines) on input arriving whole (one buffer per frame), pipelined (100 frames in one
 * buffer) and trickled (7-byte buffers); and, for comparison, the owserver's RequestFramer (the length
 * framer plus the request parse). Input arrives as pooled buffers filled with `acquireCopy` (the copy a
 * socket read does), so that cost is in every framer figure.
 *
 *   node dist/harness/bench/framing-bench.js [--time-ms 1000]
 */
import { Bench } from 'tinybench';
import { MessageType, Sg } from '../../examples/owserver/protocol/constants.js';
import { encodeRequest } from '../../examples/owserver/protocol/header.js';
import { RequestFramer } from '../../examples/owserver/protocol/request-framer.js';
import { BufferPool, ByteQueue, DelimiterFramer, type Framer, LengthPrefixedFramer } from '../../framework/index.js';
import { exitWithError } from './fail.js';
import { flagsHelp, type IntFlag, type ParseOptions, parseIntFlags } from './flags.js';
import { fmt, markdownTable } from './markdown.js';
import { isMain } from './paths.js';

export const framingBenchFlags: readonly IntFlag<'time-ms'>[] = [
  { name: 'time-ms', description: 'tinybench time budget per micro-benchmark', default: 1000, min: 50, max: 30_000 },
];

/** Operations (or frames) per tinybench iteration: one is far below the timer's resolution. */
const BATCH = 100;
const TRICKLE = 7;

const pool = new BufferPool({ bufferSize: 65536 });
const request = encodeRequest({ type: MessageType.READ, sg: Sg.BUS_LIST | Sg.OWNET | Sg.PERSISTENT, size: 65536 }, '/28.4AEC29CDBAAB/temperature');
const line = Buffer.from('Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n', 'latin1');
const repeat = (bytes: Buffer): Buffer => Buffer.concat(Array.from({ length: BATCH }, () => bytes));
let frames = 0;
let sink = 0;

function owFramer(): LengthPrefixedFramer {
  return new LengthPrefixedFramer({ headerSize: 24, bodyLength: (q) => q.peekInt32BE(4), maxFrame: 65536 });
}
function lineFramer(): DelimiterFramer {
  return new DelimiterFramer({ delimiter: '\r\n', maxLine: 8192 });
}

function drain(framer: Framer): void {
  for (let frame = framer.next(); frame !== null; frame = framer.next()) {
    sink += frame.length;
    frames++;
  }
}

/** Push `bytes` in pieces of `size`, draining after each push. */
function feed(framer: Framer, bytes: Buffer, size: number): void {
  for (let at = 0; at < bytes.length; at += size) {
    framer.push(pool.acquireCopy(bytes.subarray(at, at + size)));
    drain(framer);
  }
}

/** A queue holding `bytes` in buffers of `size` (coalescing off so the boundaries stay). */
function queueOf(bytes: Buffer, size: number): ByteQueue {
  const queue = new ByteQueue({ maxBytes: 1 << 20, coalesce: false });
  for (let at = 0; at < bytes.length; at += size) queue.append(pool.acquireCopy(bytes.subarray(at, at + size)));
  return queue;
}

interface Row {
  readonly name: string;
  readonly unit: 'op' | 'frame';
}

/** Adds the tasks; returns their rows and the queues they share across iterations (to clear after). */
function tasks(bench: Bench): { rows: Row[]; shared: ByteQueue[] } {
  const rows: Row[] = [];
  const crlf = Buffer.from('\r\n');
  const add = (name: string, unit: Row['unit'], fn: () => void): void => {
    rows.push({ name, unit });
    bench.add(name, fn);
  };

  const flat = queueOf(Buffer.alloc(4096, 1), 4096);
  add('ByteQueue peekUInt32BE, inside a buffer', 'op', () => {
    for (let i = 0; i < BATCH; i++) sink += flat.peekUInt32BE(i * 8);
  });
  const split = queueOf(Buffer.alloc(128, 1), 64);
  add('ByteQueue peekUInt32BE, straddling two buffers', 'op', () => {
    for (let i = 0; i < BATCH; i++) sink += split.peekUInt32BE(62);
  });
  const kib = Buffer.concat([Buffer.alloc(1022, 0x61), Buffer.from('\r\n')]);
  const kibWhole = queueOf(kib, 1024);
  add('ByteQueue indexOf CRLF at the end of 1 KiB, one buffer', 'op', () => {
    for (let i = 0; i < BATCH; i++) sink += kibWhole.indexOf(crlf);
  });
  const kibSplit = queueOf(kib, 64);
  add('ByteQueue indexOf CRLF at the end of 1 KiB, 16 buffers', 'op', () => {
    for (let i = 0; i < BATCH; i++) sink += kibSplit.indexOf(crlf);
  });
  const chunk = Buffer.alloc(64 * BATCH, 2);
  add('ByteQueue append + read(64) + releaseConsumed, zero copy', 'op', () => {
    const queue = new ByteQueue({ maxBytes: 1 << 20 });
    queue.append(pool.acquireCopy(chunk));
    for (let i = 0; i < BATCH; i++) sink += queue.read(64).length;
    queue.releaseConsumed();
  });
  const pieces = Buffer.alloc(64 * (BATCH + 1), 3);
  add('ByteQueue append + read(64) + releaseConsumed, spanning two buffers (copy)', 'op', () => {
    const queue = queueOf(pieces, 64);
    queue.skip(32);
    for (let i = 0; i < BATCH; i++) sink += queue.read(64).length;
    queue.clear();
  });

  const owPipelined = repeat(request);
  add(`LengthPrefixedFramer, ${request.length}-byte owserver requests, one buffer each`, 'frame', () => {
    const framer = owFramer();
    for (let i = 0; i < BATCH; i++) feed(framer, request, request.length);
  });
  add(`LengthPrefixedFramer, ${BATCH} pipelined in one buffer`, 'frame', () => feed(owFramer(), owPipelined, owPipelined.length));
  add(`LengthPrefixedFramer, trickled in ${TRICKLE}-byte buffers`, 'frame', () => feed(owFramer(), owPipelined, TRICKLE));

  const owReader = (bytes: Buffer, size: number): void => {
    const reader = new RequestFramer();
    for (let at = 0; at < bytes.length; at += size) {
      reader.push(pool.acquireCopy(bytes.subarray(at, at + size)));
      for (let m = reader.next(); m !== null; m = reader.next()) {
        sink += m.header.payload;
        frames++;
      }
    }
    reader.clear();
  };
  add('for comparison: owserver RequestFramer (framer + request parse), one buffer each', 'frame', () => {
    for (let i = 0; i < BATCH; i++) owReader(request, request.length);
  });
  add(`for comparison: owserver RequestFramer, ${BATCH} pipelined`, 'frame', () => owReader(owPipelined, owPipelined.length));
  add(`for comparison: owserver RequestFramer, trickled in ${TRICKLE}-byte buffers`, 'frame', () => owReader(owPipelined, TRICKLE));

  const lines = repeat(line);
  add(`DelimiterFramer, ${line.length}-byte CRLF lines, one buffer each`, 'frame', () => {
    const framer = lineFramer();
    for (let i = 0; i < BATCH; i++) feed(framer, line, line.length);
  });
  add(`DelimiterFramer, ${BATCH} pipelined in one buffer`, 'frame', () => feed(lineFramer(), lines, lines.length));
  add(`DelimiterFramer, trickled in ${TRICKLE}-byte buffers`, 'frame', () => feed(lineFramer(), lines, TRICKLE));
  return { rows, shared: [flat, split, kibWhole, kibSplit] };
}

export async function runFramingBench(argv: readonly string[], parse: ParseOptions = {}): Promise<void> {
  const { help, values } = parseIntFlags(argv, framingBenchFlags, parse);
  if (help) {
    process.stdout.write(flagsHelp('node dist/harness/bench/framing-bench.js [options]', framingBenchFlags));
    return;
  }
  const bench = new Bench({ time: values['time-ms'], warmupTime: Math.min(250, values['time-ms']), throws: true });
  const { rows, shared } = tasks(bench);
  process.stderr.write('framing: micro-benchmarks ...\n');
  const results = await bench.run();
  for (const queue of shared) queue.clear();
  const table = rows.map(({ name, unit }) => {
    const r = results.find((t) => t.name === name)?.result;
    const ns = r !== undefined && 'latency' in r ? (r.latency.mean * 1e6) / BATCH : null;
    return [name, ns === null ? 'n/a' : `${fmt(ns, 1)} ns/${unit}`];
  });
  process.stdout.write(`\n## Framing (tinybench, mean per operation or frame)\n\n${markdownTable(['benchmark', 'cost'], table, [false, true])}\n`);
  if (pool.outstanding !== 0) throw new Error(`framing bench leaked ${pool.outstanding} pooled buffers`);
  process.stderr.write(`framing: ${fmt(frames)} frames cut (checksum ${sink % 1000})\n`);
}

if (isMain(import.meta.url)) {
  runFramingBench(process.argv.slice(2)).catch((error: unknown) => exitWithError('framing-bench', error));
}
