import { randomInt } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { AsyncMutex } from '../../../framework/sync/async-mutex.js';
import { AliasTable } from './alias-table.js';
import { BusStatistics, type QueryKind } from './bus-statistics.js';
import type { DirEntry, OwBus, OwRequestFlags, OwResult } from './bus.js';
import { DEFAULT_DEVICES, buildRoster, splitFakeSpec } from './device-roster.js';
import { DirFlag, type DeviceServices, type SimulatedRange } from './device-family.js';
import { deviceFamilies } from './families.js';
import { GlibcRandom } from './glibc-random.js';
import { AdapterSettings, interfaceTree } from './interface-tree.js';
import { resolvePath, type PathScope, type PathTarget } from './path-resolver.js';
import { formatProperty, parseWrite } from './property-io.js';
import { dir, listNames, type DirNode } from './property-tree.js';
import { OwReturnCode, fail, ok } from './return-codes.js';
import { RomId } from './rom-id.js';
import { BusSettings, settingsTree } from './settings-tree.js';
import { SimulatedDevice } from './simulated-device.js';
import { SimultaneousState, simultaneousTree } from './simultaneous-tree.js';
import { statisticsTree } from './statistics-tree.js';
import { structureTree } from './structure-tree.js';
import { systemTree } from './system-tree.js';

export interface SimulatedBusOptions {
  /** Device ids ('28.4AEC29CDBAAB') or family codes ('28', id drawn as owserver would); default the three of owserver's test setup. */
  readonly devices?: readonly string[];
  /** Seed for every simulated reading; default random. */
  readonly seed?: number;
  /** Time each bus transaction holds the bus; default 0. */
  readonly latencyMs?: number;
  /** The bus lock; default a new AsyncMutex of class 'owserver.bus'. */
  readonly mutex?: AsyncMutex;
  /** Milliseconds, for the elapsed and bus-time statistics; default performance.now. */
  readonly clock?: () => number;
}

type Listing = { readonly entries: readonly DirEntry[]; readonly dirFlags: number };

const NO_ROM = Buffer.alloc(8);

/**
 * An owserver `--fake` bus in process: devices of the simulated families with owfs's property tree, plus
 * /settings, /system, /statistics, /structure, /simultaneous, /alarm and /bus.0/interface, answering
 * with owserver's paths, formats and return codes. Device reads and writes and bus searches are bus
 * transactions: one at a time under the 'owserver.bus' mutex, each holding it for `latencyMs`.
 */
export class SimulatedBus implements OwBus {
  readonly #devices: readonly SimulatedDevice[];
  readonly #mutex: AsyncMutex;
  readonly #latencyMs: number;
  readonly #clock: () => number;
  readonly #startedAt: number;
  readonly #aliases = new AliasTable();
  readonly #stats = new BusStatistics();
  readonly #scope: PathScope;
  readonly #dirFlags: number;

  /** A bus from owserver's `--fake=` syntax: "10,28,05" or "10.67C6697351FF,28.4AEC29CDBAAB,...". */
  static fake(spec: string, options: Omit<SimulatedBusOptions, 'devices'> = {}): SimulatedBus {
    return new SimulatedBus({ ...options, devices: splitFakeSpec(spec) });
  }

