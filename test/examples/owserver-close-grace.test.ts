/**
 * Beyond owserver: after a non-persistent answer the portico server waits briefly (--close-grace)
 * for the client's FIN, so TIME_WAIT lands on the client, as The Server Framework's TIME_WAIT advice
 * has it; with --close-grace 0 it closes at once, like the real owserver.
 */
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { test } from 'node:test';
import { countTimeWait } from '../../harness/time-wait.js';
import { startPortico } from '../helpers/owserver-portico.js';
import { request, SG_OWSHELL, Type } from '../helpers/owserver-wire.js';

const T = { timeout: 30_000 };
const READ = request(Type.READ, '/settings/timeout/volatile', { sg: SG_OWSHELL, size: 65536 });

/**
 * One non-persistent READ; `clientCloses`: end our side as soon as the answer is in. Resolves with
 * ms from answer to server FIN (or -1). `ports` collects the client's own port.
 */
function singleShot(port: number, clientCloses: boolean, ports?: Set<number>): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    socket.on('connect', () => ports?.add(socket.localPort!));
    let answeredAt = 0;
    let got = 0;
    socket.on('data', (chunk: Buffer) => {
      got += chunk.length;
      if (got >= 36 && answeredAt === 0) {
        answeredAt = performance.now();
        if (clientCloses) socket.end();
      }
    });
    socket.on('end', () => {
      const ms = answeredAt === 0 ? -1 : performance.now() - answeredAt;
      socket.end();
      resolve(ms);
    });
    socket.on('error', reject);
    socket.setTimeout(5000, () => reject(new Error('no end')));
    socket.write(READ);
  });
}

// The clients' own ports pick out this test's sockets: the kernel may have handed the server a port
// on which an earlier test's server still has TIME_WAIT sockets. The grace is long: clients and server
// share one event loop here, and a process descheduled past a short grace wakes to the server's timer
// before the client's read (timers run before I/O in a loop turn), so the server would close first.
test('single-shot clients that close first leave no TIME_WAIT on the server', T, async (t) => {
  const server = await startPortico({ 'close-grace': '5s' }, { t });
  const ports = new Set<number>();
  for (let i = 0; i < 50; i++) await singleShot(server.port, true, ports);
  await new Promise((r) => setTimeout(r, 100));
  const counts = countTimeWait(server.port, undefined, ports);
  assert.equal(counts.server, 0, `server-side TIME_WAIT ${counts.server}`);
  // A port whose TIME_WAIT the kernel reused for a later client (tcp_tw_reuse) is in the set once.
  assert.equal(counts.client, ports.size, 'the clients hold the TIME_WAIT');
});

test('a client that does not close is closed by the server after the grace; --close-grace 0 closes at once', T, async (t) => {
  // A grace of 2 s: the client here shares the server's loop, and its answer and FIN are timed by
  // that loop, which a loaded machine may hold up for a few hundred ms.
  const graceful = await startPortico({ 'close-grace': '2s' }, { t });
  const waited = await singleShot(graceful.port, false);
  assert.ok(waited >= 1500 && waited < 4000, `server FIN ${waited.toFixed(0)} ms after the answer`);
  const eager = await startPortico({ 'close-grace': 0 }, { t });
  const immediate = await singleShot(eager.port, false);
  assert.ok(immediate >= 0 && immediate < 1000, `server FIN ${immediate.toFixed(0)} ms after the answer`);
  const ports = new Set<number>();
  for (let i = 0; i < 20; i++) await singleShot(eager.port, true, ports);
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(countTimeWait(eager.port, undefined, ports).server > 0, 'closing first puts TIME_WAIT on the server');
});
