import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { findOwnMemoryCgroup, type MemoryCap, parseSize, prepareMemoryCap } from '../../harness/memory-cap.js';

const MiB = 1024 * 1024;

/** Grows by 4 MiB of touched memory every 10 ms, forever (until killed; the test bounds it). */
const allocateForever = 'const keep = []; setInterval(() => { keep.push(Buffer.alloc(4 * 1024 * 1024, 1)); }, 10);';
const idleBriefly = 'setTimeout(() => {}, 800);';

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Spawns `node -e script` through the cap's wrapper, attaches, and waits (bounded) for the exit. */
async function runUnder(cap: MemoryCap, script: string, onSpawn?: (pid: number) => Promise<void>): Promise<Exit> {
  const [command, ...args] = cap.wrapCommand([process.execPath, '-e', script]);
  const child = spawn(command!, args, { stdio: 'ignore' });
  const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  cap.attach(child.pid!);
  const guard = setTimeout(() => child.kill('SIGKILL'), 15_000);
  try {
    await onSpawn?.(child.pid!);
    return await exited;
  } finally {
    clearTimeout(guard);
  }
}

/** The memory cgroup directory `pid` is in, read from /proc/<pid>/cgroup. */
function memoryCgroupOf(pid: number): string {
  const { mount } = findOwnMemoryCgroup(readFileSync('/proc/self/mountinfo', 'utf8'), '0:memory:/\n');
  const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.split(':')[1]?.split(',').includes('memory'));
  return join(mount, line!.split(':').slice(2).join(':'));
}

/** The wrapper's `sh` moves itself into the group a moment after spawn: wait (bounded) for that. */
async function groupOnceJoined(pid: number): Promise<string> {
  const deadline = Date.now() + 5_000;
  let group = memoryCgroupOf(pid);
  while (!group.includes('portico-harness-') && Date.now() < deadline) {
    await sleep(5);
    group = memoryCgroupOf(pid);
  }
  return group;
}

test('parseSize: binary units, plain bytes, clear errors', () => {
  assert.equal(parseSize('512K'), 512 * 1024);
  assert.equal(parseSize('256M'), 256 * MiB);
  assert.equal(parseSize('1G'), 1024 * MiB);
  assert.equal(parseSize('1.5g'), 1536 * MiB);
  assert.equal(parseSize('64MiB'), 64 * MiB);
  assert.equal(parseSize('64MB'), 64 * MiB);
  assert.equal(parseSize(' 4096 '), 4096);
  assert.equal(parseSize('100B'), 100);
  for (const bad of ['', 'M', '-1M', '12X', '1e6', 'lots']) {
    assert.throws(() => parseSize(bad), /invalid size .*expected bytes with an optional K, M, G or T suffix/, bad);
  }
  assert.throws(() => parseSize('99999999T'), /too large/);
});

test('findOwnMemoryCgroup reads the v1 mount and this process\'s group', () => {
  const mountinfo = [
    '32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu',
    '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
  ].join('\n');
  assert.deepEqual(findOwnMemoryCgroup(mountinfo, '5:devices:/\n4:memory:/process_api/abc\n'), {
    mount: '/sys/fs/cgroup/memory',
    own: '/sys/fs/cgroup/memory/process_api/abc',
  });
  // In a container the mount's root is the container's own group.
  const containerMount = '35 31 0:32 /docker/x /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory';
  assert.equal(findOwnMemoryCgroup(containerMount, '4:memory:/docker/x\n').own, '/sys/fs/cgroup/memory');
  assert.throws(() => findOwnMemoryCgroup('41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw', ''), /no cgroup v1 memory controller/);
});

