/**
 * The echo protocol: the reply is the request, byte for byte. Payloads differ per connection and per
 * message, so a server that answers with stale, shifted or another connection's bytes is caught, not
 * just one that flips bits.
 */
import type { FloodProtocolClient, FloodProtocolSession, ReplyCheck } from './protocol-client.js';

/** Deterministic pseudo-random payload (xorshift32), distinct for each (connection, message) pair. */
export function echoPayload(connectionIndex: number, messageIndex: number, size: number): Buffer {
  const payload = Buffer.allocUnsafe(size);
  let state = (Math.imul(connectionIndex + 1, 0x9e3779b1) ^ Math.imul(messageIndex + 1, 0x85ebca6b)) | 1;
  for (let i = 0; i < size; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    payload[i] = state & 0xff;
  }
  return payload;
}

export class EchoProtocolClient implements FloodProtocolClient {
  readonly protocol = 'echo' as const;

  constructor(private readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new Error(`echo flood needs size >= 1 byte, got ${size}`);
  }

  openSession(connectionIndex: number): FloodProtocolSession {
    return new EchoSession(connectionIndex, this.size);
  }
}

class EchoSession implements FloodProtocolSession {
  /** Requests sent and not yet fully echoed, oldest first; `matched` bytes of the first are back. */
  private readonly pending: { readonly index: number; readonly bytes: Buffer }[] = [];
  private matched = 0;

  constructor(
    private readonly connectionIndex: number,
    private readonly size: number,
  ) {}

  frameRequest(messageIndex: number): Uint8Array {
    const bytes = echoPayload(this.connectionIndex, messageIndex, this.size);
    this.pending.push({ index: messageIndex, bytes });
    return bytes;
  }

  receive(chunk: Uint8Array): ReplyCheck[] {
    const checks: ReplyCheck[] = [];
    let offset = 0;
    while (offset < chunk.length) {
      const head = this.pending[0];
      if (head === undefined) {
        checks.push({ ok: false, code: 'UNEXPECTED_DATA', detail: `${chunk.length - offset} byte(s) received with no request outstanding` });
        return checks;
      }
      const take = Math.min(head.bytes.length - this.matched, chunk.length - offset);
      const got = chunk.subarray(offset, offset + take);
      const want = head.bytes.subarray(this.matched, this.matched + take);
      if (!want.equals(got)) {
        const at = firstDifference(want, got);
        checks.push({
          ok: false,
          code: 'MISMATCH',
          detail: `message ${head.index}: byte ${this.matched + at} is 0x${hex(got[at])}, expected 0x${hex(want[at])}`,
        });
        return checks;
      }
      offset += take;
      this.matched += take;
      if (this.matched === head.bytes.length) {
        this.pending.shift();
        this.matched = 0;
        checks.push({ ok: true });
      }
    }
    return checks;
  }
}

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  return i;
}

function hex(byte: number | undefined): string {
  return (byte ?? 0).toString(16).padStart(2, '0');
}
