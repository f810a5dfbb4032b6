/**
 * Utf8Validator: the Autobahn 6.x vectors (Kuhn's stress-test categories) split at every byte position
 * and every pair of positions, fail-fast checked against a reference (the write holding the first
 * hopeless byte fails, no earlier and no later), every Unicode scalar value, and every surrogate.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Opcode, Utf8Validator, isValidUtf8 } from '../../framework/index.js';
import { layouts } from '../helpers/byte-chunks.js';
import { firstHopelessByte, utf8Vectors } from '../helpers/utf8-vectors.js';
import { chunkings, feed, rawFrame, rawFrames } from '../helpers/ws-frames.js';

/** Write `bytes` cut into `sizes`; the index of the write that failed (sizes.length for end()), or -1. */
function failingWrite(bytes: Buffer, sizes: readonly number[]): number {
  const v = new Utf8Validator();
  let at = 0;
  for (const [i, size] of sizes.entries()) {
    if (!v.write(bytes.subarray(at, at + size))) return i;
    at += size;
  }
  return v.end() ? -1 : sizes.length;
}

/** Which write of `sizes` holds byte `index` (sizes.length when index is past the end). */
function writeHolding(sizes: readonly number[], index: number): number {
  let end = 0;
  for (const [i, size] of sizes.entries()) {
    end += size;
    if (index < end) return i;
  }
  return sizes.length;
}

test('the vectors agree with TextDecoder: the labels are right', () => {
  const fatal = new TextDecoder('utf-8', { fatal: true });
  for (const { group, bytes, valid } of utf8Vectors()) {
    let decoded = true;
    try {
      fatal.decode(bytes);
    } catch {
      decoded = false;
    }
    assert.equal(decoded, valid, `${group}: ${bytes.toString('hex')}`);
    assert.equal(isValidUtf8(bytes), valid, `isValidUtf8 ${group}: ${bytes.toString('hex')}`);
  }
});

test('6.x vectors at every cut and pair of cuts: valid ones pass, invalid ones fail in the write holding the first hopeless byte', () => {
  let checks = 0;
  for (const { group, bytes, valid } of utf8Vectors()) {
    const hopeless = valid ? bytes.length : firstHopelessByte(bytes);
    assert.ok(valid || hopeless <= bytes.length);
    for (const sizes of layouts(bytes.length, bytes.length <= 40)) {
      const expected = valid ? -1 : writeHolding(sizes, hopeless);
      assert.equal(failingWrite(bytes, sizes), expected, `${group}: ${bytes.toString('hex')} cut ${sizes.join('+')} (first hopeless byte ${hopeless})`);
      checks++;
    }
  }
  assert.ok(checks > 2500, `${checks} checks`);
});

test('fail-fast examples: the sequence fails at the byte that makes it hopeless, before it is complete', () => {
  const atByte = (hex: string): number => failingWrite(Buffer.from(hex, 'hex'), Array.from({ length: hex.length / 2 }, () => 1));
  assert.equal(atByte('656469746564eda080'), 7, 'ED A0: a surrogate, known at its second byte');
  assert.equal(atByte('f4908080'), 1, 'F4 90: beyond U+10FFFF at the second byte');
  assert.equal(atByte('e08080'), 1, 'E0 80: overlong at the second byte');
  assert.equal(atByte('f08f8080'), 1, 'F0 8F: overlong at the second byte');
  assert.equal(atByte('c0'), 0, 'C0 is never a lead');
  assert.equal(atByte('f5'), 0, 'F5 is never a lead');
  assert.equal(atByte('61e282'), 3, 'a truncated sequence fails only at the end');
});

test('every Unicode scalar value is valid in any chunking; every surrogate, encoded, is not', () => {
  const all: string[] = [];
  for (let cp = 0; cp <= 0x10ffff; cp++) if (cp < 0xd800 || cp > 0xdfff) all.push(String.fromCodePoint(cp));
  const bytes = Buffer.from(all.join(''), 'utf8');
  for (const chunk of [1, 2, 3, 5, 64, 4093, 65536]) {
    const v = new Utf8Validator();
    for (let at = 0; at < bytes.length; at += chunk) assert.ok(v.write(bytes.subarray(at, at + chunk)), `chunks of ${chunk} at ${at}`);
    assert.ok(v.end());
  }
  for (let cp = 0xd800; cp <= 0xdfff; cp++) {
    const surrogate = Buffer.from([0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f)]);
    const v = new Utf8Validator();
    assert.ok(v.write(surrogate.subarray(0, 1)));
    assert.equal(v.write(surrogate.subarray(1)), false, `U+${cp.toString(16)}`);
  }
});

