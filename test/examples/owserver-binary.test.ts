/**
 * The `portico-owserver` binary's flag contract, as a real child process: owserver's `-p`/`-s` shown
 * in --help and taken as owserver takes them, bad flag values exit 2 with one line on stderr naming
 * the flag as it was typed, and never listen; persistence bounds low <= high.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { owserverBinary, spawnPortico } from '../helpers/owserver-portico.js';
import { OwWire, SG_PERSIST, SG_PERSISTENT, Type, request } from '../helpers/owserver-wire.js';
import { parseReadyLine, runNode } from '../helpers/spawn-server.js';

const T = { timeout: 30_000 };

const hasReadyLine = (stdout: string): boolean => stdout.split('\n').some((l) => parseReadyLine(l) !== null);

test('--help shows owserver\'s -p and -s beside --listen and --upstream', T, async () => {
  const r = await runNode(owserverBinary, ['--help']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^ {2}-p, --listen <\[HOST:\]PORT> +\S/m);
  assert.match(r.stdout, /^ {2}-s, --upstream <\[HOST:\]PORT> +\S/m);
  // Options still in one column.
  const lines = r.stdout.split('\n');
  const options = lines.slice(lines.indexOf('Options:') + 1, lines.indexOf('', lines.indexOf('Options:')));
  assert.equal(new Set(options.map((l) => /^ {2}\S.*? {2,}(?=\S)/.exec(l)?.[0].length)).size, 1, options.join('\n'));
});

test('bad flag values exit 2 with one line naming the flag, and never listen', T, async () => {
  const cases: [string[], RegExp][] = [
    [['--fake', 'garbage'], /^portico-owserver: --fake: fake device "garbage" is neither a family code nor a device id/],
    [['--fake', '99'], /^portico-owserver: --fake: fake device "99": family 99 is not simulated; known families: 05 \(DS2405\)/],
    [['--fake', '28,28.4AEC29CDBAAB,28.4AEC29CDBAAB'], /^portico-owserver: --fake: fake device "28.4AEC29CDBAAB" is listed twice/],
    // The flag named as it was typed.
    [['--upstream', 'nohost'], /^portico-owserver: --upstream: expected PORT or HOST:PORT, got "nohost"/],
    [['-s', 'nohost'], /^portico-owserver: -s: expected PORT or HOST:PORT, got "nohost"/],
    [['--listen', '127.0.0.1:'], /^portico-owserver: --listen: expected PORT or HOST:PORT, got "127.0.0.1:"/],
    [['-p', 'nohost'], /^portico-owserver: -p: expected PORT or HOST:PORT, got "nohost"/],
    [['-p70000'], /^portico-owserver: -p: port 70000 out of range/],
    [['--upstream=127.0.0.1:99999'], /^portico-owserver: --upstream: port 99999 out of range/],
    // A value left out.
    [['-s'], /^portico-owserver: -s needs a value/],
    [['-p'], /^portico-owserver: -p needs a value/],
    [['--upstream'], /^portico-owserver: --upstream needs a value/],
    [['-s', '--latency', '5ms'], /^portico-owserver: -s needs a value/],
    [['-x'], /^portico-owserver: unexpected argument "-x"/],
    // Low bounds above high ones.
    [['--clients_persistent_low', '30', '--clients_persistent_high', '5'], /^portico-owserver: --clients_persistent_low 30 is above --clients_persistent_high 5/],
    [['--clients_persistent_low=21'], /^portico-owserver: --clients_persistent_low 21 is above --clients_persistent_high 20/],
    [['--timeout_persistent_low', '100', '--timeout_persistent_high', '10'], /^portico-owserver: --timeout_persistent_low 100 is above --timeout_persistent_high 10/],
  ];
  for (const [args, message] of cases) {
    const r = await runNode(owserverBinary, ['--port', '0', ...args]);
    const what = `${args.join(' ')}: exit ${r.code}, stderr ${r.stderr}`;
    assert.equal(r.code, 2, what);
    assert.match(r.stderr, message, what);
    assert.match(r.stderr, /\[PORTICO_ERR_CONFIG\]\n$/, what);
    assert.equal(r.stderr.split('\n').filter(Boolean).length, 1, `one line on stderr: ${what}`);
    assert.ok(!hasReadyLine(r.stdout), what);
  }
});

test('owserver spellings start the server: -pHOST:PORT attached, low = high accepted', T, async (t) => {
  const server = await spawnPortico(['-p127.0.0.1:0', '--clients_persistent_low=3', '--clients_persistent_high=3', '--timeout_persistent_low=5', '--timeout_persistent_high=5'], t);
  assert.equal(server.ready[0]!.host, '127.0.0.1');
  assert.ok(server.port > 0);
  assert.equal(await server.stop('SIGTERM'), 0, server.stderr);
});

test('--timeout_persistent_high 1 alone: the low bound follows it down, an idle persistent connection closes after ~1 s (not 600 s)', T, async (t) => {
  const server = await spawnPortico(['--timeout_persistent_high=1'], t);
  const wire = await OwWire.open(server.port);
  t.after(() => wire.close());
  wire.send(request(Type.NOP, null, { sg: SG_PERSIST }));
  const [reply] = await wire.waitReplies(1);
  assert.equal(reply!.sg & SG_PERSISTENT, SG_PERSISTENT, 'granted');
  const answeredAt = performance.now();
  await wire.waitEnded(4000);
  const after = wire.endedAt! - answeredAt;
  assert.ok(after > 700 && after < 2000, `closed after ${after.toFixed(0)} ms`);
});
