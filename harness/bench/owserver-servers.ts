/**
 * The two owservers the owserver bench compares, started the same way: a fresh process per run on a
 * loopback port, the three fake devices, and the persistence limits raised so 64 clients all hold a
 * grant. Each reports its pid (for CPU time from /proc) and port (for TIME_WAIT counts).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import * as net from 'node:net';
import { delimiter, join } from 'node:path';
import * as path from 'node:path';
import { repoRoot } from './paths.js';
import { startServer } from './server-process.js';

/** `portico-stub`: portico's owserver on a zero-cost bus (bench/owserver-stub-server.ts). */
export type OwServerName = 'real' | 'portico' | 'portico-stub';

/** The devices of the reference's interop setup (owserver-protocol.md §6). */
export const FAKE_DEVICES = '10.67C6697351FF,28.4AEC29CDBAAB,05.F2FBE3467CC2';

/** Raised so 64 concurrent clients all keep their grant (owserver's defaults are 10/20). */
export const PERSISTENCE_FLAGS: readonly string[] = ['--clients_persistent_high=100', '--clients_persistent_low=100'];

export const porticoOwserverScript = path.join(repoRoot, 'dist', 'examples', 'owserver', 'main.js');
export const stubOwserverScript = path.join(repoRoot, 'dist', 'harness', 'bench', 'owserver-stub-server.js');

export interface RunningOwserver {
  readonly name: OwServerName;
  readonly pid: number;
  readonly port: number;
  /** The command line, for the report. */
  readonly command: readonly string[];
  /** Stop it; resolves with the exit code (null = ended by a signal). */
  stop(): Promise<number | null>;
}

/** Absolute path of the real owserver, or an error saying how to install it. */
export function realOwserverBinary(): string {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, 'owserver');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  throw new Error('owserver is not installed (not on PATH): the owserver bench compares against it — apt-get install -y owserver');
}

// The real owserver is not a node child, so bench/children.ts does not track it: these do.
const live = new Set<ChildProcess>();
let cleanupInstalled = false;

function track(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  const killAll = (): void => {
    for (const c of live) c.kill('SIGKILL');
  };
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAll();
      process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1));
    });
  }
}

const isRunning = (child: ChildProcess): boolean => child.exitCode === null && child.signalCode === null;

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.setTimeout(500, () => done(false));
  });
}

/**
 * owserver 3.2p4 in the foreground on a free loopback port. It has no ready line, so readiness is
 * its first accepted connection. Stopped with SIGKILL: it takes seconds to honour SIGTERM, and
 * nothing here needs a graceful stop of the reference server.
 */
export async function startRealOwserver(readyTimeoutMs = 5000): Promise<RunningOwserver> {
  const binary = realOwserverBinary();
  let last = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const args = [`--fake=${FAKE_DEVICES}`, '-p', `127.0.0.1:${port}`, '--foreground', '--error_level=0', ...PERSISTENCE_FLAGS];
    const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    track(child);
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr = (stderr + text).slice(-2048)));
    const exited = new Promise<number | null>((resolve) => {
      if (!isRunning(child)) resolve(child.exitCode);
      else child.once('exit', (code) => resolve(code));
    });
    const deadline = Date.now() + readyTimeoutMs;
    let ready = false;
    while (!ready && Date.now() < deadline && isRunning(child)) {
      ready = await accepts(port);
      if (!ready) await new Promise((r) => setTimeout(r, 30));
    }
    const stop = async (): Promise<number | null> => {
      if (isRunning(child)) child.kill('SIGKILL');
      return exited;
    };
    // Accepted by *this* owserver, not by whoever took the port meanwhile: it must still run.
    if (ready && isRunning(child) && child.pid !== undefined) return { name: 'real', pid: child.pid, port, command: [binary, ...args], stop };
    await stop();
    last = `no connection accepted on 127.0.0.1:${port} within ${readyTimeoutMs} ms (exit ${child.exitCode ?? child.signalCode}): ${stderr.trim()}`;
  }
  throw new Error(`could not start the real owserver: ${last}`);
}

/** The portico owserver binary (dist/examples/owserver/main.js) with the same flags; `stub`: on a zero-cost bus. */
export async function startPorticoOwserver(stub = false): Promise<RunningOwserver> {
  const script = stub ? stubOwserverScript : porticoOwserverScript;
  const args = ['--port', '0', `--fake=${FAKE_DEVICES}`, ...PERSISTENCE_FLAGS];
  const running = await startServer(stub ? 'portico-owserver-stub' : 'portico-owserver', script, args);
  return {
    name: stub ? 'portico-stub' : 'portico',
    pid: running.pid,
    port: running.port,
    command: ['node', path.relative(repoRoot, script), ...args],
    stop: async () => (await running.stop()).code,
  };
}
