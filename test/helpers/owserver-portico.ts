/**
 * Start the portico owserver for tests: in process (`startPortico`, through `createOwserver` with the
 * binary's own flag defaults, so the handle's ledger and stats can be inspected) or as the
 * `portico-owserver` binary (`spawnPortico`). Both are stopped when the test ends.
 */
import { resolve } from 'node:path';
import type { OwBus } from '../../examples/owserver/bus/bus.js';
import { createOwserver, owserverPlugin, type OwserverHandle } from '../../examples/owserver/plugin.js';
import { resolveFlags } from '../../examples/shared/flags.js';
import { OwClient, type OwClientOptions } from '../../examples/owserver/client/ow-client.js';
import { FAKE_IDS } from './real-owserver.js';
import { repoRoot, spawnServer, type AfterHook, type SpawnedServer } from './spawn-server.js';

export const owserverBinary = resolve(repoRoot, 'dist/examples/owserver/main.js');
export const owCliBinary = resolve(repoRoot, 'dist/examples/owserver/cli.js');

export interface StartedPortico extends OwserverHandle {
  readonly port: number;
  /** "127.0.0.1:PORT" */
  readonly spec: string;
  stop(): Promise<void>;
}

/**
 * An in-process portico owserver on 127.0.0.1 with a free port. `flags` are the binary's flags by
 * name (`{ timeout_server: 1, 'message-deadline': '2s' }`); `--fake` defaults to the three test ids.
 */
export async function startPortico(flags: Record<string, unknown> = {}, options: { t?: AfterHook; bus?: OwBus } = {}): Promise<StartedPortico> {
  const values = resolveFlags(owserverPlugin.flags, { host: '127.0.0.1', port: 0, fake: FAKE_IDS, ...flags });
  const handle = createOwserver(values, options.bus);
  const address = await handle.server.listen();
  let stopped: Promise<void> | null = null;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      await handle.server.stop({ deadlineMs: 200 });
      handle.upstream?.close();
    })());
  options.t?.after(stop);
  return { ...handle, port: address.port, spec: `127.0.0.1:${address.port}`, stop };
}

/** The `portico-owserver` binary with owserver-style arguments (e.g. `['-p', '127.0.0.1:0', '--timeout_server=1']`). */
export function spawnPortico(args: readonly string[], t?: AfterHook): Promise<SpawnedServer> {
  const listens = args.some((a) => a === '-p' || a.startsWith('--port') || a.startsWith('--listen') || (a.startsWith('-p') && !a.startsWith('--')));
  return spawnServer({ script: owserverBinary, args: listens ? args : ['-p', '127.0.0.1:0', ...args], ...(t ? { t } : {}) });
}

/** An OwClient closed when the test ends. */
export function clientFor(port: number, t: AfterHook, options: Partial<OwClientOptions> = {}): OwClient {
  const client = new OwClient({ host: '127.0.0.1', port, ...options });
  t.after(() => client.close());
  return client;
}

/** The root listing with the bus list (sg 0x10a / OwClient's default), as the real owserver gives it. */
export const ROOT_ENTRIES = [
  '/10.67C6697351FF',
  '/28.4AEC29CDBAAB',
  '/05.F2FBE3467CC2',
  '/bus.0',
  '/uncached',
  '/settings',
  '/system',
  '/statistics',
  '/structure',
  '/simultaneous',
  '/alarm',
];

/** A fake temperature as owserver formats it: right-aligned in 12 characters. */
export const TEMPERATURE_TEXT = /^ *-?\d+(\.\d+)?$/;

/**
 * Keeps another client busy against `port` while a test abuses the server: a persistent OwClient
 * doing DIRALL / PRESENT / READ of a deterministic value in a loop. `stop()` resolves with what it
 * saw; the abuse must leave it with answers only, every one right.
 */
export function startBystander(port: number, options: { intervalMs?: number; persistent?: boolean } = {}): { stop(): Promise<{ answered: number; failures: string[] }> } {
  const client = new OwClient({ host: '127.0.0.1', port, timeoutMs: 3000, persistent: options.persistent ?? true });
  const failures: string[] = [];
  let answered = 0;
  let running = true;
  const loop = (async () => {
    let i = 0;
    while (running) {
      try {
        switch (i++ % 3) {
          case 0: {
            const entries = await client.dir('/');
            if (entries.join(',') !== ROOT_ENTRIES.join(',')) failures.push(`dir / gave ${entries.join(',')}`);
            break;
          }
          case 1:
            if (!(await client.present('/28.4AEC29CDBAAB'))) failures.push('present /28.4AEC29CDBAAB gave false');
            break;
          case 2: {
            const value = (await client.read('/28.4AEC29CDBAAB/family')).toString('latin1');
            if (value !== '28') failures.push(`read family gave ${JSON.stringify(value)}`);
            break;
          }
        }
        answered++;
      } catch (error) {
        failures.push(String(error));
      }
      await new Promise((r) => setTimeout(r, options.intervalMs ?? 20));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      client.close();
      return { answered, failures };
    },
  };
}
