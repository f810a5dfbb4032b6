/**
 * Preloaded into node servers under test (`NODE_OPTIONS=--import …/leak-report.js`): if the process
 * is still alive PORTICO_LEAK_AFTER_MS after SIGTERM, something is keeping it up — a timer, a socket,
 * a server never closed. It then appends one LeakFinding JSON line to PORTICO_LEAK_REPORT and prints
 * the same on stderr; the harness SIGKILLs the process at its own, later deadline.
 *
 * why-is-node-running records the creation stack of every async resource from the moment it is
 * imported, which is why this has to be a preload rather than something the harness asks for later.
 */
import whyIsNodeRunning from 'why-is-node-running';
import { appendFileSync } from 'node:fs';
import type { LeakFinding } from '../types.js';

const defaultAfterMs = 2000;

function afterMs(): number {
  const text = process.env['PORTICO_LEAK_AFTER_MS'];
  const value = text === undefined ? NaN : Number(text);
  return Number.isFinite(value) && value >= 0 ? value : defaultAfterMs;
}

/**
 * why-is-node-running lists every async resource not yet garbage-collected, including dozens of
 * closed FILEHANDLEs from module loading with no stack at all. The blocks that point into code are
 * the useful ones; the rest are counted by type on one line rather than printed.
 */
function condense(lines: readonly string[]): string {
  const blocks: { type: string; body: string[] }[] = [];
  const head: string[] = [];
  for (const line of lines) {
    if (line.startsWith('# ')) blocks.push({ type: line.slice(2), body: [] });
    else if (line !== '') (blocks.length > 0 ? blocks[blocks.length - 1]!.body : head).push(line);
  }
  const known = blocks.filter((b) => !(b.body.length === 1 && b.body[0] === '(unknown stack trace)'));
  const unknown = new Map<string, number>();
  for (const b of blocks) if (!known.includes(b)) unknown.set(b.type, (unknown.get(b.type) ?? 0) + 1);
  const out = [...head, ...known.map((b) => [`# ${b.type}`, ...b.body].join('\n'))];
  if (unknown.size > 0) out.push(`(without a stack, not shown: ${[...unknown].map(([type, n]) => (n > 1 ? `${type}×${n}` : type)).join(', ')})`);
  return out.join('\n\n');
}

function report(waitedMs: number): void {
  const lines: string[] = [];
  whyIsNodeRunning({ error: (message) => lines.push(message) });
  const finding: LeakFinding = { resources: process.getActiveResourcesInfo(), detail: condense(lines) };
  const path = process.env['PORTICO_LEAK_REPORT'];
  if (path !== undefined && path !== '') {
    try {
      appendFileSync(path, JSON.stringify(finding) + '\n');
    } catch (error) {
      process.stderr.write(`portico leak-report: cannot write ${path}: ${(error as Error).message}\n`);
    }
  }
  process.stderr.write(
    `portico leak-report: still running ${waitedMs} ms after SIGTERM; active resources: ${finding.resources.join(', ') || '(none)'}\n${finding.detail}\n`,
  );
}

let armed = false;

function onSigterm(): void {
  // Alone, this listener would swallow the signal and keep a server with no handler of its own
  // alive. Step aside and re-raise it: with no listener left, the default action terminates us.
  if (process.listenerCount('SIGTERM') === 1) {
    process.off('SIGTERM', onSigterm);
    process.kill(process.pid, 'SIGTERM');
    return;
  }
  if (armed) return;
  armed = true;
  const waitedMs = afterMs();
  // unref: this timer must never be the thing that keeps the process alive.
  setTimeout(() => report(waitedMs), waitedMs).unref();
}

process.on('SIGTERM', onSigterm);
