import type { AliasTable } from './alias-table.js';
import type { GlibcRandom } from './glibc-random.js';
import type { TreeNode } from './property-tree.js';
import type { RomId } from './rom-id.js';

/** Directory flags (the DIR response's offset word), per the device kinds present on a bus. */
export const DirFlag = {
  ALARM: 0x0002,
  OVERDRIVE: 0x0004,
  CHAIN: 0x2000,
  VOLTAGE: 0x4000,
  TEMPERATURE: 0x8000,
} as const;

/** The temperature range the fake adapter draws readings from (/bus.0/interface/settings/simulated). */
export interface SimulatedRange {
  low: number;
  high: number;
}

/** What a simulated device's properties may use besides their own state. */
export interface DeviceServices {
  /** Seeded value source; shared by the bus so one seed fixes every reading. */
  readonly random: GlibcRandom;
  readonly aliases: AliasTable;
  readonly range: SimulatedRange;
}

/** One 1-Wire family the simulator implements. */
export interface DeviceFamily {
  readonly code: number;
  /** What `type` reads, e.g. DS18B20. */
  readonly type: string;
  /** Directory flags a device of this family adds to its bus listing. */
  readonly dirFlags: number;
  /** The family-specific properties of one device, bound to fresh state for it. */
  properties(rom: RomId, services: DeviceServices): Record<string, TreeNode>;
}
