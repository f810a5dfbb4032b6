import assert from 'node:assert/strict';
import * as net from 'node:net';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { countTimeWait, parseProcNetTcp, TimeWaitSampler } from '../../harness/time-wait.js';
import { assertNoTimeWaitOverflow, timeWaitOverflows } from '../helpers/tcp-states.js';

/**
 * Real /proc/net/tcp rows from this machine: a server on 127.0.0.1:38545 (0x9691) holding two
 * connections (its LISTEN row, both accepted ends, both client ends), plus TIME_WAIT rows seen at the
 * same time — server-side ones on port 14312 (0x37E8), client-side ones towards port 43915 (0xAB8B).
 */
const capturedTcp = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode                                                     
   0: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1673 1 00000000042bd0c0 100 0 0 10 0                      
   2: 0100007F:37E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 88292 1 00000000582d11d6 100 0 0 10 0                     
   3: 0100007F:9691 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 146305 1 000000004748523b 100 0 0 10 0                    
   4: 0100007F:37E8 0100007F:C9DE 06 00000000:00000000 03:000002D3 00000000     0        0 0 3 0000000098e51bbb                                      
   5: 0100007F:37E8 0100007F:D7E2 06 00000000:00000000 03:000012B6 00000000     0        0 0 3 000000002babd31c                                      
  24: 0100007F:E9BA 0100007F:AB8B 06 00000000:00000000 03:00001654 00000000     0        0 0 3 00000000f79478fd                                      
  25: 0100007F:E9C0 0100007F:AB8B 06 00000000:00000000 03:00001654 00000000     0        0 0 3 00000000d8be1a0e                                      
  26: 0100007F:E9C6 0100007F:AB8B 06 00000000:00000000 03:00001656 00000000     0        0 0 3 0000000035b24407                                      
 145: 0100007F:9691 0100007F:8EA6 01 00000000:00000000 00:00000000 00000000     0        0 146309 1 00000000d2122339 20 0 0 10 -1                    
7906: 0100007F:9691 0100007F:8E9C 01 00000000:00000000 00:00000000 00000000     0        0 146308 1 000000002e974166 20 0 0 10 -1                    
8831: 0100007F:8E9C 0100007F:9691 01 00000000:00000000 00:00000000 00000000     0        0 146306 2 0000000053cb2502 20 0 0 10 -1                    
8833: 0100007F:8EA6 0100007F:9691 01 00000000:00000000 00:00000000 00000000     0        0 146307 2 00000000f455e23a 20 0 0 10 -1                    
`;

/** Hand-written tcp6: a LISTEN on [::1]:8080, one server-side and two client-side TIME_WAIT rows. */
const handTcp6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5001 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000001000000:1F90 00000000000000000000000001000000:C350 06 00000000:00000000 03:00001000 00000000     0        0 0 3 0000000000000000
   2: 00000000000000000000000001000000:C351 00000000000000000000000001000000:1F90 06 00000000:00000000 03:00001000 00000000     0        0 0 3 0000000000000000
   3: 00000000000000000000000001000000:C352 00000000000000000000000001000000:1F90 06 00000000:00000000 03:00001000 00000000     0        0 0 3 0000000000000000
`;

test('parseProcNetTcp reads hex ports and states from real /proc/net/tcp rows', () => {
  const rows = parseProcNetTcp(capturedTcp);
  assert.equal(rows.length, 12);
  assert.deepEqual(rows[0], { localPort: 2024, remotePort: 0, state: 0x0a });
  const onServer = rows.filter((r) => r.localPort === 38545);
  assert.deepEqual(onServer.map((r) => r.state), [0x0a, 0x01, 0x01]);
  const toServer = rows.filter((r) => r.remotePort === 38545);
  assert.deepEqual(toServer.map((r) => r.localPort), [0x8e9c, 0x8ea6]);
});

test('parseProcNetTcp reads tcp6 rows and refuses text that is not a socket table', () => {
  assert.deepEqual(parseProcNetTcp(handTcp6)[2], { localPort: 0xc351, remotePort: 8080, state: 6 });
  assert.deepEqual(parseProcNetTcp(''), []);
  assert.throws(() => parseProcNetTcp('hello\nworld\n'), /line 1 is not a socket row/);
});

test('countTimeWait counts by side: local port = server, remote port = client', () => {
  assert.deepEqual(countTimeWait(14312, [capturedTcp]), { server: 2, client: 0 });
  assert.deepEqual(countTimeWait(43915, [capturedTcp]), { server: 0, client: 3 });
  assert.deepEqual(countTimeWait(38545, [capturedTcp]), { server: 0, client: 0 });
  assert.deepEqual(countTimeWait(8080, [capturedTcp, handTcp6]), { server: 1, client: 2 });
});

test('countTimeWait with peerPorts: only the rows between the port and those clients', () => {
  assert.deepEqual(countTimeWait(14312, [capturedTcp], new Set([0xc9de])), { server: 1, client: 0 });
  assert.deepEqual(countTimeWait(14312, [capturedTcp], new Set([0xc9de, 0xd7e2])), { server: 2, client: 0 });
  assert.deepEqual(countTimeWait(14312, [capturedTcp], new Set([0xe9ba])), { server: 0, client: 0 });
  assert.deepEqual(countTimeWait(43915, [capturedTcp], new Set([0xe9ba, 0xe9c6])), { server: 0, client: 2 });
  assert.deepEqual(countTimeWait(43915, [capturedTcp], new Set()), { server: 0, client: 0 });
});

