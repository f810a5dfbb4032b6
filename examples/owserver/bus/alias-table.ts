import type { RomId } from './rom-id.js';
import { OwReturnCode } from './return-codes.js';

// Names owserver refuses as aliases (exact case; it accepts "system", "json" and "Settings").
const RESERVED = new Set(['alarm', 'interface', 'settings', 'simultaneous', 'statistics', 'structure', 'text', 'uncached']);

/**
 * Device aliases, written through <device>/alias. owserver 3.2p4 shows them in listings in place of the
 * id whether or not the request sets ALIAS_REQUEST; only /settings/alias/unaliased turns that off.
 */
export class AliasTable {
  readonly #byAddress = new Map<string, string>();
  #unaliased = false;
  #revision = 0;

  /** Bumped by every change, so whoever caches what paths resolve to knows when to forget it. */
  get revision(): number {
    return this.#revision;
  }

  /** /settings/alias/unaliased: list ids even for aliased devices. */
  get unaliased(): boolean {
    return this.#unaliased;
  }

  set unaliased(value: boolean) {
    this.#unaliased = value;
    this.#revision++;
  }

  get(rom: RomId): string {
    return this.#byAddress.get(rom.addressHex) ?? '';
  }

  /** The alias a listing shows instead of the id, if any. */
  displayName(rom: RomId): string | undefined {
    return this.#unaliased ? undefined : this.#byAddress.get(rom.addressHex);
  }

  /** Set (or with '' clear) a device's alias; 0 or -22 for a name that cannot be a path segment. */
  set(rom: RomId, name: string): number {
    if (name === '') {
      this.#byAddress.delete(rom.addressHex);
      this.#revision++;
      return 0;
    }
    if (name.includes('/') || RESERVED.has(name) || /^bus\.\d+$/.test(name)) return OwReturnCode.EINVAL;
    this.#byAddress.set(rom.addressHex, name);
    this.#revision++;
    return 0;
  }

  /** The address (16 hex digits) of the device with this alias. */
  addressOf(name: string): string | undefined {
    for (const [address, alias] of this.#byAddress) if (alias === name) return address;
    return undefined;
  }

  /** /settings/alias/list: `ADDRESS=alias` lines, CRLF-terminated. */
  listText(): string {
    return [...this.#byAddress].map(([address, alias]) => `${address}=${alias}\r\n`).join('');
  }
}
