import type { SocketEndpoint } from '../../transport/transport.js';

/** One PROXY protocol v2 TLV (type-length-value) as received. */
export interface ProxyTlv {
  readonly type: number;
  readonly value: Uint8Array;
}

/** What the address block of a PROXY header describes (v1: TCP4 / TCP6 / UNKNOWN; v2: family × transport). */
export type ProxyAddressKind = 'tcp4' | 'tcp6' | 'udp4' | 'udp6' | 'unix-stream' | 'unix-dgram' | 'unknown';

/**
 * What a PROXY protocol header (haproxy `doc/proxy-protocol.txt`) said about a relayed connection.
 * `command: 'local'` (v2 LOCAL, e.g. the proxy's own health check) and `kind: 'unknown'` carry no
 * usable addresses: the connection's own endpoints stay in force.
 */
export interface ProxyInfo {
  readonly version: 1 | 2;
  readonly command: 'proxy' | 'local';
  readonly kind: ProxyAddressKind;
  /** The original client; null for LOCAL, UNKNOWN and UNIX. */
  readonly source: SocketEndpoint | null;
  /** The address the client connected to (the proxy's frontend); null as for `source`. */
  readonly destination: SocketEndpoint | null;
  /** AF_UNIX paths (v2 only), else null. */
  readonly sourcePath: string | null;
  readonly destinationPath: string | null;
  /** Every TLV in order (v2 only; empty for v1). */
  readonly tlvs: readonly ProxyTlv[];
  /** PP2_TYPE_ALPN as text, when present. */
  readonly alpn: string | null;
  /** PP2_TYPE_AUTHORITY (the SNI the client sent), when present. */
  readonly authority: string | null;
  /** PP2_TYPE_UNIQUE_ID, when present. */
  readonly uniqueId: Uint8Array | null;
  /** PP2_TYPE_NETNS, when present. */
  readonly netns: string | null;
  /** The PP2_TYPE_SSL sub-TLVs, when present. */
  readonly ssl: ProxySslInfo | null;
  /** True when a PP2_TYPE_CRC32C TLV was present (and matched: a mismatch rejects the header). */
  readonly crcChecked: boolean;
}

/** PP2_TYPE_SSL: the client's TLS connection to the proxy. */
export interface ProxySslInfo {
  /** PP2_CLIENT_* bit field. */
  readonly client: number;
  /** 0 when the client presented a certificate that verified. */
  readonly verify: number;
  readonly version: string | null;
  readonly cipher: string | null;
  readonly sigAlg: string | null;
  readonly keyAlg: string | null;
  readonly commonName: string | null;
  /**
   * Every sub-TLV in order, including those without a field above (PP2_SUBTYPE_SSL_GROUP,
   * PP2_SUBTYPE_SSL_SIG_SCHEME, PP2_SUBTYPE_SSL_CLIENT_CERT and any added to the spec later).
   */
  readonly tlvs: readonly ProxyTlv[];
}