test('countTimeWait reads this machine\'s tables by default: a client that closes first holds the TIME_WAIT', async (t) => {
  let serverClosed!: () => void;
  const closed = new Promise<void>((resolve) => (serverClosed = resolve));
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('end', () => socket.end());
    socket.on('close', serverClosed);
    socket.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const { port } = server.address() as net.AddressInfo;
  const client = net.connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve) => client.on('connect', resolve));
  const clientPort = client.localPort!;
  client.end();
  client.resume();
  await Promise.all([closed, new Promise<void>((resolve) => client.on('close', () => resolve()))]);
  assert.deepEqual(countTimeWait(port, undefined, new Set([clientPort])), { server: 0, client: 1 });
});

test('the test rigs\' TIME_WAIT overflow guard: reads the kernel\'s counter, throws only when it grew', () => {
  const now = timeWaitOverflows();
  assert.ok(now !== null && Number.isInteger(now) && now >= 0, `TCPTimeWaitOverflow ${now}`);
  assert.throws(() => assertNoTimeWaitOverflow(now - 1, 'a case'), /a case: the kernel's TIME_WAIT table overflowed meanwhile/);
  assert.doesNotThrow(() => assertNoTimeWaitOverflow(null, 'no reading at the start'));
  assert.doesNotThrow(() => assertNoTimeWaitOverflow(Number.MAX_SAFE_INTEGER, 'not grown'));
});

test('TimeWaitSampler: before, after, peak and timed samples from injected tables', () => {
  const row = (n: number, local: number, remote: number): string =>
    `${String(n).padStart(4)}: 0100007F:${local.toString(16).toUpperCase().padStart(4, '0')} 0100007F:${remote.toString(16).toUpperCase().padStart(4, '0')} 06 00000000:00000000 03:00001000 00000000     0        0 0 3 0000000000000000`;
  const tables = [
    [],
    [[row(0, 9000, 40000), row(1, 9000, 40001), row(2, 40002, 9000)].join('\n')],
    [row(0, 9000, 40000)],
  ];
  let reads = 0;
  let clock = 1000;
  const sampler = new TimeWaitSampler(9000, { readTables: () => tables[Math.min(reads++, 2)]!, now: () => (clock += 100) });
  assert.throws(() => sampler.stop(), /before start/);
  sampler.start();
  assert.throws(() => sampler.start(), /twice/);
  (sampler as unknown as { sample(): void }).sample(); // one timer tick, without waiting for it
  const result = sampler.stop();
  assert.equal(result.port, 9000);
  assert.deepEqual(result.before, { server: 0, client: 0 });
  assert.deepEqual(result.peak, { server: 2, client: 1 });
  assert.deepEqual(result.after, { server: 1, client: 0 });
  assert.deepEqual(result.samples, [
    { t: 0, server: 0, client: 0 },
    { t: 100, server: 2, client: 1 },
    { t: 200, server: 1, client: 0 },
  ]);
  assert.equal(result.netns, false);
  assert.match(result.note ?? '', /host network namespace.*tcp_tw_reuse/);
  assert.equal(sampler.stop(), result);

  const inNamespace = new TimeWaitSampler(9000, { netns: true, readTables: () => [] });
  inNamespace.start();
  const exact = inNamespace.stop();
  assert.equal(exact.netns, true);
  assert.equal(exact.note, undefined);
});

test('a real server that closes first leaves TIME_WAIT on its own port', { timeout: 20_000 }, async (t) => {
  // The server sends FIN first; the client's close answers it, so TIME_WAIT stays with the server.
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.end('bye');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const { port } = server.address() as net.AddressInfo;
  const sampler = new TimeWaitSampler(port, { intervalMs: 20 });
  sampler.start();
  const clientPorts = new Set<number>();
  for (let i = 0; i < 20; i++) {
    await new Promise<void>((resolve, reject) => {
      const client = net.connect(port, '127.0.0.1');
      client.on('connect', () => clientPorts.add(client.localPort!));
      client.on('error', reject);
      client.on('close', () => resolve());
      client.resume();
    });
  }
  // Between start and stop the tables are read off the main thread: on a busy host one read takes
  // 100-200 ms, so give it time for a few.
  await sleep(700);
  const result = sampler.stop();
  // The sampler counts by port alone, and the kernel may have handed out a port on which an earlier
  // server's TIME_WAIT sockets still live: its counts are read relative to `before`; this run's own
  // sockets are picked out by the clients' ports.
  const own = countTimeWait(port, undefined, clientPorts);
  assert.ok(own.server > 0, `server-side TIME_WAIT expected: ${JSON.stringify(own)}`);
  assert.equal(own.client, 0, 'the clients closed second: no TIME_WAIT on their ends');
  assert.ok(result.after.server > result.before.server, `the sampler saw them: ${JSON.stringify(result)}`);
  assert.ok(result.peak.server >= result.after.server);
  assert.ok(result.samples.length >= 3);
});
