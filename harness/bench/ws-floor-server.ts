#!/usr/bin/env node
/**
 * The floor: the least work a Node.js process can do per WebSocket message, as a measuring stick for
 * websocket-bench — not a server anyone should run. It answers exactly what ws-load sends and nothing
 * more: raw TCP handles from the listening handle (no net.Socket), reads into one shared buffer, a
 * frame parser that knows only what a client may send, unmasking straight into the reply frame (Node's
 * native mask above 48 bytes, as ws does with bufferutil), a UTF-8 check on text (RFC 6455 requires it:
 * Node's `buffer.isUtf8`), one write per reply, one write request object for all writes the kernel
 * takes whole. No handshake validation beyond the key, no limits, no
 * backpressure, no timers. Whatever a real server adds on top of this is its own cost; what this costs
 * is Node's and the kernel's. So "floor/ws" in the bench is the highest ratio any Node server can reach
 * against ws on that machine, and the goals can be read against it.
 *
 *   /echo       every message back as it came (text stays text, binary stays binary)
 *   /broadcast  every message, as it came, to every client on /broadcast, the sender included
 *
 *   node dist/harness/bench/ws-floor-server.js [--port N]
 */
import { createHash } from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import { createRequire } from 'node:module';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { type NativeTcpHandle, takeOverAccepts } from '../../framework/server/accept-handles.js';
import { type NativeStreamHandle, type NativeWriteReq, UV_EOF, nativeStream } from '../../framework/transport/native-stream.js';
import { flagsHelp, type IntFlag, parseIntFlags } from './flags.js';
import { isMain } from './paths.js';

const HOST = '127.0.0.1';
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const MAX_HEAD = 8192;
const specs: readonly IntFlag<'port'>[] = [{ name: 'port', description: 'TCP port; 0 picks a free one', default: 0, min: 0, max: 65535 }];

type Mask = (source: Uint8Array, mask: Uint8Array, output: Uint8Array, offset: number, length: number) => void;

/** One connection: the handshake bytes until the head ends, then the bytes of a frame cut by a read. */
interface Peer {
  readonly handle: NativeStreamHandle;
  upgraded: boolean;
  room: boolean;
  held: Buffer | null;
}

