/**
 * Preloaded into node servers under test (`NODE_OPTIONS=--import …/leak-report.js`): if the process
 * is still alive PORTICO_LEAK_AFTER_MS after the stop signal (PORTICO_LEAK_SIGNAL, default SIGTERM),
 * something is keeping it up — a timer, a socket, a server never closed. It then appends one
 * LeakFinding JSON line to PORTICO_LEAK_REPORT and prints the same on stderr; the harness SIGKILLs
 * the process at its own, later deadline. The stdout and stderr pipes the harness reads the server
 * through are the harness's, not the server's, and are left out of the findings.
 *
 * why-is-node-running records the creation stack of every async resource from the moment it is
 * imported, which is why this has to be a preload rather than something the harness asks for later.
 */
import whyIsNodeRunning from 'why-is-node-running';
import { appendFileSync } from 'node:fs';
import type { LeakFinding } from '../types.js';

const defaultAfterMs = 2000;
const stopSignal = (process.env['PORTICO_LEAK_SIGNAL'] || 'SIGTERM') as NodeJS.Signals;

function afterMs(): number {
  const text = process.env['PORTICO_LEAK_AFTER_MS'];
  const value = text === undefined ? NaN : Number(text);
  return Number.isFinite(value) && value >= 0 ? value : defaultAfterMs;
}

/**
 * why-is-node-running lists every async resource not yet garbage-collected, including dozens of
 * closed FILEHANDLEs from module loading with no stack at all. The blocks that point into code are
 * the useful ones; the rest are counted by type on one line rather than printed. The stdio handles
 * (`stdio`, as PIPEWRAP / TTYWRAP) are left out: the stack of the one the server's first write
 * created would otherwise read like a leak.
 */
function condense(lines: readonly string[], stdio: readonly string[]): string {
  let blocks: { type: string; body: string[] }[] = [];
  const head: string[] = [];
  for (const line of lines) {
    if (line.startsWith('# ')) blocks.push({ type: line.slice(2), body: [] });
    else if (line !== '') (blocks.length > 0 ? blocks[blocks.length - 1]!.body : head).push(line);
  }
  for (const type of stdio) {
    const name = type.toUpperCase();
    const candidates = blocks.filter((b) => b.type === name);
    const own = candidates.find((b) => b.body.some((l) => /process\.std(out|err)|console\./.test(l))) ?? candidates.find((b) => b.body[0] === '(unknown stack trace)');
    if (own !== undefined) blocks = blocks.filter((b) => b !== own);
  }
  const known = blocks.filter((b) => !(b.body.length === 1 && b.body[0] === '(unknown stack trace)'));
  const unknown = new Map<string, number>();
  for (const b of blocks) if (!known.includes(b)) unknown.set(b.type, (unknown.get(b.type) ?? 0) + 1);
  const out = [...head, ...known.map((b) => [`# ${b.type}`, ...b.body].join('\n'))];
  if (unknown.size > 0) out.push(`(without a stack, not shown: ${[...unknown].map(([type, n]) => (n > 1 ? `${type}×${n}` : type)).join(', ')})`);
  return out.join('\n\n');
}

/**
 * The handle types of this process's own stdout and stderr: a pipe to the harness, a TTY, or none
 * when they are files. getActiveResourcesInfo lists one resource for each, which the server did not
 * open. Reading process.stdout creates the stream if nothing had yet, so this runs *before* the
 * resources are listed: then each stdio handle is in the list exactly once, and is taken out.
 */
function stdioHandleTypes(): string[] {
  return [process.stdout, process.stderr].flatMap((stream) => {
    const kind = (stream as unknown as { _handle?: { constructor?: { name?: string } } })._handle?.constructor?.name;
    return kind === 'Pipe' ? ['PipeWrap'] : kind === 'TTY' ? ['TTYWrap'] : [];
  });
}

/** The active resources, minus one entry per stdio handle. */
function serverResources(stdio: readonly string[]): string[] {
  const left = process.getActiveResourcesInfo();
  for (const type of stdio) {
    const at = left.indexOf(type);
    if (at >= 0) left.splice(at, 1);
  }
  return left;
}

function report(waitedMs: number): void {
  const stdio = stdioHandleTypes();
  const lines: string[] = [];
  whyIsNodeRunning({ error: (message) => lines.push(message) });
  const finding: LeakFinding = { resources: serverResources(stdio), detail: condense(lines, stdio) };
  const path = process.env['PORTICO_LEAK_REPORT'];
  if (path !== undefined && path !== '') {
    try {
      appendFileSync(path, JSON.stringify(finding) + '\n');
    } catch (error) {
      process.stderr.write(`portico leak-report: cannot write ${path}: ${(error as Error).message}\n`);
    }
  }
  process.stderr.write(
    `portico leak-report: still running ${waitedMs} ms after ${stopSignal}; active resources: ${finding.resources.join(', ') || '(none)'}\n${finding.detail}\n`,
  );
}

let armed = false;

function onStopSignal(): void {
  // Alone, this listener would swallow the signal and keep a server with no handler of its own
  // alive. Step aside and re-raise it: with no listener left, the default action terminates us.
  if (process.listenerCount(stopSignal) === 1) {
    process.off(stopSignal, onStopSignal);
    process.kill(process.pid, stopSignal);
    return;
  }
  if (armed) return;
  armed = true;
  const waitedMs = afterMs();
  // unref: this timer must never be the thing that keeps the process alive.
  setTimeout(() => report(waitedMs), waitedMs).unref();
}

process.on(stopSignal, onStopSignal);
