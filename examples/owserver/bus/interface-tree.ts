import type { BusStatistics } from './bus-statistics.js';
import type { SimulatedRange } from './device-family.js';
import { dir, fixed, property, type DirNode, type PropertyNode } from './property-tree.js';
import { OwReturnCode } from './return-codes.js';
import { counterDir } from './statistics-tree.js';

/** The adapter's version as the fake adapter reports it. */
const ADAPTER_VERSION = 27;

/** The adapter switches under /bus.0/interface/settings that are just kept and read back. */
export class AdapterSettings {
  ds2404Found = false;
  overdrive = false;
  reconnect = false;
}

function toggle(get: () => boolean, set: (value: boolean) => void): PropertyNode {
  return property('y', {
    size: 1,
    change: 's',
    read: get,
    write: (_i, value) => {
      set(value === true);
      return 0;
    },
  });
}

function rangeLimit(range: SimulatedRange, which: 'low' | 'high'): PropertyNode {
  return property('t', {
    size: 12,
    change: 's',
    read: () => range[which],
    write: (_i, value) => {
      const celsius = Number(value);
      if (!Number.isFinite(celsius)) return OwReturnCode.EINVAL;
      range[which] = celsius;
      return 0;
    },
  });
}

export interface InterfaceTreeSources {
  readonly adapter: AdapterSettings;
  readonly range: SimulatedRange;
  readonly stats: BusStatistics;
  /** Whole seconds since the bus was created. */
  readonly elapsedSeconds: () => number;
}

/** /bus.0/interface: the (fake) adapter's settings and its bus-level statistics. */
export function interfaceTree({ adapter, range, stats, elapsedSeconds }: InterfaceTreeSources): DirNode {
  const counter = (name: string): PropertyNode => property('u', { size: 12, change: 'v', read: () => stats.get(`interface/${name}`) });
  return dir({
    settings: dir({
      address: fixed('a', 16, 'fake.0'),
      ds2404_found: toggle(
        () => adapter.ds2404Found,
        (v) => (adapter.ds2404Found = v),
      ),
      name: fixed('a', 32, 'Simulated-Random'),
      overdrive: toggle(
        () => adapter.overdrive,
        (v) => (adapter.overdrive = v),
      ),
      reconnect: toggle(
        () => adapter.reconnect,
        (v) => (adapter.reconnect = v),
      ),
      // The range every simulated temperature reading is drawn from.
      simulated: dir({ temphigh: rangeLimit(range, 'high'), templow: rangeLimit(range, 'low') }),
      version: fixed('u', 12, ADAPTER_VERSION),
    }),
    statistics: dir({
      bus_time: property('f', { size: 12, change: 'v', read: () => stats.busSeconds }),
      close_errors: counter('close_errors'),
      detect_errors: counter('detect_errors'),
      elapsed_time: property('u', { size: 12, change: 'v', read: elapsedSeconds }),
      errors: counter('errors'),
      locks: counter('locks'),
      open_errors: counter('open_errors'),
      overdrive: counterDir(stats, 'interface/overdrive', ['attempts', 'failures']),
      program_errors: counter('program_errors'),
      pullup_errors: counter('pullup_errors'),
      read_errors: counter('read_errors'),
      reconnect_errors: counter('reconnect_errors'),
      reconnects: counter('reconnects'),
      reset_errors: counter('reset_errors'),
      resets: counter('resets'),
      search_errors: counterDir(stats, 'interface/search_errors', ['error_pass_1', 'error_pass_2', 'error_pass_3']),
      select_errors: counter('select_errors'),
      shorts: counter('shorts'),
      status_errors: counter('status_errors'),
      timeouts: counter('timeouts'),
      unlocks: counter('unlocks'),
      write_errors: counter('write_errors'),
    }),
  });
}