function main(): void {
  const { help, values } = parseIntFlags(process.argv.slice(2), specs);
  if (help) {
    process.stdout.write(flagsHelp('node dist/harness/bench/ws-floor-server.js [options]', specs));
    return;
  }
  const binding = nativeStream();
  if (binding === null) throw new Error('this Node has no stream binding: the floor needs raw handles');
  const { WriteWrap, streamBaseState, kReadBytesOrError, kLastWriteWasAsync } = binding;
  const require = createRequire(import.meta.url);
  const nativeMask = (require('bufferutil') as { mask: Mask }).mask;
  const landing = Buffer.alloc(64 * 1024);
  const peers = new Map<NativeStreamHandle, Peer>();
  const room = new Set<Peer>();

  interface Req extends NativeWriteReq {
    bytes: Uint8Array | null;
  }
  function afterWrite(this: Req): void {
    this.bytes = null;
  }
  // One request for every write the kernel takes whole (Node binds a request only to a write that
  // goes to libuv's queue), a new one after each that did: as portico's NativeTcpTransport does.
  let spare: Req | null = null;
  function send(peer: Peer, bytes: Uint8Array): void {
    let req = spare;
    if (req === null) {
      req = new WriteWrap() as Req;
      req.oncomplete = afterWrite;
      req.async = false;
      req.bytes = null;
      spare = req;
    }
    req.handle = peer.handle;
    if (peer.handle.writeBuffer(req, bytes) !== 0 || streamBaseState[kLastWriteWasAsync]) {
      req.bytes = bytes;
      spare = null;
    }
  }
  function drop(peer: Peer): void {
    if (!peers.delete(peer.handle)) return;
    room.delete(peer);
    peer.handle.readStop();
    peer.handle.close(() => {});
  }

  function handshake(peer: Peer, bytes: Buffer): void {
    const end = bytes.indexOf('\r\n\r\n');
    if (end < 0) {
      if (bytes.length > MAX_HEAD) drop(peer);
      else peer.held = Buffer.from(bytes);
      return;
    }
    const head = bytes.toString('latin1', 0, end);
    const path = head.slice(head.indexOf(' ') + 1, head.indexOf(' ', head.indexOf(' ') + 1)).split('?')[0];
    const key = /\r\nsec-websocket-key:[ \t]*([^\r\n]*?)[ \t]*(?:\r\n|$)/i.exec(head)?.[1];
    if ((path !== '/echo' && path !== '/broadcast') || key === undefined) {
      send(peer, Buffer.from('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n', 'latin1'));
      drop(peer);
      return;
    }
    const accept = createHash('sha1').update(key + GUID).digest('base64');
    send(peer, Buffer.from(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`, 'latin1'));
    peer.upgraded = true;
    if (path === '/broadcast') {
      peer.room = true;
      room.add(peer);
    }
    if (end + 4 < bytes.length) frames(peer, bytes.subarray(end + 4));
  }

  /** Every whole frame in `bytes`; a cut one is copied aside for the next read. */
  function frames(peer: Peer, bytes: Buffer): void {
    let at = 0;
    while (at < bytes.length) {
      const left = bytes.length - at;
      if (left < 2) break;
      const b0 = bytes[at]!;
      const b1 = bytes[at + 1]!;
      let length = b1 & 0x7f;
      let header = 2;
      if (length === 126) {
        if (left < 4) break;
        length = bytes.readUInt16BE(at + 2);
        header = 4;
      } else if (length === 127) {
        if (left < 10) break;
        if (bytes.readUInt32BE(at + 2) !== 0) return drop(peer);
        length = bytes.readUInt32BE(at + 6);
        header = 10;
      }
      if ((b1 & 0x80) === 0) return drop(peer); // a client frame must be masked
      if (left < header + 4 + length) break;
      const key = bytes.subarray(at + header, at + header + 4);
      const payload = bytes.subarray(at + header + 4, at + header + 4 + length);
      at += header + 4 + length;
      const outHeader = length < 126 ? 2 : length < 65536 ? 4 : 10;
      const out = Buffer.allocUnsafe(outHeader + length);
      const opcode = b0 & 0x0f;
      out[0] = opcode === 0x9 ? 0x8a : b0; // a ping is answered with a pong
      if (outHeader === 2) out[1] = length;
      else if (outHeader === 4) {
        out[1] = 126;
        out.writeUInt16BE(length, 2);
      } else {
        out[1] = 127;
        out.writeUInt32BE(0, 2);
        out.writeUInt32BE(length, 6);
      }
      if (length < 48) for (let i = 0; i < length; i++) out[outHeader + i] = payload[i]! ^ key[i & 3]!;
      else nativeMask(payload, key, out, outHeader, length);
      if (opcode === 0x1 && (b0 & 0x80) !== 0 && !isUtf8(out.subarray(outHeader))) return drop(peer);
      if (opcode === 0x8) {
        send(peer, out);
        return drop(peer);
      }
      if (peer.room && opcode !== 0x9) for (const member of room) send(member, out);
      else send(peer, out);
    }
    peer.held = at < bytes.length ? Buffer.from(bytes.subarray(at)) : null;
  }

  function onread(this: NativeStreamHandle): undefined {
    const peer = peers.get(this);
    if (peer === undefined) return;
    const n = streamBaseState[kReadBytesOrError]!;
    if (n <= 0) {
      if (n === UV_EOF || n < 0) drop(peer);
      return;
    }
    let bytes = landing.subarray(0, n);
    if (peer.held !== null) {
      bytes = Buffer.concat([peer.held, bytes]);
      peer.held = null;
    }
    if (peer.upgraded) frames(peer, bytes);
    else handshake(peer, bytes);
  }

  const server = net.createServer();
  server.listen({ host: HOST, port: values.port }, () => {
    const why = takeOverAccepts(server, (status: number, accepted: NativeTcpHandle | undefined) => {
      if (status < 0 || accepted === undefined) return;
      const handle = accepted as unknown as NativeStreamHandle;
      accepted.setNoDelay?.(true);
      handle.onread = onread as NativeStreamHandle['onread'];
      handle.useUserBuffer(landing);
      peers.set(handle, { handle, upgraded: false, room: false, held: null });
      handle.readStart();
    });
    if (why !== null) throw new Error(`ws-floor: ${why}`);
    const { port } = server.address() as AddressInfo;
    process.stdout.write(JSON.stringify({ event: 'listening', server: 'floor', host: HOST, port }) + '\n');
  });
  server.on('error', (error) => {
    process.stderr.write(`ws-floor: ${error.message}\n`);
    process.exit(1);
  });
  const stop = (): void => {
    for (const peer of [...peers.values()]) drop(peer);
    server.close(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (isMain(import.meta.url)) main();
