/**
 * The TLVs of a PROXY protocol v2 header: every one kept in order, the registered ones checked and
 * exposed (ALPN, AUTHORITY, CRC32C verified, UNIQUE_ID, SSL with its sub-TLVs, NETNS). Lengths are
 * checked against the header, which the caller has already bounded, before any value is taken.
 */
import { crc32c } from './crc32c.js';
import type { ProxySslInfo, ProxyTlv } from './proxy-info.js';
import { SSL_TLV_FIXED_LENGTH, TLV_HEADER_LENGTH, TlvType, UNIQUE_ID_MAX_LENGTH } from './proxy-protocol-constants.js';

/** What the TLVs said, for ProxyInfo. */
export interface ProxyTlvFields {
  readonly tlvs: readonly ProxyTlv[];
  readonly alpn: string | null;
  readonly authority: string | null;
  readonly uniqueId: Uint8Array | null;
  readonly netns: string | null;
  readonly ssl: ProxySslInfo | null;
  readonly crcChecked: boolean;
}

// Not fatal: the raw bytes stay available in `tlvs`; the text fields are for logs and routing.
const utf8 = new TextDecoder('utf-8');

/**
 * Split `bytes[start, end)` into TLVs: `{ tlvs }` or why they are malformed. The values are views into
 * `bytes`, so pass a copy the caller owns.
 */
function splitTlvs(bytes: Uint8Array, start: number, end: number): ProxyTlv[] | string {
  const tlvs: ProxyTlv[] = [];
  let offset = start;
  while (offset < end) {
    if (offset + TLV_HEADER_LENGTH > end) return `a TLV header at offset ${offset} runs past the end`;
    const type = bytes[offset];
    const length = (bytes[offset + 1] << 8) | bytes[offset + 2];
    const valueStart = offset + TLV_HEADER_LENGTH;
    if (valueStart + length > end) return `TLV 0x${type.toString(16)} at offset ${offset} runs past the end`;
    tlvs.push({ type, value: bytes.subarray(valueStart, valueStart + length) });
    offset = valueStart + length;
  }
  return tlvs;
}

/**
 * Parse the TLVs in `header[start, header.length)`, `header` being the whole v2 header (a copy the
 * caller owns: values are views into it). Returns the fields, or why the TLVs are not valid.
 */
export function parseProxyTlvs(header: Uint8Array, start: number): ProxyTlvFields | string {
  const tlvs = splitTlvs(header, start, header.length);
  if (typeof tlvs === 'string') return tlvs;
  let alpn: string | null = null;
  let authority: string | null = null;
  let uniqueId: Uint8Array | null = null;
  let netns: string | null = null;
  let ssl: ProxySslInfo | null = null;
  let crcChecked = false;
  // A type sent twice is kept in `tlvs`; the fields take the first, as haproxy's sample fetches do.
  for (const tlv of tlvs) {
    switch (tlv.type) {
      case TlvType.ALPN:
        alpn ??= utf8.decode(tlv.value);
        break;
      case TlvType.AUTHORITY:
        authority ??= utf8.decode(tlv.value);
        break;
      case TlvType.CRC32C: {
        if (tlv.value.length !== 4) return `CRC32C TLV of ${tlv.value.length} bytes, not 4`;
        const field = tlv.value.byteOffset - header.byteOffset;
        let crc = crc32c(header, 0, 0, field);
        crc = crc32c(ZERO_CRC, crc);
        crc = crc32c(header, crc, field + 4, header.length);
        const sent = ((tlv.value[0] << 24) | (tlv.value[1] << 16) | (tlv.value[2] << 8) | tlv.value[3]) >>> 0;
        if (crc !== sent) return `CRC32C mismatch (header 0x${sent.toString(16)}, computed 0x${crc.toString(16)})`;
        crcChecked = true;
        break;
      }
      case TlvType.UNIQUE_ID:
        if (tlv.value.length > UNIQUE_ID_MAX_LENGTH) return `UNIQUE_ID TLV of ${tlv.value.length} bytes, over ${UNIQUE_ID_MAX_LENGTH}`;
        uniqueId ??= tlv.value;
        break;
      case TlvType.SSL: {
        const parsed = parseSsl(tlv.value);
        if (typeof parsed === 'string') return parsed;
        ssl ??= parsed;
        break;
      }
      case TlvType.NETNS:
        netns ??= utf8.decode(tlv.value);
        break;
      default:
        // NOOP, the custom / experimental / future ranges and types registered after this was written.
        break;
    }
  }
  return { tlvs, alpn, authority, uniqueId, netns, ssl, crcChecked };
}

const ZERO_CRC = new Uint8Array(4);

function parseSsl(value: Uint8Array): ProxySslInfo | string {
  if (value.length < SSL_TLV_FIXED_LENGTH) return `SSL TLV of ${value.length} bytes, shorter than its ${SSL_TLV_FIXED_LENGTH}-byte client and verify fields`;
  const sub = splitTlvs(value, SSL_TLV_FIXED_LENGTH, value.length);
  if (typeof sub === 'string') return `SSL sub-TLVs: ${sub}`;
  const text = (type: number): string | null => {
    const found = sub.find((tlv) => tlv.type === type);
    return found === undefined ? null : utf8.decode(found.value);
  };
  return {
    client: value[0],
    verify: ((value[1] << 24) | (value[2] << 16) | (value[3] << 8) | value[4]) >>> 0,
    version: text(TlvType.SSL_VERSION),
    cipher: text(TlvType.SSL_CIPHER),
    sigAlg: text(TlvType.SSL_SIG_ALG),
    keyAlg: text(TlvType.SSL_KEY_ALG),
    commonName: text(TlvType.SSL_CN),
    tlvs: sub,
  };
}
