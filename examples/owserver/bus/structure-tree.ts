import type { DeviceFamily, DeviceServices } from './device-family.js';
import { structureLine } from './property-io.js';
import { dir, property, type DirNode, type TreeNode } from './property-tree.js';
import { RomId } from './rom-id.js';
import { SimulatedDevice } from './simulated-device.js';

/** Mirror a tree, each property replaced by one that reads its /structure line. */
function describe(node: TreeNode): TreeNode {
  if (node.kind === 'dir') {
    return dir(Object.fromEntries([...node.children].map(([name, child]) => [name, describe(child)])));
  }
  const described = node;
  return property('a', {
    size: 32,
    change: 'f',
    ...(described.array === undefined ? {} : { array: described.array }),
    ...(described.hidden === true ? { hidden: true } : {}),
    listedElements: 1,
    read: (index) => structureLine(described, described.array === undefined ? { kind: 'scalar' } : { kind: 'element', index }),
    readAll: () => structureLine(described, { kind: 'all' }),
  });
}

/**
 * /structure: for each simulated family (and the simultaneous directory) the format, array shape,
 * access, size and change class of every property, derived from the same property definitions the
 * devices use. owserver lists all ~60 families it knows; this lists the ones simulated here.
 */
export function structureTree(families: Iterable<DeviceFamily>, services: DeviceServices, simultaneous: DirNode): DirNode {
  const entries: Record<string, TreeNode> = {};
  for (const family of families) {
    // A throwaway device supplies the property definitions; its state is never read.
    const template = new SimulatedDevice(RomId.fromParts(family.code, new Uint8Array(6)), family, services);
    entries[template.rom.familyHex] = describe(template.tree);
  }
  entries['simultaneous'] = describe(simultaneous);
  return dir(entries);
}
