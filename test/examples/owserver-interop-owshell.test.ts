/**
 * Interop, real peers → portico: the real ow-shell tools (owdir, owread, owwrite, owpresent, owget)
 * against the `portico-owserver` binary, each command's stdout, stderr and exit code compared with
 * what the same command prints against the real owserver 3.2p4 (run side by side in this test).
 * Fake temperatures and PIO reads are random: for them only the shape is compared.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { spawnPortico } from '../helpers/owserver-portico.js';
import { DS18B20, DS18S20, DS2405, runOwShell, startRealOwserver, type OwShellTool } from '../helpers/real-owserver.js';
import type { RunResult } from '../helpers/spawn-server.js';

interface Command {
  tool: OwShellTool;
  args: string[];
  /** How to compare stdout: exactly (default), or by shape for random fake readings. */
  output?: 'exact' | 'temperature' | 'bit';
}

// In order: the writes change what later reads see, on both servers alike.
const commands: Command[] = [
  { tool: 'owdir', args: ['/'] },
  { tool: 'owdir', args: ['--dir', '/'] },
  { tool: 'owdir', args: [`/${DS2405}`] },
  { tool: 'owdir', args: [`/${DS18B20}`] },
  { tool: 'owdir', args: ['--dir', `/${DS18S20}`] },
  { tool: 'owdir', args: ['/settings/timeout'] },
  { tool: 'owdir', args: ['/nonexist'] },
  { tool: 'owread', args: [`/${DS18B20}/temperature`], output: 'temperature' },
  { tool: 'owread', args: ['-F', `/${DS18B20}/temperature`], output: 'temperature' },
  { tool: 'owread', args: [`/${DS18S20}/temperature`], output: 'temperature' },
  { tool: 'owread', args: [`/${DS18B20}/type`] },
  { tool: 'owread', args: [`/${DS2405}/address`] },
  { tool: 'owread', args: [`/${DS18B20}/family`, `/${DS18S20}/id`] },
  { tool: 'owread', args: ['/settings/timeout/volatile'] },
  { tool: 'owread', args: ['/nonexist'] },
  { tool: 'owread', args: [`/${DS18B20}`] },
  { tool: 'owwrite', args: ['/settings/timeout/volatile', '23'] },
  { tool: 'owread', args: ['/settings/timeout/volatile'] },
  { tool: 'owwrite', args: [`/${DS2405}/PIO`, '1'] },
  { tool: 'owread', args: [`/${DS2405}/PIO`], output: 'bit' },
  { tool: 'owwrite', args: [`/${DS2405}/PIO`, '0'] },
  { tool: 'owwrite', args: [`/${DS18B20}/temperature`, '3'] },
  { tool: 'owpresent', args: [`/${DS18B20}`] },
  { tool: 'owpresent', args: ['/10.000000000000'] },
  { tool: 'owpresent', args: ['/'] },
  { tool: 'owget', args: ['/'] },
  { tool: 'owget', args: ['--dir', '/'] },
  { tool: 'owget', args: [`/${DS2405}`] },
  { tool: 'owget', args: [`/${DS18B20}/temperature`], output: 'temperature' },
  { tool: 'owget', args: ['/settings/timeout/volatile'] },
  { tool: 'owget', args: ['/nonexist'] },
];

const describeCommand = (c: Command): string => `${c.tool} ${c.args.join(' ')}`;

/** Run every command in order against one server. */
async function runAll(spec: string): Promise<RunResult[]> {
  const results: RunResult[] = [];
  for (const c of commands) {
    // ow-shell takes options before the paths; -s may come first.
    results.push(await runOwShell(c.tool, ['-s', spec, ...c.args]));
  }
  return results;
}

test('ow-shell gets the same output from the portico owserver as from the real one', { timeout: 30_000 }, async (t) => {
  const [real, portico] = await Promise.all([startRealOwserver({ t }), spawnPortico(['--timeout_server=2'], t)]);
  const [fromReal, fromPortico] = await Promise.all([runAll(real.spec), runAll(`127.0.0.1:${portico.port}`)]);

  const mismatches: string[] = [];
  commands.forEach((c, i) => {
    const r = fromReal[i]!;
    const p = fromPortico[i]!;
    const what = describeCommand(c);
    if (r.code !== p.code) mismatches.push(`${what}: exit ${p.code}, the real owserver's ${r.code}`);
    if (r.stderr !== p.stderr) mismatches.push(`${what}: stderr ${JSON.stringify(p.stderr)}, the real owserver's ${JSON.stringify(r.stderr)}`);
    switch (c.output ?? 'exact') {
      case 'exact':
        if (r.stdout !== p.stdout) mismatches.push(`${what}: stdout ${JSON.stringify(p.stdout)}, the real owserver's ${JSON.stringify(r.stdout)}`);
        break;
      case 'temperature':
        // "     19.3442" (or "          16" for a whole degree): right-aligned in 12 characters on both.
        for (const [who, out] of [['real', r.stdout], ['portico', p.stdout]] as const) {
          if (!/^ *-?\d+(\.\d+)?$/.test(out) || out.length !== 12) mismatches.push(`${what}: ${who} stdout ${JSON.stringify(out)} is not a 12-character temperature`);
        }
        break;
      case 'bit':
        for (const [who, out] of [['real', r.stdout], ['portico', p.stdout]] as const) {
          if (!/^[01]$/.test(out)) mismatches.push(`${what}: ${who} stdout ${JSON.stringify(out)} is not 0 or 1`);
        }
        break;
    }
  });
  assert.deepEqual(mismatches, []);

  // Spot checks on what both printed, so a shared mistake in the comparison cannot pass unseen.
  const at = (tool: OwShellTool, ...args: string[]): RunResult => fromPortico[commands.findIndex((c) => c.tool === tool && c.args.join(' ') === args.join(' '))]!;
  assert.equal(at('owdir', '/').stdout.split('\n')[0], `/${DS18S20}`);
  assert.match(at('owdir', '--dir', '/').stdout, /^\/10\.67C6697351FF\/\n/);
  assert.equal(at('owpresent', `/${DS18B20}`).stdout, '1');
  assert.equal(at('owpresent', '/10.000000000000').stdout, '0');
  assert.equal(at('owpresent', '/10.000000000000').code, 1);
  assert.equal(at('owread', '/nonexist').code, 1);
  const volatileReads = commands.map((c, i) => (c.tool === 'owread' && c.args[0] === '/settings/timeout/volatile' ? fromPortico[i]!.stdout : null)).filter((s) => s !== null);
  assert.deepEqual(volatileReads, ['          15', '          23'], 'owwrite then owread back');
  assert.equal(at('owget', '/settings/timeout/volatile').stdout, '          23');
});
