/**
 * unmaskInPlace and maskInto against a byte-by-byte reference: every length to 300, every alignment and
 * phase, and long runs; both the pure-JS loops and bufferutil (a dev dependency here, so the optional
 * acceleration is what unmaskInPlace uses for long runs), and PORTICO_NO_BUFFERUTIL turning it off.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { maskInto, unmaskInPlace } from '../../framework/index.js';
import { maskingBackend, NATIVE_THRESHOLD, unmaskInPlaceJs } from '../../framework/websocket/masking.js';
import { seeded } from '../helpers/byte-chunks.js';

const unmaskers = [
  ['unmaskInPlace', unmaskInPlace],
  ['unmaskInPlaceJs', unmaskInPlaceJs],
] as const;

test('bufferutil (a dev dependency) accelerates unmasking from NATIVE_THRESHOLD bytes on; PORTICO_NO_BUFFERUTIL=1 keeps it pure JS', () => {
  assert.equal(maskingBackend, 'bufferutil');
  assert.ok(NATIVE_THRESHOLD >= 1 && NATIVE_THRESHOLD <= 1024);
  const script = `import('${new URL('../../framework/websocket/masking.js', import.meta.url).href}').then((m) => process.stdout.write(m.maskingBackend))`;
  const backend = (off: string): string => execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, PORTICO_NO_BUFFERUTIL: off } });
  assert.equal(backend('1'), 'js');
  assert.equal(backend('0'), 'bufferutil');
});

function reference(bytes: Uint8Array, key: number, phase: number): Buffer {
  const k = [(key >>> 24) & 0xff, (key >>> 16) & 0xff, (key >>> 8) & 0xff, key & 0xff];
  return Buffer.from(bytes.map((b, i) => b ^ k[(i + phase) & 3]!));
}

for (const [name, unmask] of unmaskers) {
  test(`${name} matches the reference for every length 0–300 at every alignment and phase`, () => {
    const random = seeded(42);
    const memory = Buffer.alloc(400);
    for (let i = 0; i < memory.length; i++) memory[i] = Math.floor(random() * 256);
    const key = 0xa1b2c3d4;
    for (let length = 0; length <= 300; length++) {
      for (let offset = 0; offset < 4; offset++) {
        for (let phase = 0; phase < 8; phase++) {
          const copy = Buffer.from(memory);
          const view = copy.subarray(offset, offset + length);
          const expected = reference(view, key, phase);
          unmask(view, key, phase);
          assert.deepEqual(view, expected, `length ${length} offset ${offset} phase ${phase}`);
          assert.deepEqual(copy.subarray(0, offset), memory.subarray(0, offset), 'bytes before untouched');
          assert.deepEqual(copy.subarray(offset + length), memory.subarray(offset + length), 'bytes after untouched');
        }
      }
    }
  });

  test(`${name}: long runs, masking twice restores, a payload unmasked in pieces equals one pass, maskInto leaves the source alone`, () => {
    const random = seeded(7);
    for (const length of [1024, 16384 + 3, 1 << 20]) {
      const data = Buffer.alloc(length + 1).subarray(1); // odd address
      for (let i = 0; i < length; i++) data[i] = Math.floor(random() * 256);
      const original = Buffer.from(data);
      const key = 0x01020304 + length;
      unmask(data, key, 0);
      assert.deepEqual(data, reference(original, key, 0));
      unmask(data, key, 0);
      assert.deepEqual(data, original);
      // In pieces of random sizes, each with its payload offset as phase.
      const pieces = Buffer.from(original);
      for (let at = 0; at < length; ) {
        const n = Math.min(length - at, 1 + Math.floor(random() * 700));
        unmask(pieces.subarray(at, at + n), key, at);
        at += n;
      }
      assert.deepEqual(pieces, reference(original, key, 0));
      const target = Buffer.alloc(length + 10, 0xee);
      maskInto(original, key, target, 7);
      assert.deepEqual(target.subarray(7, 7 + length), reference(original, key, 0));
      assert.deepEqual(target.subarray(0, 7), Buffer.alloc(7, 0xee));
      assert.deepEqual(target.subarray(7 + length), Buffer.alloc(3, 0xee));
    }
    const small = Buffer.from('abc');
    const target = Buffer.alloc(3);
    maskInto(small, 0xffffffff, target, 0);
    assert.deepEqual(target, reference(small, 0xffffffff, 0));
    assert.deepEqual(small, Buffer.from('abc'));
  });
}
