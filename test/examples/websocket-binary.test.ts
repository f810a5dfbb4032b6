/**
 * The `portico-websocket` binary's contract, as a real child process on 127.0.0.1: bad flag values
 * exit 2 with one line on stderr naming the flag, and never listen; plain HTTP gets the page on
 * `GET /` and `HEAD /`, 405 with Allow for another method there, 404 elsewhere; the README names
 * every route --help lists.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseReadyLine, repoRoot, runNode, spawnServer, websocketBinary, withTimeout } from '../helpers/spawn-server.js';

const T = { timeout: 30_000 };

const hasReadyLine = (stdout: string): boolean => stdout.split('\n').some((l) => parseReadyLine(l) !== null);

test('--help says what --max-message takes', T, async () => {
  const r = await runNode(websocketBinary, ['--help']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^ {2}--max-message <n> +largest message in bytes, 1 or more \(0 is refused/m);
});

test('the README names every route --help lists, in the WebSocket section and in the table of bins', T, async () => {
  const help = await runNode(websocketBinary, ['--help']);
  assert.equal(help.code, 0, help.stderr);
  const routes = [...help.stdout.matchAll(/^ +(?:GET )?(\/\S*) {2,}/gm)].map((m) => m[1]!);
  assert.deepEqual(routes, ['/echo', '/chat', '/broadcast', '/'], help.stdout);
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## WebSocket');
  assert.ok(start >= 0, 'a WebSocket section');
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
  const row = readme.split('\n').find((l) => l.startsWith('| `portico-websocket` |'));
  assert.ok(row !== undefined, 'a portico-websocket row in the table of bins');
  for (const route of routes) {
    const mention = route === '/' ? /`(?:GET )?\/`/ : new RegExp(`\`${route}\``);
    assert.match(section, mention, `the WebSocket section names ${route}`);
    assert.match(row, route === '/' ? /on `\/`/ : mention, `the table row names ${route}`);
  }
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

/** One plain HTTP request on a fresh connection: status, headers and body. */
function request(port: number, method: string, path: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  const done = new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
  return withTimeout(done, 5000, `${method} ${path}`);
}

test('plain HTTP: the page on GET and HEAD /, 405 with Allow: GET, HEAD for other methods there, 404 elsewhere', T, async (t) => {
  const server = await spawnServer({ script: websocketBinary, args: ['--port', '0'], t });
  const cases: [string, string, number, string | undefined][] = [
    ['GET', '/', 200, undefined],
    ['HEAD', '/', 200, undefined],
    ['POST', '/', 405, 'GET, HEAD'],
    ['PUT', '/', 405, 'GET, HEAD'],
    ['DELETE', '/?x=1', 405, 'GET, HEAD'],
    ['POST', '/nowhere', 404, undefined],
    ['GET', '/nowhere', 404, undefined],
  ];
  for (const [method, path, status, allow] of cases) {
    const r = await request(server.port, method, path);
    const what = `${method} ${path}: ${r.status} ${JSON.stringify(r.headers)}`;
    assert.equal(r.status, status, what);
    assert.equal(r.headers['allow'], allow, what);
    if (status === 200) assert.match(r.headers['content-type'] ?? '', /^text\/html/, what);
    if (method === 'GET' && status === 200) assert.match(r.body, /<title>portico WebSocket<\/title>/, what);
    if (method === 'HEAD') assert.equal(r.body, '', what);
  }
  assert.equal(await server.stop('SIGTERM'), 0, server.stderr);
});
