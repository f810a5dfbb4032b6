/**
 * The `portico-owserver` binary's flag contract, as a real child process: bad flag values exit 2 with
 * one line on stderr naming the flag, and never listen.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { owserverBinary } from '../helpers/owserver-portico.js';
import { parseReadyLine, runNode } from '../helpers/spawn-server.js';

const T = { timeout: 30_000 };

const hasReadyLine = (stdout: string): boolean => stdout.split('\n').some((l) => parseReadyLine(l) !== null);

test('bad flag values exit 2 with one line naming the flag, and never listen', T, async () => {
  const cases: [string[], RegExp][] = [
    [['--fake', 'garbage'], /^portico-owserver: --fake: fake device "garbage" is neither a family code nor a device id/],
    [['--fake', '99'], /^portico-owserver: --fake: fake device "99": family 99 is not simulated; known families: 05 \(DS2405\)/],
    [['--fake', '28,28.4AEC29CDBAAB,28.4AEC29CDBAAB'], /^portico-owserver: --fake: fake device "28.4AEC29CDBAAB" is listed twice/],
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
