import { ErrorCodes, PorticoError } from '../../framework/index.js';

/** Where the proxy connects for each client. */
export interface BackendAddress {
  readonly host: string;
  readonly port: number;
}

/** `HOST:PORT` or `[IPv6]:PORT` → a backend address; a clear CONFIG error otherwise. */
export function parseBackendAddress(text: string, flag = '--backend'): BackendAddress {
  const match = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:\s[\]]+):(\d+)$/.exec(text);
  if (match === null) throw new PorticoError(ErrorCodes.CONFIG, 'host', `${flag}: expected HOST:PORT (or [IPv6]:PORT), got ${JSON.stringify(text)}`);
  const port = Number(match[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new PorticoError(ErrorCodes.CONFIG, 'host', `${flag}: port must be 1..65535, got ${match[2]}`);
  return { host: match[1]!, port };
}

/** `host:port`, bracketing IPv6 literals. */
export function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
