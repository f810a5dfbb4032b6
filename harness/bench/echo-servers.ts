/**
 * The two echo servers every echo-shaped bench compares: portico's echo example and the plain
 * node:net baseline (plain-echo-server.ts), each a fresh process on a loopback port per run.
 */
import { scripts } from './paths.js';
import type { SpawnOptions } from './children.js';
import { type RunningServer, startServer } from './server-process.js';

export type EchoServerName = 'portico' | 'plain';

export interface EchoServerUnderTest {
  readonly name: EchoServerName;
  readonly script: string;
  readonly args: readonly string[];
}

export const echoServers: readonly EchoServerUnderTest[] = [
  { name: 'portico', script: scripts.porticoEcho, args: ['--port', '0'] },
  { name: 'plain', script: scripts.plainEcho, args: ['--port', '0'] },
];

/** Both servers, the first one alternating by `turn` (round, or cell + round), so drift lands on both. */
export function abOrder(turn: number): readonly EchoServerUnderTest[] {
  return turn % 2 === 0 ? echoServers : [...echoServers].reverse();
}

export function startEchoServer(server: EchoServerUnderTest, options: Pick<SpawnOptions, 'cpu'> = {}): Promise<RunningServer> {
  return startServer(server.name, server.script, server.args, options);
}

/** "node:net" in tables: what the baseline is, not what the file is called. */
export function serverLabel(name: EchoServerName): string {
  return name === 'plain' ? 'node:net' : name;
}
