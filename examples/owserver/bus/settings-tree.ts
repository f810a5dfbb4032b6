import type { AliasTable } from './alias-table.js';
import type { PressureScale, TemperatureScale } from './bus.js';
import { dir, property, type DirNode, type PropertyNode, type TreeNode } from './property-tree.js';
import { RETURN_CODE_COUNT, returnCodeText } from './return-code-texts.js';
import { OwReturnCode } from './return-codes.js';

/** owserver's default timeouts in seconds (/settings/timeout/*). */
const DEFAULT_TIMEOUTS: Readonly<Record<string, number>> = {
  directory: 60,
  ftp: 900,
  ha7: 60,
  network: 1,
  presence: 120,
  serial: 5,
  server: 10,
  stable: 300,
  usb: 5,
  volatile: 15,
  w1: 30,
};

const TEMPERATURE_SCALES: readonly TemperatureScale[] = ['C', 'F', 'K', 'R'];
// Matched as case-insensitive prefixes of what is written ("Pascal" → Pa, "kelvin" → K).
const PRESSURE_SCALES: readonly PressureScale[] = ['mbar', 'atm', 'mmHg', 'inHg', 'psi', 'Pa'];

/**
 * The server-wide settings. They are kept and read back like owserver's, but do not change how requests
 * are answered: each request carries its own scales in its flags, as with the real server.
 */
export class BusSettings {
  readonly timeouts = new Map<string, number>(Object.entries(DEFAULT_TIMEOUTS));
  /** /settings/timeout/uncached, a yes/no. */
  uncachedTimeout = false;
  temperatureScale: TemperatureScale = 'C';
  pressureScale: PressureScale = 'mbar';
}

function timeoutProperty(settings: BusSettings, name: string): PropertyNode {
  return property('u', {
    size: 12,
    change: 's',
    read: () => settings.timeouts.get(name)!,
    write: (_i, value) => {
      settings.timeouts.set(name, Number(value));
      return 0;
    },
  });
}

/** Accept a written scale name; writing nothing leaves the scale as it is. */
function scaleWriter<T extends string>(names: readonly T[], set: (scale: T) => void, match: (written: string, name: T) => boolean) {
  return (_index: number, value: string | number | boolean | Buffer): number => {
    const written = String(value).trim();
    if (written === '') return 0;
    const scale = names.find((name) => match(written, name));
    if (scale === undefined) return OwReturnCode.EINVAL;
    set(scale);
    return 0;
  };
}

export function settingsTree(settings: BusSettings, aliases: AliasTable): DirNode {
  const timeouts: Record<string, TreeNode> = {};
  for (const name of settings.timeouts.keys()) timeouts[name] = timeoutProperty(settings, name);
  timeouts['uncached'] = property('y', {
    size: 1,
    change: 's',
    read: () => settings.uncachedTimeout,
    write: (_i, value) => {
      settings.uncachedTimeout = value === true;
      return 0;
    },
  });
  return dir({
    alias: dir({
      list: property('a', { size: 65536, change: 'v', read: () => aliases.listText() }),
      unaliased: property('y', {
        size: 1,
        change: 's',
        read: () => aliases.unaliased,
        write: (_i, value) => {
          aliases.unaliased = value === true;
          return 0;
        },
      }),
    }),
    return_codes: dir({
      text: property('a', {
        size: 64,
        change: 'f',
        array: { elements: RETURN_CODE_COUNT, lettered: false },
        read: returnCodeText,
      }),
    }),
    timeout: dir(timeouts),
    units: dir({
      // One character is all owserver keeps of a written temperature scale ("Fahrenheit" → F).
      temperature_scale: property('a', {
        size: 1,
        change: 's',
        read: () => settings.temperatureScale,
        write: scaleWriter(
          TEMPERATURE_SCALES,
          (s) => (settings.temperatureScale = s),
          (written, name) => written[0]!.toUpperCase() === name,
        ),
      }),
      pressure_scale: property('a', {
        size: 12,
        change: 's',
        read: () => settings.pressureScale,
        write: scaleWriter(
          PRESSURE_SCALES,
          (s) => (settings.pressureScale = s),
          (written, name) => written.toLowerCase().startsWith(name.toLowerCase()),
        ),
      }),
    }),
  });
}
