/**
 * Caps a server's memory for a harness run and records its RSS. With cgroup v1 the kernel enforces
 * the cap (its OOM killer kills the server at the limit); without it, a poller SIGKILLs the server
 * once VmRSS exceeds the cap — coarser (it can overshoot by one sampling interval's growth) but
 * available everywhere on Linux.
 *
 * How killedByCap is decided:
 * - cgroup-v1: the group's memory.oom_control reports `oom_kill` > 0 (the OOM killer killed a task of
 *   the group — the group holds only the server and its children). On kernels without that counter:
 *   memory.failcnt > 0 and the server was gone by stop().
 * - rss-poll: the poller itself sent the SIGKILL.
 * - none: never.
 *
 * peakRssBytes is the larger of the sampled VmRSS peak and (cgroup-v1) the group's
 * memory.max_usage_in_bytes. VmRSS includes shared file-backed pages (the node binary) that the group
 * is not charged for, so under a cgroup it can read above the cap.
 */
import { existsSync, readFileSync, rmdirSync } from 'node:fs';
import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MemoryCapMethod, MemoryResult, Sample } from './types.js';

export interface MemoryCap {
  readonly method: MemoryCapMethod;
  /** The argv to spawn instead of `argv`: for cgroup-v1 it joins the group, then execs `argv` (same pid). */
  wrapCommand(argv: readonly string[]): string[];
  /**
   * Starts sampling VmRSS of `pid` (and, for rss-poll, enforcing the cap). Sample times are ms since
   * `origin` (a performance.now() value; default: now).
   */
  attach(pid: number, origin?: number): void;
  /** Stops sampling and returns the result; later calls return the same result. */
  stop(): MemoryResult;
  /** Removes the cgroup (the server must have exited); no-op for other methods. */
  cleanup(): Promise<void>;
  /** Why this method was used, when it is not the one asked for. */
  readonly note?: string;
}

export interface MemoryCapOptions {
  /** Try cgroup v1 first (default true); false goes straight to rss-poll. */
  preferCgroup?: boolean;
  /** VmRSS sampling interval, ms; default 100. */
  sampleIntervalMs?: number;
}

const UNITS: Readonly<Record<string, number>> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** "256M", "1G", "512K", "1.5G", "256MiB", "4096" → bytes. Units are binary (1K = 1024). */
export function parseSize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(text);
  if (match === null) {
    throw new Error(`invalid size ${JSON.stringify(text)}: expected bytes with an optional K, M, G or T suffix (1K = 1024), e.g. "256M"`);
  }
  const bytes = Math.floor(Number(match[1]) * UNITS[match[2]!.toLowerCase()]!);
  if (!Number.isSafeInteger(bytes)) throw new Error(`invalid size ${JSON.stringify(text)}: too large`);
  return bytes;
}

/** Sets up a cap of `capBytes` (null: no cap, RSS still sampled). Falls back to rss-poll with a note. */
export async function prepareMemoryCap(capBytes: number | null, options: MemoryCapOptions = {}): Promise<MemoryCap> {
  if (capBytes !== null && (!Number.isSafeInteger(capBytes) || capBytes <= 0)) {
    throw new Error(`memory cap must be a positive whole number of bytes or null, got ${String(capBytes)}`);
  }
  const intervalMs = options.sampleIntervalMs ?? 100;
  if (!(intervalMs > 0)) throw new Error(`memory cap sampleIntervalMs must be > 0, got ${intervalMs}`);
  if (capBytes === null) return new PolledMemoryCap(null, intervalMs);
  if (options.preferCgroup === false) return new PolledMemoryCap(capBytes, intervalMs);
  try {
    return new CgroupMemoryCap(capBytes, await createCgroup(capBytes), intervalMs);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return new PolledMemoryCap(capBytes, intervalMs, `cgroup v1 memory cap unavailable (${reason}); polling VmRSS instead`);
  }
}

/** Reads VmRSS of one pid on an unref'd timer until stopped or the process is gone. */
class RssSampler {
  readonly samples: Sample[] = [];
  peak = 0;
  /** The process had exited (or become a zombie) when last looked at. */
  gone = false;
  private timer: NodeJS.Timeout | null = null;
  private startedAt = 0;

  constructor(
    private readonly intervalMs: number,
    private readonly onSample: (rssBytes: number) => void,
  ) {}

