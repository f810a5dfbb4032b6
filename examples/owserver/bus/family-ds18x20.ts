import { dallasCrc8 } from './crc8.js';
import { DirFlag, type DeviceFamily, type DeviceServices } from './device-family.js';
import { dir, fixed, property, type TreeNode } from './property-tree.js';
import { OwReturnCode } from './return-codes.js';

/**
 * One DS18x20 sensor's state. Every temperature read is a fresh conversion: a seeded-random value in the
 * simulated range (0–100 °C by default, like owserver's fake adapter), quantized to the resolution the
 * read asks for, as the chip's 9–12 bit register would be.
 */
class TemperatureSensor {
  /** Bits used by `temperature` (tempres on DS18B20/DS1822). */
  resolution = 12;
  // TH/TL are whole degrees in the chip's EEPROM; these are the factory values.
  high = 75;
  low = 70;
  latest: number | undefined;
  trim: number;
  trimBlanket = false;

  constructor(private readonly services: DeviceServices) {
    this.trim = services.random.nextBelow(256);
  }

  convert(bits: number): number {
    const { low, high } = this.services.range;
    const raw = low + (high - low) * this.services.random.nextFloat();
    const step = 2 ** (8 - bits);
    this.latest = Math.round(raw / step) * step;
    return this.latest;
  }

  latestOrConvert(bits: number): number {
    return this.latest ?? this.convert(bits);
  }

  setLimit(which: 'high' | 'low', celsius: number): number {
    if (!Number.isFinite(celsius)) return OwReturnCode.EINVAL;
    // The alarm registers are signed bytes of whole degrees.
    this[which] = Math.max(-55, Math.min(125, Math.round(celsius)));
    return 0;
  }
}

const byte = (n: number): number => n & 0xff;

function withCrc(eight: number[]): Buffer {
  const bytes = Buffer.from(eight.map(byte));
  return Buffer.concat([bytes, Buffer.from([dallasCrc8(bytes)])]);
}

/** DS18B20/DS1822 scratchpad: temperature in 1/16 °C, TH, TL, configuration (resolution), reserved, CRC. */
function b20Scratchpad(sensor: TemperatureSensor): Buffer {
  const raw = Math.round(sensor.latestOrConvert(sensor.resolution) * 16);
  return withCrc([raw, raw >> 8, sensor.high, sensor.low, ((sensor.resolution - 9) << 5) | 0x1f, 0xff, 0x0c, 0x10]);
}

/** DS18S20 scratchpad: half-degree temperature, TH, TL, reserved, COUNT_REMAIN, COUNT_PER_C (16), CRC. */
function s20Scratchpad(sensor: TemperatureSensor): Buffer {
  const celsius = sensor.latestOrConvert(12);
  const raw = Math.round(celsius * 2);
  // T = TEMP_READ - 0.25 + (COUNT_PER_C - COUNT_REMAIN) / COUNT_PER_C, TEMP_READ being raw without its half bit.
  const remain = Math.max(0, Math.min(16, Math.round(16 - (celsius - Math.floor(raw / 2) + 0.25) * 16)));
  return withCrc([raw, raw >> 8, sensor.high, sensor.low, 0xff, 0xff, remain, 0x10]);
}

const temperatureReading = (read: () => number): TreeNode => property('t', { size: 12, change: 'v', read });

/** The properties all three families share. */
function commonProperties(sensor: TemperatureSensor): Record<string, TreeNode> {
  return {
    errata: dir({
      die: fixed('a', 2, 'C2'),
      trim: property('u', {
        size: 12,
        change: 'v',
        read: () => sensor.trim,
        write: (_i, value) => {
          sensor.trim = Number(value);
          return 0;
        },
      }),
      trimblanket: property('y', {
        size: 1,
        change: 'v',
        read: () => sensor.trimBlanket,
        write: (_i, value) => {
          sensor.trimBlanket = value === true;
          return 0;
        },
      }),
      trimvalid: property('y', { size: 1, change: 'v', read: () => true }),
    }),
    latesttemp: temperatureReading(() => sensor.latestOrConvert(sensor.resolution)),
    // Externally powered, not parasite.
    power: property('y', { size: 1, change: 'v', read: () => true }),
    temphigh: property('t', { size: 12, change: 's', read: () => sensor.high, write: (_i, value) => sensor.setLimit('high', Number(value)) }),
    templow: property('t', { size: 12, change: 's', read: () => sensor.low, write: (_i, value) => sensor.setLimit('low', Number(value)) }),
  };
}

/** DS18B20 and DS1822: programmable resolution, with a reading per resolution. */
function programmableProperties(sensor: TemperatureSensor): Record<string, TreeNode> {
  return {
    ...commonProperties(sensor),
    fasttemp: temperatureReading(() => sensor.convert(9)),
    scratchpad: property('b', { size: 9, change: 'v', read: () => b20Scratchpad(sensor) }),
    temperature: temperatureReading(() => sensor.convert(sensor.resolution)),
    temperature9: temperatureReading(() => sensor.convert(9)),
    temperature10: temperatureReading(() => sensor.convert(10)),
    temperature11: temperatureReading(() => sensor.convert(11)),
    temperature12: temperatureReading(() => sensor.convert(12)),
    tempres: property('u', {
      size: 12,
      change: 's',
      read: () => sensor.resolution,
      write: (_i, value) => {
        const bits = Number(value);
        if (bits < 9 || bits > 12) return OwReturnCode.EINVAL;
        sensor.resolution = bits;
        return 0;
      },
    }),
  };
}

const TEMPERATURE_FLAGS = DirFlag.TEMPERATURE | DirFlag.ALARM;

export const ds18s20: DeviceFamily = {
  code: 0x10,
  type: 'DS18S20',
  dirFlags: TEMPERATURE_FLAGS,
  properties(_rom, services) {
    const sensor = new TemperatureSensor(services);
    return {
      ...commonProperties(sensor),
      // 9-bit register extended to 1/16 °C through COUNT_REMAIN, as owfs computes it.
      scratchpad: property('b', { size: 9, change: 'v', read: () => s20Scratchpad(sensor) }),
      temperature: temperatureReading(() => sensor.convert(12)),
    };
  },
};

export const ds18b20: DeviceFamily = {
  code: 0x28,
  type: 'DS18B20',
  dirFlags: TEMPERATURE_FLAGS,
  properties: (_rom, services) => programmableProperties(new TemperatureSensor(services)),
};

export const ds1822: DeviceFamily = {
  code: 0x22,
  type: 'DS1822',
  dirFlags: TEMPERATURE_FLAGS,
  properties: (_rom, services) => programmableProperties(new TemperatureSensor(services)),
};
