/** owserver wire constants (reference: shared/reference/owserver-protocol.md). */

export const HEADER_SIZE = 24;
/** MAX_OWSERVER_PROTOCOL_PAYLOAD_SIZE: the largest body (plus tokens) owserver accepts. */
export const MAX_PAYLOAD = 100050;
export const TOKEN_SIZE = 16;
/** A path longer than this does not parse (-1); READ, DIR and DIRALL refuse a payload of this size or more (-90). */
export const PATH_MAX = 4096;
export const DEFAULT_PORT = 4304;

export const MessageType = {
  ERROR: 0,
  NOP: 1,
  READ: 2,
  WRITE: 3,
  DIR: 4,
  SIZE: 5,
  PRESENT: 6,
  DIRALL: 7,
  GET: 8,
  DIRALLSLASH: 9,
  GETSLASH: 10,
} as const;
export type MessageTypeCode = (typeof MessageType)[keyof typeof MessageType];

export function messageTypeName(type: number): string {
  for (const [name, code] of Object.entries(MessageType)) if (code === type) return name;
  return `type ${type}`;
}

/** Bits of the `sg` control word. */
export const Sg = {
  BUS_LIST: 0x00000002,
  PERSISTENT: 0x00000004,
  ALIAS: 0x00000008,
  SAFEMODE: 0x00000010,
  UNCACHED: 0x00000020,
  TRIM: 0x00000040,
  OWNET: 0x00000100,
  TEMPERATURE_MASK: 0x00030000,
  PRESSURE_MASK: 0x001c0000,
  FORMAT_MASK: 0xff000000,
} as const;

/** Bit 16 of `version`: the sender is an owserver; the low 16 bits count the anti-loop tokens. */
export const SERVER_MESSAGE_BIT = 0x00010000;

/** owserver return codes (negated errno, except the plain -1 for an unparsable path). */
export const Ret = {
  PATH: -1,
  ENOENT: -2,
  EIO: -5,
  ENOTDIR: -20,
  EISDIR: -21,
  EINVAL: -22,
  ENOMSG: -42,
  EBADMSG: -74,
  EMSGSIZE: -90,
  EOPNOTSUPP: -95,
  ETIMEDOUT: -110,
} as const;

const retNames: Record<number, string> = {
  [-1]: 'path not found or unparsable',
  [-2]: 'ENOENT',
  [-5]: 'EIO (input/output error)',
  [-20]: 'ENOTDIR (not a directory)',
  [-21]: 'EISDIR (is a directory)',
  [-22]: 'EINVAL (invalid value)',
  [-42]: 'ENOMSG (message type not supported)',
  [-74]: 'EBADMSG (bad message)',
  [-90]: 'EMSGSIZE (message too long)',
  [-95]: 'EOPNOTSUPP (operation not supported, e.g. read-only)',
  [-110]: 'ETIMEDOUT',
};

/** "-21 EISDIR (is a directory)" */
export function describeRet(ret: number): string {
  return `${ret} ${retNames[ret] ?? 'error'}`;
}
