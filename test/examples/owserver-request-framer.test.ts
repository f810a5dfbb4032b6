/**
 * RequestFramer: owserver requests cut from pooled read buffers by the framework's length-prefixed
 * framer. Whole, pipelined and trickled input; every refused header (negative payload, payload plus
 * tokens over the limit) refused from the header alone, with the bytes behind it counted; what a
 * request keeps is copied, so the read buffers go back to the pool as soon as it is parsed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_PAYLOAD, PATH_MAX, Ret } from '../../examples/owserver/protocol/constants.js';
import { RequestFramer } from '../../examples/owserver/protocol/request-framer.js';
import { BufferPool, ErrorCodes, PooledBuffer } from '../../framework/index.js';
import { SG_OWSHELL, SG_PERSIST, Type, header, request } from '../helpers/owserver-wire.js';

const READ = request(Type.READ, '/28.4AEC29CDBAAB/temperature', { sg: SG_PERSIST });

function setup(bufferSize = 16384): { pool: BufferPool; framer: RequestFramer; push: (bytes: Buffer) => void } {
  const pool = new BufferPool({ bufferSize });
  const framer = new RequestFramer();
  return { pool, framer, push: (bytes) => framer.push(pool.acquireCopy(bytes)) };
}

test('a whole request: header fields, path, no tokens; its read buffer goes back at once', () => {
  const { pool, framer, push } = setup();
  push(READ);
  const r = framer.next();
  assert.ok(r !== null);
  assert.deepEqual(r.header, { version: 0, payload: 29, type: Type.READ, sg: SG_PERSIST, size: 65536, offset: 0 });
  assert.equal(r.path, '/28.4AEC29CDBAAB/temperature');
  assert.equal(r.parseError, null);
  assert.deepEqual(r.tokens, []);
  assert.equal(framer.buffered, 0);
  assert.equal(pool.outstanding, 0, 'the request copied what it keeps; the buffer is back');
  assert.equal(framer.next(), null);
});

test('pipelined requests in one buffer come out one per next(), then null', () => {
  const { pool, framer, push } = setup();
  const paths = ['/a', '/bb', '/ccc'];
  push(Buffer.concat([...paths.map((p) => request(Type.READ, p)), READ.subarray(0, 10)]));
  for (const p of paths) assert.equal(framer.next()?.path, p);
  assert.equal(framer.next(), null);
  assert.equal(framer.buffered, 10, 'the partial header stays');
  push(READ.subarray(10));
  assert.equal(framer.next()?.path, '/28.4AEC29CDBAAB/temperature');
  assert.equal(pool.outstanding, 0);
});

test('trickled a byte per read: one request, and one pooled buffer held meanwhile', () => {
  const { pool, framer, push } = setup();
  for (let i = 0; i < READ.length - 1; i++) {
    push(READ.subarray(i, i + 1));
    assert.equal(framer.next(), null);
    assert.ok(pool.outstanding <= 1, `after ${i + 1} bytes: ${pool.outstanding} buffers held`);
  }
  push(READ.subarray(READ.length - 1));
  assert.equal(framer.next()?.path, '/28.4AEC29CDBAAB/temperature');
  assert.equal(pool.outstanding, 0);
});

test('WRITE: the path ends at payload - size; data and tokens are copies that outlive the buffer', () => {
  const { framer } = setup();
  const pool = new BufferPool({ bufferSize: 256, maxPooled: 1 });
  const t1 = Buffer.alloc(16, 0xa1);
  const t2 = Buffer.alloc(16, 0xb2);
  const bytes = request(Type.WRITE, '/05.F2FBE3467CC2/PIO', { data: '1', version: 0x00010002, tokens: [t1, t2] });
  framer.push(pool.acquireCopy(bytes));
  const r = framer.next();
  assert.ok(r !== null);
  // The pool lends the same memory again: overwrite it.
  const reused = pool.acquire();
  reused.bytes.fill(0xee);
  reused.release();
  assert.equal(r.path, '/05.F2FBE3467CC2/PIO');
  assert.deepEqual(r.data, Buffer.from('1'));
  assert.deepEqual(r.tokens, [t1, t2]);
});

test('WRITE with size over the payload: EBADMSG, no path; a path over PATH_MAX: -1', () => {
  const { framer, push } = setup(65536);
  push(request(Type.WRITE, '/x', { data: '1', size: 99 }));
  const bad = framer.next();
  assert.equal(bad?.parseError, Ret.EBADMSG);
  assert.equal(bad?.path, null);
  push(request(Type.READ, `/${'a'.repeat(PATH_MAX)}`));
  assert.equal(framer.next()?.parseError, Ret.PATH);
  push(request(Type.READ, '/'.repeat(PATH_MAX)));
  assert.equal(framer.next()?.path, '/'.repeat(PATH_MAX), 'exactly PATH_MAX still parses');
});

for (const [name, head, code] of [
  ['payload -1', header(0, -1, Type.READ, SG_OWSHELL, 65536, 0), ErrorCodes.BAD_FRAME],
  ['payload -2^31', header(0, -0x80000000, Type.NOP, SG_OWSHELL, 0, 0), ErrorCodes.BAD_FRAME],
  ['payload -5 with one token announced (still negative, not 11)', header(0x00010001, -5, Type.READ, SG_OWSHELL, 0, 0), ErrorCodes.BAD_FRAME],
  ['payload 100051', header(0, MAX_PAYLOAD + 1, Type.READ, SG_OWSHELL, 65536, 0), ErrorCodes.INPUT_TOO_LARGE],
  ['payload 2^31-1', header(0, 0x7fffffff, Type.WRITE, SG_OWSHELL, 65536, 0), ErrorCodes.INPUT_TOO_LARGE],
  ['payload 2 + 6254 tokens', header(0x00010000 | 6254, 2, Type.NOP, SG_OWSHELL, 0, 0), ErrorCodes.INPUT_TOO_LARGE],
  ['payload 0 + 65535 tokens', header(0x0001ffff, 0, Type.NOP, SG_OWSHELL, 0, 0), ErrorCodes.INPUT_TOO_LARGE],
] as const) {
  test(`${name}: refused from the header alone, the bytes behind it counted and given back`, () => {
    const { pool, framer, push } = setup();
    push(Buffer.concat([head, Buffer.from('abc')]));
    assert.equal(framer.next(), null);
    assert.equal(framer.error?.code, code);
    assert.equal(framer.discarded, 3);
    assert.equal(framer.buffered, 0);
    assert.equal(pool.outstanding, 0);
    assert.equal(framer.next(), null, 'stays failed');
    assert.throws(() => push(READ), { code }, 'a push after the failure throws (and releases)');
    assert.equal(pool.outstanding, 0);
  });
}

test('payload 100050 exactly is accepted and waits for its body', () => {
  const { framer, push } = setup(65536);
  push(header(0, MAX_PAYLOAD, Type.READ, SG_OWSHELL, 65536, 0));
  assert.equal(framer.next(), null);
  assert.equal(framer.error, null);
  assert.equal(framer.buffered, 24);
  framer.clear();
});

test('a framing error after a good request: the good one comes out first', () => {
  const { pool, framer, push } = setup();
  push(Buffer.concat([READ, header(0, -5, Type.READ, SG_OWSHELL, 0, 0), Buffer.from('xy')]));
  assert.equal(framer.next()?.path, '/28.4AEC29CDBAAB/temperature');
  assert.equal(framer.buffered, 26);
  assert.equal(framer.next(), null);
  assert.equal(framer.discarded, 2);
  assert.equal(pool.outstanding, 0);
});

test('clear() gives a partial request back; the framer owns pushed buffers', () => {
  const { pool, framer } = setup();
  const buffer: PooledBuffer = pool.acquireCopy(READ.subarray(0, 30));
  framer.push(buffer);
  assert.equal(framer.next(), null);
  assert.equal(pool.outstanding, 1);
  framer.clear();
  assert.equal(pool.outstanding, 0);
  assert.equal(framer.buffered, 0);
});
