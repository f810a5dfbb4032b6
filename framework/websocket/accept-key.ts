import { createHash } from 'node:crypto';

/** The GUID both HyBi-07/08 and RFC 6455 append to the key before hashing (RFC 6455 §1.3). */
export const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

// Base64 of exactly 16 bytes is 22 symbols and "==" (RFC 4648 §4); ws checks the same shape.
const KEY = /^[A-Za-z0-9+/]{22}==$/;

/** True when `key` is a Sec-WebSocket-Key: base64 that decodes to exactly 16 bytes (RFC 6455 §4.1, §11.3.1). */
export function isWebSocketKey(key: string): boolean {
  return KEY.test(key);
}

/** The Sec-WebSocket-Accept for a key: base64(SHA-1(key + GUID)) (RFC 6455 §4.2.2, the same in v7, v8 and v13). */
export function websocketAccept(key: string): string {
  return createHash('sha1').update(key + WEBSOCKET_GUID, 'latin1').digest('base64');
}