test('a failed validator stays failed until reset; atBoundary tracks an unfinished code point', () => {
  const v = new Utf8Validator();
  assert.ok(v.write(Buffer.from([0xe2])));
  assert.equal(v.atBoundary, false);
  assert.ok(v.write(Buffer.from([0x82, 0xac])));
  assert.equal(v.atBoundary, true);
  assert.equal(v.write(Buffer.from([0xff])), false);
  assert.equal(v.failed, true);
  assert.equal(v.write(Buffer.from('fine')), false);
  assert.equal(v.end(), false);
  v.reset();
  assert.ok(v.write(Buffer.from('fine')) && v.end());
  assert.ok(v.write(Buffer.alloc(0)));
});

test('6.4 fail-fast through the receiver: the fragment (or chop) holding the bad byte fails, before the rest arrives', () => {
  const kosme = Buffer.from('κόσμε', 'utf8');
  const edited = Buffer.from('edited');
  const fragments = (...parts: Buffer[]): Buffer[] => parts.map((payload, i) => rawFrame({ opcode: i === 0 ? Opcode.TEXT : Opcode.CONTINUATION, payload, fin: i === parts.length - 1 }));
  const cases: Array<[string, Buffer[], number]> = [
    // [name, the reads in order, index of the read after which 1007 must have been reported]
    ['6.4.1 three fragments, the bad code point in the second', fragments(kosme, Buffer.from([0xf4, 0x90, 0x80, 0x80]), edited), 1],
    ['6.4.2 the bad code point split over fragments', fragments(Buffer.concat([kosme, Buffer.from([0xf4])]), Buffer.from([0x90]), Buffer.concat([Buffer.from([0x80, 0x80]), edited])), 1],
  ];
  // 6.4.3 / 6.4.4: one frame sent in three chops.
  const frame = rawFrame({ opcode: Opcode.TEXT, payload: Buffer.concat([kosme, Buffer.from([0xf4, 0x90, 0x80, 0x80]), edited]) });
  const head = frame.length - (kosme.length + 4 + edited.length);
  cases.push(['6.4.3 one frame in chops, the bad code point in the second', [frame.subarray(0, head + kosme.length), frame.subarray(head + kosme.length, head + kosme.length + 4), frame.subarray(head + kosme.length + 4)], 1]);
  cases.push(['6.4.4 one frame in chops, F4 | 90', [frame.subarray(0, head + kosme.length + 1), frame.subarray(head + kosme.length + 1, head + kosme.length + 2), frame.subarray(head + kosme.length + 2)], 1]);
  for (const [name, reads, failAfter] of cases) {
    for (let upTo = 0; upTo < reads.length; upTo++) {
      const events = feed(Buffer.concat(reads.slice(0, upTo + 1)), { name, sizes: reads.slice(0, upTo + 1).map((r) => r.length), coalesce: false });
      assert.deepEqual(events.map((e) => e.type), upTo >= failAfter ? ['error'] : [], `${name}, after read ${upTo}`);
      if (upTo >= failAfter) assert.equal((events[0] as { closeCode: number }).closeCode, 1007);
    }
  }
});

test('every invalid vector as a text message fails with 1007 and every valid one is delivered, in every chunking', () => {
  for (const { group, bytes, valid } of utf8Vectors()) {
    const input = rawFrames({ opcode: Opcode.TEXT, payload: bytes }, { opcode: Opcode.PING });
    for (const chunking of chunkings(input.length)) {
      const events = feed(input, chunking);
      const expect = valid ? [{ type: 'message', data: bytes.toString('utf8'), binary: false }, { type: 'ping', payload: Buffer.alloc(0) }] : [{ type: 'error', closeCode: 1007, code: 'PORTICO_ERR_WS_INVALID_UTF8' }];
      assert.deepStrictEqual(events, expect, `${group} ${bytes.toString('hex')} ${chunking.name}`);
    }
  }
});
