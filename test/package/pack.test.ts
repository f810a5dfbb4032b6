/**
 * The published package, as a consumer gets it: `npm pack` (whose prepack builds), install the tarball
 * into a scratch ESM project, run a server written against `import { Server } from 'portico'` over a
 * real socket, run the packaged binaries, and type-check a TypeScript consumer against the shipped
 * declarations with the repo's own tsc.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { echoRoundTrip, repoRoot, runToExit, spawnServer } from '../helpers/spawn-server.js';

/**
 * npm and tsc need no coverage collection (c8 sets NODE_V8_COVERAGE for children). Set to undefined,
 * not deleted: child_process copies it from process.env into any env that lacks the key.
 */
function toolEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_V8_COVERAGE: undefined };
  delete env['NODE_OPTIONS'];
  return env;
}

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const repoManifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { name: string; version: string };

test('npm pack → npm install → import { Server } from "portico" works, with types', { timeout: 180_000 }, async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'portico-pack-test-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const packDir = join(work, 'pack');
  const project = join(work, 'consumer');
  const env = toolEnv();

  // 1. Pack (prepack runs the build).
  mkdirSync(packDir);
  const pack = await runToExit(npm, ['pack', '--pack-destination', packDir], { cwd: repoRoot, env, timeoutMs: 120_000, t });
  assert.equal(pack.code, 0, `npm pack failed:\n${pack.stdout}\n${pack.stderr}`);
  const tarballs = readdirSync(packDir).filter((f) => f.endsWith('.tgz'));
  assert.deepEqual(tarballs, [`${repoManifest.name}-${repoManifest.version}.tgz`]);
  const tarball = join(packDir, tarballs[0]!);

  // What went in: the framework with declarations, the binaries, the default host config; no tests, no maps.
  const list = await runToExit('tar', ['-tzf', tarball], { env, timeoutMs: 30_000, t });
  assert.equal(list.code, 0, list.stderr);
  const files = list.stdout.split('\n').filter(Boolean);
  for (const f of [
    'package/package.json',
    'package/dist/framework/index.js',
    'package/dist/framework/index.d.ts',
    'package/dist/examples/echo/main.js',
    'package/dist/examples/host/main.js',
    'package/examples/host/default-config.json',
  ]) {
    assert.ok(files.includes(f), `tarball has ${f}`);
  }
  assert.deepEqual(files.filter((f) => f.startsWith('package/dist/test/') || f.startsWith('package/dist/harness/bench/')), [], 'no tests or benches');
  assert.deepEqual(files.filter((f) => f.endsWith('.map') || f.endsWith('.tsbuildinfo')), [], 'no source maps or build info');
  assert.deepEqual(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')), [], 'no TypeScript sources');

  // 2. Install it into a scratch ESM project. --prefer-offline, not --offline: `npm ci` caches the
  //    tarballs of the harness's two runtime dependencies but not the registry metadata a plain
  //    `npm install` resolves them with, so on a fresh machine (empty npm cache) that comes from the
  //    registry; once cached, nothing is fetched.
  mkdirSync(project, { recursive: true });
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'portico-consumer', version: '1.0.0', private: true, type: 'module' }, null, 2));
  const install = await runToExit(npm, ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], { cwd: project, env, timeoutMs: 120_000, t });
  assert.equal(install.code, 0, `npm install failed:\n${install.stdout}\n${install.stderr}`);
  const installed = join(project, 'node_modules', 'portico');
  assert.ok(existsSync(join(installed, 'dist/framework/index.d.ts')), 'type declarations are installed');
  assert.ok(existsSync(join(installed, 'dist/framework/index.js')));
  const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as { version: string; dependencies?: object };
  assert.equal(manifest.version, repoManifest.version);
  // Only the harness bin has runtime dependencies; the framework itself imports nothing but node: modules.
  assert.deepEqual(Object.keys(manifest.dependencies ?? {}).sort(), ['execa', 'why-is-node-running']);
  const frameworkImports = readdirSync(join(installed, 'dist/framework'), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.js'))
    .flatMap((f) => [...readFileSync(join(installed, 'dist/framework', f), 'utf8').matchAll(/from '([^']+)'/g)].map((m) => m[1]!))
    .filter((spec) => !spec.startsWith('.') && !spec.startsWith('node:'));
  assert.deepEqual(frameworkImports, [], 'the framework has no third-party imports');

  // 3. A consumer server written against the package name.
  writeFileSync(
    join(project, 'server.js'),
    `import { Server, PorticoError, ErrorCodes } from 'portico';
if (typeof PorticoError !== 'function' || ErrorCodes.LISTEN !== 'PORTICO_ERR_LISTEN') throw new Error('exports missing');
const server = new Server({
  host: '127.0.0.1',
  port: 0,
  handler: {
    onConnectionEstablished(conn) { conn.read(); },
    onReadCompleted(conn, buffer) { if (conn.write(buffer) === 'queued') conn.read(); },
    onWritable(conn) { conn.read(); },
  },
});
const stop = async () => { const r = await server.stop(); console.log(JSON.stringify({ event: 'stopped', server: 'consumer', aborted: r.aborted })); };
process.on('SIGTERM', stop);
const address = await server.listen();
console.log(JSON.stringify({ event: 'listening', server: 'consumer', host: address.address, port: address.port }));
`,
  );
  const consumer = await spawnServer({ script: join(project, 'server.js'), cwd: project, env, t });
  assert.equal(consumer.ready[0]!.server, 'consumer');
  assert.equal((await echoRoundTrip(consumer.port, Buffer.from('through the package'))).toString(), 'through the package');
  const big = Buffer.alloc(256 * 1024, 7);
  assert.ok((await echoRoundTrip(consumer.port, big)).equals(big));
  assert.equal(await consumer.stop('SIGTERM'), 0, consumer.stderr);
  assert.ok(consumer.stdoutLines.includes('{"event":"stopped","server":"consumer","aborted":0}'));

  // 4. The packaged binaries run from node_modules/.bin.
  const echoBin = join(project, 'node_modules', '.bin', 'portico-echo');
  const hostBin = join(project, 'node_modules', '.bin', 'portico');
  assert.ok(existsSync(echoBin) && existsSync(hostBin), 'bins linked');
  const echoHelp = await runToExit(echoBin, ['--help'], { cwd: project, env, timeoutMs: 10_000, t });
  assert.equal(echoHelp.code, 0, echoHelp.stderr);
  assert.match(echoHelp.stdout, /^Usage: portico-echo/);
  // Every bin the package declares is there and answers --help (the harness needs its runtime dependencies).
  for (const [bin, usage] of [
    ['portico-owserver', /^Usage: portico-owserver/],
    ['portico-ow', /^Usage: portico-ow /],
    ['portico-harness', /^Usage: portico-harness/],
    ['portico-fd-front', /^Usage: portico-fd-front/],
  ] as const) {
    const help = await runToExit(join(project, 'node_modules', '.bin', bin), ['--help'], { cwd: project, env, timeoutMs: 10_000, t });
    assert.equal(help.code, 0, `${bin}: ${help.stderr}`);
    assert.match(help.stdout, usage);
  }
  const hostHelp = await runToExit(hostBin, ['--help'], { cwd: project, env, timeoutMs: 10_000, t });
  assert.equal(hostHelp.code, 0, hostHelp.stderr);
  // The default config the host points at ships inside the package.
  const defaultConfig = /--config <value>\s+.*\(default: (.+)\)$/m.exec(hostHelp.stdout)?.[1];
  assert.ok(defaultConfig !== undefined, hostHelp.stdout);
  assert.ok(realpathSync(defaultConfig).startsWith(realpathSync(installed)), `default config inside the installed package: ${defaultConfig}`);
  assert.ok(existsSync(defaultConfig), `default config exists: ${defaultConfig}`);
  const installedEcho = await spawnServer({ script: join(installed, 'dist/examples/echo/main.js'), args: ['--port', '0'], cwd: project, env, t });
  assert.equal((await echoRoundTrip(installedEcho.port, Buffer.from('packaged echo'))).toString(), 'packaged echo');
  assert.equal(await installedEcho.stop('SIGTERM'), 0, installedEcho.stderr);
  // The installed WebSocket example serves its page.
  const installedWs = await spawnServer({ script: join(installed, 'dist/examples/websocket/main.js'), args: ['--port', '0'], cwd: project, env, t });
  const page = await fetch(`http://127.0.0.1:${installedWs.port}/`);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<title>portico WebSocket<\/title>/);
  assert.equal(await installedWs.stop('SIGTERM'), 0, installedWs.stderr);

  // 5. A TypeScript consumer type-checks against the shipped declarations (NodeNext resolution).
  writeFileSync(
    join(project, 'consumer.ts'),
    `import { Server, type ServerOptions, type ConnectionCallbacks, type StopResult, PorticoError, ErrorCodes, type ErrorCode } from 'portico';
import { webSocketServer, broadcast, connectWebSocket, type WebSocket, type WebSocketHandler, type SendResult } from 'portico';

const handler: ConnectionCallbacks<{ count: number }> = {
  onConnectionEstablished(conn) { conn.read(); },
  onReadCompleted(conn, buffer) {
    conn.user.count += buffer.length;
    if (conn.write(buffer) === 'queued') conn.read();
  },
};
const options: ServerOptions<{ count: number }> = { host: '127.0.0.1', port: 0, handler, createUser: () => ({ count: 0 }), maxConnections: 10 };
const server: Server<{ count: number }> = new Server(options);
export async function run(): Promise<number> {
  const { port } = await server.listen();
  const result: StopResult = await server.stop();
  const code: ErrorCode = ErrorCodes.LISTEN;
  const error = new PorticoError(code, 'server', 'x');
  return port + result.aborted + error.message.length;
}

// The declarations are real types, not \`any\`: each of these must be an error.
// @ts-expect-error handler is required
new Server({ port: 0 });
// @ts-expect-error port is a number
new Server({ port: '7007', handler });
// @ts-expect-error not an error code
const bad: ErrorCode = 'PORTICO_ERR_NOPE';
void bad;
// The WebSocket layer, as the README shows it.
const room = new Set<WebSocket<number>>();
const chat: WebSocketHandler<number> = {
  onOpen: (ws) => { ws.user = room.size; room.add(ws); },
  onMessage: (_ws, data) => { broadcast(room, data); },
  onClose: (ws, code: number, reason: string, wasClean: boolean) => { room.delete(ws); void [code, reason, wasClean]; },
};
export const wsServer = new Server({
  port: 0,
  handler: webSocketServer<number>({ route: (head) => (head.target === '/chat' ? { kind: 'websocket', handler: chat } : null), heartbeatMs: 30_000 }),
});
export async function wsClient(): Promise<WebSocket<number>> {
  return connectWebSocket<number>({ host: '127.0.0.1', port: 8080, path: '/chat', version: 8, handler: chat, user: 1 });
}
export function wsInternals(ws: WebSocket<number>): void {
  // @ts-expect-error the upgrade layer's entry points are internal
  ws.received;
  // @ts-expect-error not a send result
  const r: SendResult = 'sent';
  void r;
}
// Internals are not in the published types.
export function internals(s: Server<{ count: number }>): void {
  for (const conn of s.connections) {
    // @ts-expect-error the server's drain is internal
    conn.beginDrain();
  }
  // @ts-expect-error the pool's landing buffer is internal
  void s.pool.landing;
}
`,
  );
  writeFileSync(
    join(project, 'tsconfig.json'),
    JSON.stringify(
      {
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          types: ['node'],
          typeRoots: [join(repoRoot, 'node_modules', '@types')],
        },
        files: ['consumer.ts'],
      },
      null,
      2,
    ),
  );
  const tsc = await runToExit(join(repoRoot, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.json'], { cwd: project, env, timeoutMs: 60_000, t });
  assert.equal(tsc.code, 0, `tsc failed:\n${tsc.stdout}\n${tsc.stderr}`);

  // And the check is not vacuous: a wrong use of the package's types fails to compile.
  writeFileSync(join(project, 'consumer.ts'), `import { Server } from 'portico';\nconst s: Server = new Server({ handler: {} });\nvoid s;\n`);
  const tscBad = await runToExit(join(repoRoot, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.json'], { cwd: project, env, timeoutMs: 60_000, t });
  assert.notEqual(tscBad.code, 0);
  assert.match(tscBad.stdout, /consumer\.ts\(2,\d+\): error TS2322: .*HandlerSource/);
});
