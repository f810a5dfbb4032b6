/**
 * The public types say what is true (issue 7 #8). This file is type-checked by the build: each
 * `@ts-expect-error` must be an error, or the build fails; the runtime part checks the same options work.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ConnectionCallbacks, Server, type ServerOptions } from '../../framework/index.js';
import { until } from '../helpers/memory-connection.js';
import { connectClient } from '../helpers/tcp-client.js';

const echo: ConnectionCallbacks = {
  onConnectionEstablished: (c) => c.read(),
  onReadCompleted: (c, b) => {
    if (c.write(b) === 'queued') c.read();
  },
};

// The README's partial idle options type-check: one field is enough.
const partialIdle: ServerOptions = { handler: echo, connection: { idle: { readMs: 30_000 } } };

// A user type that cannot be undefined needs createUser, so `conn.user` is never undefined behind its type.
// @ts-expect-error createUser is required for Server<{ count: number }>
const missingUser: ServerOptions<{ count: number }> = { handler: echo as ConnectionCallbacks<{ count: number }> };
const withUser: ServerOptions<{ count: number }> = { handler: echo as ConnectionCallbacks<{ count: number }>, createUser: () => ({ count: 0 }) };
// Optional user data may omit it.
const optionalUser: ServerOptions<{ count: number } | undefined> = { handler: echo as ConnectionCallbacks<{ count: number } | undefined> };

test('partial idle options and createUser typing work at run time too', async () => {
  for (const options of [partialIdle, withUser, optionalUser] as ServerOptions<unknown>[]) {
    const server = new Server<unknown>({ ...options, host: '127.0.0.1', port: 0 });
    await server.listen();
    await server.stop();
  }
  void missingUser;
  // The partial idle option resolved to the full set: readMs given, the others off.
  let seen: unknown = null;
  const server = new Server({ ...partialIdle, handler: { ...echo, onConnectionEstablished: (c) => ((seen = c.options.idle), c.read()) }, host: '127.0.0.1', port: 0 });
  const { port } = await server.listen();
  const client = await connectClient(port);
  await until(() => seen !== null, 3000, 'established');
  assert.deepEqual(seen, { readMs: 30_000, writeMs: 0, allMs: 0 });
  client.destroy();
  await server.stop();
});
