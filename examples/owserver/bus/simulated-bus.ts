import { randomInt } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { AsyncMutex } from '../../../framework/sync/async-mutex.js';
import { AliasTable } from './alias-table.js';
import { BusStatistics } from './bus-statistics.js';
import type { DirEntry, OwBus, OwRequestFlags, OwResult } from './bus.js';
import { DEFAULT_DEVICES, buildRoster, splitFakeSpec } from './device-roster.js';
import { DirFlag, type DeviceServices, type SimulatedRange } from './device-family.js';
import { deviceFamilies } from './families.js';
import { GlibcRandom } from './glibc-random.js';
import { AdapterSettings, interfaceTree } from './interface-tree.js';
import { ResolvedPathCache } from './path-cache.js';
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
  readonly #paths: ResolvedPathCache;
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
    const scope: PathScope = {
      findDevice: (segment) => this.#findDevice(segment),
      deviceEcho: (device, typed) => this.#aliases.displayName(device.rom) ?? typed,
      rootTrees,
      busTrees,
    };
    // Aliases are all that can change what a path names (or how a listing echoes it).
    this.#paths = new ResolvedPathCache((path) => resolvePath(path, scope), () => this.#aliases.revision);
  }

  /** The ROM ids on the bus, in listing order. */
  get devices(): readonly RomId[] {
    return this.#devices.map((d) => d.rom);
  }

  async stat(path: string, _flags: OwRequestFlags): Promise<OwResult<'dir' | 'file'>> {
    const target = this.#paths.resolve(path);
    return this.#counted(target.ok ? ok(target.value.kind === 'property' ? 'file' : 'dir') : fail(target.error));
  }

  async dir(path: string, flags: OwRequestFlags): Promise<OwResult<Listing>> {
    const stats = this.#stats;
    stats.begin('directory');
    try {
      const target = this.#paths.resolve(path);
      if (!target.ok) return this.#counted(fail(target.error));
      const value = target.value;
      if (value.kind === 'property') return this.#counted(fail(OwReturnCode.ENOTDIR));
      if (value.kind === 'bus') {
        // Listing the bus is a search: a bus transaction.
        const listing = await this.#transaction(() => this.#busListing(value, flags));
        stats.directoryBus.listed(listing.entries.length);
        return this.#counted(ok(listing));
      }
      const entries = listNames(value.node).map(({ name, isDir }) => ({ path: `${value.echo}/${name}`, isDir }));
      stats.directoryDevice.listed(entries.length);
      return this.#counted(ok({ entries, dirFlags: 0 }));
    } finally {
      stats.end('directory');
    }
  }

  /**
   * Reads and writes keep owserver's accounting in order — thread counters, then calls, then the
   * query, then success and bytes — and wait only when the query is a bus transaction.
   */
  async read(path: string, flags: OwRequestFlags): Promise<OwResult<Buffer>> {
    const stats = this.#stats;
    stats.begin('read');
    try {
      stats.read.call();
      const pending = this.#readValue(path, flags);
      const result = pending instanceof Promise ? await pending : pending;
      if (result.ok) stats.read.succeeded(result.value.length);
      return this.#counted(result);
    } finally {
      stats.end('read');
    }
  }

  async write(path: string, data: Buffer, flags: OwRequestFlags): Promise<OwResult<number>> {
    const stats = this.#stats;
    stats.begin('write');
    try {
      stats.write.call();
      const pending = this.#writeValue(path, data, flags);
      const result = pending instanceof Promise ? await pending : pending;
      if (result.ok) stats.write.succeeded(result.value);
      return this.#counted(result);
    } finally {
      stats.end('write');
    }
  }

  async present(path: string, _flags: OwRequestFlags): Promise<OwResult<Buffer>> {
    const target = this.#paths.resolve(path);
    if (!target.ok) return this.#counted(fail(target.error));
    const device = target.value.kind === 'bus' ? undefined : target.value.device;
    return this.#counted(ok(device === undefined ? Buffer.from(NO_ROM) : Buffer.from(device.rom.bytes)));
  }

  /** A READ's value: at once for the bus's own files, through a transaction for a device's. */
  #readValue(path: string, flags: OwRequestFlags): OwResult<Buffer> | Promise<OwResult<Buffer>> {
    const target = this.#paths.resolve(path);
    if (!target.ok) return fail(target.error);
    const value = target.value;
    if (value.kind !== 'property') return fail(OwReturnCode.EISDIR);
    const { selected } = value;
    if (value.device === undefined) return ok(formatProperty(selected, flags));
    return this.#transaction(() => ok(formatProperty(selected, flags)));
  }

  /** A WRITE's outcome: values are parsed before the bus is touched, as owfs does. */
  #writeValue(path: string, data: Buffer, flags: OwRequestFlags): OwResult<number> | Promise<OwResult<number>> {
    const target = this.#paths.resolve(path);
    if (!target.ok) return fail(target.error);
    const value = target.value;
    if (value.kind !== 'property') return fail(OwReturnCode.EISDIR);
    const store = value.selected.node.write;
    if (store === undefined) return fail(OwReturnCode.EOPNOTSUPP);
    const parsed = parseWrite(value.selected, data, flags);
    if (!parsed.ok) return parsed;
    const { values, accepted } = parsed.value;
    const apply = (): OwResult<number> => {
      for (const { index, value: element } of values) {
        const code = store(index, element);
        if (code < 0) return fail(code);
      }
      return ok(accepted);
    };
    return value.device === undefined ? apply() : this.#transaction(apply);
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

  /**
   * One bus transaction: serialized with every other under the bus mutex, holding the bus for the
   * configured latency. With no latency the body is synchronous, so the mutex runs it on the spot when
   * the bus is free rather than a few microtask turns later.
   */
  #transaction<T>(body: () => T): Promise<T> {
    return this.#mutex.withLock(this.#latencyMs > 0 ? () => this.#holdingFor(this.#latencyMs, body) : () => this.#holding(body));
  }

  #holding<T>(body: () => T): T {
    this.#stats.transactions.opened();
    const started = this.#clock();
    try {
      return body();
    } finally {
      this.#closeTransaction(started);
    }
  }

  async #holdingFor<T>(ms: number, body: () => T): Promise<T> {
    this.#stats.transactions.opened();
    const started = this.#clock();
    try {
      await holdFor(ms);
      return body();
    } finally {
      this.#closeTransaction(started);
    }
  }

  #closeTransaction(started: number): void {
    this.#stats.busSeconds += Math.max(0, this.#clock() - started) / 1000;
    this.#stats.transactions.closed();
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
