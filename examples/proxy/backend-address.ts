import { ErrorCodes, PorticoError } from '../../framework/index.js';

/** Where the proxy connects for each client. */
export interface BackendAddress {
  readonly host: string;
  readonly port: number;
}

/** The address, or what is wrong with the text. */
function readBackendAddress(text: string): BackendAddress | string {
  const match = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:\s[\]]+):(\d+)$/.exec(text);
  if (match === null) return `expected HOST:PORT (or [IPv6]:PORT), got ${JSON.stringify(text)}`;
  const port = Number(match[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return `port must be 1..65535, got ${match[2]}`;
  return { host: match[1]!, port };
}

/** `HOST:PORT` or `[IPv6]:PORT` → a backend address; a clear CONFIG error otherwise. */
export function parseBackendAddress(text: string, flag = '--backend'): BackendAddress {
  const address = readBackendAddress(text);
  if (typeof address === 'string') throw new PorticoError(ErrorCodes.CONFIG, 'host', `${flag}: ${address}`);
  return address;
}

/** A flag check (FlagSpec.check): throws an Error saying what is wrong with a backend address. */
export function checkBackendAddress(text: unknown): void {
  const address = readBackendAddress(String(text));
  if (typeof address === 'string') throw new Error(address);
}

/** `host:port`, bracketing IPv6 literals. */
export function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
