/** The server rig, counters and measuring helpers the WebSocket bad-input tests share. */
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  CompletionDispatcher,
  Server,
  webSocketServer,
  type SendResult,
  type WebSocket,
  type WebSocketHandler,
  type WebSocketServerOptions,
} from '../../framework/index.js';

export const T = { timeout: 30_000 };
export const TEXT = 1;
export const CLOSE = 8;
export const PING = 9;

export interface Closed {
  code: number;
  reason: string;
  wasClean: boolean;
}

/** What the rig's handlers saw, per socket. */
export interface Seen {
  port: number;
  messages: string[];
  closes: Closed[];
  sendResults: SendResult[];
  states: string[];
  /** /flow: sends that said 'over-high-water', and onWritable calls. */
  pauses: number;
  writables: number;
}

export interface Rig {
  server: Server;
  port: number;
  sockets: WebSocket<Seen>[];
  /** The sockets opened on /room (broadcast targets). */
  room: Set<WebSocket<Seen>>;
  seen(port: number): Seen;
  stop(): Promise<void>;
}

export const FLOW_COUNT = 2000;
export const FLOW_SIZE = 8 * 1024;

/** The /flow route's sender: messages carry their number in the first 4 bytes. */
export function pump(ws: WebSocket<Seen>): void {
  const sent = ws.stats.messagesOut;
  for (let i = sent; i < FLOW_COUNT; i++) {
    const message = Buffer.alloc(FLOW_SIZE, i & 0xff);
    message.writeUInt32BE(i, 0);
    const result = ws.send(message);
    if (result === 'over-high-water') {
      ws.user.pauses++;
      return;
    }
    if (result !== 'queued') throw new Error(`send ${i}: ${result}`);
  }
}

export function newSeen(): Seen {
  return { port: 0, messages: [], closes: [], sendResults: [], states: [], pauses: 0, writables: 0 };
}

/**
 * A server whose routes each exercise one behaviour: /echo, /room (joins the broadcast set, reads
 * and ignores), and handlers that close, abort or throw from inside their callbacks.
 */
export async function startRig(options: Partial<WebSocketServerOptions<Seen>> = {}, serverOptions: { dispatcher?: CompletionDispatcher; bufferSize?: number } = {}): Promise<Rig> {
  const sockets: WebSocket<Seen>[] = [];
  const room = new Set<WebSocket<Seen>>();
  const base = (extra: Partial<WebSocketHandler<Seen>> = {}): WebSocketHandler<Seen> => ({
    onOpen(ws, head) {
      ws.user.port = ws.connection.remote.port;
      sockets.push(ws);
      extra.onOpen?.(ws, head);
    },
    onMessage(ws, data, isBinary) {
      ws.user.messages.push(typeof data === 'string' ? data : data.toString('latin1'));
      if (extra.onMessage !== undefined) extra.onMessage(ws, data, isBinary);
      else ws.send(data, { binary: isBinary });
    },
    onWritable(ws) {
      extra.onWritable?.(ws);
    },
    onClose(ws, code, reason, wasClean) {
      ws.user.closes.push({ code, reason, wasClean });
      room.delete(ws);
    },
  });
  const handlers: Record<string, WebSocketHandler<Seen>> = {
    '/echo': base(),
    '/room': base({ onOpen: (ws) => room.add(ws), onMessage: () => undefined }),
    '/close-on-open': base({
      onOpen(ws) {
        ws.close(4000, 'bye from onOpen');
        ws.user.sendResults.push(ws.send('after close'));
        ws.user.states.push(ws.state);
      },
    }),
    '/abort-on-open': base({
      onOpen(ws) {
        ws.terminate();
        ws.user.sendResults.push(ws.send('after terminate'));
        ws.user.states.push(ws.state);
      },
    }),
    '/close-on-message': base({
      onMessage(ws, data) {
        if (data === 'close') ws.close(4001, 'closed in onMessage');
        ws.user.sendResults.push(ws.send('reply'));
        ws.user.states.push(ws.state);
      },
    }),
    '/abort-on-message': base({
      onMessage(ws, data) {
        if (data === 'abort') ws.terminate();
        ws.user.sendResults.push(ws.send('reply'));
        ws.user.sendResults.push(ws.ping('p'));
        ws.user.states.push(ws.state);
      },
    }),
    '/flow': base({
      // Send FLOW_COUNT numbered messages as fast as backpressure allows: until a send says
      // 'over-high-water', then again from onWritable.
      onOpen(ws) {
        pump(ws);
      },
      onWritable(ws) {
        ws.user.writables++;
        pump(ws);
      },
    }),
    '/throw-on-message': base({
      onMessage(ws, data) {
        if (data === 'boom') throw new Error('handler failure on purpose');
        ws.send(data);
      },
    }),
    '/throw-on-open': base({
      onOpen() {
        throw new Error('onOpen failure on purpose');
      },
    }),
  };
  const server = new Server({
    host: '127.0.0.1',
    port: 0,
    ...serverOptions,
    handler: webSocketServer<Seen>({
      route(head) {
        const handler = handlers[head.target];
        return handler === undefined ? null : { kind: 'websocket', handler, createUser: newSeen };
      },
      ...options,
    }),
  });
  const address = await server.listen();
  return {
    server,
    port: address.port,
    sockets,
    room,
    seen(port) {
      const ws = sockets.find((s) => s.user.port === port);
      assert.ok(ws !== undefined, `a server socket for client port ${port}`);
      return ws.user;
    },
    async stop() {
      await server.stop({ deadlineMs: 2000 });
    },
  };
}

export async function waitFor(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// A full collection before each measurement, so garbage does not pass for (or hide) an allocation.
setFlagsFromString('--expose-gc');
export const gc = runInNewContext('gc') as () => void;

/** External memory (ArrayBuffers, where Buffers live) and heap, after a full collection. */
export function memory(): number {
  gc();
  const m = process.memoryUsage();
  return m.arrayBuffers + m.heapUsed;
}

export const MIB = 1024 * 1024;

// ---- the opening handshake ---------------------------------------------------------------------------
