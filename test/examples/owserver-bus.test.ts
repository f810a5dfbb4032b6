/**
 * The simulated 1-Wire bus behind the owserver example. Half of this file is unit tests of the bus on
 * its own; the other half starts the real owserver 3.2p4 (`--fake` with the same three devices) on a
 * free loopback port and checks that the simulation answers listings, directory flags, return codes,
 * fixed values, /structure lines and writes exactly as the real server does. owserver and ow-shell are
 * required: if they are missing those tests fail, they are never skipped.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { PorticoError } from '../../framework/core/errors.js';
import { AsyncMutex } from '../../framework/sync/async-mutex.js';
import { defaultRequestFlags, type DeviceFormat, type OwRequestFlags, type OwResult, type TemperatureScale } from '../../examples/owserver/bus/bus.js';
import { dallasCrc8 } from '../../examples/owserver/bus/crc8.js';
import { formatG } from '../../examples/owserver/bus/number-format.js';
import { RomId } from '../../examples/owserver/bus/rom-id.js';
import { SimulatedBus } from '../../examples/owserver/bus/simulated-bus.js';

const T = { timeout: 30_000 };
const DEVICES = ['10.67C6697351FF', '28.4AEC29CDBAAB', '05.F2FBE3467CC2'];
const FAKE_SPEC = DEVICES.join(',');
const [DS18S20, DS18B20, DS2405] = DEVICES.map((d) => `/${d}`) as [string, string, string];

// ---------------------------------------------------------------------------------------------------
// Helpers

const SCALES: readonly TemperatureScale[] = ['C', 'F', 'K', 'R'];
const FORMATS: readonly DeviceFormat[] = ['f.i', 'fi', 'f.i.c', 'f.ic', 'fi.c', 'fic'];

/** Decode an sg word the way the protocol server will. */
function flagsFromSg(sg: number): OwRequestFlags {
  return {
    busList: (sg & 0x02) !== 0,
    alias: (sg & 0x08) !== 0,
    uncached: (sg & 0x20) !== 0,
    trim: (sg & 0x40) !== 0,
    temperatureScale: SCALES[(sg >>> 16) & 0x3]!,
    pressureScale: (['mbar', 'atm', 'mmHg', 'inHg', 'psi', 'Pa'] as const)[Math.min((sg >>> 18) & 0x7, 5)]!,
    deviceFormat: FORMATS[(sg >>> 24) & 0xff] ?? 'f.i',
  };
}

const OWSHELL_SG = 0x10a;
const flags = (overrides: Partial<OwRequestFlags> = {}): OwRequestFlags => ({ ...defaultRequestFlags, ...overrides });
const text = (r: OwResult<Buffer>): string => {
  assert.ok(r.ok, `expected a value, got return code ${r.ok ? '' : r.error}`);
  return r.value.toString('latin1');
};
const code = (r: OwResult<unknown>): number | 'ok' => (r.ok ? 'ok' : r.error);
const listing = async (bus: SimulatedBus, path: string, f: OwRequestFlags): Promise<string[]> => {
  const r = await bus.dir(path, f);
  assert.ok(r.ok, `dir ${path}: ${r.ok ? '' : r.error}`);
  return r.value.entries.map((e) => e.path);
};

// ---------------------------------------------------------------------------------------------------
// Unit tests of the simulation on its own

