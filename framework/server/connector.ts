import { BufferPool } from '../buffers/buffer-pool.js';
import { type Clock, systemClock } from '../core/clock.js';
import { type CompletionDispatcher, sharedDispatcher } from '../core/dispatcher.js';
import { ErrorCodes, PorticoError, fromSocketError } from '../core/errors.js';
import { TimerWheel } from '../core/timer-wheel.js';
import { Connection, type HandlerSource } from '../connection/connection.js';
import type { ConnectionOptionsInput } from '../connection/connection-options.js';
import { TcpTransport, type TcpReadMode } from '../transport/tcp-transport.js';
import { type TlsConnectTarget, TlsTransport } from '../transport/tls-transport.js';
import type { Transport } from '../transport/transport.js';
import type { PooledBuffer } from '../buffers/pooled-buffer.js';
import type { HandshakeHandler } from '../layers/handshake.js';
import { LayerStack } from '../layers/layer-stack.js';

export interface ConnectOptions<U> {
  host: string;
  port: number;
  /** Give up after this many ms (PORTICO_ERR_CONNECT_TIMEOUT). Default 10000. */
  timeoutMs?: number;
  handler: HandlerSource<U>;
  user?: U;
  /** Told why the connection could not be made (the promise rejects with the same error). */
  onConnectionFailed?: (error: PorticoError) => void;
  connection?: ConnectionOptionsInput;
  noDelay?: boolean;
  pool?: BufferPool;
  dispatcher?: CompletionDispatcher;
  wheel?: TimerWheel;
  clock?: Clock;
  readMode?: TcpReadMode;
  /**
   * Run TLS over the connection (SNI, CAs, client certificate, ALPN): the promise resolves only after the
   * handshake, and a failed one rejects with PORTICO_ERR_TLS. `timeoutMs` bounds connect and handshake.
   */
  tls?: Omit<TlsConnectTarget, 'host' | 'port'>;
  /**
   * Handshake layers run in order once connected (and, with `tls`, secured), before the handler sees
   * the connection (send-proxy). The promise resolves when all are done; a layer's failure rejects it.
   */
  handshakes?: readonly HandshakeHandler[];
  /** Default 10000: the handshake layers must be done by then (PORTICO_ERR_HANDSHAKE_TIMEOUT). */
  handshakeTimeoutMs?: number;
}

let defaultPool: BufferPool | null = null;
let defaultWheel: TimerWheel | null = null;

/**
 * Open an outgoing connection with the same callback surface as accepted ones. Resolves once
 * connected (after which `onConnectionEstablished` runs); rejects with a PorticoError whose code says
 * why: PORTICO_ERR_CONNECT_REFUSED, PORTICO_ERR_CONNECT_TIMEOUT or PORTICO_ERR_CONNECT_FAILED — and
 * with `tls`, PORTICO_ERR_TLS when the handshake failed (the server's certificate did not verify, ...).
 */
export function connect<U = undefined>(options: ConnectOptions<U>): Promise<Connection<U>> {
  const pool = options.pool ?? (defaultPool ??= new BufferPool());
  const clock = options.clock ?? systemClock;
  const wheel = options.wheel ?? (defaultWheel ??= new TimerWheel({ clock }));
  const dispatcher = options.dispatcher ?? sharedDispatcher();
  const timeoutMs = options.timeoutMs ?? 10000;
  const where = `${options.host}:${options.port}`;
  return new Promise((resolve, reject) => {
    const tlsTarget = options.tls;
    const transport =
      tlsTarget !== undefined
        ? TlsTransport.connect({ ...tlsTarget, host: options.host, port: options.port }, pool)
        : TcpTransport.connect({ host: options.host, port: options.port }, pool, options.readMode ?? 'onread');
    const socket = transport instanceof TlsTransport ? transport.tcpSocket : transport.socket;
    let settled = false;
    const fail = (error: PorticoError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      transport.destroy();
      failed(error);
    };
    const failed = (error: PorticoError): void => {
      try {
        options.onConnectionFailed?.(error);
      } catch (thrown) {
        // User code: contained; the promise still rejects with why the connection failed.
        process.emitWarning(`portico connect: onConnectionFailed threw: ${thrown instanceof Error ? thrown.message : String(thrown)}`, { code: ErrorCodes.CALLBACK_THREW });
      }
      reject(error);
    };
    const timer = setTimeout(() => {
      fail(new PorticoError(ErrorCodes.CONNECT_TIMEOUT, 'connector', `connect to ${where} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    const onError = (error: NodeJS.ErrnoException): void => {
      const mapped = fromSocketError(error, 'connector');
      fail(
        mapped.code === ErrorCodes.CONNECT_REFUSED
          ? new PorticoError(ErrorCodes.CONNECT_REFUSED, 'connector', `connection to ${where} refused`, { cause: error })
          : new PorticoError(ErrorCodes.CONNECT_FAILED, 'connector', `connect to ${where} failed: ${error.code ?? error.message}`, { cause: error }),
      );
    };
    const established = (): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const open = (over: Transport, leftover: PooledBuffer[], hooks: (() => void)[] = []): Connection<U> => {
        const onFinished = hooks.length === 0 ? undefined : (): void => hooks.forEach((hook) => hook());
        const conn = new Connection<U>(over, options.handler, options.user as U, { dispatcher, wheel, clock, pool, ...(onFinished ? { onFinished } : {}) }, options.connection ?? {});
        conn.start(leftover);
        resolve(conn);
        return conn;
      };
      const handshakes = options.handshakes ?? [];
      if (handshakes.length === 0) {
        open(transport, []);
        return;
      }
      const stack = new LayerStack(
        transport,
        { handlers: handshakes, direction: 'outgoing', deadlineMs: options.handshakeTimeoutMs ?? 10000, maxBufferedBytes: 16384, lingerMs: 1000, wheel, clock, pool },
        {
          ready: (_stack, over, leftover) => {
            const conn = open(over, leftover, stack.takeFinishedHooks());
            conn.adoptHandshake(stack.proxied, stack.proxiedEnds);
            return conn.wantsInput;
          },
          ended: (_stack, outcome) => {
            const error =
              outcome.kind === 'failed'
                ? outcome.error
                : new PorticoError(ErrorCodes.CONNECT_FAILED, 'connector', `${where}: the peer closed during the ${outcome.handler} handshake`);
            failed(error);
          },
        },
      );
      stack.start();
    };
    if (options.noDelay ?? true) socket.once('connect', () => socket.setNoDelay(true));
    if (transport instanceof TlsTransport) {
      transport.onSecure((error) => {
        if (error === null) established();
        else if (error.code === ErrorCodes.TLS) fail(error);
        else onError((error.cause as NodeJS.ErrnoException | undefined) ?? error);
      });
      return;
    }
    socket.once('error', onError);
    socket.once('connect', () => {
      socket.off('error', onError);
      established();
    });
  });
}
