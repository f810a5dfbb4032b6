/** WebSocket frame opcodes (RFC 6455 section 5.2; the same values in HyBi-08). */
export const Opcode = {
  CONTINUATION: 0x0,
  TEXT: 0x1,
  BINARY: 0x2,
  CLOSE: 0x8,
  PING: 0x9,
  PONG: 0xa,
} as const;

/** One of the opcodes defined by RFC 6455; 3–7 and 0xB–0xF are reserved. */
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

/** True for close, ping and pong: at most 125 payload bytes, never fragmented. */
export function isControlOpcode(opcode: number): boolean {
  return opcode >= 0x8;
}

/** True for the six opcodes RFC 6455 defines. */
export function isDefinedOpcode(opcode: number): boolean {
  return opcode <= 0x2 || (opcode >= 0x8 && opcode <= 0xa);
}

/** Largest payload of a control frame (a 7-bit length with 126 and 127 excluded). */
export const MAX_CONTROL_PAYLOAD = 125;
