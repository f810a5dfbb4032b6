import { randomBytes } from 'node:crypto';
import { OwClient } from '../client/ow-client.js';
import { MessageType, Ret, SERVER_MESSAGE_BIT, Sg, TOKEN_SIZE } from '../protocol/constants.js';
import { encodeResponse } from '../protocol/header.js';
import type { OwRequest } from '../protocol/request.js';

/**
 * Proxy mode: answer requests from an upstream owserver (real or portico). As owserver does, each
 * forwarded request carries the anti-loop tokens it arrived with plus this server's own; a request
 * that comes back with our token is a loop and is dropped (see `isLoop`).
 */
export class UpstreamForwarder {
  readonly token: Buffer = randomBytes(TOKEN_SIZE);
  readonly #client: OwClient;

  constructor(options: { host: string; port: number; poolSize?: number; timeoutMs?: number }) {
    this.#client = new OwClient({ host: options.host, port: options.port, poolSize: options.poolSize ?? 4, timeoutMs: options.timeoutMs ?? 5000 });
  }

  /** The request went round in a circle of servers and came back to us. */
  isLoop(request: OwRequest): boolean {
    return request.tokens.some((t) => t.equals(this.token));
  }

  /** Forward and re-encode the answer with our own persistence decision in `sg`. */
  async forward(request: OwRequest, keepOpen: boolean): Promise<Buffer> {
    const { header } = request;
    const tokens = [...request.tokens, this.token];
    const sgOut = (s: number): number => (keepOpen ? s | Sg.PERSISTENT : s & ~Sg.PERSISTENT);
    const size = header.type === MessageType.WRITE ? request.data.length : header.size;
    try {
      const answer = await this.#client.request(
        header.type,
        request.path,
        header.type === MessageType.WRITE ? request.data : null,
        { size, offset: header.offset, sg: header.sg & ~Sg.PERSISTENT, version: SERVER_MESSAGE_BIT | tokens.length, tokens, rejectOnError: false },
        header.type === MessageType.DIR ? 'dir' : 'single',
      );
      return Buffer.concat(answer.messages.map((m) => encodeResponse({ ...m.header, version: 0, sg: sgOut(m.header.sg) }, m.body.length > 0 ? m.body : null)));
    } catch {
      return encodeResponse({ version: 0, payload: 0, ret: Ret.EIO, sg: sgOut(header.sg), size: 0, offset: 0 });
    }
  }

  close(): void {
    this.#client.close();
  }
}
