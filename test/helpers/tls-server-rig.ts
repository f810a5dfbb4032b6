/**
 * A TLS server for the transport's tests, built the way the layer stack will build it: accept TCP (a
 * native handle read in `onread` mode, as `Server` does, or net.Server's socket in `copy` mode), optionally
 * let a fake layer read a PROXY-like line first, then `TlsTransport.server` over the TCP transport, and a
 * `Connection` once the handshake finished. Every step is recorded for the test to check.
 */
import * as net from 'node:net';
import {
  BufferPool,
  CompletionDispatcher,
  Connection,
  type ConnectionCallbacks,
  type ConnectionOptionsInput,
  type PorticoError,
  TcpTransport,
  type TcpReadMode,
  TimerWheel,
  TlsTransport,
  type TlsServerTransportOptions,
  type TransportSink,
  systemClock,
} from '../../framework/index.js';
import { type NativeTcpHandle, takeOverAccepts } from '../../framework/server/accept-handles.js';
import { selfSignedCert } from './self-signed-cert.js';

/** What happened to one accepted connection before and around its handshake. */
export interface AcceptedTls {
  transport: TlsTransport;
  /** What the transport's sink saw before the Connection took over (handshake failures end here). */
  handshakeEvents: string[];
  handshakeError: PorticoError | null;
  /** The bytes the fake layer read in its first read: header and what followed it. */
  firstRead: Buffer | null;
  leftover: Buffer | null;
  conn: Connection | null;
}

export interface TlsServerRig {
  port: number;
  pool: BufferPool;
  accepted: AcceptedTls[];
  close(): Promise<void>;
}

export interface TlsServerRigOptions {
  handler: ConnectionCallbacks;
  tls?: Partial<TlsServerTransportOptions>;
  readMode?: TcpReadMode;
  /** Read a line ending in CRLF first (as a PROXY v1 layer would), and hand what followed it to TLS. */
  headerLayer?: boolean;
  pool?: BufferPool;
  connection?: ConnectionOptionsInput;
}

/** Listen on 127.0.0.1 (an ephemeral port) and run TLS over every accepted connection. */
export async function startTlsServer(options: TlsServerRigOptions): Promise<TlsServerRig> {
  const pool = options.pool ?? new BufferPool({ bufferSize: 16 * 1024 });
  const dispatcher = new CompletionDispatcher();
  const wheel = new TimerWheel({ clock: systemClock, tickMs: 20 });
  const { cert, key } = selfSignedCert();
  const tlsOptions: TlsServerTransportOptions = { cert, key, ...options.tls };
  const accepted: AcceptedTls[] = [];
  const readMode = options.readMode ?? 'onread';

  const startTls = (tcp: TcpTransport, record: Omit<AcceptedTls, 'transport'>, leftover: Buffer[]): void => {
    const transport = TlsTransport.server(tcp, tlsOptions, leftover);
    const entry: AcceptedTls = { transport, ...record };
    accepted.push(entry);
    const sink: TransportSink = {
      onData(buffer) {
        entry.handshakeEvents.push('data');
        buffer.release();
        return false;
      },
      onEnd: () => entry.handshakeEvents.push('end'),
      onWriteShut: () => entry.handshakeEvents.push('writeShut'),
      onError(error) {
        entry.handshakeEvents.push(`error:${error.code}`);
        entry.handshakeError = error;
      },
      onClosed: () => entry.handshakeEvents.push('closed'),
    };
    transport.attach(sink);
    transport.onSecure((error) => {
      entry.handshakeEvents.push(error === null ? 'secure' : `secure-failed:${error.code}`);
      if (error !== null) return;
      const conn = new Connection(transport, options.handler, undefined, { dispatcher, wheel, clock: systemClock, pool }, options.connection ?? {});
      entry.conn = conn;
      conn.start();
    });
  };

  const admit = (tcp: TcpTransport): void => {
    const record = { handshakeEvents: [] as string[], handshakeError: null, firstRead: null as Buffer | null, leftover: null as Buffer | null, conn: null };
    if (options.headerLayer !== true) {
      startTls(tcp, record, []);
      return;
    }
    tcp.attach({
      onData(buffer) {
        const bytes = Buffer.from(buffer.data);
        buffer.release();
        const eol = bytes.indexOf('\r\n');
        if (eol < 0) throw new Error('the fake header layer wants the whole line in one read');
        record.firstRead = bytes;
        record.leftover = bytes.subarray(eol + 2);
        // From inside the read, as a PROXY layer that found its header would.
        startTls(tcp, record, record.leftover.length > 0 ? [record.leftover] : []);
        return false;
      },
      onEnd: () => record.handshakeEvents.push('tcp-end'),
      onWriteShut: () => {},
      onError: (error) => record.handshakeEvents.push(`tcp-error:${error.code}`),
      onClosed: () => record.handshakeEvents.push('tcp-closed'),
    });
    tcp.resumeReading();
  };

  const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true }, (socket) => admit(TcpTransport.fromSocket(socket, pool)));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  if (readMode === 'onread') {
    const why = takeOverAccepts(server, (status: number, handle: NativeTcpHandle | undefined) => {
      if (status < 0 || handle === undefined) return;
      admit(TcpTransport.fromHandle(handle, pool, 'onread'));
    });
    if (why !== null) throw new Error(`cannot take over accepts: ${why}`);
  }
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    pool,
    accepted,
    async close() {
      for (const a of accepted) a.transport.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