describe('SimulatedBus on its own', () => {
  test('CRC8 of the three default ids, and PRESENT returns the ROM bytes of the present_existing vector', T, async () => {
    assert.equal(dallasCrc8(Buffer.from('284AEC29CDBAAB', 'hex')), 0x95);
    assert.equal(dallasCrc8(Buffer.from('1067C6697351FF', 'hex')), 0x8d);
    assert.equal(dallasCrc8(Buffer.from('05F2FBE3467CC2', 'hex')), 0xaf);
    // A whole ROM including its CRC checks to zero.
    assert.equal(dallasCrc8(Buffer.from('284aec29cdbaab95', 'hex')), 0);
    const bus = new SimulatedBus();
    const present = await bus.present(DS18B20, flags());
    assert.ok(present.ok);
    assert.equal(present.value.toString('hex'), '284aec29cdbaab95');
    assert.equal(text(await bus.read(`${DS18B20}/crc8`, flags())), '95');
    assert.equal(text(await bus.read(`${DS18S20}/crc8`, flags())), '8D');
    assert.equal(text(await bus.read(`${DS2405}/crc8`, flags())), 'AF');
    assert.equal(text(await bus.read(`${DS18B20}/address`, flags())), '284AEC29CDBAAB95');
    assert.equal(text(await bus.read(`${DS18B20}/r_address`, flags())), '95ABBACD29EC4A28');
    const root = await bus.present('/', flags());
    assert.ok(root.ok);
    assert.deepEqual([...root.value], [0, 0, 0, 0, 0, 0, 0, 0]);
    assert.equal(code(await bus.present('/28.4AEC29CDBAAC', flags())), -1);
  });

  test('default devices, --fake by family code (owserver ids) and by id; bad specs throw', T, () => {
    const ids = (bus: SimulatedBus): string[] => bus.devices.map((rom) => rom.format('f.i'));
    assert.deepEqual(ids(new SimulatedBus()), DEVICES);
    assert.deepEqual(ids(SimulatedBus.fake('10,28,05')), DEVICES);
    assert.deepEqual(ids(SimulatedBus.fake(FAKE_SPEC)), DEVICES);
    assert.deepEqual(ids(new SimulatedBus({ devices: ['10', '28', '05'] })), DEVICES);
    // Explicit ids still use up their draw, so later family codes get the ids owserver gives them.
    assert.deepEqual(ids(SimulatedBus.fake('10,28,05,1D,22,10.112233445566,28')), [
      ...DEVICES,
      '1D.54F81BE8E78D',
      '22.765A2E63339F',
      '10.112233445566',
      '28.3158A35A255D',
    ]);
    assert.deepEqual(ids(SimulatedBus.fake('284AEC29CDBAAB95')), ['28.4AEC29CDBAAB']);
    for (const bad of ['ZZ', '28.4AEC29CDBAAB.00', '99', '28.4AEC29CDBAAB,28.4AEC29CDBAAB']) {
      assert.throws(() => SimulatedBus.fake(bad), PorticoError, bad);
    }
  });

  test('ROM id spellings owserver accepts, and listings in each device format', T, async () => {
    const bus = new SimulatedBus();
    for (const spelling of ['28.4AEC29CDBAAB', '284AEC29CDBAAB', '28.4AEC29CDBAAB.95', '28.4AEC29CDBAAB95', '284AEC29CDBAAB.95', '284aec29cdbaab95']) {
      assert.equal(text(await bus.read(`/${spelling}/id`, flags())), '4AEC29CDBAAB', spelling);
      assert.equal(text(await bus.read(`/uncached/bus.0/${spelling}/family`, flags())), '28', spelling);
    }
    for (const bad of ['/28.4AEC29CDBAAB.9', '/28-4AEC29CDBAAB', '/28.4AEC29CDBAAB.00', '//28.4AEC29CDBAAB', '/28.4AEC29CDBAAB//', '/bus.0/bus.0/28.4AEC29CDBAAB']) {
      assert.equal(code(await bus.stat(bad, flags())), -1, bad);
    }
    assert.equal(RomId.parse('28.4AEC29CDBAAB')!.format('fic'), '284AEC29CDBAAB95');
    const root = async (deviceFormat: DeviceFormat): Promise<string[]> => (await listing(bus, '/', flags({ deviceFormat }))).slice(0, 1);
    assert.deepEqual(await root('fi'), ['/1067C6697351FF']);
    assert.deepEqual(await root('f.i.c'), ['/10.67C6697351FF.8D']);
    assert.deepEqual(await root('fi.c'), ['/1067C6697351FF.8D']);
    // A device listing prints the device the way the request spelled it.
    assert.deepEqual((await listing(bus, '/284aec29cdbaab', flags())).slice(0, 1), ['/284aec29cdbaab/address']);
  });

  test('temperature formatting: width 12, TRIM, and the F, K and R scales', T, async () => {
    assert.equal(formatG(24.5223), '24.5223');
    assert.equal(formatG(3.7e-5), '3.7E-05');
    assert.equal(formatG(212), '212');
    assert.equal(formatG(1e6), '1E+06');
    assert.equal(formatG(-40), '-40');
    assert.equal(formatG(0.0001), '0.0001');
    assert.equal(formatG(189.74712), '189.747');
    // Exact ties round to even, as glibc does (toFixed would say 100.063 and 123457).
    assert.equal(formatG(100.0625), '100.062');
    assert.equal(formatG(123456.5), '123456');
    assert.equal(formatG(9.9999996), '10');
    // Same seed, same draws: each scale sees the same reading.
    const reading = async (f: OwRequestFlags): Promise<string> => text(await new SimulatedBus({ seed: 7 }).read(`${DS18B20}/temperature`, f));
    const celsius = await reading(flags());
    assert.equal(celsius.length, 12);
    assert.match(celsius, /^ +-?\d+(\.\d+)?$/);
    const c = Number(celsius);
    const trimmed = await reading(flags({ trim: true }));
    assert.equal(trimmed, celsius.trim());
    const near = (actual: string, expected: number): void => {
      assert.equal(actual.length, 12, actual);
      assert.ok(Math.abs(Number(actual) - expected) < 0.001, `${actual} vs ${expected}`);
    };
    near(await reading(flags({ temperatureScale: 'F' })), c * 1.8 + 32);
    near(await reading(flags({ temperatureScale: 'K' })), c + 273.15);
    near(await reading(flags({ temperatureScale: 'R' })), c * 1.8 + 491.67);
    // Readings are 12-bit: whole sixteenths of a degree, in the fake adapter's 0-100 °C.
    assert.equal((c * 16) % 1, 0);
    assert.ok(c >= 0 && c <= 100);
  });

  test('writes: PIO, timeouts, temperatures in the request scale, alias; read-only and bad values refused', T, async () => {
    const bus = new SimulatedBus({ seed: 1 });
    assert.deepEqual(await bus.write(`${DS2405}/PIO`, Buffer.from('1'), flags()), { ok: true, value: 1 });
    assert.equal(text(await bus.read(`${DS2405}/PIO`, flags())), '1');
    assert.equal(text(await bus.read(`${DS2405}/sensed`, flags())), '1');
    assert.deepEqual(await bus.write(`${DS2405}/PIO`, Buffer.from('off'), flags()), { ok: true, value: 3 });
    assert.equal(text(await bus.read(`${DS2405}/PIO`, flags())), '0');
    assert.equal(code(await bus.write(`${DS2405}/PIO`, Buffer.from('maybe'), flags())), -22);
    assert.equal(code(await bus.write(`${DS2405}/PIO`, Buffer.alloc(0), flags())), -14);

    assert.deepEqual(await bus.write('/settings/timeout/volatile', Buffer.from('15'), flags()), { ok: true, value: 2 });
    assert.equal(text(await bus.read('/settings/timeout/volatile', flags())), '          15');
    assert.equal(text(await bus.read('/settings/timeout/volatile', flags({ trim: true }))), '15');
    assert.deepEqual(await bus.write('/settings/timeout/volatile', Buffer.from(' 20.5'), flags()), { ok: true, value: 5 });
    assert.equal(text(await bus.read('/settings/timeout/volatile', flags())), '          20');
    assert.equal(code(await bus.write('/settings/timeout/volatile', Buffer.from('abc'), flags())), -22);

    assert.ok((await bus.write(`${DS18B20}/temphigh`, Buffer.from('86'), flags({ temperatureScale: 'F' }))).ok);
    assert.equal(text(await bus.read(`${DS18B20}/temphigh`, flags())), '          30');
    assert.equal(text(await bus.read(`${DS18B20}/temphigh`, flags({ temperatureScale: 'F', trim: true }))), '86');
    assert.ok((await bus.write(`${DS18B20}/tempres`, Buffer.from('9'), flags())).ok);
    assert.equal(Number(text(await bus.read(`${DS18B20}/temperature`, flags()))) % 0.5, 0);
    assert.equal(code(await bus.write(`${DS18B20}/tempres`, Buffer.from('13'), flags())), -22);

    assert.equal(code(await bus.write(`${DS18B20}/temperature`, Buffer.from('1'), flags())), -95);
    assert.equal(code(await bus.write(`${DS18B20}/id`, Buffer.from('1'), flags())), -95);
    assert.equal(code(await bus.write('/system/process/pid', Buffer.from('1'), flags())), -95);
    assert.equal(code(await bus.write(DS18B20, Buffer.from('1'), flags())), -21);
    assert.equal(code(await bus.write('/nonexist', Buffer.from('1'), flags())), -1);

    assert.deepEqual(await bus.write(`${DS18B20}/alias`, Buffer.from('kitchen'), flags()), { ok: true, value: 7 });
    assert.deepEqual(await listing(bus, '/', flags()), ['/10.67C6697351FF', '/kitchen', '/05.F2FBE3467CC2']);
    assert.equal(text(await bus.read('/kitchen/id', flags())), '4AEC29CDBAAB');
    assert.equal((await listing(bus, DS18B20, flags()))[0], '/kitchen/address');
    assert.equal(text(await bus.read('/settings/alias/list', flags())), '284AEC29CDBAAB95=kitchen\r\n');
    assert.equal(code(await bus.write(`${DS18B20}/alias`, Buffer.from('settings'), flags())), -22);
    assert.ok((await bus.write('/settings/alias/unaliased', Buffer.from('1'), flags())).ok);
    assert.equal((await listing(bus, '/', flags()))[1], '/28.4AEC29CDBAAB');
  });

  test('unknown paths -1, READ of a directory -21, DIR of a property -20, GET stat', T, async () => {
    const bus = new SimulatedBus();
    for (const path of ['/nonexist', `${DS18B20}/nonexist`, `${DS18B20}/TEMPERATURE`, `${DS18B20}/temperature/`, '/settings/Timeout', '/bus.0/settings', '/28.4AEC29CDBAAC']) {
      assert.equal(code(await bus.read(path, flags())), -1, path);
      assert.equal(code(await bus.dir(path, flags())), -1, path);
    }
    for (const path of ['/', DS18B20, '/bus.0', '/settings', `${DS18B20}/errata`, '/structure/28']) {
      assert.equal(code(await bus.read(path, flags())), -21, path);
      assert.deepEqual(await bus.stat(path, flags()), { ok: true, value: 'dir' }, path);
    }
    for (const path of [`${DS18B20}/temperature`, '/settings/timeout/volatile', '/structure/28/temperature']) {
      assert.equal(code(await bus.dir(path, flags())), -20, path);
      assert.deepEqual(await bus.stat(path, flags()), { ok: true, value: 'file' }, path);
    }
  });

  test('seeded readings are deterministic; different seeds differ', T, async () => {
    const readings = async (seed: number): Promise<string[]> => {
      const bus = new SimulatedBus({ seed, devices: ['10', '28', '05', '1D', '22'] });
      const out: string[] = [];
      for (let i = 0; i < 5; i++) {
        for (const path of [`${DS18S20}/temperature`, `${DS18B20}/temperature`, `${DS18B20}/fasttemp`, '/1D.54F81BE8E78D/counter.ALL', '/22.765A2E63339F/scratchpad']) {
          out.push(text(await bus.read(path, flags())));
        }
      }
      return out;
    };
    const first = await readings(42);
    assert.deepEqual(await readings(42), first);
    assert.notDeepEqual(await readings(43), first);
  });

  test('bus transactions serialize on the owserver.bus mutex and hold it for latencyMs', T, async () => {
    const mutex = new AsyncMutex('owserver.bus');
    const bus = new SimulatedBus({ latencyMs: 50, mutex, seed: 3 });
    assert.equal(mutex.lockClass.name, 'owserver.bus');
    const started = performance.now();
    const reads = [bus.read(`${DS18B20}/temperature`, flags()), bus.read(`${DS18S20}/temperature`, flags())];
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(mutex.isLocked, true);
    assert.equal(mutex.waiting, 1);
    const results = await Promise.all(reads);
    const elapsed = performance.now() - started;
    assert.ok(results.every((r) => r.ok));
    assert.ok(elapsed >= 100, `two 50 ms transactions took ${elapsed.toFixed(1)} ms`);
    assert.equal(mutex.isLocked, false);
    // Values that never touch the bus do not wait for it.
    let blockerDone = false;
    const blocker = bus.write(`${DS2405}/PIO`, Buffer.from('1'), flags()).then((r) => ((blockerDone = true), r));
    assert.equal(text(await bus.read('/settings/timeout/volatile', flags())), '          15');
    assert.equal(blockerDone, false, 'the settings read was answered before the bus write ended');
    assert.ok((await blocker).ok);
    // The default bus makes its own mutex of the same class.
    const own = new SimulatedBus({ latencyMs: 30 });
    const t0 = performance.now();
    await Promise.all([own.write(`${DS2405}/PIO`, Buffer.from('1'), flags()), own.read(`${DS2405}/PIO`, flags())]);
    assert.ok(performance.now() - t0 >= 60);
  });

  test('directory flags and the optional top-level entries follow the device families', T, async () => {
    const dirFlags = async (bus: SimulatedBus, path = '/'): Promise<number> => {
      const r = await bus.dir(path, flags({ busList: true }));
      assert.ok(r.ok);
      return r.value.dirFlags;
    };
    const standard = new SimulatedBus();
    assert.equal(await dirFlags(standard), 0x8002);
    assert.equal(await dirFlags(standard, '/bus.0'), 0x8002);
    assert.equal(await dirFlags(standard, DS18B20), 0);
    assert.equal(await dirFlags(SimulatedBus.fake('1D,22')), 0x8006);
    const switchOnly = SimulatedBus.fake('05');
    assert.equal(await dirFlags(switchOnly), 0x0002);
    assert.deepEqual(await listing(switchOnly, '/bus.0', flags()), ['/bus.0/interface', '/bus.0/05.67C6697351FF', '/bus.0/alarm']);
    assert.deepEqual(await listing(SimulatedBus.fake('1D'), '/', flags({ busList: true })), [
      '/1D.67C6697351FF',
      '/bus.0',
      '/uncached',
      '/settings',
      '/system',
      '/statistics',
      '/structure',
    ]);
  });

  test('DS2423 arrays: .ALL, lettered and numbered elements, binary pages', T, async () => {
    const bus = SimulatedBus.fake('1D', { seed: 9 });
    const dev = '/1D.67C6697351FF';
    assert.match(text(await bus.read(`${dev}/counter.ALL`, flags())), /^ {0,11}\d+, {0,11}\d+$/);
    assert.equal(text(await bus.read(`${dev}/counter.ALL`, flags())).length, 25);
    assert.ok(text(await bus.read(`${dev}/counter.a`, flags())).length === 12);
    assert.equal(code(await bus.read(`${dev}/counter`, flags())), -1);
    assert.equal(code(await bus.read(`${dev}/counter.C`, flags())), -1);
    assert.equal(code(await bus.read(`${dev}/pages/page.16`, flags())), -1);
    assert.deepEqual(await bus.write(`${dev}/pages/page.3`, Buffer.alloc(40, 0x41), flags()), { ok: true, value: 32 });
    assert.equal(text(await bus.read(`${dev}/pages/page.3`, flags())), 'A'.repeat(32));
    assert.equal(text(await bus.read(`${dev}/memory`, flags())).slice(96, 128), 'A'.repeat(32));
    assert.equal(code(await bus.write(`${dev}/pages/page.ALL`, Buffer.from('abc'), flags())), -22);
    assert.equal((await bus.read(`${dev}/pages/page.ALL`, flags())).ok && text(await bus.read(`${dev}/pages/page.ALL`, flags())).length, 512);
    assert.equal(code(await bus.write(`${dev}/counter.A`, Buffer.from('5'), flags())), -95);
    assert.equal(text(await bus.read('/structure/1D/pages/count.ALL', flags())), 'u,-000001,000016,ro,000207,v,');
    assert.equal(text(await bus.read('/structure/1D/pages/page.15', flags())), 'b,000015,000016,rw,000032,v,');
  });

  test('statistics count the queries the bus answers', T, async () => {
    const bus = new SimulatedBus();
    const counter = async (path: string): Promise<number> => Number(text(await bus.read(path, flags())));
    const before = await counter('/statistics/read/calls');
    await bus.read(`${DS18B20}/temperature`, flags());
    await bus.read('/nonexist', flags());
    assert.equal(await counter('/statistics/read/calls'), before + 3);
    await bus.write('/settings/timeout/volatile', Buffer.from('16'), flags());
    assert.equal(await counter('/statistics/write/calls'), 1);
    assert.equal(await counter('/statistics/write/bytes'), 2);
    assert.ok((await counter('/statistics/return_codes/responses.1')) >= 1);
    assert.ok((await counter('/bus.0/interface/statistics/locks')) >= 1);
    assert.equal(text(await bus.read('/system/configuration/version', flags())), '3.2p4');
  });
});

