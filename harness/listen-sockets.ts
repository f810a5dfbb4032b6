/**
 * Which process owns a listening TCP port, from /proc alone: a LISTEN row of /proc/<pid>/net/tcp{,6}
 * names a socket inode, and a process holds that socket if one of its /proc/<pid>/fd links reads
 * `socket:[inode]`. `--ready port:N` needs this: a port that merely accepts connections may be
 * another process's (an old server still running, a different service), and flooding that would
 * test the wrong program.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

/** `st` value of LISTEN in /proc/net/tcp (include/net/tcp_states.h). */
export const TCP_LISTEN = 0x0a;

export interface ListeningSocket {
  /** Dotted IPv4 or full IPv6 text, e.g. "127.0.0.1", "0.0.0.0", "::", "::1". */
  readonly address: string;
  readonly family: 4 | 6;
  readonly port: number;
  readonly inode: number;
}

// sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode …
const ROW = /^\s*\d+:\s+([0-9A-Fa-f]{8}|[0-9A-Fa-f]{32}):([0-9A-Fa-f]{4})\s+\S+\s+([0-9A-Fa-f]{2})\s+\S+\s+\S+\s+\S+\s+\d+\s+\d+\s+(\d+)/;

/** The kernel prints each 32-bit word of an address in host byte order (little-endian here). */
function decodeAddress(hex: string): { address: string; family: 4 | 6 } {
  const bytes: number[] = [];
  for (let word = 0; word < hex.length; word += 8) {
    const le = hex.slice(word, word + 8);
    for (let b = 6; b >= 0; b -= 2) bytes.push(parseInt(le.slice(b, b + 2), 16));
  }
  if (bytes.length === 4) return { address: bytes.join('.'), family: 4 };
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) {
    return { address: `::ffff:${bytes.slice(12).join('.')}`, family: 6 };
  }
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  // Compress the longest run of zero groups, as inet_ntop does.
  let best = { start: -1, length: 0 };
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > best.length && j - i > 1) best = { start: i, length: j - i };
    i = j;
  }
  if (best.start < 0) return { address: groups.join(':'), family: 6 };
  const head = groups.slice(0, best.start).join(':');
  const tail = groups.slice(best.start + best.length).join(':');
  return { address: `${head}::${tail}`, family: 6 };
}

/** LISTEN rows of one /proc/net/tcp or tcp6 text (header and other states skipped). */
export function parseListeningSockets(text: string): ListeningSocket[] {
  const sockets: ListeningSocket[] = [];
  for (const line of text.split('\n')) {
    const match = ROW.exec(line);
    if (match === null || parseInt(match[3]!, 16) !== TCP_LISTEN) continue;
    sockets.push({ ...decodeAddress(match[1]!), port: parseInt(match[2]!, 16), inode: Number(match[4]) });
  }
  return sockets;
}

/**
 * LISTEN sockets on `port` as `pid` sees them: /proc/<pid>/net is that process's network namespace,
 * which is the right one even when the harness and server were moved into a namespace of their own.
 */
export function listenersOnPort(pid: number, port: number): ListeningSocket[] {
  const found: ListeningSocket[] = [];
  for (const table of ['tcp', 'tcp6']) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, 'utf8');
    } catch {
      continue; // tcp6 is absent with IPv6 off; the whole directory once the process is gone
    }
    for (const socket of parseListeningSockets(text)) if (socket.port === port) found.push(socket);
  }
  return found;
}

/** `pid` and every process descended from it (a server may listen from a worker it forked). */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of safeReaddir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited while we looked
    }
    // "pid (comm) state ppid …": comm may hold spaces and parentheses, so cut at the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(entry));
    children.set(ppid, list);
  }
  const tree: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const next = queue.shift()!;
    if (tree.includes(next)) continue;
    tree.push(next);
    queue.push(...(children.get(next) ?? []));
  }
  return tree;
}

/** Socket inodes open in any of `pids` (their `/proc/<pid>/fd/*` → `socket:[inode]`). */
export function socketInodes(pids: readonly number[]): Set<number> {
  const inodes = new Set<number>();
  for (const pid of pids) {
    for (const fd of safeReaddir(`/proc/${pid}/fd`)) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const match = /^socket:\[(\d+)\]$/.exec(target);
      if (match !== null) inodes.add(Number(match[1]));
    }
  }
  return inodes;
}

export interface PortOwnership {
  /** LISTEN sockets on the port held by the server or its descendants. */
  readonly owned: ListeningSocket[];
  /** LISTEN sockets on the port held by someone else. */
  readonly foreign: ListeningSocket[];
}

/** Splits the LISTEN sockets on `port` into the server's process tree's and everyone else's. */
export function portOwnership(serverPid: number, port: number): PortOwnership {
  const listeners = listenersOnPort(serverPid, port);
  if (listeners.length === 0) return { owned: [], foreign: [] };
  const mine = socketInodes(processTree(serverPid));
  return { owned: listeners.filter((s) => mine.has(s.inode)), foreign: listeners.filter((s) => !mine.has(s.inode)) };
}

/** The processes holding socket `inode`, as "pid 123 (haproxy)"; for error messages only (a full /proc scan). */
export function describeSocketHolders(inode: number): string[] {
  const holders: string[] = [];
  for (const entry of safeReaddir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (!socketInodes([pid]).has(inode)) continue;
    let comm = '?';
    try {
      comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    } catch {
      // gone
    }
    holders.push(`pid ${pid} (${comm})`);
  }
  return holders;
}

/** Where to connect to reach a listener: wildcards and loopback map to a loopback address. */
export function connectAddress(socket: ListeningSocket): string {
  if (socket.family === 4) return socket.address === '0.0.0.0' ? '127.0.0.1' : socket.address;
  if (socket.address === '::' || socket.address === '::1') return '::1';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(socket.address);
  return mapped !== null ? mapped[1]! : socket.address;
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
