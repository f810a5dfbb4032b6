import type { OwResult } from './bus.js';
import { selectProperty, type SelectedProperty } from './property-io.js';
import type { DirNode, PropertyNode, TreeNode } from './property-tree.js';
import { OwReturnCode, fail, ok } from './return-codes.js';
import type { SimulatedDevice } from './simulated-device.js';

/** What a path names. `echo` is the path as listings print it back: as typed, an aliased device shown by its alias. */
export type PathTarget =
  /** A bus-level directory: "/", "/uncached", "/bus.0", "/uncached/bus.0" ... */
  | { readonly kind: 'bus'; readonly echo: string; readonly inBus: boolean; readonly uncached: boolean }
  | { readonly kind: 'dir'; readonly echo: string; readonly node: DirNode; readonly device: SimulatedDevice | undefined }
  | { readonly kind: 'property'; readonly selected: SelectedProperty; readonly device: SimulatedDevice | undefined };

export interface PathScope {
  /** The device a segment names, by any id spelling or by alias. */
  findDevice(segment: string): SimulatedDevice | undefined;
  /** How listings print a device segment the request spelled `typed`. */
  deviceEcho(device: SimulatedDevice, typed: string): string;
  /** Top-level directories by lower-case name: settings, system, statistics, structure, simultaneous, alarm. */
  readonly rootTrees: ReadonlyMap<string, DirNode>;
  /** What may follow /bus.0: interface, simultaneous, alarm. */
  readonly busTrees: ReadonlyMap<string, DirNode>;
}

const BUS_NAME = 'bus.0';
const UNCACHED = 'uncached';

/**
 * Resolve an owserver request path. Leading "uncached" and one "bus.0" may come in any order; the
 * names at the top are case-insensitive, those below are not. One trailing slash is allowed after a
 * directory; an empty segment anywhere else, or a slash after a property, is a parse failure (-1).
 */
export function resolvePath(path: string, scope: PathScope): OwResult<PathTarget> {
  let text = path.startsWith('/') ? path.slice(1) : path;
  const trailingSlash = text.endsWith('/');
  if (trailingSlash) text = text.slice(0, -1);
  const segments = text === '' ? [] : text.split('/');
  if (segments.some((s) => s === '')) return fail(OwReturnCode.BAD_PATH);

  const echo: string[] = [];
  let inBus = false;
  let uncached = false;
  let i = 0;
  for (; i < segments.length; i++) {
    const lower = segments[i]!.toLowerCase();
    if (lower === UNCACHED) uncached = true;
    else if (lower === BUS_NAME && !inBus) inBus = true;
    else break;
    echo.push(segments[i]!);
  }
  const echoed = (): string => echo.map((s) => `/${s}`).join('');
  if (i === segments.length) return ok({ kind: 'bus', echo: echoed(), inBus, uncached });

  const top = segments[i]!;
  const device = scope.findDevice(top);
  const start = device !== undefined ? device.tree : (inBus ? scope.busTrees : scope.rootTrees).get(top.toLowerCase());
  if (start === undefined) return fail(OwReturnCode.BAD_PATH);
  echo.push(device !== undefined ? scope.deviceEcho(device, top) : top);
  let node: DirNode = start;

  for (i++; i < segments.length; i++) {
    const segment = segments[i]!;
    const child: TreeNode | undefined = node.children.get(segment);
    if (child?.kind === 'dir') {
      node = child;
      echo.push(segment);
      continue;
    }
    const current = node;
    const selected = selectProperty(segment, (name): PropertyNode | undefined => {
      const candidate = current.children.get(name);
      return candidate?.kind === 'property' ? candidate : undefined;
    });
    if (selected === undefined || i !== segments.length - 1 || trailingSlash) return fail(OwReturnCode.BAD_PATH);
    return ok({ kind: 'property', selected, device });
  }
  return ok({ kind: 'dir', echo: echoed(), node, device });
}
