import { ErrorCodes, PorticoError } from '../../framework/index.js';
import { closestName } from './spelling.js';

/**
 * Refuse a key nobody reads in a JSON config object: a mistake, not a comment — `"prot": 7999` would
 * otherwise listen on a random port and `"option": {...}` run without its limits, both silently. A near
 * miss of a known key is named; otherwise `note` may say where the key belongs. Throws PORTICO_ERR_CONFIG.
 */
export function refuseUnknownKeys(object: object, known: readonly string[], where: string, note: (key: string) => string | null = () => null): void {
  for (const key of Object.keys(object)) {
    if (known.includes(key)) continue;
    const near = closestName(key, known);
    const more = near === null ? note(key) : null;
    throw new PorticoError(
      ErrorCodes.CONFIG,
      'host',
      `${where}: unknown key "${key}"${near !== null ? `, did you mean "${near}"?` : ''} (known: ${known.join(', ')})${more !== null ? `; ${more}` : ''}`,
    );
  }
}
