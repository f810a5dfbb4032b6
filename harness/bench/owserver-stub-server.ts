#!/usr/bin/env node
/**
 * portico's owserver with a bus that costs nothing: every READ answers the same 12 bytes at once.
 * Only for `owserver-bench --stub-bus 1`, to split portico's cost per request into framework +
 * protocol (this server) and the simulated bus (the difference to the real example binary).
 * Same flags and ready line as dist/examples/owserver/main.js.
 */
import type { DirEntry, OwBus, OwResult } from '../../examples/owserver/bus/bus.js';
import { createOwserver, owserverPlugin } from '../../examples/owserver/plugin.js';
import type { ServerPlugin } from '../../examples/shared/plugin.js';
import { serverMain } from '../../examples/shared/server-main.js';

const VALUE = Buffer.from('     12.3456', 'latin1');
const ROM = Buffer.from([0x28, 0x4a, 0xec, 0x29, 0xcd, 0xba, 0xab, 0x00]);

/** Answers without touching any state: what a bus costs at the very least. */
class ConstantBus implements OwBus {
  async stat(): Promise<OwResult<'dir' | 'file'>> {
    return { ok: true, value: 'file' };
  }

  async dir(): Promise<OwResult<{ readonly entries: readonly DirEntry[]; readonly dirFlags: number }>> {
    return { ok: true, value: { entries: [], dirFlags: 0 } };
  }

  async read(): Promise<OwResult<Buffer>> {
    return { ok: true, value: VALUE };
  }

  async write(_path: string, data: Buffer): Promise<OwResult<number>> {
    return { ok: true, value: data.length };
  }

  async present(): Promise<OwResult<Buffer>> {
    return { ok: true, value: ROM };
  }
}

const stubPlugin: ServerPlugin = {
  ...owserverPlugin,
  name: 'owserver-stub',
  summary: 'portico-owserver with a constant, zero-cost bus (benchmark baseline only).',
  async start(options) {
    const { server } = createOwserver(options, new ConstantBus());
    const address = await server.listen();
    return { host: address.address, port: address.port, stop: async () => ({ aborted: (await server.stop()).aborted }) };
  },
};

await serverMain(stubPlugin, 'portico-owserver-stub');
