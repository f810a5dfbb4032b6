import { FrameWriter, type MessageFrameOptions, type PreparedFrame } from './frame-writer.js';
import type { WebSocket } from './websocket.js';

const serverWriter = new FrameWriter({ role: 'server' });

/**
 * Frame a server message once, to send to many sockets with `sendPrepared` or `broadcast`. The frame
 * is uncompressed: per-socket deflate contexts (context takeover) cannot share one compressed copy.
 */
export function prepareMessage(data: string | Uint8Array, options?: MessageFrameOptions): PreparedFrame {
  return serverWriter.prepare(data, options);
}

/** What a broadcast did, per socket outcome. */
export interface BroadcastResult {
  /** Queued (including those now over their high-water mark). */
  sent: number;
  /** Dropped by the slow-consumer policy ('drop'). */
  dropped: number;
  /** Closing or closed, or closed now by the slow-consumer policy ('close'). */
  closed: number;
}

/**
 * Send one message to every socket: framed once, the same bytes queued on each connection (no copy
 * per socket). A slow consumer gets its policy, the others are not held back by it.
 */
export function broadcast<U>(sockets: Iterable<WebSocket<U>>, message: PreparedFrame | string | Uint8Array, options?: MessageFrameOptions): BroadcastResult {
  const frame = typeof message === 'string' || message instanceof Uint8Array ? prepareMessage(message, options) : message;
  const result: BroadcastResult = { sent: 0, dropped: 0, closed: 0 };
  for (const ws of sockets) {
    const status = ws.sendPrepared(frame);
    if (status === 'queued' || status === 'over-high-water') result.sent++;
    else if (status === 'dropped') result.dropped++;
    else result.closed++;
  }
  return result;
}
