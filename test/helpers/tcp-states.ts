import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseProcNetTcp, readProcNetTcp } from '../../harness/time-wait.js';

/** Kernel TCP states (include/net/tcp_states.h) the tests look for. */
export const TcpState = { ESTABLISHED: 0x01, FIN_WAIT1: 0x04, FIN_WAIT2: 0x05, TIME_WAIT: 0x06, CLOSE: 0x07, CLOSE_WAIT: 0x08, LAST_ACK: 0x09 } as const;

const names = new Map<number, string>(Object.entries(TcpState).map(([name, value]) => [value, name]));

/** The state of each end of one loopback connection, by name, or null where the kernel has no socket. */
export function connectionStates(serverPort: number, clientPort: number): { server: string | null; client: string | null } {
  let server: string | null = null;
  let client: string | null = null;
  for (const text of readProcNetTcp()) {
    for (const row of parseProcNetTcp(text)) {
      const name = names.get(row.state) ?? `0x${row.state.toString(16)}`;
      if (row.localPort === serverPort && row.remotePort === clientPort) server = name;
      if (row.localPort === clientPort && row.remotePort === serverPort) client = name;
    }
  }
  return { server, client };
}

/**
 * The kernel's count of TIME_WAIT sockets it could not keep because its table was full
 * (`net.ipv4.tcp_max_tw_buckets`; TcpExt TCPTimeWaitOverflow in /proc/net/netstat), or null where
 * the counter is not there. While it grows, a graceful close may leave no TIME_WAIT either.
 */
export function timeWaitOverflows(): number | null {
  let text: string;
  try {
    text = readFileSync('/proc/net/netstat', 'utf8');
  } catch {
    return null;
  }
  const lines = text.split('\n');
  for (let i = 0; i + 1 < lines.length; i++) {
    if (!lines[i]!.startsWith('TcpExt:') || !lines[i + 1]!.startsWith('TcpExt:')) continue;
    const at = lines[i]!.split(/\s+/).indexOf('TCPTimeWaitOverflow');
    return at < 0 ? null : Number(lines[i + 1]!.split(/\s+/)[at]);
  }
  return null;
}

/**
 * Throws when the TIME_WAIT table overflowed since `before` (a `timeWaitOverflows()` reading): then
 * "no TIME_WAIT on either end" does not tell an RST from FINs, and the case cannot be judged.
 */
export function assertNoTimeWaitOverflow(before: number | null, what: string): void {
  const now = timeWaitOverflows();
  if (before !== null && now !== null && now > before) {
    throw new Error(`${what}: the kernel's TIME_WAIT table overflowed meanwhile (net.ipv4.tcp_max_tw_buckets), so no TIME_WAIT does not mean an RST; cannot judge this close`);
  }
}

const ssNames: Readonly<Record<string, string>> = {
  ESTAB: 'ESTABLISHED',
  'FIN-WAIT-1': 'FIN_WAIT1',
  'FIN-WAIT-2': 'FIN_WAIT2',
  'TIME-WAIT': 'TIME_WAIT',
  UNCONN: 'CLOSE',
  'CLOSE-WAIT': 'CLOSE_WAIT',
  'LAST-ACK': 'LAST_ACK',
};

/**
 * `connectionStates`, asked of the kernel through `ss` (netlink, filtered by port in the kernel) in a
 * child process: with tens of thousands of sockets on the machine (TIME_WAIT left by benchmarks),
 * reading /proc/net/tcp takes hundreds of ms and stalls the event loop of a test running many
 * connections at once. Falls back to /proc/net/tcp where `ss` is missing.
 */
export function connectionStatesAsync(serverPort: number, clientPort: number): Promise<{ server: string | null; client: string | null }> {
  return new Promise((resolve, reject) => {
    execFile('ss', ['-Htan', `( sport = :${serverPort} and dport = :${clientPort} ) or ( sport = :${clientPort} and dport = :${serverPort} )`], (error, stdout) => {
      if (error !== null) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') resolve(connectionStates(serverPort, clientPort));
        else reject(error);
        return;
      }
      let server: string | null = null;
      let client: string | null = null;
      for (const line of stdout.split('\n')) {
        const [state, , , local, remote] = line.trim().split(/\s+/);
        if (state === undefined || local === undefined || remote === undefined) continue;
        const name = ssNames[state] ?? state;
        const localPort = Number(local.slice(local.lastIndexOf(':') + 1));
        const remotePort = Number(remote.slice(remote.lastIndexOf(':') + 1));
        if (localPort === serverPort && remotePort === clientPort) server = name;
        if (localPort === clientPort && remotePort === serverPort) client = name;
      }
      resolve({ server, client });
    });
  });
}
