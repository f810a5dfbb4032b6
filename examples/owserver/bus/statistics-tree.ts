import type { BusStatistics } from './bus-statistics.js';
import { dir, property, type DirNode, type TreeNode } from './property-tree.js';
import { RETURN_CODE_COUNT } from './return-code-texts.js';

const counter = (stats: BusStatistics, name: string): TreeNode => property('u', { size: 12, change: 'v', read: () => stats.get(name) });

/** A directory of counters `<prefix>/<name>` for each name. */
export function counterDir(stats: BusStatistics, prefix: string, names: readonly string[]): DirNode {
  return dir(Object.fromEntries(names.map((name) => [name, counter(stats, `${prefix}/${name}`)])));
}

const CACHE_COUNTS = ['added', 'deleted', 'expired', 'hits', 'tries'];
const AVERAGE = ['max', 'now', 'num', 'sum'];
const ERRORS = [
  'BUS_bit_errors',
  'BUS_byte_errors',
  'BUS_detect_errors',
  'BUS_echo_errors',
  'BUS_level_errors',
  'BUS_next_alarm_errors',
  'BUS_next_errors',
  'BUS_readin_data_errors',
  'BUS_status_errors',
  'BUS_tcsetattr_errors',
  'CRC16_errors',
  'CRC16_tries',
  'CRC8_errors',
  'CRC8_tries',
  'DS2480_level_docheck_errors',
  'DS2480_read_fd_isset',
  'DS2480_read_null',
  'DS2480_read_read',
  'NET_accept_errors',
  'NET_connection_errors',
  'NET_read_errors',
  'max_delay',
];

/** tries.0/1/2: queries that succeeded at the first, second, third attempt — on this bus always the first. */
function tries(stats: BusStatistics, kind: 'read' | 'write'): TreeNode {
  return property('u', {
    size: 12,
    change: 'v',
    array: { elements: 3, lettered: false },
    read: (index) => (index === 0 ? stats.get(`${kind}/success`) : 0),
  });
}

/** /statistics, with the same layout as owserver's. */
export function statisticsTree(stats: BusStatistics): DirNode {
  return dir({
    cache: dir({
      additions: counter(stats, 'cache/additions'),
      device: counterDir(stats, 'cache/device', CACHE_COUNTS),
      directory: counterDir(stats, 'cache/directory', CACHE_COUNTS),
      external: counterDir(stats, 'cache/external', CACHE_COUNTS),
      flips: counter(stats, 'cache/flips'),
      internal: counterDir(stats, 'cache/internal', CACHE_COUNTS),
      persistent: counterDir(stats, 'cache/persistent', AVERAGE),
      primary: counterDir(stats, 'cache/primary', AVERAGE),
      secondary: counterDir(stats, 'cache/secondary', AVERAGE),
    }),
    directory: dir({
      bus: counterDir(stats, 'directory/bus', ['calls', 'entries']),
      device: counterDir(stats, 'directory/device', ['calls', 'entries']),
      maxdepth: counter(stats, 'directory/maxdepth'),
    }),
    errors: counterDir(stats, 'errors', ERRORS),
    read: dir({
      bytes: counter(stats, 'read/bytes'),
      cachebytes: counter(stats, 'read/cachebytes'),
      cachesuccess: counter(stats, 'read/cachesuccess'),
      calls: counter(stats, 'read/calls'),
      success: counter(stats, 'read/success'),
      tries: tries(stats, 'read'),
    }),
    return_codes: dir({
      responses: property('u', {
        size: 12,
        change: 'v',
        array: { elements: RETURN_CODE_COUNT, lettered: false },
        read: (index) => stats.responses[index]!,
      }),
    }),
    threads: dir({
      directory: counterDir(stats, 'threads/directory', AVERAGE),
      overall: counterDir(stats, 'threads/overall', AVERAGE),
      read: counterDir(stats, 'threads/read', AVERAGE),
      write: counterDir(stats, 'threads/write', AVERAGE),
    }),
    write: dir({
      bytes: counter(stats, 'write/bytes'),
      calls: counter(stats, 'write/calls'),
      success: counter(stats, 'write/success'),
      tries: tries(stats, 'write'),
    }),
  });
}