test('cgroup-v1: a process allocating past a 64M cap is OOM-killed and killedByCap is true', { timeout: 30_000 }, async (t) => {
  const cap = await prepareMemoryCap(64 * MiB, { sampleIntervalMs: 20 });
  t.after(() => cap.cleanup().catch(() => {}));
  assert.equal(cap.method, 'cgroup-v1', cap.note);
  let group = '';
  const exit = await runUnder(cap, allocateForever, async (pid) => void (group = await groupOnceJoined(pid)));
  assert.equal(exit.signal, 'SIGKILL');
  assert.match(group, /portico-harness-/, 'the spawned pid itself is in the group');
  assert.ok(existsSync(join(group, 'memory.limit_in_bytes')));
  const result = cap.stop();
  assert.equal(result.method, 'cgroup-v1');
  assert.equal(result.capBytes, 64 * MiB);
  assert.equal(result.killedByCap, true);
  // VmRSS also counts the shared, file-backed node binary the group is not charged for, so it may
  // read above the cap; it must at least have reached the part of the cap the group is charged for.
  assert.ok(result.peakRssBytes > 32 * MiB, `peak ${result.peakRssBytes}`);
  assert.match(result.note ?? '', /oom_kill [1-9]/);
  assert.ok(result.samples.length >= 1);
  assert.equal(cap.stop(), result);
  await cap.cleanup();
  assert.equal(existsSync(group), false, 'cleanup removes the cgroup');
});

test('rss-poll: a process allocating past a 64M cap is SIGKILLed by the poller', { timeout: 30_000 }, async () => {
  const cap = await prepareMemoryCap(64 * MiB, { preferCgroup: false, sampleIntervalMs: 20 });
  assert.equal(cap.method, 'rss-poll');
  assert.deepEqual(cap.wrapCommand(['node', 'x.js']), ['node', 'x.js']);
  const exit = await runUnder(cap, allocateForever);
  assert.equal(exit.signal, 'SIGKILL');
  const result = cap.stop();
  assert.equal(result.method, 'rss-poll');
  assert.equal(result.killedByCap, true);
  assert.ok(result.peakRssBytes > 64 * MiB, `peak ${result.peakRssBytes}`);
  assert.match(result.note ?? '', /SIGKILLed by the RSS poller/);
  await cap.cleanup();
});

test('cgroup-v1: a small process under a large cap is not killed; peak RSS reported; cleanup removes the group', { timeout: 30_000 }, async (t) => {
  const cap = await prepareMemoryCap(512 * MiB, { sampleIntervalMs: 50 });
  t.after(() => cap.cleanup().catch(() => {}));
  assert.equal(cap.method, 'cgroup-v1', cap.note);
  let group = '';
  const exit = await runUnder(cap, idleBriefly, async (pid) => void (group = await groupOnceJoined(pid)));
  assert.deepEqual(exit, { code: 0, signal: null });
  const result = cap.stop();
  assert.equal(result.killedByCap, false);
  assert.ok(result.peakRssBytes > 10 * MiB && result.peakRssBytes < 512 * MiB, `peak ${result.peakRssBytes}`);
  assert.ok(result.samples.length >= 3 && result.samples.every((s) => s.value > 0));
  assert.ok(existsSync(group));
  await cap.cleanup();
  assert.equal(existsSync(group), false);
  await cap.cleanup(); // idempotent
});

test('rss-poll and no cap: a small process is left alone and still sampled', { timeout: 30_000 }, async () => {
  for (const cap of [await prepareMemoryCap(512 * MiB, { preferCgroup: false }), await prepareMemoryCap(null)]) {
    const exit = await runUnder(cap, idleBriefly);
    assert.deepEqual(exit, { code: 0, signal: null });
    const result = cap.stop();
    assert.equal(result.killedByCap, false);
    assert.ok(result.peakRssBytes > 10 * MiB, `${cap.method} peak ${result.peakRssBytes}`);
    await cap.cleanup();
  }
  const none = await prepareMemoryCap(null);
  assert.equal(none.method, 'none');
  assert.equal(none.stop().capBytes, null);
});

test('bad caps are refused', async () => {
  await assert.rejects(prepareMemoryCap(0), /positive whole number of bytes or null/);
  await assert.rejects(prepareMemoryCap(1.5), /positive whole number/);
  await assert.rejects(prepareMemoryCap(MiB, { sampleIntervalMs: 0 }), /sampleIntervalMs must be > 0/);
});
