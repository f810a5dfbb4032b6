import { broadcast, type WebSocket, type WebSocketHandler } from '../../framework/index.js';

/**
 * The plainest fan-out: every message that arrives on /broadcast goes, as it came (text stays text,
 * binary stays binary), to everyone on /broadcast, the sender included, framed once for all of them.
 * Nothing else is sent: no join or leave events (the benchmark's broadcast row measures this).
 */
export class BroadcastRoom {
  readonly #members = new Set<WebSocket>();

  /** Sockets on the route now. */
  get size(): number {
    return this.#members.size;
  }

  readonly handler: WebSocketHandler = {
    onOpen: (ws) => {
      this.#members.add(ws);
    },
    onMessage: (_ws, data, isBinary) => {
      broadcast(this.#members, data, { binary: isBinary });
    },
    onClose: (ws) => {
      this.#members.delete(ws);
    },
  };
}
