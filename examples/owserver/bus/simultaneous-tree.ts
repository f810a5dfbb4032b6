import type { SimulatedDevice } from './simulated-device.js';
import { dir, fixed, property, type DirNode, type PropertyNode } from './property-tree.js';

/** The bus-wide commands' switches, kept and read back. */
export class SimultaneousState {
  iblss = false;
  temperature = false;
  voltage = false;
}

function toggle(state: SimultaneousState, key: keyof SimultaneousState): PropertyNode {
  return property('y', {
    size: 1,
    change: 'v',
    read: () => state[key],
    write: (_i, value) => {
      state[key] = value === true;
      return 0;
    },
  });
}

/**
 * /simultaneous (also under /bus.0). `present` says whether anything answers a reset; `single` names
 * the device when it is alone on the bus, as a Read ROM would.
 */
export function simultaneousTree(state: SimultaneousState, devices: readonly SimulatedDevice[]): DirNode {
  return dir({
    iblss: toggle(state, 'iblss'),
    present: property('y', { size: 1, change: 'v', read: () => devices.length > 0 }),
    present_ds2400: fixed('y', 1, false, 'v'),
    single: property('a', { size: 18, change: 'v', read: () => (devices.length === 1 ? devices[0]!.rom.format('f.i.c') : '') }),
    single_ds2400: fixed('a', 18, '', 'v'),
    temperature: toggle(state, 'temperature'),
    voltage: toggle(state, 'voltage'),
  });
}