  start(pid: number, origin = performance.now()): void {
    if (this.timer !== null || this.samples.length > 0) throw new Error('memory cap attach() called twice');
    if (!Number.isInteger(pid) || pid <= 0) throw new Error(`memory cap attach() needs a pid, got ${String(pid)}`);
    this.startedAt = origin;
    this.timer = setInterval(() => this.sample(pid), this.intervalMs);
    this.timer.unref();
    this.sample(pid);
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private sample(pid: number): void {
    const rss = readRssBytes(pid);
    if (rss === null) {
      this.gone = true;
      return this.stop();
    }
    this.samples.push({ t: performance.now() - this.startedAt, value: rss });
    if (rss > this.peak) this.peak = rss;
    this.onSample(rss);
  }
}

/** VmRSS of `pid` in bytes, or null once it has exited (zombies have no VmRSS line). */
function readRssBytes(pid: number): number | null {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return match === null ? null : Number(match[1]) * 1024;
}

/** Methods 'none' (capBytes null) and 'rss-poll'. */
class PolledMemoryCap implements MemoryCap {
  readonly method: MemoryCapMethod;
  private readonly sampler: RssSampler;
  private pid = 0;
  private killedByCap = false;
  private killNote: string | undefined;
  private result: MemoryResult | null = null;

  constructor(
    private readonly capBytes: number | null,
    intervalMs: number,
    readonly note?: string,
  ) {
    this.method = capBytes === null ? 'none' : 'rss-poll';
    this.sampler = new RssSampler(intervalMs, (rss) => this.enforce(rss));
  }

  wrapCommand(argv: readonly string[]): string[] {
    if (argv.length === 0) throw new Error('memory cap wrapCommand() needs a command');
    return [...argv];
  }

  attach(pid: number, origin?: number): void {
    this.pid = pid;
    this.sampler.start(pid, origin);
  }

  private enforce(rss: number): void {
    if (this.capBytes === null || rss <= this.capBytes || this.killedByCap) return;
    try {
      process.kill(this.pid, 'SIGKILL');
      this.killedByCap = true;
      this.killNote = `SIGKILLed by the RSS poller: VmRSS ${rss} bytes > cap ${this.capBytes}`;
    } catch (error) {
      // ESRCH: it exited on its own between the sample and the kill — not killed by the cap.
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
    this.sampler.stop();
  }

  stop(): MemoryResult {
    if (this.result !== null) return this.result;
    this.sampler.stop();
    const note = [this.note, this.killNote].filter((n) => n !== undefined).join('; ');
    this.result = {
      capBytes: this.capBytes,
      method: this.method,
      peakRssBytes: this.sampler.peak,
      killedByCap: this.killedByCap,
      samples: [...this.sampler.samples],
      ...(note === '' ? {} : { note }),
    };
    return this.result;
  }

  async cleanup(): Promise<void> {
    this.stop();
  }
}

/** Groups not yet removed; the exit hook below removes what it can if the harness dies first. */
const liveGroups = new Set<string>();
let exitHookInstalled = false;
let groupCounter = 0;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const dir of liveGroups) {
      try {
        rmdirSync(dir);
      } catch {
        // Still populated or already gone: nothing more can be done synchronously at exit.
      }
    }
  });
}

/** Where this process's memory cgroup is: the v1 memory mount plus our path below its root. */
export function findOwnMemoryCgroup(mountinfo: string, procSelfCgroup: string): { mount: string; own: string } {
  let mount: string | null = null;
  let mountRoot = '/';
  for (const line of mountinfo.split('\n')) {
    const [before, after] = line.split(' - ');
    if (before === undefined || after === undefined) continue;
    const [fstype, , superOptions = ''] = after.split(' ');
    const fields = before.split(' ');
    if (fstype === 'cgroup' && superOptions.split(',').includes('memory')) {
      mountRoot = fields[3] ?? '/';
      mount = fields[4] ?? null;
      break;
    }
  }
  if (mount === null) throw new Error('no cgroup v1 memory controller mounted');
  const line = procSelfCgroup.split('\n').find((l) => l.split(':')[1]?.split(',').includes('memory') === true);
  if (line === undefined) throw new Error('this process is in no v1 memory cgroup');
  let path = line.split(':').slice(2).join(':');
  // In a container the mount's root is our own group: paths are relative to it.
  if (mountRoot !== '/' && path.startsWith(mountRoot)) path = path.slice(mountRoot.length);
  return { mount, own: join(mount, path) };
}

