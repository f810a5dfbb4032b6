#!/usr/bin/env node
/**
 * WebSocket receive-side micro-benchmarks (tinybench): portico's WebSocketReceiver (and its bare
 * FrameParser) against ws's Receiver, both parsing and unmasking client frames of 64 B and 16 KiB,
 * binary and text (text adds UTF-8 validation and the string decode on both sides), one frame per
 * read and 100 pipelined in one read. Each read is copied once before it is parsed, on both sides:
 * into a pooled buffer for portico (what a socket read does), into a fresh Buffer for ws (what a
 * Node socket hands it). Masking: ws uses the native `bufferutil` when it is installed (a dev
 * dependency here, as most ws users run it), and so does portico for runs of 128 bytes or more
 * (an optional acceleration: PORTICO_NO_BUFFERUTIL=1 keeps it pure JS); set WS_NO_BUFFER_UTIL=1 to
 * compare with ws's pure-JS fallback. Also the bare masking loops: a byte loop (ws's fallback is this
 * loop), portico's pure-JS loops, portico's unmaskInPlace as it runs here, and bufferutil if present.
 *
 *   node dist/harness/bench/ws-frame-bench.js [--time-ms 500]
 */
import { createRequire } from 'node:module';
import { Bench } from 'tinybench';
import { BufferPool, ByteQueue, FrameEvent, FrameParser, WebSocketReceiver, unmaskInPlace } from '../../framework/index.js';
import { maskingBackend, NATIVE_THRESHOLD, unmaskInPlaceJs } from '../../framework/websocket/masking.js';
import { exitWithError } from './fail.js';
import { flagsHelp, type IntFlag, type ParseOptions, parseIntFlags } from './flags.js';
import { fmt, markdownTable } from './markdown.js';
import { isMain } from './paths.js';

export const wsFrameBenchFlags: readonly IntFlag<'time-ms'>[] = [
  { name: 'time-ms', description: 'tinybench time budget per micro-benchmark', default: 500, min: 50, max: 30_000 },
];

/** What this bench uses of ws's Receiver (a Writable; @types/ws does not declare it). */
interface WsReceiver {
  write(chunk: Buffer): boolean;
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
}
type WsReceiverClass = new (options: { isServer: boolean; maxPayload: number }) => WsReceiver;
type MaskFn = (buffer: Buffer, mask: Buffer) => void;

const BATCH = 100;
const KEY = 0x5a17c3e9;
const pool = new BufferPool({ bufferSize: 65536 });
let sink = 0;

/** A masked client frame (built here so the bench does not lean on the code it measures). */
function clientFrame(opcode: number, payload: Buffer): Buffer {
  const n = payload.length;
  const header = Buffer.alloc(n < 126 ? 6 : 8);
  header[0] = 0x80 | opcode;
  if (n < 126) header[1] = 0x80 | n;
  else {
    header[1] = 0x80 | 126;
    header.writeUInt16BE(n, 2);
  }
  header.writeUInt32BE(KEY, header.length - 4);
  const body = Buffer.from(payload);
  for (let i = 0; i < n; i++) body[i] = body[i]! ^ header[header.length - 4 + (i & 3)]!;
  return Buffer.concat([header, body]);
}

interface Row {
  readonly name: string;
  readonly portico: string;
  readonly parser: string;
  readonly ws: string;
}

