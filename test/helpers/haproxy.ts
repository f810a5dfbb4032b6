/**
 * The real HAProxy for interop tests (Debian package `haproxy`, installed by `.ci/run`; the tests fail,
 * never skip, without it). `startHaproxy` writes a config to a fresh temp dir, runs `haproxy -db -f`,
 * waits (bounded) until every frontend port accepts, and kills it when the test ends.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireProgram } from './require-program.js';
import type { AfterHook } from './spawn-server.js';

export interface RunningHaproxy {
  readonly child: ChildProcess;
  /** haproxy's stdout and stderr so far (its log, with `log stdout`). */
  readonly output: string;
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

/** The `global` + `defaults` sections every test config starts with (tcp mode, short timeouts). */
export function haproxyPreamble(): string[] {
  return ['global', '  maxconn 4000', 'defaults', '  mode tcp', '  timeout connect 2s', '  timeout client 10s', '  timeout server 10s', ''];
}

export async function startHaproxy(t: AfterHook, config: readonly string[], frontendPorts: readonly number[]): Promise<RunningHaproxy> {
  const haproxy = requireProgram('haproxy', 'haproxy');
  const dir = await mkdtemp(join(tmpdir(), 'portico-haproxy-'));
  const file = join(dir, 'haproxy.cfg');
  await writeFile(file, config.join('\n') + '\n');
  const child = spawn(haproxy, ['-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (output += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (output += c));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  t.after(async () => {
    process.off('exit', killOnExit);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    await rm(dir, { recursive: true, force: true });
  });
  const deadline = Date.now() + 10_000;
  for (const port of frontendPorts) {
    while (!(await accepts(port))) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`haproxy exited (${child.exitCode ?? child.signalCode}): ${output}`);
      if (Date.now() > deadline) throw new Error(`haproxy did not accept on ${port} within 10 s: ${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  // A port taken by another process between our pick and haproxy's bind accepts too: haproxy itself
  // then exits saying it cannot bind. Say so here rather than test the other listener.
  if (child.exitCode !== null || child.signalCode !== null || /cannot bind/i.test(output)) throw new Error(`haproxy is not the listener: ${output}`);
  return {
    child,
    get output() {
      return output;
    },
  };
}
