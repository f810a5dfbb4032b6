import { dir, fixed, property, type DirNode } from './property-tree.js';

/** What owserver 3.2p4 reports about its build. */
const OWSERVER_VERSION = '3.2p4';

/** /system: build configuration, connection counts and this process. */
export function systemTree(): DirNode {
  return dir({
    configuration: dir({
      DebugInfo: fixed('u', 12, 1),
      USB: fixed('u', 12, 1),
      i2c: fixed('u', 12, 1),
      parport: fixed('u', 12, 1),
      // Reports whether this very request asked for TRIM.
      trim: property('y', { size: 1, change: 'v', read: (_index, flags) => flags.trim }),
      version: fixed('a', 16, OWSERVER_VERSION),
      zeroconf: fixed('u', 12, 1),
    }),
    connections: dir({
      count_current_buses: fixed('u', 12, 1),
      count_outbound_connections: fixed('u', 12, 1),
    }),
    process: dir({
      pid: property('u', { size: 12, change: 'f', read: () => process.pid }),
      pidfile: fixed('a', 255, ''),
    }),
  });
}
