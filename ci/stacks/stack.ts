#!/usr/bin/env node
/**
 * A stack of servers started as one, for the acceptance scenarios that test portico behind (or in
 * front of) another hop. It keeps the server contract, so the harness runs a stack as it runs any
 * binary: one JSON ready line naming the front port, SIGTERM → every part stopped gracefully → exit 0.
 *
 *   node dist/ci/stacks/stack.js haproxy-echo   haproxy (tcp, send-proxy-v2, health checks) → portico-echo --accept-proxy
 *   node dist/ci/stacks/stack.js haproxy-echo2  the same, balanced (round robin) over two portico-echo processes
 *   node dist/ci/stacks/stack.js proxy-echo     portico-proxy --send-proxy v2 → portico-echo --accept-proxy
 *
 * A part that dies makes the stack stop the others and exit non-zero; nothing outlives the stack.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const echoBin = join(root, 'dist/examples/echo/main.js');
const proxyBin = join(root, 'dist/examples/proxy/main.js');
const STOP_GRACE_MS = 10_000;

interface Part {
  readonly name: string;
  readonly child: ChildProcess;
  readonly stopSignal: NodeJS.Signals;
  readonly exited: Promise<number | null>;
}

const parts: Part[] = [];
let stopping = false;

function start(name: string, command: string, args: readonly string[], stopSignal: NodeJS.Signals = 'SIGTERM'): Part {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((done) => child.once('exit', (code, signal) => done(code ?? (signal === null ? null : 128))));
  const part: Part = { name, child, stopSignal, exited };
  parts.push(part);
  void exited.then((code) => {
    if (stopping) return;
    process.stderr.write(`stack: ${name} exited (${code}) on its own; stopping the rest\n`);
    void stopAll(1);
  });
  return part;
}

/** The port from a portico ready line on the part's stdout (bounded). */
function readyPort(part: Part, timeoutMs = 15_000): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const timer = setTimeout(() => reject(new Error(`${part.name}: no ready line within ${timeoutMs} ms`)), timeoutMs);
    createInterface({ input: part.child.stdout! }).on('line', (line) => {
      try {
        const ready = JSON.parse(line) as { event?: string; port?: number };
        if (ready.event === 'listening' && typeof ready.port === 'number') {
          clearTimeout(timer);
          resolvePort(ready.port);
        }
      } catch {
        // not a JSON line
      }
    });
  });
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolvePort(port));
    });
  });
}

async function accepting(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((done) => {
      const s = net.connect({ host: '127.0.0.1', port });
      s.once('connect', () => {
        s.destroy();
        done(true);
      });
      s.once('error', () => done(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing accepts on ${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function stopAll(code: number): Promise<never> {
  stopping = true;
  // Front first, so no new connection reaches a part that is stopping.
  for (const part of [...parts].reverse()) {
    if (part.child.exitCode === null && part.child.signalCode === null) part.child.kill(part.stopSignal);
    const timer = setTimeout(() => part.child.kill('SIGKILL'), STOP_GRACE_MS);
    const exit = await part.exited;
    clearTimeout(timer);
    if (exit !== 0 && code === 0) {
      process.stderr.write(`stack: ${part.name} exited ${exit} when stopped\n`);
      code = 1;
    }
  }
  cleanup();
  process.exit(code);
}

let cleanup = (): void => {};

async function haproxyEcho(count = 1): Promise<number> {
  const echoPorts: number[] = [];
  for (let i = 0; i < count; i++) echoPorts.push(await readyPort(start(`portico-echo-${i + 1}`, process.execPath, [echoBin, '--port', '0', '--accept-proxy'])));
  const front = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'portico-stack-'));
  cleanup = () => rmSync(dir, { recursive: true, force: true });
  const config = join(dir, 'haproxy.cfg');
  writeFileSync(
    config,
    [
      'global',
      '  maxconn 8000',
      'defaults',
      '  mode tcp',
      '  timeout connect 5s',
      '  timeout client 30s',
      '  timeout server 30s',
      'frontend fe',
      `  bind 127.0.0.1:${front}`,
      '  default_backend be',
      'backend be',
      '  balance roundrobin',
      ...echoPorts.map((port, i) => `  server echo${i + 1} 127.0.0.1:${port} send-proxy-v2 check check-send-proxy inter 1s`),
      '',
    ].join('\n'),
  );
  // haproxy's graceful stop is SIGUSR1 (finish the connections it has, then exit 0).
  start('haproxy', 'haproxy', ['-db', '-f', config], 'SIGUSR1');
  await accepting(front);
  return front;
}

async function proxyEcho(): Promise<number> {
  const echo = start('portico-echo', process.execPath, [echoBin, '--port', '0', '--accept-proxy']);
  const echoPort = await readyPort(echo);
  const proxy = start('portico-proxy', process.execPath, [proxyBin, '--port', '0', '--backend', `127.0.0.1:${echoPort}`, '--send-proxy', 'v2']);
  return readyPort(proxy);
}

const stacks: Record<string, () => Promise<number>> = { 'haproxy-echo': () => haproxyEcho(1), 'haproxy-echo2': () => haproxyEcho(2), 'proxy-echo': proxyEcho };
const which = process.argv[2] ?? '';
const build = stacks[which];
if (build === undefined || process.argv.includes('--help')) {
  process.stdout.write(`Usage: node dist/ci/stacks/stack.js <${Object.keys(stacks).join('|')}>\n`);
  process.exit(build === undefined && !process.argv.includes('--help') ? 2 : 0);
}
process.on('SIGTERM', () => void stopAll(0));
process.on('SIGINT', () => void stopAll(0));
try {
  const port = await build();
  process.stdout.write(JSON.stringify({ event: 'listening', server: which, host: '127.0.0.1', port }) + '\n');
} catch (error) {
  process.stderr.write(`stack ${which}: ${error instanceof Error ? error.message : String(error)}\n`);
  await stopAll(1);
}
