import type { DeviceFamily, DeviceServices } from './device-family.js';
import { fixed, property, type PropertyNode, type TreeNode } from './property-tree.js';
import type { RomId } from './rom-id.js';

// A device with no DS28EA00 chain reports an all-F locator.
const NO_LOCATOR = 'FFFFFFFFFFFFFFFF';

/** The properties every owfs device has, all from the ROM id except alias (and hidden `present`). */
export function standardProperties(rom: RomId, family: DeviceFamily, services: DeviceServices): Record<string, TreeNode> {
  const alias: PropertyNode = property('l', {
    size: 256,
    change: 'f',
    read: () => services.aliases.get(rom),
    write: (_index, value) => services.aliases.set(rom, String(value)),
  });
  return {
    address: fixed('a', 16, rom.addressHex),
    alias,
    crc8: fixed('a', 2, rom.crcHex),
    family: fixed('a', 2, rom.familyHex),
    id: fixed('a', 12, rom.idHex),
    locator: fixed('a', 16, NO_LOCATOR),
    present: property('y', { size: 1, change: 'v', hidden: true, read: () => true }),
    r_address: fixed('a', 16, rom.reversedAddressHex),
    r_id: fixed('a', 12, rom.reversedIdHex),
    r_locator: fixed('a', 16, NO_LOCATOR),
    type: fixed('a', 32, family.type),
  };
}
