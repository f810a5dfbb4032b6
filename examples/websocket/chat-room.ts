import { broadcast, type WebSocket, type WebSocketHandler } from '../../framework/index.js';

/** What the room sends: a chat line, or the number of people in the room. JSON text messages. */
export type RoomEvent = { readonly type: 'chat'; readonly from: number; readonly text: string } | { readonly type: 'count'; readonly count: number };

/** Longest chat line the room relays, in characters; longer ones are cut (the page shows the rest is gone). */
const MAX_LINE = 4096;

/**
 * A broadcast chat room: every text message is relayed to everyone in the room (the sender included),
 * framed once for all of them; joins and leaves broadcast the head count. Binary messages are refused
 * with close 1003 (unsupported data), as the room speaks text.
 */
export class ChatRoom {
  readonly #members = new Set<WebSocket<number>>();
  #nextId = 1;

  /** People in the room now. */
  get size(): number {
    return this.#members.size;
  }

  readonly handler: WebSocketHandler<number> = {
    onOpen: (ws) => {
      ws.user = this.#nextId++;
      this.#members.add(ws);
      this.#announce();
    },
    onMessage: (ws, data, isBinary) => {
      if (isBinary) {
        ws.close(1003, 'the chat room takes text messages');
        return;
      }
      const text = (data as string).slice(0, MAX_LINE);
      this.#send({ type: 'chat', from: ws.user, text });
    },
    onClose: (ws) => {
      if (this.#members.delete(ws)) this.#announce();
    },
  };

  #announce(): void {
    this.#send({ type: 'count', count: this.#members.size });
  }

  #send(event: RoomEvent): void {
    broadcast(this.#members, JSON.stringify(event));
  }
}
