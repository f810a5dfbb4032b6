import type { OwRequestFlags, OwResult } from './bus.js';
import { cString, parseFloatPrefix, parseUnsigned, parseYesNo } from './input-parse.js';
import { formatG, padField } from './number-format.js';
import type { PropertyNode, PropertyValue } from './property-tree.js';
import { OwReturnCode, fail, ok } from './return-codes.js';
import { fromCelsius, toCelsius } from './scales.js';

/** Which part of a property a path names: the scalar, one array element, or `.ALL`. */
export type Selector = { readonly kind: 'scalar' } | { readonly kind: 'element'; readonly index: number } | { readonly kind: 'all' };

export interface SelectedProperty {
  readonly node: PropertyNode;
  readonly selector: Selector;
}

/**
 * Split a path segment into property name and array suffix. Arrays need a suffix (`counter` alone is
 * no file), scalars refuse one; numbered elements take digits only, lettered ones a letter in either case.
 */
export function selectProperty(segment: string, lookup: (name: string) => PropertyNode | undefined): SelectedProperty | undefined {
  const plain = lookup(segment);
  if (plain !== undefined) return plain.array === undefined ? { node: plain, selector: { kind: 'scalar' } } : undefined;
  const dot = segment.lastIndexOf('.');
  if (dot <= 0) return undefined;
  const node = lookup(segment.slice(0, dot));
  if (node?.array === undefined) return undefined;
  const suffix = segment.slice(dot + 1);
  if (suffix === 'ALL') return { node, selector: { kind: 'all' } };
  let index: number;
  if (node.array.lettered) {
    if (!/^[A-Za-z]$/.test(suffix)) return undefined;
    index = suffix.toUpperCase().charCodeAt(0) - 65;
  } else {
    if (!/^\d+$/.test(suffix)) return undefined;
    index = Number(suffix);
  }
  return index < node.array.elements ? { node, selector: { kind: 'element', index } } : undefined;
}

function formatOne(node: PropertyNode, value: PropertyValue, flags: OwRequestFlags): Buffer {
  switch (node.format) {
    case 'b':
      return Buffer.isBuffer(value) ? value : Buffer.from(String(value), 'latin1');
    case 'a':
    case 'l':
      return Buffer.isBuffer(value) ? value : Buffer.from(String(value), 'utf8');
    case 'y':
      return Buffer.from(value === true || value === 1 ? '1' : '0');
    case 'u':
      return Buffer.from(padField(String(Number(value) >>> 0), flags.trim));
    case 't':
      return Buffer.from(padField(formatG(fromCelsius(Number(value), flags.temperatureScale)), flags.trim));
    case 'f':
      return Buffer.from(padField(formatG(Number(value)), flags.trim));
  }
}

/** The bytes a READ returns. */
export function formatProperty(selected: SelectedProperty, flags: OwRequestFlags): Buffer {
  const { node, selector } = selected;
  switch (selector.kind) {
    case 'scalar':
      return formatOne(node, node.read(0, flags), flags);
    case 'element':
      return formatOne(node, node.read(selector.index, flags), flags);
    case 'all': {
      if (node.readAll !== undefined) return formatOne(node, node.readAll(), flags);
      const parts: Buffer[] = [];
      for (let i = 0; i < node.array!.elements; i++) {
        // Binary arrays are one run of bytes; everything else is comma-separated.
        if (i > 0 && node.format !== 'b') parts.push(Buffer.from(','));
        parts.push(formatOne(node, node.read(i, flags), flags));
      }
      return Buffer.concat(parts);
    }
  }
}

/** A write, parsed and ready to apply: per-element values and the byte count owserver reports back. */
export interface ParsedWrite {
  readonly values: ReadonlyArray<{ readonly index: number; readonly value: PropertyValue }>;
  readonly accepted: number;
}

function parseOne(node: PropertyNode, data: Buffer, flags: OwRequestFlags): OwResult<PropertyValue> {
  switch (node.format) {
    case 'a':
    case 'l':
      // owfs keeps at most the property's length of text (FS_check_length).
      return ok(data.subarray(0, node.size).toString('utf8'));
    case 'b':
      return ok(Buffer.from(data.subarray(0, node.size)));
    case 'y':
      return parseYesNo(cString(data));
    case 'u':
      return parseUnsigned(cString(data));
    case 'f':
      return parseFloatPrefix(cString(data));
    case 't': {
      const parsed = parseFloatPrefix(cString(data));
      return parsed.ok ? ok(toCelsius(parsed.value, flags.temperatureScale)) : parsed;
    }
  }
}

const textual = (node: PropertyNode): boolean => node.format === 'a' || node.format === 'l' || node.format === 'b';

/** Parse WRITE data for the selected property (the caller has checked it is writable). */
export function parseWrite(selected: SelectedProperty, data: Buffer, flags: OwRequestFlags): OwResult<ParsedWrite> {
  const { node, selector } = selected;
  if (selector.kind !== 'all') {
    const parsed = parseOne(node, data, flags);
    if (!parsed.ok) return parsed;
    const index = selector.kind === 'element' ? selector.index : 0;
    // Text is cut to the property's length and that is what owserver reports; numbers report all they were sent.
    return ok({ values: [{ index, value: parsed.value }], accepted: textual(node) ? Math.min(data.length, node.size) : data.length });
  }
  const elements = node.array!.elements;
  if (node.format === 'b') {
    // A binary .ALL must be exactly every element's bytes (FS_input_array_no_commas).
    if (data.length !== node.size * elements) return fail(OwReturnCode.EINVAL);
    const values = Array.from({ length: elements }, (_, index) => ({
      index,
      value: Buffer.from(data.subarray(index * node.size, (index + 1) * node.size)) as PropertyValue,
    }));
    return ok({ values, accepted: data.length });
  }
  // Numbers and text: one comma-separated field per element, the last taking the rest.
  const fields = cString(data).split(',');
  if (fields.length < elements) return fail(OwReturnCode.EINVAL);
  const values: Array<{ index: number; value: PropertyValue }> = [];
  for (let index = 0; index < elements; index++) {
    const field = index === elements - 1 ? fields.slice(index).join(',') : fields[index]!;
    const parsed = parseOne(node, Buffer.from(field, 'latin1'), flags);
    if (!parsed.ok) return fail(OwReturnCode.EINVAL);
    values.push({ index, value: parsed.value });
  }
  return ok({ values, accepted: data.length });
}

const sixDigits = (n: number): string => (n < 0 ? `-${String(-n).padStart(6, '0')}` : String(n).padStart(6, '0'));

/** The line /structure/<family>/<property> returns, e.g. `t,000000,000001,ro,000012,v,`. */
export function structureLine(node: PropertyNode, selector: Selector): string {
  const elements = node.array?.elements ?? 1;
  let index = 0;
  let size = node.size;
  if (selector.kind === 'element') index = selector.index;
  if (selector.kind === 'all') {
    index = -1;
    size = node.format === 'b' ? node.size * elements : node.size * elements + (elements - 1);
  }
  const access = node.write === undefined ? 'ro' : 'rw';
  return `${node.format},${sixDigits(index)},${sixDigits(elements)},${access},${sixDigits(size)},${node.change},`;
}
