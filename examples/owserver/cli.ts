#!/usr/bin/env node
/**
 * portico-ow: an owserver client CLI in the manner of ow-shell's owdir / owread / owwrite /
 * owpresent / owget. Output matches ow-shell: dir and get-of-a-directory print one entry per line;
 * read and get-of-a-property print the raw value without a newline; present prints 1 or 0.
 */
import { parseDuration } from '../shared/flags.js';
import { DEFAULT_PORT, Sg } from './protocol/constants.js';
import { OwClient } from './client/ow-client.js';
import { OwClientError } from './client/client-errors.js';

const usage = `Usage: portico-ow <command> [options] PATH [VALUE]

Commands:
  dir PATH            list a directory (DIRALL; --dir marks directories with a trailing /)
  read PATH           print a property's value
  write PATH VALUE    write a value
  present PATH        print 1 if the device or path exists, else 0
  get PATH            a directory's listing or a property's value

Options:
  -s, --server HOST:PORT   owserver to ask (default 127.0.0.1:${DEFAULT_PORT})
  --dir                    dir/get: mark directories with a trailing /
  -C, -F, -K, -R           temperature scale (Celsius, Fahrenheit, Kelvin, Rankine)
  --format FMT             device id format: f.i, fi, f.i.c, f.ic, fi.c, fic
  --trim                   strip padding from values
  --no-persistent          do not ask for a persistent connection
  --timeout DURATION       answer timeout with a unit, e.g. 500ms, 5s (default 5s)
  --help                   show this help

Exit codes: 0 success, 1 the request failed (the message names the owserver error), 2 usage error.
`;

const formats = ['f.i', 'fi', 'f.i.c', 'f.ic', 'fi.c', 'fic'];
const scales: Record<string, number> = { C: 0, F: 1, K: 2, R: 3 };

interface Parsed {
  command: string;
  args: string[];
  host: string;
  port: number;
  sg: number;
  slash: boolean;
  persistent: boolean;
  timeoutMs: number;
}

class UsageError extends Error {}

function parse(argv: readonly string[]): Parsed | 'help' {
  const positional: string[] = [];
  let server = `127.0.0.1:${DEFAULT_PORT}`;
  let sg = Sg.BUS_LIST | Sg.OWNET;
  let slash = false;
  let persistent = true;
  let timeoutMs = 5000;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${arg} needs a value`);
      return v;
    };
    if (arg === '--help' || arg === '-h') return 'help';
    else if (arg === '-s' || arg === '--server') server = value();
    else if (arg === '--dir') slash = true;
    else if (/^-[CFKR]$/.test(arg)) sg = (sg & ~Sg.TEMPERATURE_MASK) | (scales[arg[1]!]! << 16);
    else if (arg === '--format') {
      const f = value();
      const index = formats.indexOf(f);
      if (index < 0) throw new UsageError(`--format: expected one of ${formats.join(', ')}, got "${f}"`);
      sg = (sg & ~Sg.FORMAT_MASK) | (index << 24);
    } else if (arg === '--trim') sg |= Sg.TRIM;
    else if (arg === '--no-persistent') persistent = false;
    else if (arg === '--timeout') {
      // The server bins' rule: a bare number is refused, as "--timeout 5" never says whether it means ms or s.
      const text = value();
      try {
        timeoutMs = parseDuration(text);
      } catch (error) {
        throw new UsageError(`--timeout: ${(error as Error).message}`);
      }
      if (timeoutMs <= 0) throw new UsageError('--timeout: must be more than 0 (e.g. 500ms, 5s)');
    } else if (arg.startsWith('-') && arg !== '-') throw new UsageError(`unknown option ${arg}`);
    else positional.push(arg);
  }
  const [command, ...args] = positional;
  if (command === undefined) throw new UsageError('missing command');
  const expected: Record<string, number> = { dir: 1, read: 1, write: 2, present: 1, get: 1 };
  if (!(command in expected)) throw new UsageError(`unknown command "${command}"`);
  if (command === 'dir' && args.length === 0) args.push('/');
  if (args.length !== expected[command]) throw new UsageError(`${command} takes ${expected[command] === 2 ? 'PATH VALUE' : 'PATH'}`);
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$|^(\d+)$/.exec(server);
  if (match === null) throw new UsageError(`--server: expected HOST:PORT, got "${server}"`);
  const host = match[1] ?? match[2] ?? '127.0.0.1';
  const port = Number(match[3] ?? match[4]);
  return { command, args, host, port, sg, slash, persistent, timeoutMs };
}

async function run(p: Parsed): Promise<void> {
  const client = new OwClient({ host: p.host, port: p.port, sg: p.sg, persistent: p.persistent, timeoutMs: p.timeoutMs });
  try {
    const path = p.args[0]!;
    switch (p.command) {
      case 'dir':
        for (const entry of await client.dir(path, { slash: p.slash })) process.stdout.write(`${entry}\n`);
        break;
      case 'read':
        process.stdout.write(await client.read(path));
        break;
      case 'write':
        await client.write(path, p.args[1]!);
        break;
      case 'present':
        process.stdout.write((await client.present(path)) ? '1' : '0');
        break;
      case 'get': {
        const answer = await client.get(path, { slash: p.slash });
        if (answer.kind === 'dir') for (const entry of answer.entries) process.stdout.write(`${entry}\n`);
        else process.stdout.write(answer.value);
        break;
      }
    }
  } finally {
    client.close();
  }
}

// `portico-ow dir / | head`: a reader that goes away is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

try {
  const parsed = parse(process.argv.slice(2));
  if (parsed === 'help') process.stdout.write(usage);
  else await run(parsed);
} catch (error) {
  if (error instanceof UsageError) {
    // One line, as every portico bin says a usage error; the usage itself is --help's.
    process.stderr.write(`portico-ow: ${error.message} (see --help)\n`);
    process.exitCode = 2;
  } else if (error instanceof OwClientError) {
    process.stderr.write(`portico-ow: ${error.message} [${error.code}]\n`);
    process.exitCode = 1;
  } else {
    process.stderr.write(`portico-ow: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  }
}
