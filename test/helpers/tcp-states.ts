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
