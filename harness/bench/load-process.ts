import { spawnNode, terminate } from './children.js';
import { type LoadResult, parseLoadResult } from './load-result.js';

/** Slack on top of the window for connecting and closing; past it the generator is killed. */
const OVERRUN_MS = 30_000;

export interface LoadSpec {
  readonly script: string;
  readonly port: number;
  readonly connections: number;
  readonly size: number;
  readonly durationMs: number;
}

/** Run the echo load generator to completion and return its result line. */
export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const args = ['--port', String(spec.port), '--connections', String(spec.connections), '--size', String(spec.size), '--duration-ms', String(spec.durationMs)];
  const tracked = spawnNode(spec.script, args);
  let stdout = '';
  tracked.child.stdout!.setEncoding('utf8');
  tracked.child.stdout!.on('data', (text: string) => {
    stdout += text;
  });
  const timer = setTimeout(() => void terminate(tracked, 1000), spec.durationMs + OVERRUN_MS);
  const exit = await tracked.exited;
  clearTimeout(timer);
  const last = stdout.trim().split('\n').pop() ?? '';
  if (exit.code !== 0 && last === '') {
    throw new Error(`load generator failed (code ${exit.code}, signal ${exit.signal}): ${tracked.stderrTail().trim()}`);
  }
  return parseLoadResult(last);
}