function tasks(bench: Bench, WsReceiverCtor: WsReceiverClass, bufferUtil: { unmask: MaskFn } | null): { rows: Row[]; masks: string[] } {
  const rows: Row[] = [];
  const receiver = new WebSocketReceiver({ onMessage: (d) => (sink += d.length), onClose: () => {}, onProtocolError: (c) => { throw new Error(`portico failed ${c}`); } }, { role: 'server' });
  const wsReceiver = new WsReceiverCtor({ isServer: true, maxPayload: 0 });
  wsReceiver.on('message', (d) => (sink += d.length));
  wsReceiver.on('error', (e) => { throw e; });
  const parserQueue = new ByteQueue({ maxBytes: 1 << 20 });
  const parser = new FrameParser(parserQueue, { role: 'server', maxFramePayload: 1 << 20 });

  const add = (label: string, input: Buffer, pipelined: boolean): void => {
    const reads = pipelined ? [Buffer.concat(Array.from({ length: BATCH }, () => input))] : Array.from({ length: BATCH }, () => input);
    const p = `portico ${label}`;
    const w = `ws ${label}`;
    const bare = `portico FrameParser ${label}`;
    bench.add(p, () => {
      for (const read of reads) receiver.push(pool.acquireCopy(read));
    });
    bench.add(w, () => {
      for (const read of reads) {
        const copy = Buffer.allocUnsafe(read.length);
        read.copy(copy);
        wsReceiver.write(copy);
      }
    });
    bench.add(bare, () => {
      for (const read of reads) {
        parserQueue.append(pool.acquireCopy(read));
        for (let e = parser.next(); e !== FrameEvent.NEED_MORE; e = parser.next()) if (e === FrameEvent.PAYLOAD) sink += parser.chunk.length;
        parserQueue.releaseConsumed();
      }
    });
    rows.push({ name: label, portico: p, parser: bare, ws: w });
  };
  const small = Buffer.alloc(64, 0x61);
  const large = Buffer.alloc(16384, 0x62);
  add('64 B binary, one frame per read', clientFrame(2, small), false);
  add('64 B binary, 100 frames in one read', clientFrame(2, small), true);
  add('64 B text, one frame per read', clientFrame(1, small), false);
  add('16 KiB binary, one frame per read', clientFrame(2, large), false);
  add('16 KiB text, one frame per read', clientFrame(1, large), false);

  const masks: string[] = [];
  const key = Buffer.alloc(4);
  key.writeUInt32BE(KEY);
  for (const size of [64, 16384]) {
    const data = Buffer.alloc(size, 3);
    const loop = `mask ${size} B: byte loop (ws without bufferutil)`;
    bench.add(loop, () => {
      for (let r = 0; r < BATCH; r++) for (let i = 0; i < data.length; i++) data[i] = data[i]! ^ key[i & 3]!;
    });
    const js = `mask ${size} B: portico pure JS (unmaskInPlaceJs)`;
    bench.add(js, () => {
      for (let r = 0; r < BATCH; r++) unmaskInPlaceJs(data, KEY, 0);
    });
    const ours = `mask ${size} B: portico unmaskInPlace (${maskingBackend} from ${NATIVE_THRESHOLD} B)`;
    bench.add(ours, () => {
      for (let r = 0; r < BATCH; r++) unmaskInPlace(data, KEY, 0);
    });
    masks.push(loop, js, ours);
    if (bufferUtil !== null) {
      const native = `mask ${size} B: bufferutil (native)`;
      bench.add(native, () => {
        for (let r = 0; r < BATCH; r++) bufferUtil.unmask(data, key);
      });
      masks.push(native);
    }
  }
  return { rows, masks };
}

function loadBufferUtil(): { unmask: MaskFn } | null {
  try {
    return createRequire(import.meta.url)('bufferutil') as { unmask: MaskFn };
  } catch {
    return null;
  }
}

export async function runWsFrameBench(argv: readonly string[], parse: ParseOptions = {}): Promise<void> {
  const { help, values } = parseIntFlags(argv, wsFrameBenchFlags, parse);
  if (help) {
    process.stdout.write(flagsHelp('node dist/harness/bench/ws-frame-bench.js [options]', wsFrameBenchFlags));
    return;
  }
  const { Receiver } = (await import('ws')) as unknown as { Receiver: WsReceiverClass };
  const bufferUtil = loadBufferUtil();
  const wsMasking = bufferUtil !== null && process.env['WS_NO_BUFFER_UTIL'] === undefined ? 'bufferutil (native)' : 'pure JS';
  const bench = new Bench({ time: values['time-ms'], warmupTime: Math.min(200, values['time-ms']), throws: true });
  const { rows, masks } = tasks(bench, Receiver, bufferUtil);
  process.stderr.write('ws-frame: micro-benchmarks ...\n');
  const results = await bench.run();
  const ns = (name: string): number | null => {
    const r = results.find((t) => t.name === name)?.result;
    return r !== undefined && 'latency' in r ? (r.latency.mean * 1e6) / BATCH : null;
  };
  const show = (v: number | null): string => (v === null ? 'n/a' : `${fmt(v, 1)} ns`);
  const table = rows.map((row) => {
    const p = ns(row.portico);
    const w = ns(row.ws);
    return [row.name, show(p), show(ns(row.parser)), show(w), p !== null && w !== null ? `${fmt(w / p, 2)}x` : 'n/a'];
  });
  const maskTable = masks.map((name) => [name, show(ns(name))]);
  process.stdout.write(
    `\n## WebSocket receive (tinybench, mean per frame; ws masking: ${wsMasking})\n\n` +
      `${markdownTable(['frames', 'portico WebSocketReceiver', 'portico FrameParser alone', 'ws Receiver', 'ws / portico receiver'], table, [false, true, true, true, true])}\n\n` +
      `${markdownTable(['masking (per call)', 'cost'], maskTable, [false, true])}\n`,
  );
  if (pool.outstanding > 2) throw new Error(`ws-frame bench holds ${pool.outstanding} pooled buffers`);
  process.stderr.write(`ws-frame: checksum ${sink % 1000}\n`);
}

if (isMain(import.meta.url)) {
  runWsFrameBench(process.argv.slice(2)).catch((error: unknown) => exitWithError('ws-frame-bench', error));
}
