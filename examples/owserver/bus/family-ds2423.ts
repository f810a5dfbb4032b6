import { DirFlag, type DeviceFamily } from './device-family.js';
import { dir, property } from './property-tree.js';

const PAGES = 16;
const PAGE_SIZE = 32;
// Pages 12–15 carry 32-bit counters; 14 and 15 count the external inputs A and B.
const FIRST_COUNTED_PAGE = 12;
const COUNTER_A_PAGE = 14;

/**
 * DS2423 4 kbit RAM with counters. Memory starts zeroed and keeps what is written; the input counters
 * advance by a seeded-random number of pulses each time they are read, and pages 12–13 count writes.
 */
export const ds2423: DeviceFamily = {
  code: 0x1d,
  type: 'DS2423',
  dirFlags: DirFlag.OVERDRIVE,
  properties(_rom, services) {
    const memory = Buffer.alloc(PAGES * PAGE_SIZE);
    const counts = new Array<number>(PAGES).fill(0);
    let minCount = 0;
    const readCount = (page: number): number => {
      if (page >= COUNTER_A_PAGE) counts[page] = (counts[page]! + services.random.nextBelow(16)) >>> 0;
      return counts[page]!;
    };
    const writeMemory = (offset: number, data: Buffer): void => {
      data.copy(memory, offset, 0, Math.min(data.length, memory.length - offset));
      const last = Math.min(PAGES - 1, Math.floor((offset + Math.max(data.length, 1) - 1) / PAGE_SIZE));
      for (let page = Math.floor(offset / PAGE_SIZE); page <= last; page++) {
        if (page >= FIRST_COUNTED_PAGE && page < COUNTER_A_PAGE) counts[page] = (counts[page]! + 1) >>> 0;
      }
    };
    return {
      counter: property('u', {
        size: 12,
        change: 'v',
        array: { elements: 2, lettered: true },
        read: (index) => readCount(COUNTER_A_PAGE + index),
      }),
      memory: property('b', {
        size: PAGES * PAGE_SIZE,
        change: 'v',
        read: () => Buffer.from(memory),
        write: (_i, value) => {
          writeMemory(0, value as Buffer);
          return 0;
        },
      }),
      mincount: property('u', {
        size: 12,
        change: 'v',
        read: () => minCount,
        write: (_i, value) => {
          minCount = Number(value);
          return 0;
        },
      }),
      pages: dir({
        count: property('u', { size: 12, change: 'v', array: { elements: PAGES, lettered: false }, read: readCount }),
        page: property('b', {
          size: PAGE_SIZE,
          change: 'v',
          array: { elements: PAGES, lettered: false },
          read: (index) => Buffer.from(memory.subarray(index * PAGE_SIZE, (index + 1) * PAGE_SIZE)),
          write: (index, value) => {
            writeMemory(index * PAGE_SIZE, value as Buffer);
            return 0;
          },
        }),
      }),
    };
  },
};
