/**
 * `--netns`: run the whole harness (server and flood) inside a fresh network namespace, so the
 * TIME_WAIT counts in /proc/net/tcp are this run's alone. The harness re-executes itself under
 * `unshare -n` (plus `-r`, a user namespace, when not root) with loopback brought up first; an
 * environment marker tells the inner run not to do it again.
 */
import { spawn, spawnSync } from 'node:child_process';
import { constants } from 'node:os';

/** Set in the re-executed harness; its presence means "already inside the namespace". */
export const netnsMarker = 'PORTICO_HARNESS_IN_NETNS';

export class NetnsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NetnsError';
  }
}

export function insideHarnessNetns(): boolean {
  return process.env[netnsMarker] === '1';
}

function unshareArgs(): string[] {
  // Unprivileged users may create a network namespace only inside a user namespace of their own.
  return process.getuid?.() === 0 ? ['-n'] : ['-r', '-n'];
}

/** `ip link set lo up`, then exec the rest of the argv: run by `sh -c` inside the namespace. */
const bringUpLoopbackThenExec = 'ip link set lo up && exec "$@"';

/** Fail early, with the tool's own words, when namespaces are not available here. */
export function checkNetnsAvailable(): void {
  const probe = spawnSync('unshare', [...unshareArgs(), 'sh', '-c', 'ip link set lo up'], { encoding: 'utf8', timeout: 10_000 });
  if (probe.error !== undefined) {
    const missing = (probe.error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new NetnsError(`--netns: ${missing ? '`unshare` (util-linux) is not installed' : `cannot run unshare: ${probe.error.message}`}`);
  }
  if (probe.status !== 0) {
    throw new NetnsError(
      `--netns: cannot create a network namespace here (unshare ${unshareArgs().join(' ')} exited ${probe.status ?? probe.signal}: ${probe.stderr.trim() || 'no message'}). ` +
        'It needs root, or unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1), and `ip` (iproute2). Run without --netns to use the host namespace.',
    );
  }
}

/**
 * Re-run this harness (same node, same arguments) inside a new network namespace, with stdio
 * passed through; resolves with its exit code. SIGINT/SIGTERM are forwarded so the inner harness
 * can stop its server and still write the report; if this process dies, so does the inner one.
 */
export async function rerunInNetns(harnessArgs: readonly string[]): Promise<number> {
  checkNetnsAvailable();
  const child = spawn('unshare', [...unshareArgs(), 'sh', '-c', bringUpLoopbackThenExec, 'sh', process.execPath, ...process.execArgv, ...harnessArgs], {
    stdio: 'inherit',
    env: { ...process.env, [netnsMarker]: '1' },
    // Its own process group, so a terminal ctrl-c reaches it once (forwarded below), not twice —
    // a second SIGINT means "quit without a report" to the inner harness. unshare and sh exec,
    // so the pid signalled is the inner harness itself.
    detached: true,
  });
  const forward = (signal: NodeJS.Signals): void => {
    child.kill(signal);
  };
  const killInner = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  process.on('exit', killInner);
  try {
    return await new Promise<number>((resolve, reject) => {
      child.once('error', (error) => reject(new NetnsError(`--netns: cannot run unshare: ${error.message}`)));
      child.once('close', (code, signal) => resolve(code ?? (signal !== null ? 128 + constants.signals[signal] : 1)));
    });
  } finally {
    process.off('SIGINT', forward);
    process.off('SIGTERM', forward);
    process.off('exit', killInner);
  }
}