  constructor(options: SimulatedBusOptions = {}) {
    this.#mutex = options.mutex ?? new AsyncMutex('owserver.bus');
    this.#latencyMs = Math.max(0, options.latencyMs ?? 0);
    this.#clock = options.clock ?? (() => performance.now());
    this.#startedAt = this.#clock();
    // owserver's fake adapter draws readings between 0 and 100 °C.
    const range: SimulatedRange = { low: 0, high: 100 };
    const random = new GlibcRandom(options.seed ?? randomInt(1, 2 ** 31 - 1));
    const services: DeviceServices = { random, aliases: this.#aliases, range };
    this.#devices = buildRoster(options.devices ?? DEFAULT_DEVICES).map(({ rom, family }) => new SimulatedDevice(rom, family, services));
    this.#dirFlags = this.#devices.reduce((flags, d) => flags | d.family.dirFlags, 0);

    const simultaneous = simultaneousTree(new SimultaneousState(), this.#devices);
    const alarm = dir({});
    // Templates for /structure get their own random source so they leave the seeded readings alone.
    const structure = structureTree(deviceFamilies.values(), { ...services, random: new GlibcRandom(1) }, simultaneous);
    const elapsedSeconds = (): number => Math.floor((this.#clock() - this.#startedAt) / 1000);
    const rootTrees = new Map<string, DirNode>([
      ['settings', settingsTree(new BusSettings(), this.#aliases)],
      ['system', systemTree()],
      ['statistics', statisticsTree(this.#stats)],
      ['structure', structure],
      ['simultaneous', simultaneous],
      ['alarm', alarm],
    ]);
    const busTrees = new Map<string, DirNode>([
      ['interface', interfaceTree({ adapter: new AdapterSettings(), range, stats: this.#stats, elapsedSeconds })],
      ['simultaneous', simultaneous],
      ['alarm', alarm],
    ]);
    this.#scope = {
      findDevice: (segment) => this.#findDevice(segment),
      deviceEcho: (device, typed) => this.#aliases.displayName(device.rom) ?? typed,
      rootTrees,
      busTrees,
    };
  }

  /** The ROM ids on the bus, in listing order. */
  get devices(): readonly RomId[] {
    return this.#devices.map((d) => d.rom);
  }

  async stat(path: string, _flags: OwRequestFlags): Promise<OwResult<'dir' | 'file'>> {
    const target = resolvePath(path, this.#scope);
    return this.#counted(target.ok ? ok(target.value.kind === 'property' ? 'file' : 'dir') : target);
  }

  async dir(path: string, flags: OwRequestFlags): Promise<OwResult<Listing>> {
    const end = this.#stats.begin('directory');
    try {
      const target = resolvePath(path, this.#scope);
      if (!target.ok) return this.#counted(target);
      const value = target.value;
      if (value.kind === 'property') return this.#counted(fail(OwReturnCode.ENOTDIR));
      if (value.kind === 'bus') {
        // Listing the bus is a search: a bus transaction.
        const listing = await this.#transaction(() => this.#busListing(value, flags));
        this.#stats.add('directory/bus/calls');
        this.#stats.add('directory/bus/entries', listing.entries.length);
        return this.#counted(ok(listing));
      }
      const entries = listNames(value.node).map(({ name, isDir }) => ({ path: `${value.echo}/${name}`, isDir }));
      this.#stats.add('directory/device/calls');
      this.#stats.add('directory/device/entries', entries.length);
      return this.#counted(ok({ entries, dirFlags: 0 }));
    } finally {
      end();
    }
  }

  async read(path: string, flags: OwRequestFlags): Promise<OwResult<Buffer>> {
    return this.#query('read', async () => {
      const target = resolvePath(path, this.#scope);
      if (!target.ok) return target;
      const value = target.value;
      if (value.kind !== 'property') return fail(OwReturnCode.EISDIR);
      const read = (): Buffer => formatProperty(value.selected, flags);
      return ok(value.device === undefined ? read() : await this.#transaction(read));
    });
  }

  async write(path: string, data: Buffer, flags: OwRequestFlags): Promise<OwResult<number>> {
    return this.#query('write', async () => {
      const target = resolvePath(path, this.#scope);
      if (!target.ok) return target;
      const value = target.value;
      if (value.kind !== 'property') return fail(OwReturnCode.EISDIR);
      const { node } = value.selected;
      const store = node.write;
      if (store === undefined) return fail(OwReturnCode.EOPNOTSUPP);
      // Values are parsed before the bus is touched, as owfs does.
      const parsed = parseWrite(value.selected, data, flags);
      if (!parsed.ok) return parsed;
      const apply = (): number => {
        for (const { index, value: element } of parsed.value.values) {
          const code = store(index, element);
          if (code < 0) return code;
        }
        return 0;
      };
      const code = value.device === undefined ? apply() : await this.#transaction(apply);
      return code < 0 ? fail(code) : ok(parsed.value.accepted);
    });
  }

  async present(path: string, _flags: OwRequestFlags): Promise<OwResult<Buffer>> {
    const target = resolvePath(path, this.#scope);
    if (!target.ok) return this.#counted(target);
    const device = target.value.kind === 'bus' ? undefined : target.value.device;
    return this.#counted(ok(device === undefined ? Buffer.from(NO_ROM) : Buffer.from(device.rom.bytes)));
  }

  #findDevice(segment: string): SimulatedDevice | undefined {
    const rom = RomId.parse(segment);
    if (rom !== undefined) return this.#devices.find((d) => d.rom.equals(rom));
    const address = this.#aliases.addressOf(segment);
    return address === undefined ? undefined : this.#devices.find((d) => d.rom.addressHex === address);
  }

  /** "/", "/uncached", "/bus.0": devices, with the other top-level directories as owserver adds them. */
  #busListing(target: Extract<PathTarget, { kind: 'bus' }>, flags: OwRequestFlags): Listing {
    const names: string[] = [];
    if (target.inBus) names.push('interface');
    const deviceNames = this.#devices.map((d) => this.#aliases.displayName(d.rom) ?? d.rom.format(flags.deviceFormat));
    const others: string[] = [];
    if (!target.inBus && flags.busList) {
      others.push('bus.0');
      if (!target.uncached) others.push('uncached');
      others.push('settings', 'system', 'statistics', 'structure');
    }
    if (target.inBus || flags.busList) {
      // Only listed when some device on the bus supports them.
      if ((this.#dirFlags & (DirFlag.TEMPERATURE | DirFlag.VOLTAGE)) !== 0) others.push('simultaneous');
      if ((this.#dirFlags & DirFlag.ALARM) !== 0) others.push('alarm');
    }
    const entries = [...names, ...deviceNames, ...others].map((name) => ({ path: `${target.echo}/${name}`, isDir: true }));
    return { entries, dirFlags: this.#dirFlags };
  }

  /** One bus transaction: serialized with every other, holding the bus for the configured latency. */
  #transaction<T>(body: () => T): Promise<T> {
    return this.#mutex.withLock(async () => {
      this.#stats.add('interface/locks');
      this.#stats.add('interface/resets');
      const started = this.#clock();
      try {
        if (this.#latencyMs > 0) await holdFor(this.#latencyMs);
        return body();
      } finally {
        this.#stats.busSeconds += Math.max(0, this.#clock() - started) / 1000;
        this.#stats.add('interface/unlocks');
      }
    });
  }

  /** Run a read or write with owserver's call/success/bytes and thread accounting. */
  async #query<T extends Buffer | number>(kind: Exclude<QueryKind, 'directory'>, run: () => Promise<OwResult<T>>): Promise<OwResult<T>> {
    const end = this.#stats.begin(kind);
    try {
      this.#stats.add(`${kind}/calls`);
      const result = await run();
      if (result.ok) {
        this.#stats.add(`${kind}/success`);
        this.#stats.add(`${kind}/bytes`, typeof result.value === 'number' ? result.value : result.value.length);
      }
      return this.#counted(result);
    } finally {
      end();
    }
  }

  #counted<T>(result: OwResult<T>): OwResult<T> {
    this.#stats.recordResult(result.ok ? 0 : result.error);
    return result;
  }
}

/** Wait at least `ms` of wall time; a timer may fire a fraction of a millisecond early. */
async function holdFor(ms: number): Promise<void> {
  const until = performance.now() + ms;
  for (let left = ms; left > 0; left = until - performance.now()) await delay(Math.ceil(left));
}
