/**
 * The real OWFS peers for interop tests: owserver 3.2p4 and ow-shell (owdir, owread, owwrite,
 * owpresent, owget). They are installed by `.ci/run`; when one is missing the tests that need it
 * FAIL with a message saying how to install it — they are never skipped.
 *
 * `startRealOwserver` picks a free port, starts `owserver --fake=... -p 127.0.0.1:PORT --foreground
 * --error_level=0`, waits (bounded) until it accepts connections, and guarantees the process is
 * killed when the test ends (and, as a last resort, when the test process exits).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import { requireProgram } from './require-program.js';
import { runToExit, type AfterHook, type RunResult } from './spawn-server.js';

/** The three fake devices every test server (real and portico) is started with. */
export const FAKE_IDS = '10.67C6697351FF,28.4AEC29CDBAAB,05.F2FBE3467CC2';
export const DS18S20 = '10.67C6697351FF';
export const DS18B20 = '28.4AEC29CDBAAB';
export const DS2405 = '05.F2FBE3467CC2';

export type OwShellTool = 'owdir' | 'owread' | 'owwrite' | 'owpresent' | 'owget';

/** Absolute path of an OWFS tool on PATH, or an Error naming the missing package (tests must fail, not skip). */
export function requireBinary(name: string): string {
  return requireProgram(name, name === 'owserver' ? 'owserver' : 'ow-shell');
}

/** A port nothing listens on at this moment (the kernel's pick, released at once). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Resolves true once a TCP connection to 127.0.0.1:port succeeds (the probe socket is closed). */
function tryConnect(port: number): Promise<boolean> {
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

export interface RealOwserver {
  readonly port: number;
  /** "127.0.0.1:PORT", as `-s` takes it. */
  readonly spec: string;
  readonly child: ChildProcess;
  /** owserver's stderr so far. */
  readonly output: string;
  readonly running: boolean;
  /** SIGKILL and wait for the exit (bounded). owserver takes ~1.5 s to honour SIGTERM; nothing here needs a graceful stop. */
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function track(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of live) c.kill('SIGKILL');
    });
  }
}

const isRunning = (child: ChildProcess): boolean => child.exitCode === null && child.signalCode === null;

/**
 * Start a real owserver on a free loopback port with the three fake devices (plus `args`, e.g.
 * `--no_persistence`, `--timeout_server=1`, `--pingcrazy`) and wait until it accepts connections.
 */
export async function startRealOwserver(options: { args?: readonly string[]; t?: AfterHook; readyTimeoutMs?: number } = {}): Promise<RealOwserver> {
  const binary = requireBinary('owserver');
  const readyTimeoutMs = options.readyTimeoutMs ?? 5000;
  let lastError = '';
  // A port can be taken between our pick and owserver's bind: try a few.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const child = spawn(binary, [`--fake=${FAKE_IDS}`, '-p', `127.0.0.1:${port}`, '--foreground', '--error_level=0', ...(options.args ?? [])], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    track(child);
    const kill = (): void => {
      if (isRunning(child)) child.kill('SIGKILL');
    };
    options.t?.after(kill);
    let output = '';
    child.stdout!.setEncoding('utf8').on('data', (c: string) => (output += c));
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (output += c));
    let spawnError: Error | null = null;
    child.once('error', (e) => (spawnError = e));
    const exited = new Promise<void>((resolve) => {
      if (!isRunning(child)) resolve();
      else child.once('exit', () => resolve());
    });

    const deadline = Date.now() + readyTimeoutMs;
    let accepted = false;
    while (Date.now() < deadline && isRunning(child) && spawnError === null) {
      if (await tryConnect(port)) {
        accepted = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 30));
    }
    // Accepted by *this* owserver (not by someone who took the port): it must still be running.
    if (accepted && isRunning(child)) {
      return {
        port,
        spec: `127.0.0.1:${port}`,
        child,
        get output() {
          return output;
        },
        get running() {
          return isRunning(child);
        },
        async stop() {
          kill();
          await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
        },
      };
    }
    kill();
    await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
    lastError = spawnError !== null ? String(spawnError) : `owserver did not accept connections on 127.0.0.1:${port} within ${readyTimeoutMs} ms (exit ${child.exitCode ?? child.signalCode}); output: ${output}`;
  }
  throw new Error(`could not start the real owserver: ${lastError}`);
}

/** Run one ow-shell tool to completion (bounded), e.g. `runOwShell('owread', ['-s', spec, path])`. */
export function runOwShell(tool: OwShellTool, args: readonly string[], options: { timeoutMs?: number } = {}): Promise<RunResult> {
  const binary = requireBinary(tool);
  return runToExit(binary, args, { timeoutMs: options.timeoutMs ?? 10_000 });
}
