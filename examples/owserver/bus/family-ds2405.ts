import { DirFlag, type DeviceFamily } from './device-family.js';
import { property } from './property-tree.js';

/**
 * DS2405 addressable switch. The fake adapter answers PIO at random; here a written PIO is kept and read
 * back, and `sensed` follows it, as it would with nothing else driving the line.
 */
export const ds2405: DeviceFamily = {
  code: 0x05,
  type: 'DS2405',
  dirFlags: DirFlag.ALARM,
  properties() {
    let pio = false;
    return {
      PIO: property('y', {
        size: 1,
        change: 's',
        read: () => pio,
        write: (_i, value) => {
          pio = value === true;
          return 0;
        },
      }),
      sensed: property('y', { size: 1, change: 'v', read: () => pio }),
    };
  },
};
