/**
 * Both ends of the phase protocol between a bench and a load generator it drives step by step, so
 * the bench can sample the server (CPU, RSS, open fds) exactly between phases and line several load
 * processes up on one window:
 *
 *   load → bench: one JSON line per phase reached on stdout, {"event":"connected",...}
 *   bench → load: one word per line on stdin ("go", "close")
 *
 * The load side exits when its stdin ends before it has what it waits for: the bench is gone, and a
 * load generator must never outlive it.
 */
import { createInterface, type Interface } from 'node:readline';
import { type Exit, spawnNode, terminate, type Tracked } from './children.js';
import { parseResultLine } from './load-result.js';

// ---- load side ------------------------------------------------------------------------------------

let commands: Interface | null = null;
const arrived: string[] = [];
const waiting: ((command: string) => void)[] = [];

/** Load side: report a phase reached; `fields` must be JSON-able. */
export function announce(event: string, fields: Readonly<Record<string, unknown>> = {}): void {
  process.stdout.write(JSON.stringify({ event, ...fields }) + '\n');
}

/** Load side: resolves when the bench sends `expected`; anything else first is an error. */
export async function awaitCommand(expected: string, who: string): Promise<void> {
  if (commands === null) {
    commands = createInterface({ input: process.stdin });
    commands.on('line', (line) => {
      const command = line.trim();
      const waiter = waiting.shift();
      if (waiter === undefined) arrived.push(command);
      else waiter(command);
    });
    commands.on('close', () => {
      if (commands === null) return; // closed by releaseCommands()
      process.stderr.write(`${who}: the bench closed our stdin, exiting\n`);
      process.exit(4);
    });
  }
  const command = arrived.shift() ?? (await new Promise<string>((resolve) => waiting.push(resolve)));
  if (command !== expected) throw new Error(`expected the command "${expected}" on stdin, got "${command}"`);
}

/** Load side: no more commands; stdin no longer keeps the process alive. */
export function releaseCommands(): void {
  const reader = commands;
  commands = null;
  reader?.close();
  process.stdin.destroy();
}

// ---- bench side -----------------------------------------------------------------------------------

/** Bench side: a load process started with a command channel, read event by event. */
export class PhasedLoad {
  readonly #tracked: Tracked;
  readonly #who: string;
  readonly #lines: string[] = [];
  #wake: (() => void) | null = null;
  #exit: Exit | null = null;

  constructor(who: string, script: string, args: readonly string[]) {
    this.#who = who;
    this.#tracked = spawnNode(script, args, { stdin: 'pipe' });
    // A load process that is killed must not take the bench down with EPIPE on its stdin.
    this.#tracked.child.stdin!.on('error', () => {});
    createInterface({ input: this.#tracked.child.stdout! }).on('line', (line) => {
      this.#lines.push(line);
      this.#wake?.();
    });
    void this.#tracked.exited.then((exit) => {
      this.#exit = exit;
      this.#wake?.();
    });
  }

  get pid(): number {
    return this.#tracked.pid;
  }

  /**
   * The next line, which must be the event `name`; its fields are checked as finite numbers.
   * Rejects if the process exits first or nothing comes within `timeoutMs` (then it is killed).
   */
  async next(name: string, numbers: readonly string[], timeoutMs: number): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = this.#lines.shift();
      if (line !== undefined) {
        const record = parseResultLine(line, this.#who, numbers);
        if (record['event'] !== name) throw new Error(`${this.#who}: expected the event "${name}", got ${line.slice(0, 200)}`);
        return record;
      }
      if (this.#exit !== null) {
        throw new Error(`${this.#who} exited (code ${this.#exit.code}, signal ${this.#exit.signal}) before "${name}": ${this.#tracked.stderrTail().trim()}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        await terminate(this.#tracked, 1000);
        throw new Error(`${this.#who}: no "${name}" within ${timeoutMs} ms: ${this.#tracked.stderrTail().trim()}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = null;
    }
  }

  send(command: string): void {
    this.#tracked.child.stdin!.write(command + '\n');
  }

  /** Wait for the process to exit by itself; killed after `timeoutMs`. */
  async finish(timeoutMs: number): Promise<Exit> {
    const timer = setTimeout(() => void terminate(this.#tracked, 1000), timeoutMs);
    const exit = await this.#tracked.exited;
    clearTimeout(timer);
    this.#tracked.child.stdin!.destroy();
    return exit;
  }

  /** Stop it now (cleanup after a failure elsewhere). */
  kill(): Promise<Exit> {
    return terminate(this.#tracked, 1000);
  }
}
