/**
 * Installed bins are node scripts: `portico-echo` on PATH is a symlink npm made to a .js file whose
 * first line is `#!/usr/bin/env node`. The leak preload goes in through node's command line, so a
 * server command that resolves to such a script is run as `node <script> args…` — what its shebang
 * would run — and the leak check works for it as for `node script.js`.
 */
import { closeSync, openSync, readSync, realpathSync } from 'node:fs';
import { basename } from 'node:path';
import { findExecutable } from './launcher.js';

/** A command that is a node script: the file, and the node its shebang runs it with. */
export interface NodeScript {
  /** The script, symlinks resolved. */
  readonly file: string;
  /** The interpreter: "node" (found on PATH, as `env node` finds it) or the shebang's own path. */
  readonly node: string;
  /** Options the shebang gives node, before the script. */
  readonly nodeArgs: readonly string[];
  /** The shebang line as written, e.g. `#!/usr/bin/env node`. */
  readonly shebang: string;
}

const isNodeName = (path: string): boolean => /^node(\.exe)?$/i.test(basename(path));

/**
 * How a script's first line runs node, or null when it does not. The kernel passes everything after
 * the interpreter as one argument: `#!/usr/bin/node --flag` gives node "--flag", and `#!/usr/bin/env
 * node --flag` would have env look for a program named "node --flag"; only `env -S` splits words.
 */
export function nodeShebang(firstLine: string): Omit<NodeScript, 'file' | 'shebang'> | null {
  const match = /^#!\s*(\S+)(?:[ \t]+(.*?))?\s*$/.exec(firstLine);
  if (match === null) return null;
  const interpreter = match[1]!;
  const rest = match[2] ?? '';
  if (isNodeName(interpreter)) return { node: interpreter, nodeArgs: rest === '' ? [] : [rest] };
  if (basename(interpreter) !== 'env') return null;
  let words = rest.split(/[ \t]+/).filter((w) => w !== '');
  if (words[0] === '-S' || words[0] === '--split-string') words = words.slice(1);
  else if (words.length !== 1) return null;
  const [program, ...nodeArgs] = words;
  return program !== undefined && isNodeName(program) ? { node: program, nodeArgs } : null;
}

/** The first line of a file (up to 1 KiB), or null if it cannot be read. */
function firstLine(file: string): string | null {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const head = Buffer.alloc(1024);
    const n = readSync(fd, head, 0, head.length, 0);
    const text = head.subarray(0, n).toString('latin1');
    const nl = text.indexOf('\n');
    return nl < 0 ? text : text.slice(0, nl);
  } catch {
    return null;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * The node script `command` runs (a path, or a name looked up on PATH as a shell would), or null: not
 * found, not executable, or its first line is not a node shebang.
 */
export function findNodeScript(command: string, cwd: string): NodeScript | null {
  const found = findExecutable(command, cwd);
  if (found === null) return null;
  const line = firstLine(found);
  const shebang = line === null ? null : nodeShebang(line);
  return shebang === null || line === null ? null : { file: realpathSync(found), ...shebang, shebang: line.trimEnd() };
}

/** `argv` (its program a node script) as node runs it: node, the shebang's options, the script, the arguments. */
export function underNode(script: NodeScript, argv: readonly string[]): string[] {
  return [script.node, ...script.nodeArgs, script.file, ...argv.slice(1)];
}