/** Makes a fresh child group with the limit set; throws (after removing it) if anything fails. */
async function createCgroup(capBytes: number): Promise<string> {
  const { mount, own } = findOwnMemoryCgroup(await readFile('/proc/self/mountinfo', 'utf8'), await readFile('/proc/self/cgroup', 'utf8'));
  const name = `portico-harness-${process.pid}-${++groupCounter}`;
  // Below our own group so the harness's own limits still apply; the mount root if that is not writable.
  let dir = join(own, name);
  try {
    await mkdir(dir);
  } catch {
    dir = join(mount, name);
    await mkdir(dir);
  }
  liveGroups.add(dir);
  installExitHook();
  try {
    if (dir.includes("'")) throw new Error(`cgroup path ${dir} contains a quote`);
    await writeFile(join(dir, 'memory.limit_in_bytes'), String(capBytes));
    const applied = Number((await readFile(join(dir, 'memory.limit_in_bytes'), 'utf8')).trim());
    if (!(applied > 0 && applied <= capBytes)) throw new Error(`memory.limit_in_bytes reads ${applied} after writing ${capBytes}`);
    // Without this, swap would let the server grow past the cap instead of being killed.
    await writeFile(join(dir, 'memory.memsw.limit_in_bytes'), String(capBytes)).catch(() => {});
    return dir;
  } catch (error) {
    await rmdir(dir).catch(() => {});
    liveGroups.delete(dir);
    throw error;
  }
}

function readCounter(dir: string, file: string, key?: string): number | null {
  try {
    const text = readFileSync(join(dir, file), 'utf8');
    if (key === undefined) return Number(text.trim());
    const match = new RegExp(`^${key}\\s+(\\d+)`, 'm').exec(text);
    return match === null ? null : Number(match[1]);
  } catch {
    return null;
  }
}

class CgroupMemoryCap implements MemoryCap {
  readonly method = 'cgroup-v1' as const;
  private readonly sampler: RssSampler;
  private pid = 0;
  private result: MemoryResult | null = null;

  constructor(
    private readonly capBytes: number,
    /** The group's directory, e.g. /sys/fs/cgroup/memory/<own group>/portico-harness-<pid>-<n>. */
    readonly groupDir: string,
    intervalMs: number,
  ) {
    this.sampler = new RssSampler(intervalMs, () => {});
  }

  wrapCommand(argv: readonly string[]): string[] {
    if (argv.length === 0) throw new Error('memory cap wrapCommand() needs a command');
    // The shell joins the group, then execs: the spawned pid is the server, and every byte it ever
    // allocates is charged to the group (v1 does not move old charges when a process is moved later).
    const procs = join(this.groupDir, 'cgroup.procs');
    return ['sh', '-c', `echo $$ > '${procs}' && exec "$@"`, 'sh', ...argv];
  }

  attach(pid: number, origin?: number): void {
    this.pid = pid;
    this.sampler.start(pid, origin);
  }

  stop(): MemoryResult {
    if (this.result !== null) return this.result;
    this.sampler.stop();
    const maxUsage = readCounter(this.groupDir, 'memory.max_usage_in_bytes') ?? 0;
    const oomKills = readCounter(this.groupDir, 'memory.oom_control', 'oom_kill');
    const failcnt = readCounter(this.groupDir, 'memory.failcnt') ?? 0;
    const gone = this.pid === 0 || this.sampler.gone || readRssBytes(this.pid) === null;
    const killedByCap = oomKills !== null ? oomKills > 0 : failcnt > 0 && gone;
    const notes = [`cgroup ${this.groupDir}: max_usage_in_bytes ${maxUsage}, failcnt ${failcnt}, oom_kill ${oomKills ?? 'n/a'}`];
    if (killedByCap) notes.push('killed by the kernel OOM killer at the cgroup limit');
    this.result = {
      capBytes: this.capBytes,
      method: this.method,
      peakRssBytes: Math.max(this.sampler.peak, maxUsage),
      killedByCap,
      samples: [...this.sampler.samples],
      note: notes.join('; '),
    };
    return this.result;
  }

  async cleanup(): Promise<void> {
    this.stop();
    // The group empties a moment after its last task is reaped; rmdir says EBUSY until then.
    for (let attempt = 0; ; attempt++) {
      try {
        await rmdir(this.groupDir);
        break;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') break;
        if (code !== 'EBUSY' || attempt >= 40) {
          const procs = existsSync(this.groupDir) ? readFileSync(join(this.groupDir, 'cgroup.procs'), 'utf8').trim().split('\n').join(', ') : '';
          throw new Error(`cannot remove cgroup ${this.groupDir} (${code ?? String(error)}); processes still inside: ${procs || 'none'}`);
        }
        await sleep(50);
      }
    }
    liveGroups.delete(this.groupDir);
  }
}
