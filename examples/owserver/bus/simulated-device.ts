import type { DeviceFamily, DeviceServices } from './device-family.js';
import { dir, type DirNode } from './property-tree.js';
import type { RomId } from './rom-id.js';
import { standardProperties } from './standard-properties.js';

/** One device on the simulated bus: its ROM id and its property tree, bound to its own state. */
export class SimulatedDevice {
  readonly rom: RomId;
  readonly family: DeviceFamily;
  readonly tree: DirNode;

  constructor(rom: RomId, family: DeviceFamily, services: DeviceServices) {
    this.rom = rom;
    this.family = family;
    this.tree = dir({ ...standardProperties(rom, family, services), ...family.properties(rom, services) });
  }
}