// ---------------------------------------------------------------------------------------------------
// The real owserver, for comparison

interface OwMessage {
  readonly ret: number;
  readonly sg: number;
  readonly size: number;
  readonly offset: number;
  readonly body: Buffer;
}

/** One request on its own connection (owserver answers and closes); every message until close, pings skipped. */
function owRequest(port: number, type: number, sg: number, path: string, data = Buffer.alloc(0), size = 65536): Promise<OwMessage[]> {
  return new Promise((resolve, reject) => {
    const body = Buffer.concat([Buffer.from(`${path}\0`, 'latin1'), data]);
    const header = Buffer.alloc(24);
    header.writeInt32BE(0, 0);
    header.writeInt32BE(body.length, 4);
    header.writeInt32BE(type, 8);
    header.writeInt32BE(sg, 12);
    header.writeInt32BE(type === 3 ? data.length : size, 16);
    header.writeInt32BE(0, 20);
    const chunks: Buffer[] = [];
    const socket = net.connect({ host: '127.0.0.1', port }, () => socket.end(Buffer.concat([header, body])));
    const timer = setTimeout(() => socket.destroy(new Error(`owserver did not answer ${path} within 5 s`)), 5000);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      const all = Buffer.concat(chunks);
      const messages: OwMessage[] = [];
      for (let at = 0; at + 24 <= all.length; ) {
        const payload = all.readInt32BE(at + 4);
        const length = Math.max(payload, 0);
        if (payload >= 0) {
          messages.push({
            ret: all.readInt32BE(at + 8),
            sg: all.readInt32BE(at + 12),
            size: all.readInt32BE(at + 16),
            offset: all.readInt32BE(at + 20),
            body: all.subarray(at + 24, at + 24 + length),
          });
        }
        at += 24 + length;
      }
      resolve(messages);
    });
  });
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });

const run = promisify(execFile);

describe('SimulatedBus against the real owserver 3.2p4', () => {
  let port = 0;
  let owserver: ChildProcess | undefined;
  let bus: SimulatedBus;

  before(async () => {
    port = await freePort();
    const child = spawn('owserver', [`--fake=${FAKE_SPEC}`, '-p', `127.0.0.1:${port}`, '--foreground', '--error_level=0'], { stdio: 'ignore' });
    owserver = child;
    // Last resort if this process dies before `after` runs.
    process.once('exit', () => child.kill('SIGKILL'));
    const failed = new Promise<never>((_, reject) => {
      child.once('error', (error) => reject(new Error(`cannot run owserver (apt-get install owserver ow-shell): ${error.message}`)));
      child.once('exit', (exitCode) => reject(new Error(`owserver exited early with code ${exitCode}`)));
    });
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        await Promise.race([owRequest(port, 1, 0, '/'), failed]);
        break;
      } catch (error) {
        if (Date.now() > deadline || !(error instanceof Error) || !/ECONNREFUSED/.test(error.message)) throw error;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    bus = new SimulatedBus({ seed: 11 });
  });

  after(async () => {
    const child = owserver;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise((resolve) => (timer = setTimeout(resolve, 3000)))]);
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  /** DIRALL on the real server: [ret, entries, dir flags]. */
  const realDirall = async (path: string, sg: number): Promise<[number, string[], number]> => {
    const [m] = await owRequest(port, 7, sg, path);
    assert.ok(m !== undefined, `no answer to DIRALL ${path}`);
    const entries = m.body.length === 0 ? [] : m.body.subarray(0, m.size).toString('latin1').split(',');
    return [m.ret, m.ret < 0 ? [] : entries, m.ret < 0 ? 0 : m.offset];
  };
  const simDirall = async (path: string, sg: number): Promise<[number, string[], number]> => {
    const r = await bus.dir(path, flagsFromSg(sg));
    return r.ok ? [0, r.value.entries.map((e) => e.path), r.value.dirFlags] : [r.error, [], 0];
  };

  const LISTED = [
    '/',
    DS18S20,
    DS18B20,
    DS2405,
    '/bus.0',
    '/settings',
    '/uncached',
    '/uncached/bus.0',
    '/bus.0/uncached',
    '/uncached/uncached',
    `/bus.0${DS18B20}`,
    `/uncached${DS2405}`,
    '/bus.0/interface',
    '/bus.0/interface/settings',
    '/bus.0/interface/settings/simulated',
    '/bus.0/interface/statistics',
    '/bus.0/interface/statistics/search_errors',
    '/bus.0/simultaneous',
    '/bus.0/alarm',
    '/settings/alias',
    '/settings/timeout',
    '/settings/units',
    '/settings/return_codes',
    '/system',
    '/system/configuration',
    '/system/connections',
    '/system/process',
    '/statistics',
    '/statistics/cache',
    '/statistics/cache/persistent',
    '/statistics/directory',
    '/statistics/errors',
    '/statistics/read',
    '/statistics/return_codes',
    '/statistics/threads',
    '/statistics/threads/overall',
    '/statistics/write',
    '/simultaneous',
    '/alarm',
    `${DS18S20}/errata`,
    `${DS18B20}/errata/`,
    '/structure/10',
    '/structure/28',
    '/structure/05',
    '/structure/28/errata',
    '/structure/simultaneous',
    // Spellings that are echoed back as typed.
    '/284aec29cdbaab',
    '/28.4AEC29CDBAAB.95',
    '28.4AEC29CDBAAB',
    'bus.0',
    '/BUS.0',
    '/Settings',
    '/Statistics/read',
    // Failures.
    '/nonexist',
    '/28.4AEC29CDBAAC',
    '/settings/Timeout',
    '/bus.0/settings',
    '/bus.0/bus.0',
    '//settings',
    `${DS18B20}/temperature`,
    `${DS18B20}/temperature/`,
    '/settings/timeout/volatile',
  ];

  test('owdir (ow-shell) prints the same listings for /, every device, /bus.0, /settings and /uncached', T, async () => {
    for (const path of ['/', DS18S20, DS18B20, DS2405, '/bus.0', '/settings', '/uncached', '/uncached/bus.0', '/bus.0/interface', '/system', '/statistics']) {
      const { stdout } = await run('owdir', ['-s', `127.0.0.1:${port}`, path]);
      const simulated = await listing(bus, path, flagsFromSg(OWSHELL_SG));
      assert.deepEqual(simulated, stdout.trim().split('\n'), path);
    }
    const { stdout } = await run('owdir', ['--dir', '-s', `127.0.0.1:${port}`, '/bus.0']);
    const slashed = await bus.dir('/bus.0', flagsFromSg(OWSHELL_SG));
    assert.ok(slashed.ok);
    assert.deepEqual(
      slashed.value.entries.map((e) => (e.isDir ? `${e.path}/` : e.path)),
      stdout.trim().split('\n'),
    );
  });

  test('DIRALL listings, return codes and directory flags match for every sg variant', T, async () => {
    for (const sg of [OWSHELL_SG, 0, 0x0100010a, 0x0200010a, 0x0300010a, 0x0400010a, 0x0500010a, 0x0600010a]) {
      for (const path of LISTED) {
        assert.deepEqual(await simDirall(path, sg), await realDirall(path, sg), `DIRALL ${path} sg=0x${sg.toString(16)}`);
      }
    }
  });

  /** READ on the real server: the return code, or the bytes. */
  const realRead = async (path: string, sg: number): Promise<number | string> => {
    const [m] = await owRequest(port, 2, sg, path);
    assert.ok(m !== undefined);
    return m.ret < 0 ? m.ret : m.body.toString('latin1');
  };
  const simRead = async (path: string, sg: number): Promise<number | string> => {
    const r = await bus.read(path, flagsFromSg(sg));
    return r.ok ? r.value.toString('latin1') : r.error;
  };

  test('fixed values read the same: ids, settings, system, interface, return code texts', T, async () => {
    const paths = [
      ...[DS18S20, DS18B20, DS2405].flatMap((d) => ['address', 'crc8', 'family', 'id', 'r_address', 'r_id', 'type', 'alias'].map((p) => `${d}/${p}`)),
      `${DS18B20}/errata/die`,
      `/uncached/bus.0${DS18S20}/errata/die`,
      ...['directory', 'ftp', 'ha7', 'network', 'presence', 'serial', 'server', 'stable', 'uncached', 'usb', 'volatile', 'w1'].map((t) => `/settings/timeout/${t}`),
      '/settings/units/temperature_scale',
      '/settings/units/pressure_scale',
      '/settings/alias/unaliased',
      '/settings/alias/list',
      '/settings/return_codes/text.ALL',
      '/settings/return_codes/text.0',
      '/settings/return_codes/text.21',
      '/settings/return_codes/text.95',
      '/settings/return_codes/text.210',
      '/settings/return_codes/text.211',
      '/system/configuration/version',
      '/system/configuration/trim',
      '/system/configuration/USB',
      '/system/connections/count_current_buses',
      '/system/process/pidfile',
      '/bus.0/interface/settings/address',
      '/bus.0/interface/settings/name',
      '/bus.0/interface/settings/version',
      '/bus.0/interface/settings/overdrive',
      '/bus.0/interface/settings/simulated/temphigh',
      '/bus.0/interface/settings/simulated/templow',
      '/statistics/errors/CRC8_errors',
      '/statistics/write/tries.1',
    ];
    for (const sg of [OWSHELL_SG, 0x14a, 0x1010a, 0x2010a, 0x3010a]) {
      for (const path of paths) assert.deepEqual(await simRead(path, sg), await realRead(path, sg), `READ ${path} sg=0x${sg.toString(16)}`);
    }
  });

  test('/structure lines match for every property of families 05, 10 and 28 and /simultaneous', T, async () => {
    let compared = 0;
    const walk = async (path: string): Promise<void> => {
      const [ret, entries] = await realDirall(path, 0);
      assert.equal(ret, 0, path);
      for (const entry of entries) {
        const [sub] = await realDirall(entry, 0);
        if (sub === 0) await walk(entry);
        else {
          assert.deepEqual(await simRead(entry, 0), await realRead(entry, 0), entry);
          compared++;
        }
      }
    };
    for (const family of ['/structure/05', '/structure/10', '/structure/28', '/structure/simultaneous']) await walk(family);
    for (const hidden of ['/structure/28/present', '/structure/05/present', '/structure/28/temperature.0', '/structure/1D', '/structure/28.4AEC29CDBAAB']) {
      assert.deepEqual(await simRead(hidden, 0), await realRead(hidden, 0), hidden);
    }
    assert.ok(compared > 50, `compared ${compared} structure lines`);
  });

  test('READ return codes and value widths match for every device property', T, async () => {
    for (const device of [DS18S20, DS18B20, DS2405]) {
      const [, entries] = await realDirall(device, 0);
      for (const entry of [...entries, `${device}/errata/trim`, `${device}/present`, `${device}/nonexist`, `${device}/PIO`, `${device}/scratchpad`]) {
        for (const sg of [OWSHELL_SG, 0x14a, 0x1010a]) {
          const real = await realRead(entry, sg);
          const simulated = await simRead(entry, sg);
          // Readings are random on both sides; their kind and, untrimmed, their width must agree.
          const shape = (v: number | string): number | string => (typeof v === 'number' ? v : (sg & 0x40) !== 0 ? 'value' : `${v.length} bytes`);
          assert.deepEqual(shape(simulated), shape(real), `READ ${entry} sg=0x${sg.toString(16)}`);
        }
      }
    }
    for (const path of ['/', DS18B20, '/settings', '/bus.0/interface', '/nonexist', '/settings/timeout/volatile/', '/structure']) {
      assert.deepEqual(await simRead(path, OWSHELL_SG), await realRead(path, OWSHELL_SG), path);
    }
  });

  test('PRESENT answers match', T, async () => {
    for (const path of ['/', DS18S20, DS18B20, DS2405, '/284AEC29CDBAAB95', `${DS18B20}/temperature`, '/settings', '/bus.0', '/bus.0/interface', '/settings/timeout/volatile', `/bus.0${DS2405}`, '/28.4AEC29CDBAAC', '/nonexist', `${DS18B20}/nonexist`]) {
      const [m] = await owRequest(port, 6, OWSHELL_SG, path);
      assert.ok(m !== undefined);
      const real = m.ret < 0 ? m.ret : m.body.toString('hex');
      const r = await bus.present(path, flagsFromSg(OWSHELL_SG));
      assert.deepEqual(r.ok ? r.value.toString('hex') : r.error, real, path);
    }
  });

  test('WRITE return codes, accepted sizes and read-back match, including aliases', T, async () => {
    const writes: Array<[string, string]> = [
      ['/settings/timeout/volatile', '15'],
      ['/settings/timeout/volatile', ' 20'],
      ['/settings/timeout/volatile', '20.5'],
      ['/settings/timeout/volatile', '1e2'],
      ['/settings/timeout/volatile', '-5'],
      ['/settings/timeout/volatile', '99999999999'],
      ['/settings/timeout/volatile', '7x'],
      ['/settings/timeout/volatile', 'abc'],
      ['/settings/timeout/volatile', ''],
      ['/settings/timeout/server', '10'],
      ['/settings/timeout/uncached', 'yes'],
      ['/settings/timeout/uncached', 'n'],
      ['/settings/units/temperature_scale', 'Fahrenheit'],
      ['/settings/units/temperature_scale', 'x'],
      ['/settings/units/temperature_scale', 'c'],
      ['/settings/units/pressure_scale', 'Pascal'],
      ['/settings/units/pressure_scale', 'bar'],
      ['/settings/units/pressure_scale', 'mbar'],
      [`${DS2405}/PIO`, '1'],
      [`${DS2405}/PIO`, '0'],
      [`${DS2405}/PIO`, 'yes'],
      [`${DS2405}/PIO`, 'On1'],
      [`${DS2405}/PIO`, 'off'],
      [`${DS2405}/PIO`, '0.4'],
      [`${DS2405}/PIO`, 'o'],
      [`${DS2405}/PIO`, 'true'],
      [`${DS2405}/PIO`, ' '],
      [`${DS2405}/PIO`, ''],
      [`${DS2405}/sensed`, '1'],
      [`${DS18B20}/temphigh`, '30'],
      [`${DS18B20}/temphigh`, '30abc'],
      [`${DS18B20}/temphigh`, 'abc'],
      [`${DS18B20}/templow`, ''],
      [`${DS18B20}/tempres`, '10'],
      [`${DS18B20}/tempres`, 'abc'],
      [`${DS18B20}/errata/trim`, '5'],
      [`${DS18B20}/errata/trimblanket`, '1'],
      [`${DS18B20}/errata/trimvalid`, '1'],
      [`${DS18B20}/temperature`, '1'],
      [`${DS18S20}/id`, '1'],
      [DS18B20, '1'],
      ['/settings', '1'],
      ['/nonexist', '1'],
      [`${DS18B20}/nonexist`, '1'],
      ['/structure/28/temperature', '1'],
      ['/system/process/pid', '1'],
      ['/statistics/read/calls', '1'],
      ['/settings/return_codes/text.0', 'x'],
      ['/settings/alias/list', 'x'],
      ['/bus.0/interface/settings/overdrive', '0'],
      ['/simultaneous/temperature', '1'],
      [`${DS18B20}/alias`, 'settings'],
      [`${DS18B20}/alias`, 'a/b'],
      [`${DS18B20}/alias`, 'interface'],
      [`${DS18B20}/alias`, 'bus.1'],
      [`${DS18B20}/alias`, 'text'],
      [`${DS18B20}/alias`, 'system'],
      [`${DS18B20}/alias`, 'Settings'],
      [`${DS18B20}/alias`, 'kitchen'],
    ];
    const readBack = ['/settings/timeout/volatile', '/settings/timeout/uncached', '/settings/units/temperature_scale', '/settings/units/pressure_scale', `${DS18B20}/alias`, '/settings/alias/list'];
    for (const [path, value] of writes) {
      const [m] = await owRequest(port, 3, OWSHELL_SG, path, Buffer.from(value, 'latin1'));
      assert.ok(m !== undefined);
      const r = await bus.write(path, Buffer.from(value, 'latin1'), flagsFromSg(OWSHELL_SG));
      assert.deepEqual(r.ok ? r.value : r.error, m.ret < 0 ? m.ret : m.size, `WRITE ${path} '${value}'`);
      for (const back of readBack) assert.deepEqual(await simRead(back, OWSHELL_SG), await realRead(back, OWSHELL_SG), `${back} after '${value}' to ${path}`);
    }
    // The alias now shows in listings of both, with and without ALIAS_REQUEST.
    for (const path of ['/', '/bus.0', DS18B20, '/kitchen', '/uncached']) {
      for (const sg of [OWSHELL_SG, 0]) assert.deepEqual(await simDirall(path, sg), await realDirall(path, sg), `${path} sg=${sg} with alias`);
    }
    assert.deepEqual(await simRead('/kitchen/r_id', 0), await realRead('/kitchen/r_id', 0));
    const [cleared] = await owRequest(port, 3, OWSHELL_SG, `${DS18B20}/alias`, Buffer.alloc(0));
    assert.deepEqual(await bus.write(`${DS18B20}/alias`, Buffer.alloc(0), flagsFromSg(OWSHELL_SG)), { ok: true, value: cleared!.size });
    assert.deepEqual(await simDirall('/', OWSHELL_SG), await realDirall('/', OWSHELL_SG));
  });
});
