/**
 * What the flood needs from a protocol: frame one request, and recognise (and check) complete
 * replies in the byte stream. Everything else — sockets, timing, counting — is the flood's job, so
 * adding a protocol is one file implementing these two interfaces.
 */
import type { FloodProtocol } from '../types.js';

/** The fate of one reply. */
export type ReplyCheck =
  | {
      readonly ok: true;
      /**
       * The server closes the connection after this reply (owserver without a persistence grant):
       * the flood connection goes on with its remaining messages on a new TCP connection, and sends
       * again the ones already written but not answered.
       */
      readonly serverCloses?: boolean;
      /** An information-only code counted in FloodResult.errors (e.g. PERSISTENCE_REFUSED); the reply is still good. */
      readonly note?: string;
    }
  /** `code` lands in FloodResult.errors (e.g. MISMATCH); the connection is then counted bad. */
  | { readonly ok: false; readonly code: string; readonly detail: string };

/** One connection's framing state (replies may arrive split or coalesced). */
export interface FloodProtocolSession {
  /** The wire bytes of message `messageIndex` (0-based) of this connection (called again for a message re-sent after `serverCloses`). */
  frameRequest(messageIndex: number): Uint8Array;
  /**
   * Feeds received bytes; returns one check per reply completed by them, in order. After a failed
   * check the session's state is undefined and the flood stops using it.
   */
  receive(chunk: Uint8Array): ReplyCheck[];
  /** What is known of the reply still awaited, for the error when it never completes (raw: what arrived). */
  pendingReply?(): string;
}

export interface FloodProtocolClient {
  readonly protocol: FloodProtocol;
  /** A fresh session for connection number `connectionIndex` (0-based). */
  openSession(connectionIndex: number): FloodProtocolSession;
}
