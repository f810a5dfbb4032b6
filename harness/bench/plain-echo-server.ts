#!/usr/bin/env node
/**
 * The baseline: the simplest correct node:net echo server, held to the portico server contract so the
 * bench drives both the same way — JSON ready line on stdout, SIGTERM → close → exit 0.
 *
 *   node dist/harness/bench/plain-echo-server.js [--port N]
 */
import * as net from 'node:net';
import { flagsHelp, parseIntFlags, type IntFlag } from './flags.js';

const HOST = '127.0.0.1';
const specs: readonly IntFlag<'port'>[] = [{ name: 'port', description: 'TCP port; 0 picks a free one', default: 0, min: 0, max: 65535 }];

const { help, values } = parseIntFlags(process.argv.slice(2), specs);
if (help) {
  process.stdout.write(flagsHelp('node dist/harness/bench/plain-echo-server.js [options]', specs));
} else {
  const sockets = new Set<net.Socket>();
  // noDelay: portico sets it on every accepted socket; the baseline must not lose to Nagle instead.
  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.on('data', (d: Buffer) => socket.write(d));
    // Half-close like portico's echo: the client's FIN gets our FIN once everything is echoed.
    socket.on('end', () => socket.end());
    // A client that resets must not crash the server (an 'error' with no listener throws).
    socket.on('error', () => socket.destroy());
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen({ host: HOST, port: values.port }, () => {
    const { port } = server.address() as net.AddressInfo;
    process.stdout.write(JSON.stringify({ event: 'listening', server: 'plain-echo', host: HOST, port }) + '\n');
  });
  server.on('error', (error) => {
    process.stderr.write(`plain-echo: ${error.message}\n`);
    process.exit(1);
  });
  const stop = (): void => {
    // The bench only stops us after its clients are gone; anything left is dropped, not drained.
    for (const socket of sockets) socket.destroy();
    server.close(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
