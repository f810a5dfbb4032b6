/**
 * What a report needs besides its results to be repeated and compared: the harness's version (from
 * its package.json), Node's, the platform, the command line as typed, and the resolved scenario.
 */
import { readFileSync } from 'node:fs';
import type { RunProvenance } from '../types.js';

let cachedVersion: string | null = null;

/** The version in the harness's own package.json (dist/harness/report → the package root), or "unknown". */
export function harnessVersion(): string {
  if (cachedVersion !== null) return cachedVersion;
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { name?: unknown; version?: unknown };
    cachedVersion = pkg.name === 'portico' && typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    cachedVersion = 'unknown';
  }
  return cachedVersion;
}

export function provenance(command: readonly string[] | null, scenario: RunProvenance['scenario']): RunProvenance {
  return {
    harnessVersion: harnessVersion(),
    nodeVersion: process.version,
    platform: `${process.platform} ${process.arch}`,
    command,
    scenario,
  };
}
