import type { OwRequestFlags } from './bus.js';

/**
 * The owfs tree as data: directories of named nodes, and properties that carry the metadata /structure
 * reports (format letter, size, change class, array shape) plus read and write handlers bound to the
 * state they expose. Handlers work in canonical units (Celsius); scales and padding are applied by
 * property-io.ts.
 */

/** owfs property formats by the letter /structure prints: ascii, binary, alias, yes/no, unsigned, temperature, float. */
export type PropertyFormat = 'a' | 'b' | 'l' | 'y' | 'u' | 't' | 'f';

/** How often owfs expects the value to change: static (f), stable (s), volatile (v). */
export type PropertyChange = 'f' | 's' | 'v';

export type PropertyValue = string | number | boolean | Buffer;

export interface ArrayShape {
  readonly elements: number;
  /** Elements named .A, .B, ... rather than .0, .1, ... */
  readonly lettered: boolean;
}

export interface PropertyNode {
  readonly kind: 'property';
  readonly format: PropertyFormat;
  /** Length of one element as /structure reports it. */
  readonly size: number;
  readonly change: PropertyChange;
  readonly array?: ArrayShape;
  /** Readable by name but left out of directory listings (owfs's invisible properties). */
  readonly hidden?: boolean;
  /** The value of element `index` (0 for a scalar); a few values depend on the request's flags. */
  readonly read: (index: number, flags: OwRequestFlags) => PropertyValue;
  /** Replaces joining every element for `.ALL` (used by /structure, whose `.ALL` is one line). */
  readonly readAll?: () => PropertyValue;
  /** Listings show `.ALL` and only this many elements (/structure shows just the first). */
  readonly listedElements?: number;
  /** Store a parsed value; 0 or a negative return code. Absent: read-only (-95). */
  readonly write?: (index: number, value: PropertyValue) => number;
}

export interface DirNode {
  readonly kind: 'dir';
  /** Fixed once built: resolved paths and listings are cached on that basis. */
  readonly children: ReadonlyMap<string, TreeNode>;
}

export type TreeNode = PropertyNode | DirNode;

export interface PropertySpec {
  readonly size: number;
  readonly change: PropertyChange;
  readonly array?: ArrayShape;
  readonly hidden?: boolean;
  readonly read: (index: number, flags: OwRequestFlags) => PropertyValue;
  readonly readAll?: () => PropertyValue;
  readonly listedElements?: number;
  readonly write?: (index: number, value: PropertyValue) => number;
}

export function property(format: PropertyFormat, spec: PropertySpec): PropertyNode {
  return { kind: 'property', format, ...spec };
}

export function dir(children: Record<string, TreeNode>): DirNode {
  return { kind: 'dir', children: new Map(Object.entries(children)) };
}

/** A constant, read-only property. */
export function fixed(format: PropertyFormat, size: number, value: PropertyValue, change: PropertyChange = 'f'): PropertyNode {
  return property(format, { size, change, read: () => value });
}

/** owfs lists names in strcmp order. */
export function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** An array element's suffix: .0, .1, ... or .A, .B, ... */
export function elementSuffix(shape: ArrayShape, index: number): string {
  return shape.lettered ? String.fromCharCode(65 + index) : String(index);
}

export interface ListedName {
  readonly name: string;
  readonly isDir: boolean;
}

// Directories never change shape once built, so each is sorted and expanded once.
const listed = new WeakMap<DirNode, readonly ListedName[]>();

/** A directory's children as owserver lists them: sorted, arrays expanded to .ALL then each element. */
export function listNames(node: DirNode): readonly ListedName[] {
  let names = listed.get(node);
  if (names === undefined) listed.set(node, (names = Object.freeze(expandNames(node))));
  return names;
}

function expandNames(node: DirNode): ListedName[] {
  const names: ListedName[] = [];
  for (const name of [...node.children.keys()].sort(byteOrder)) {
    const child = node.children.get(name)!;
    if (child.kind === 'dir') {
      names.push({ name, isDir: true });
    } else if (child.hidden !== true) {
      if (child.array === undefined) {
        names.push({ name, isDir: false });
      } else {
        names.push({ name: `${name}.ALL`, isDir: false });
        const shown = child.listedElements ?? child.array.elements;
        for (let i = 0; i < shown; i++) names.push({ name: `${name}.${elementSuffix(child.array, i)}`, isDir: false });
      }
    }
  }
  return names.map((entry) => Object.freeze(entry));
}
