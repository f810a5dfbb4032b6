import type { DeviceFamily } from './device-family.js';
import { ds1822, ds18b20, ds18s20 } from './family-ds18x20.js';
import { ds2405 } from './family-ds2405.js';
import { ds2423 } from './family-ds2423.js';

/** Every family the simulated bus can put on the wire, by family code. */
export const deviceFamilies: ReadonlyMap<number, DeviceFamily> = new Map([ds2405, ds18s20, ds2423, ds1822, ds18b20].map((f) => [f.code, f]));
