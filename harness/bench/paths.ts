import { fileURLToPath, pathToFileURL } from 'node:url';
import * as path from 'node:path';

/** This file runs from dist/harness/bench/, so the repository root is three levels up; children are the built .js files. */
const benchDir = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(benchDir, '..', '..', '..');

export const scripts = {
  porticoEcho: path.join(repoRoot, 'dist', 'examples', 'echo', 'main.js'),
  plainEcho: path.join(benchDir, 'plain-echo-server.js'),
  echoLoad: path.join(benchDir, 'echo-load.js'),
  connectLoad: path.join(benchDir, 'connect-load.js'),
  idleLoad: path.join(benchDir, 'idle-load.js'),
  harness: path.join(repoRoot, 'dist', 'harness', 'main.js'),
  porticoWebsocket: path.join(repoRoot, 'dist', 'examples', 'websocket', 'main.js'),
  wsBaseline: path.join(benchDir, 'ws-baseline-server.js'),
  wsFloor: path.join(benchDir, 'ws-floor-server.js'),
  wsLoad: path.join(benchDir, 'ws-load.js'),
} as const;

export const reportsDir = path.join(repoRoot, 'reports');

/** True when the module at `moduleUrl` is the script node was started with (not imported by run-all). */
export function isMain(moduleUrl: string): boolean {
  const entry = process.argv[1];
  return entry !== undefined && pathToFileURL(path.resolve(entry)).href === moduleUrl;
}
