/**
 * Tests that need a real program (haproxy, python3) fail when it is missing — with the package to
 * install — instead of skipping: a skipped interop test would read as a passed one in CI.
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Absolute path of `name` on PATH, or an Error saying `apt-get install -y <aptPackage>` (.ci/run installs it). */
export function requireProgram(name: string, aptPackage: string): string {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  throw new Error(`${name} is not installed (not on PATH): apt-get install -y ${aptPackage} (.ci/run installs it)`);
}
