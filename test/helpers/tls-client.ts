/**
 * node:tls clients for the TLS transport's tests: over a TCP socket of our own (so a test can send a
 * bare FIN or an RST under TLS), optionally with a prefix sent in the same write as the ClientHello.
 */
import * as net from 'node:net';
import { Duplex } from 'node:stream';
import * as tls from 'node:tls';

export interface TlsTestClient {
  /** The TLS socket. */
  socket: tls.TLSSocket;
  /** The TCP socket under it. */
  raw: net.Socket;
  /** With `tap`: the encrypted bytes received, in order. */
  received: Buffer[];
}

export interface TlsTestClientOptions {
  ca?: Buffer | Buffer[];
  cert?: Buffer;
  key?: Buffer;
  servername?: string;
  ALPNProtocols?: string[];
  /** Sent in one write together with the ClientHello (a PROXY header before TLS). */
  prefix?: Buffer;
  /** Resolve at TCP connect instead of waiting for the handshake. */
  noWait?: boolean;
  /** Keep every raw (encrypted) byte received in `received` (TLS then runs over a JS stream). */
  tap?: boolean;
}

/**
 * A stream that writes its first chunk (the ClientHello) to `raw` with `prefix` in front, in one write,
 * and passes everything else through: TLS then runs over a JS stream instead of the TCP handle.
 */
function prefixedStream(raw: net.Socket, prefix: Buffer, received: Buffer[] | null): Duplex {
  let first = true;
  const duplex = new Duplex({
    write(chunk: Buffer, _encoding, callback) {
      const out = first ? Buffer.concat([prefix, chunk]) : chunk;
      first = false;
      raw.write(out, callback);
    },
    final(callback) {
      raw.end(callback);
    },
    read() {
      raw.resume();
    },
    destroy(error, callback) {
      raw.destroy();
      callback(error);
    },
  });
  raw.on('data', (chunk: Buffer) => {
    received?.push(chunk);
    if (!duplex.push(chunk)) raw.pause();
  });
  raw.on('end', () => duplex.push(null));
  raw.on('error', (error) => duplex.destroy(error));
  return duplex;
}

/** Connect to 127.0.0.1:port and finish the handshake (bounded). */
export async function tlsClient(port: number, options: TlsTestClientOptions = {}): Promise<TlsTestClient> {
  const raw = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  await new Promise<void>((resolve, reject) => {
    raw.once('connect', resolve);
    raw.once('error', reject);
  });
  const received: Buffer[] = [];
  const under: net.Socket | Duplex =
    options.prefix !== undefined || options.tap === true ? prefixedStream(raw, options.prefix ?? Buffer.alloc(0), options.tap === true ? received : null) : raw;
  const socket = tls.connect({
    socket: under as net.Socket,
    host: '127.0.0.1',
    servername: options.servername ?? 'localhost',
    ...(options.ca !== undefined ? { ca: options.ca } : {}),
    ...(options.cert !== undefined ? { cert: options.cert } : {}),
    ...(options.key !== undefined ? { key: options.key } : {}),
    ...(options.ALPNProtocols !== undefined ? { ALPNProtocols: options.ALPNProtocols } : {}),
  });
  if (options.noWait === true) return { socket, raw, received };
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('TLS handshake did not finish within 5 s')), 5000);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
  return { socket, raw, received };
}

/** The length of each complete TLS record in `stream` (a record cut off at the end is left out). */
export function tlsRecordLengths(stream: Buffer): number[] {
  const lengths: number[] = [];
  for (let at = 0; at + 5 <= stream.length; ) {
    const length = stream.readUInt16BE(at + 3);
    if (at + 5 + length > stream.length) break;
    lengths.push(length);
    at += 5 + length;
  }
  return lengths;
}

/**
 * The size of an encrypted TLS 1.3 alert record (close_notify): 2 bytes of alert, 1 of inner content
 * type, 16 of AEAD tag. No other record of these tests is that small.
 */
export const TLS13_ALERT_RECORD_LENGTH = 19;

export interface TlsOutcome {
  data: Buffer;
  /** 'end': close_notify or FIN; 'error': the code in `errorCode`; 'close' without either. */
  ended: 'end' | 'error' | 'close';
  errorCode?: string;
}

/** Everything the socket receives until end of stream, error or close (bounded). */
export function collectTls(socket: tls.TLSSocket, ms = 10_000): Promise<TlsOutcome> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const done = (ended: TlsOutcome['ended'], errorCode?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ data: Buffer.concat(chunks), ended, ...(errorCode !== undefined ? { errorCode } : {}) });
    };
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no end of stream within ${ms} ms (got ${Buffer.concat(chunks).length} bytes)`));
    }, ms);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.once('end', () => done('end'));
    socket.once('error', (error: NodeJS.ErrnoException) => done('error', error.code ?? error.message));
    socket.once('close', () => done('close'));
  });
}
