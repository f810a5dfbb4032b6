/**
 * The routes websocket-bench compares, on every server it drives: portico-websocket, the `ws`
 * baseline (harness/bench/ws-baseline-server.ts) and the floor (harness/bench/ws-floor-server.ts,
 * the bench's measuring stick: it must answer the load correctly, or its figures mean nothing). /echo sends every message back as it came, text as
 * text and binary as binary; /broadcast sends every message as it came to everyone on /broadcast,
 * the sender included, and to no one elsewhere; SIGTERM exits 0. The baseline also says it runs ws
 * with the native bufferutil.
 */
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { test } from 'node:test';
import WebSocket from 'ws';
import { repoRoot, spawnServer, websocketBinary, withTimeout } from '../helpers/spawn-server.js';

const baselineScript = resolve(repoRoot, 'dist/harness/bench/ws-baseline-server.js');
const floorScript = resolve(repoRoot, 'dist/harness/bench/ws-floor-server.js');

interface Received {
  readonly hex: string;
  readonly isBinary: boolean;
}

const hex = (text: string): string => Buffer.from(text, 'utf8').toString('hex');

/** An open client on `path` that records every message it gets. */
async function open(port: number, path: string): Promise<{ ws: WebSocket; got: Received[]; next(count: number): Promise<Received[]> }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, { perMessageDeflate: false });
  const got: Received[] = [];
  const waiters: (() => void)[] = [];
  ws.on('message', (data, isBinary) => {
    got.push({ hex: Buffer.from(data as Buffer).toString('hex'), isBinary });
    for (const wake of waiters.splice(0)) wake();
  });
  await withTimeout(new Promise((ok, fail) => ws.once('open', ok).once('error', fail)), 5000, `open ${path}`);
  const next = async (count: number): Promise<Received[]> => {
    await withTimeout(
      (async () => {
        while (got.length < count) await new Promise<void>((wake) => waiters.push(wake));
      })(),
      5000,
      () => `${count} message(s) on ${path}, got ${JSON.stringify(got)}`,
    );
    return got.slice(0, count);
  };
  return { ws, got, next };
}

for (const [name, script] of [
  ['portico-websocket', websocketBinary],
  ['the ws baseline', baselineScript],
  ['the floor', floorScript],
] as const) {
  test(`${name}: /echo keeps text and binary apart; /broadcast reaches everyone on it, sender included; SIGTERM exits 0`, { timeout: 30_000 }, async (t) => {
    const server = await spawnServer({ script, args: ['--port', '0'], t });
    if (script === baselineScript) {
      const ready = JSON.parse(server.stdoutLines[0]!) as Record<string, unknown>;
      assert.equal(ready['bufferutil'], 'native', 'ws runs with the native bufferutil, as its users install it');
    }
    const echo = await open(server.port, '/echo');
    echo.ws.send('héllo');
    echo.ws.send(Buffer.from('bytes'));
    // 70,000 bytes: a 64-bit length, and more than one read on the server (the floor parses across reads).
    const big = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7) & 0xff));
    echo.ws.send(big);
    assert.deepEqual(await echo.next(3), [
      { hex: hex('héllo'), isBinary: false },
      { hex: hex('bytes'), isBinary: true },
      { hex: big.toString('hex'), isBinary: true },
    ]);

    const a = await open(server.port, '/broadcast');
    const b = await open(server.port, '/broadcast');
    const c = await open(server.port, '/broadcast');
    a.ws.send('to all');
    b.ws.send(Buffer.from([0x00, 0xff]), { binary: true });
    for (const member of [a, b, c]) {
      // a's and b's sends race on the server: each member gets both, in the server's one order.
      const got = await member.next(2);
      assert.deepEqual(
        [...got].sort((x, y) => Number(x.isBinary) - Number(y.isBinary)),
        [
          { hex: hex('to all'), isBinary: false },
          { hex: '00ff', isBinary: true },
        ],
      );
    }
    // The echo client is not on /broadcast: it got its two echoes and nothing else.
    await new Promise((settle) => setTimeout(settle, 100));
    assert.equal(echo.got.length, 3);
    assert.equal(c.got.length, 2);

    for (const member of [echo, a, b, c]) member.ws.close();
    assert.equal(await server.stop('SIGTERM', 10_000), 0);
  });
}
