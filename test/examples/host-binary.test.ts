/**
 * The `portico` host binary: help, a config running two echo servers, config errors and signals,
 * as a real child process over real sockets on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { SocketProbe, connectTo, echoOnce, echoRoundTrip, hostBinary, occupyPort, parseReadyLine, runNode, spawnServer, type AfterHook } from '../helpers/spawn-server.js';

const T = { timeout: 30_000 };

const hasReadyLine = (stdout: string): boolean => stdout.split('\n').some((l) => parseReadyLine(l) !== null);

/** Write `content` (a string as is, anything else as JSON) to a fresh temp file removed after the test. */
function configFile(t: AfterHook, content: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'portico-host-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'portico.json');
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

test('--help lists the config format and the echo server, exits 0', T, async () => {
  const r = await runNode(hostBinary, ['--help']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.match(r.stdout, /^Usage: portico \[options\]/);
  assert.match(r.stdout, /^\s+--config <value>/m);
  assert.match(r.stdout, /^\s+--help\b/m);
  // The config format, as an example that is itself valid JSON.
  const example = /^Config: (\{.*\})$/m.exec(r.stdout);
  assert.ok(example, 'a "Config: {...}" line');
  const parsed = JSON.parse(example[1]!) as { servers: { server: string }[] };
  assert.equal(parsed.servers[0]!.server, 'echo');
  // The known servers.
  assert.match(r.stdout, /^Servers:\n\s+echo\s+portico-echo: /m);
  assert.ok(!hasReadyLine(r.stdout));
});

test('--help layout: options in one column; each server one entry, its further lines under its summary', T, async () => {
  const r = await runNode(hostBinary, ['--help']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  const options = lines.slice(lines.indexOf('Options:') + 1, lines.indexOf('', lines.indexOf('Options:')));
  assert.ok(options.length >= 5, options.join('\n'));
  const optionColumns = new Set(options.map((l) => /^ {2}--\S+(?: <[^>]+>)? +(?=\S)/.exec(l)?.[0].length ?? `unaligned: ${l}`));
  assert.equal(optionColumns.size, 1, [...optionColumns].join(', '));

  // The server list: an entry is "  <name> <summary>" with the summary at column 13; any other line
  // of a summary starts at that column or deeper, so it cannot read as one more server.
  const servers = lines.slice(lines.indexOf('Servers:') + 1).filter((l) => l !== '');
  const names: string[] = [];
  const column = 13;
  for (const line of servers) {
    const entry = /^ {2}(\S+) +(?=\S)/.exec(line);
    if (entry !== null) {
      names.push(entry[1]!);
      assert.equal(entry[0].length, column, `summary column of ${JSON.stringify(line)}`);
    } else {
      assert.match(line, new RegExp(`^ {${column},}\\S`), `a summary's further line under its text: ${JSON.stringify(line)}`);
    }
  }
  assert.deepEqual(names, ['echo', 'owserver', 'websocket', 'proxy', 'fd-front']);
  // The websocket routes: indented under the summary, their descriptions in one column.
  const routes = servers.filter((l) => /^ +(?:GET )?\/\S*  /.test(l));
  assert.equal(routes.length, 4, routes.join('\n'));
  assert.equal(new Set(routes.map((l) => /^ +(?:GET )?\/\S* +/.exec(l)![0].length)).size, 1, routes.join('\n'));
  assert.ok(routes.every((l) => l.startsWith(' '.repeat(column + 2) + (l.trimStart().startsWith('GET') ? 'GET' : '/'))), routes.join('\n'));
});

test('a config with two echo servers prints two ready lines and both echo; SIGTERM exits 0', T, async (t) => {
  const config = configFile(t, { servers: [{ server: 'echo', port: 0 }, { server: 'echo', port: 0 }] });
  const host = await spawnServer({ script: hostBinary, args: ['--config', config], readyCount: 2, t });
  assert.equal(host.ready.length, 2);
  for (const r of host.ready) {
    assert.deepEqual(Object.keys(r), ['event', 'server', 'host', 'port']);
    assert.equal(r.server, 'echo');
    assert.equal(r.host, '127.0.0.1');
    assert.ok(Number.isInteger(r.port) && r.port > 0, `real port ${r.port}`);
  }
  const [a, b] = host.ready.map((r) => r.port);
  assert.notEqual(a, b, 'two servers, two ports');
  assert.equal(host.stdoutLines.length, 2, 'nothing but the two ready lines');

  assert.equal((await echoRoundTrip(a!, Buffer.from('to the first'))).toString(), 'to the first');
  assert.equal((await echoRoundTrip(b!, Buffer.from('to the second'))).toString(), 'to the second');

  // Both at once, with a connection to each open.
  const sa = await connectTo(a!);
  const sb = await connectTo(b!);
  t.after(() => {
    sa.destroy();
    sb.destroy();
  });
  const pa = new SocketProbe(sa);
  const pb = new SocketProbe(sb);
  const [ra, rb] = await Promise.all([echoOnce(pa, Buffer.alloc(100_000, 1)), echoOnce(pb, Buffer.alloc(100_000, 2))]);
  assert.ok(ra.equals(Buffer.alloc(100_000, 1)));
  assert.ok(rb.equals(Buffer.alloc(100_000, 2)));
  sa.end();
  sb.end();
  await pa.until(() => pa.closed, 5_000, 'first closed');
  await pb.until(() => pb.closed, 5_000, 'second closed');

  assert.equal(await host.stop('SIGTERM'), 0, host.stderr);
  const stopped = host.stdoutLines.filter((l) => l.includes('"event":"stopped"')).map((l) => JSON.parse(l) as unknown);
  assert.deepEqual(stopped, [
    { event: 'stopped', server: 'echo', aborted: 0 },
    { event: 'stopped', server: 'echo', aborted: 0 },
  ]);
  for (const port of [a!, b!]) {
    await assert.rejects(connectTo(port, { timeoutMs: 2_000 }), (e: NodeJS.ErrnoException) => e.code === 'ECONNREFUSED');
  }
});

test('per-server options from the config are applied (max-connections)', T, async (t) => {
  const config = configFile(t, { servers: [{ server: 'echo', host: '127.0.0.1', port: 0, options: { 'max-connections': 1, 'over-limit': 'close' } }] });
  const host = await spawnServer({ script: hostBinary, args: ['--config', config], t });
  const first = await connectTo(host.port);
  t.after(() => first.destroy());
  const p1 = new SocketProbe(first);
  await echoOnce(p1, Buffer.from('one'));
  const second = await connectTo(host.port);
  t.after(() => second.destroy());
  const p2 = new SocketProbe(second);
  await p2.until(() => p2.ended || p2.closed, 5_000, 'over-limit connection refused');
  assert.equal(p2.received, 0);
  assert.equal((await echoOnce(p1, Buffer.from('two'))).toString(), 'two');
  assert.equal(await host.stop('SIGTERM'), 0);
});

test('SIGINT exits 0', T, async (t) => {
  const config = configFile(t, { servers: [{ server: 'echo', port: 0 }] });
  const host = await spawnServer({ script: hostBinary, args: ['--config', config], t });
  assert.equal((await echoRoundTrip(host.port, Buffer.from('up'))).toString(), 'up');
  assert.equal(await host.stop('SIGINT'), 0, host.stderr);
  assert.ok(host.stdoutLines.includes('{"event":"stopped","server":"echo","aborted":0}'));
});

test('bad configs exit 2 with a message naming the problem', T, async (t) => {
  const cases: { name: string; content: unknown; message: RegExp }[] = [
    { name: 'invalid JSON', content: '{"servers": [', message: /portico\.json is not valid JSON/ },
    { name: 'not an object', content: '[1, 2]', message: /expected \{"servers": \[ \.\.\. \]\}/ },
    { name: 'no servers', content: { servers: [] }, message: /"servers" is empty/ },
    { name: 'entry without a name', content: { servers: [{ port: 0 }] }, message: /servers\[0\] needs a "server" name/ },
    { name: 'unknown server name', content: { servers: [{ server: 'nope', port: 0 }] }, message: /servers\[0\]: unknown server "nope" \(known: echo, owserver, websocket, proxy, fd-front\)/ },
    { name: 'unknown option', content: { servers: [{ server: 'echo', port: 0, options: { bogus: 1 } }] }, message: /servers\[0\] \(echo\): unknown option --bogus/ },
    { name: 'port out of range', content: { servers: [{ server: 'echo', port: 70000 }] }, message: /servers\[0\] \(echo\): --port: must be <= 65535, got 70000/ },
    { name: 'negative port', content: { servers: [{ server: 'echo', port: -1 }] }, message: /--port: must be >= 0, got -1/ },
    { name: 'bad option value', content: { servers: [{ server: 'echo', port: 0 }, { server: 'echo', port: 0, options: { 'idle-timeout': 'later' } }] }, message: /servers\[1\] \(echo\): --idle-timeout: not a duration/ },
    // Keys nobody reads: each would otherwise run something other than what the file says.
    { name: 'misspelt entry key', content: { servers: [{ server: 'echo', prot: 7999 }] }, message: /: servers\[0\] \(echo\): unknown key "prot", did you mean "port"\? \(known: server, host, port, options\) \[/ },
    { name: 'misspelt "options"', content: { servers: [{ server: 'echo', port: 0, option: { 'max-connections': 1 } }] }, message: /: servers\[0\] \(echo\): unknown key "option", did you mean "options"\?/ },
    { name: 'misspelt "server"', content: { servers: [{ sever: 'echo', port: 0 }] }, message: /: servers\[0\]: unknown key "sever", did you mean "server"\?/ },
    { name: 'an option outside "options"', content: { servers: [{ server: 'echo', port: 0, 'max-connections': 1 }] }, message: /servers\[0\] \(echo\): unknown key "max-connections" \(known: server, host, port, options\); server options go in "options": \{"max-connections": \.\.\.\}/ },
    { name: 'unrelated entry key', content: { servers: [{ server: 'echo', port: 0, colour: 'red' }] }, message: /servers\[0\] \(echo\): unknown key "colour" \(known: server, host, port, options\) \[/ },
    { name: 'a later entry', content: { servers: [{ server: 'echo', port: 0 }, { server: 'websocket', port: 0, hots: '127.0.0.1' }] }, message: /servers\[1\] \(websocket\): unknown key "hots", did you mean "host"\?/ },
    { name: 'misspelt top-level key', content: { server: [{ server: 'echo', port: 0 }] }, message: /portico\.json: unknown key "server", did you mean "servers"\? \(known: servers\) \[/ },
    { name: 'a host flag as a top-level key', content: { servers: [{ server: 'echo', port: 0 }], workrs: 4 }, message: /portico\.json: unknown key "workrs" \(known: servers\); --workers is a command-line flag of portico, not a config key \[/ },
    { name: 'unrelated top-level key', content: { servers: [{ server: 'echo', port: 0 }], comment: 'x' }, message: /portico\.json: unknown key "comment" \(known: servers\) \[/ },
    { name: 'misspelt option', content: { servers: [{ server: 'echo', port: 0, options: { 'max-conections': 1 } }] }, message: /servers\[0\] \(echo\): unknown option --max-conections, did you mean --max-connections\? \(known: / },
    { name: 'a bad owserver device list', content: { servers: [{ server: 'owserver', port: 0, options: { fake: '99' } }] }, message: /servers\[0\] \(owserver\): --fake: fake device "99": family 99 is not simulated/ },
    { name: 'owserver bounds low above high', content: { servers: [{ server: 'owserver', port: 0, options: { clients_persistent_low: 30, clients_persistent_high: 5 } }] }, message: /servers\[0\] \(owserver\): --clients_persistent_low 30 is above --clients_persistent_high 5/ },
    // Every server's own errors carry the entry they are about, those only starting finds included.
    { name: 'a proxy without a backend', content: { servers: [{ server: 'echo', port: 0 }, { server: 'proxy', port: 0 }] }, message: /portico\.json: servers\[1\] \(proxy\): --backend HOST:PORT is required \[/ },
    { name: 'a proxy with a bad backend', content: { servers: [{ server: 'proxy', port: 0, options: { backend: 'nowhere' } }] }, message: /portico\.json: servers\[0\] \(proxy\): --backend: expected HOST:PORT/ },
    { name: 'an unreadable certificate', content: { servers: [{ server: 'echo', port: 0 }, { server: 'echo', port: 0, options: { 'tls-cert': '/nonexistent/cert.pem', 'tls-key': '/nonexistent/key.pem' } }] }, message: /portico\.json: servers\[1\] \(echo\): --tls-cert: cannot read \/nonexistent\/cert\.pem: ENOENT/ },
    { name: '"options" not an object', content: { servers: [{ server: 'echo', port: 0, options: 'max-connections=1' }] }, message: /servers\[0\] \(echo\): "options" must be an object, got "max-connections=1"/ },
  ];
  for (const c of cases) {
    const path = configFile(t, c.content);
    const r = await runNode(hostBinary, ['--config', path]);
    assert.equal(r.code, 2, `${c.name}: exit ${r.code}, stderr ${r.stderr}`);
    assert.match(r.stderr, /^portico: /, c.name);
    assert.match(r.stderr, c.message, `${c.name}: ${r.stderr}`);
    assert.equal(r.stderr.split('\n').filter(Boolean).length, 1, `${c.name}: one line on stderr: ${r.stderr}`);
    assert.ok(!hasReadyLine(r.stdout), `${c.name}: no server may start: ${r.stdout}`);
  }
});

test('a missing config file or an unknown flag exits 2', T, async (t) => {
  const dir = configFile(t, '{}').replace(/portico\.json$/, '');
  const missing = join(dir, 'missing.json');
  const r1 = await runNode(hostBinary, ['--config', missing]);
  assert.equal(r1.code, 2);
  assert.match(r1.stderr, new RegExp(`cannot read config ${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  const r2 = await runNode(hostBinary, ['--bogus']);
  assert.equal(r2.code, 2);
  assert.match(r2.stderr, /^portico: unknown option --bogus/);
});

test('a server whose port is taken: exit non-zero naming the port, no server left running', T, async (t) => {
  const busy = await occupyPort();
  t.after(() => busy.release());
  const config = configFile(t, { servers: [{ server: 'echo', port: 0 }, { server: 'echo', port: busy.port }] });
  const r = await runNode(hostBinary, ['--config', config]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`^portico: cannot listen on 127\\.0\\.0\\.1:${busy.port}: EADDRINUSE`));
  // The first server did listen, but no ready line went out: the start failed as a whole (and the
  // process exited, so the first server was stopped, not leaked).
  assert.deepEqual(r.stdout.split('\n').filter((line) => parseReadyLine(line) !== null), [], r.stdout);
});
