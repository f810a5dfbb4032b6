import { ErrorCodes, PorticoError } from '../../../framework/core/errors.js';
import { deviceFamilies } from './families.js';
import type { DeviceFamily } from './device-family.js';
import { GlibcRandom } from './glibc-random.js';
import { RomId } from './rom-id.js';

/** The devices owserver's fake adapter gets when started with `--fake=10.67C6697351FF,28.4AEC29CDBAAB,05.F2FBE3467CC2`. */
export const DEFAULT_DEVICES: readonly string[] = Object.freeze(['10.67C6697351FF', '28.4AEC29CDBAAB', '05.F2FBE3467CC2']);

export interface RosterEntry {
  readonly rom: RomId;
  readonly family: DeviceFamily;
}

/** Split owserver's `--fake=` value (comma- or space-separated family codes and ids). */
export function splitFakeSpec(spec: string): string[] {
  return spec
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

const badSpec = (message: string): PorticoError => new PorticoError(ErrorCodes.INVALID_ARGUMENT, 'host', message);

/**
 * Turn device specs — a family code ("28") or a full id ("28.4AEC29CDBAAB", optionally with its CRC) —
 * into ROM ids. Like owserver, every device draws six bytes from glibc's unseeded random(), even one
 * whose id is given, so family-only specs get the same ids they would on the real server.
 */
export function buildRoster(specs: readonly string[]): RosterEntry[] {
  const idSource = new GlibcRandom(1);
  const seen = new Set<string>();
  return specs.map((spec) => {
    const drawn = Buffer.from(Array.from({ length: 6 }, () => idSource.nextByte()));
    let rom: RomId | undefined;
    if (/^[0-9A-Fa-f]{2}$/.test(spec)) rom = RomId.fromParts(parseInt(spec, 16), drawn);
    else rom = RomId.parse(spec);
    if (rom === undefined) throw badSpec(`fake device "${spec}" is neither a family code nor a device id (e.g. 28 or 28.4AEC29CDBAAB)`);
    const family = deviceFamilies.get(rom.family);
    if (family === undefined) {
      const known = [...deviceFamilies.values()].map((f) => `${f.code.toString(16).padStart(2, '0').toUpperCase()} (${f.type})`);
      throw badSpec(`fake device "${spec}": family ${rom.familyHex} is not simulated; known families: ${known.join(', ')}`);
    }
    if (seen.has(rom.addressHex)) throw badSpec(`fake device "${spec}" is listed twice`);
    seen.add(rom.addressHex);
    return { rom, family };
  });
}
