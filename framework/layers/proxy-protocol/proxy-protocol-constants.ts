/** Wire constants of the PROXY protocol (haproxy `doc/proxy-protocol.txt`), shared by the parser and the encoders. */

/** The v1 line starts with these 6 bytes: "PROXY ". */
export const V1_PREFIX: Uint8Array = Uint8Array.of(0x50, 0x52, 0x4f, 0x58, 0x59, 0x20);

/** A v1 line, CRLF included, is at most 107 bytes (the spec's worst case, UNKNOWN with two IPv6 addresses). */
export const V1_MAX_LINE = 107;

/** The 12-byte v2 signature: \r\n\r\n\0\r\nQUIT\n. */
export const V2_SIGNATURE: Uint8Array = Uint8Array.of(0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a);

/** Signature, version/command, family/transport, 16-bit length. */
export const V2_FIXED_LENGTH = 16;

export const V2_VERSION = 0x20;
export const V2_COMMAND_LOCAL = 0x00;
export const V2_COMMAND_PROXY = 0x01;

/** High nibble of the 14th byte. */
export const V2_FAMILY_UNSPEC = 0x00;
export const V2_FAMILY_INET = 0x10;
export const V2_FAMILY_INET6 = 0x20;
export const V2_FAMILY_UNIX = 0x30;

/** Low nibble of the 14th byte. */
export const V2_TRANSPORT_UNSPEC = 0x00;
export const V2_TRANSPORT_STREAM = 0x01;
export const V2_TRANSPORT_DGRAM = 0x02;

/** Address block sizes: 2×4 + 2×2, 2×16 + 2×2, 2×108. */
export const V2_ADDRESS_LENGTH_INET = 12;
export const V2_ADDRESS_LENGTH_INET6 = 36;
export const V2_ADDRESS_LENGTH_UNIX = 216;
/** sun_path size: a UNIX address is a NUL-terminated path within these bytes. */
export const V2_UNIX_PATH_LENGTH = 108;

/** A TLV is a type byte and a 16-bit length before its value. */
export const TLV_HEADER_LENGTH = 3;

/** Registered PP2_TYPE_* and PP2_SUBTYPE_SSL_* values. */
export const TlvType = {
  ALPN: 0x01,
  AUTHORITY: 0x02,
  CRC32C: 0x03,
  NOOP: 0x04,
  UNIQUE_ID: 0x05,
  SSL: 0x20,
  SSL_VERSION: 0x21,
  SSL_CN: 0x22,
  SSL_CIPHER: 0x23,
  SSL_SIG_ALG: 0x24,
  SSL_KEY_ALG: 0x25,
  SSL_GROUP: 0x26,
  SSL_SIG_SCHEME: 0x27,
  SSL_CLIENT_CERT: 0x28,
  NETNS: 0x30,
} as const;

/** PP2_TYPE_UNIQUE_ID carries at most 128 bytes. */
export const UNIQUE_ID_MAX_LENGTH = 128;

/** PP2_TYPE_SSL starts with `client` (1 byte) and `verify` (4 bytes) before its sub-TLVs. */
export const SSL_TLV_FIXED_LENGTH = 5;

/** PP2_CLIENT_* bits of the PP2_TYPE_SSL `client` field. */
export const SslClientFlag = {
  SSL: 0x01,
  CERT_CONN: 0x02,
  CERT_SESS: 0x04,
} as const;
