import * as net from 'node:net';

/** Connect a plain node:net client to 127.0.0.1:port (bounded). */
export function connectClient(port: number, options: { allowHalfOpen?: boolean } = {}): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: options.allowHalfOpen ?? true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connect to ${port} timed out`));
    }, 5000);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

export interface ClientOutcome {
  data: Buffer;
  /** How the stream of data ended: the server's FIN, or an error such as ECONNRESET. */
  ended: 'end' | 'error' | 'close';
  errorCode?: string;
}

/** Collect everything the socket receives until FIN, error or close (bounded). */
export function collect(socket: net.Socket, ms = 5000): Promise<ClientOutcome> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const done = (ended: ClientOutcome['ended'], errorCode?: string): void => {
      clearTimeout(timer);
      resolve({ data: Buffer.concat(chunks), ended, ...(errorCode ? { errorCode } : {}) });
    };
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no end of stream within ${ms} ms (got ${Buffer.concat(chunks).length} bytes)`));
    }, ms);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.once('end', () => done('end'));
    socket.once('error', (error: NodeJS.ErrnoException) => done('error', error.code));
    socket.once('close', () => done('close'));
  });
}

/** Read exactly n bytes (bounded). */
export function readBytes(socket: net.Socket, n: number, ms = 5000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      got += chunk.length;
      if (got >= n) {
        cleanup();
        resolve(Buffer.concat(chunks));
      }
    };
    const onEnd = (): void => {
      cleanup();
      reject(new Error(`stream ended after ${got} of ${n} bytes`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`got ${got} of ${n} bytes within ${ms} ms`));
    }, ms);
    const cleanup = (): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onEnd);
    };
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('error', onEnd);
  });
}

/** Resolves once a socket whose write returned false has drained — or closed (then no 'drain' comes). */
export function drainedOrClosed(socket: net.Socket): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}
