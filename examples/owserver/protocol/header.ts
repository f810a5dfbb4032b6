import { HEADER_SIZE } from './constants.js';

/** A request header: six big-endian int32. */
export interface RequestHeader {
  version: number;
  payload: number;
  type: number;
  sg: number;
  size: number;
  offset: number;
}

/** A response header: the third word is `ret` instead of `type`. */
export interface ResponseHeader {
  version: number;
  payload: number;
  ret: number;
  sg: number;
  size: number;
  offset: number;
}

export function encodeHeader(fields: readonly [number, number, number, number, number, number], into: Buffer = Buffer.allocUnsafe(HEADER_SIZE), at = 0): Buffer {
  for (let i = 0; i < 6; i++) into.writeInt32BE(fields[i]! | 0, at + i * 4);
  return into;
}

export function decodeResponseHeader(bytes: Uint8Array, at = 0): ResponseHeader {
  const view = new DataView(bytes.buffer, bytes.byteOffset + at, HEADER_SIZE);
  return {
    version: view.getInt32(0),
    payload: view.getInt32(4),
    ret: view.getInt32(8),
    sg: view.getInt32(12),
    size: view.getInt32(16),
    offset: view.getInt32(20),
  };
}

/** A whole response message: header plus body. */
export function encodeResponse(header: ResponseHeader, body: Uint8Array | null = null): Buffer {
  const length = body === null ? 0 : body.length;
  const out = Buffer.allocUnsafe(HEADER_SIZE + length);
  encodeHeader([header.version, header.payload, header.ret, header.sg, header.size, header.offset], out, 0);
  if (body !== null) out.set(body, HEADER_SIZE);
  return out;
}

/** A whole request message: header plus path (NUL-terminated) plus data plus tokens. */
export function encodeRequest(
  fields: { version?: number; type: number; sg: number; size: number; offset?: number },
  path: string | null,
  data: Uint8Array | null = null,
  tokens: readonly Uint8Array[] = [],
): Buffer {
  const pathBytes = path === null ? Buffer.alloc(0) : Buffer.from(`${path}\0`, 'utf8');
  const dataLength = data === null ? 0 : data.length;
  const payload = pathBytes.length + dataLength;
  const out = Buffer.allocUnsafe(HEADER_SIZE + payload + tokens.length * 16);
  encodeHeader([fields.version ?? 0, payload, fields.type, fields.sg, fields.size, fields.offset ?? 0], out, 0);
  pathBytes.copy(out, HEADER_SIZE);
  if (data !== null) out.set(data, HEADER_SIZE + pathBytes.length);
  let at = HEADER_SIZE + payload;
  for (const token of tokens) {
    out.set(token.subarray(0, 16), at);
    at += 16;
  }
  return out;
}
