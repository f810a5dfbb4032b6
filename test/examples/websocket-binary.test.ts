/**
 * The `portico-websocket` binary's contract, as a real child process on 127.0.0.1: bad flag values
 * exit 2 with one line on stderr naming the flag, and never listen.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseReadyLine, runNode, websocketBinary } from '../helpers/spawn-server.js';

const T = { timeout: 30_000 };

const hasReadyLine = (stdout: string): boolean => stdout.split('\n').some((l) => parseReadyLine(l) !== null);

test('--help says what --max-message takes', T, async () => {
  const r = await runNode(websocketBinary, ['--help']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^ {2}--max-message <n> +largest message in bytes, 1 or more \(0 is refused/m);
});

test('bad flag values exit 2 with one line naming the flag, and never listen', T, async () => {
  const cases: [string[], RegExp][] = [
    [['--max-message', '0'], /^portico-websocket: --max-message: must be >= 1, got 0/],
    [['--max-message', '-5'], /^portico-websocket: --max-message: must be >= 1, got -5/],
    [['--max-message', 'lots'], /^portico-websocket: --max-message: expected an integer, got "lots"/],
    [['--heartbeat', '30'], /^portico-websocket: --heartbeat: "30" needs a unit/],
  ];
  for (const [args, message] of cases) {
    const r = await runNode(websocketBinary, ['--port', '0', ...args]);
    const what = `${args.join(' ')}: exit ${r.code}, stderr ${r.stderr}`;
    assert.equal(r.code, 2, what);
    assert.match(r.stderr, message, what);
    assert.equal(r.stderr.split('\n').filter(Boolean).length, 1, `one line on stderr: ${what}`);
    assert.ok(!hasReadyLine(r.stdout), what);
  }
});
