/**
 * The WebSocket example's page in a real browser: Debian's chromium, headless, driven by playwright-core
 * (never a downloaded browser). Two pages: each sees the room's head count, a message typed in one
 * comes back on its echo socket and reaches both through the chat room. Fails (never skips) when
 * chromium is missing: `.ci/run` installs it.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { spawnServer, websocketBinary } from '../helpers/spawn-server.js';

const CHROMIUM = process.env['PORTICO_CHROMIUM'] ?? '/usr/bin/chromium';
// The flags this sandbox needs: no background networking (its connections are refused here), no sandbox as root.
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

test('the page in headless chromium: open, count, echo, broadcast to a second page', { timeout: 60_000 }, async (t) => {
  assert.ok(existsSync(CHROMIUM), `chromium not found at ${CHROMIUM} (apt-get install chromium, or set PORTICO_CHROMIUM)`);
  const server = await spawnServer({ script: websocketBinary, args: ['--port', '0'], t });
  const url = `http://127.0.0.1:${server.port}/`;
  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 30_000 });
  t.after(() => browser.close());
  const one = await browser.newPage();
  await one.goto(url);
  await one.locator('#status', { hasText: 'open' }).waitFor({ timeout: 10_000 });
  await one.locator('#count', { hasText: '1' }).waitFor({ timeout: 10_000 });
  const two = await browser.newPage();
  await two.goto(url);
  await two.locator('#status', { hasText: 'open' }).waitFor({ timeout: 10_000 });
  // Both pages see two people in the room: the join was broadcast to the first.
  await one.locator('#count', { hasText: '2' }).waitFor({ timeout: 10_000 });
  await two.locator('#count', { hasText: '2' }).waitFor({ timeout: 10_000 });

  await one.fill('#message', 'héllo from one');
  await one.click('#send');
  await one.locator('#echo-log li', { hasText: 'héllo from one' }).waitFor({ timeout: 10_000 });
  await one.locator('#chat-log li', { hasText: 'héllo from one' }).waitFor({ timeout: 10_000 });
  await two.locator('#chat-log li', { hasText: 'héllo from one' }).waitFor({ timeout: 10_000 });
  assert.equal(await two.locator('#echo-log li').count(), 0, 'the echo goes to its sender only');

  // A page that leaves is counted out.
  await two.close();
  await one.locator('#count', { hasText: '1' }).waitFor({ timeout: 10_000 });

  server.child.kill('SIGTERM');
  const exit = await server.exited;
  assert.equal(exit.code, 0, server.stderr);
});

test('--deflate with headless chromium: permessage-deflate negotiated, large and small messages echo in order', { timeout: 60_000 }, async (t) => {
  assert.ok(existsSync(CHROMIUM), `chromium not found at ${CHROMIUM} (apt-get install chromium, or set PORTICO_CHROMIUM)`);
  const server = await spawnServer({ script: websocketBinary, args: ['--port', '0', '--deflate'], t });
  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 30_000 });
  t.after(() => browser.close());
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${server.port}/`);
  // The browser compresses every message with context takeover; the server compresses from 1 KiB on.
  const result = await page.evaluate(async (url) => {
    const ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = reject;
    });
    const sent: string[] = [];
    for (let i = 0; i < 20; i++) sent.push(JSON.stringify({ i, text: 'héllo wörld '.repeat(i % 2 === 0 ? 3 : 3000) }));
    const got: string[] = [];
    const done = new Promise<void>((resolve) => {
      ws.onmessage = (event) => {
        got.push(String(event.data));
        if (got.length === sent.length) resolve();
      };
    });
    for (const m of sent) ws.send(m);
    await done;
    const extensions = ws.extensions;
    ws.close(1000);
    return { extensions, same: got.every((m, i) => m === sent[i]), count: got.length };
  }, `ws://127.0.0.1:${server.port}/echo`);
  assert.deepEqual(result, { extensions: 'permessage-deflate', same: true, count: 20 });
  server.child.kill('SIGTERM');
  const exit = await server.exited;
  assert.equal(exit.code, 0, server.stderr);
});
