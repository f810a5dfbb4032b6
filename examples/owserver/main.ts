#!/usr/bin/env node
import { serverMain } from '../shared/server-main.js';
import { owserverPlugin } from './plugin.js';

/** owserver's own spelling: `-p HOST:PORT` (listen), `-s HOST:PORT` (upstream), `--name=value` with underscores. */
function owserverArgv(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-p' && i + 1 < argv.length) out.push('--listen', argv[++i]!);
    else if (arg.startsWith('-p') && arg.length > 2 && !arg.startsWith('--')) out.push('--listen', arg.slice(2));
    else if (arg === '-s' && i + 1 < argv.length) out.push('--upstream', argv[++i]!);
    else out.push(arg);
  }
  return out;
}

await serverMain(owserverPlugin, 'portico-owserver', owserverArgv(process.argv.slice(2)));
