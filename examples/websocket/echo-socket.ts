import type { WebSocketHandler } from '../../framework/index.js';

/**
 * Echo every message as it came: text stays text, binary stays binary. Backpressure comes from the
 * layer: reading pauses while this socket's own output is over its high-water mark.
 */
export const echoSocket: WebSocketHandler = {
  onMessage(ws, data, isBinary) {
    ws.send(data, { binary: isBinary });
  },
};
