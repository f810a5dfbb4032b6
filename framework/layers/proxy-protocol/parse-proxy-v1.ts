/**
 * PROXY protocol v1, the text line: "PROXY TCP4 <src> <dst> <sport> <dport>\r\n", the same with TCP6,
 * or "PROXY UNKNOWN" followed by anything up to the CRLF. Strict, as the spec asks: single spaces,
 * canonical numbers (no leading zeros or signs), CRLF and nothing else as the line end, within 107
 * bytes — so a lone LF is refused even in the part after UNKNOWN that is otherwise ignored. A partial
 * line is checked as far as it goes, so a wrong byte fails at once rather than after the receiver
 * waited for a CRLF that may never come.
 */
import type { SocketEndpoint } from '../../transport/transport.js';
import { isIPv4TextPrefix, isIPv6TextPrefix, formatIPv4, formatIPv6, parseIPv4Text, parseIPv6Text } from './ip-address-text.js';
import { V1_MAX_LINE } from './proxy-protocol-constants.js';
import type { ProxyInfo } from './proxy-info.js';
import { NEED_MORE, type ProxyParseResult, invalid } from './proxy-parse-result.js';

const CR = 0x0d;
const LF = 0x0a;
const PROTOCOLS = ['TCP4', 'TCP6', 'UNKNOWN'] as const;
const PORT = /^(?:0|[1-9][0-9]{0,4})$/;
const FIELD_NAMES = ['source address', 'destination address', 'source port', 'destination port'] as const;

/** Parse a v1 line; `input` is known to start with "PROXY ". */
export function parseProxyV1(input: Uint8Array): ProxyParseResult {
  const limit = Math.min(input.length, V1_MAX_LINE);
  let end = -1;
  for (let i = 0; i < limit; i++) {
    if (input[i] === LF) return invalid('PROXY v1: line feed without a carriage return');
    if (input[i] === CR) {
      end = i;
      break;
    }
  }
  if (end < 0) {
    if (input.length >= V1_MAX_LINE) return invalid(`PROXY v1: no CRLF within ${V1_MAX_LINE} bytes`);
    return checkPartialLine(latin1(input, input.length));
  }
  if (end + 2 > V1_MAX_LINE) return invalid(`PROXY v1: no CRLF within ${V1_MAX_LINE} bytes`);
  const line = latin1(input, end);
  const parsed = parseLine(line);
  if (typeof parsed === 'string') return invalid(`PROXY v1: ${parsed}`);
  if (input.length < end + 2) return NEED_MORE;
  if (input[end + 1] !== LF) return invalid('PROXY v1: carriage return not followed by a line feed');
  return { kind: 'done', consumed: end + 2, info: parsed };
}

function latin1(input: Uint8Array, end: number): string {
  let text = '';
  for (let i = 0; i < end; i++) text += String.fromCharCode(input[i]);
  return text;
}

/** A complete line (without its CRLF) as ProxyInfo, or why it is not valid. */
function parseLine(line: string): ProxyInfo | string {
  const fields = line.split(' ');
  if (fields[0] !== 'PROXY') return 'does not start with "PROXY "';
  const protocol = fields[1];
  // The spec: after UNKNOWN "the receiver must ignore anything presented before the CRLF".
  if (protocol === 'UNKNOWN') return unknownInfo();
  if (protocol !== 'TCP4' && protocol !== 'TCP6') return 'protocol is not TCP4, TCP6 or UNKNOWN';
  if (fields.length !== 6) return `${protocol} needs exactly 4 fields separated by single spaces`;
  const isV4 = protocol === 'TCP4';
  const source = endpoint(fields[2], fields[4], isV4);
  if (typeof source === 'string') return `source ${source}`;
  const destination = endpoint(fields[3], fields[5], isV4);
  if (typeof destination === 'string') return `destination ${destination}`;
  return {
    ...unknownInfo(),
    kind: isV4 ? 'tcp4' : 'tcp6',
    source,
    destination,
  };
}

function endpoint(addressText: string, portText: string, isV4: boolean): SocketEndpoint | string {
  const port = parsePort(portText);
  if (port < 0) return 'port is not a decimal number 0-65535 without leading zeros';
  if (isV4) {
    const bytes = parseIPv4Text(addressText);
    if (bytes === null) return 'address is not a dotted quad without leading zeros';
    return { address: formatIPv4(bytes), port, family: 'IPv4' };
  }
  const bytes = parseIPv6Text(addressText);
  if (bytes === null) return 'address is not IPv6 text';
  return { address: formatIPv6(bytes), port, family: 'IPv6' };
}

/** The port, or -1. */
function parsePort(text: string): number {
  if (!PORT.test(text)) return -1;
  const port = Number(text);
  return port <= 65535 ? port : -1;
}

function unknownInfo(): ProxyInfo {
  return {
    version: 1,
    command: 'proxy',
    kind: 'unknown',
    source: null,
    destination: null,
    sourcePath: null,
    destinationPath: null,
    tlvs: [],
    alpn: null,
    authority: null,
    uniqueId: null,
    netns: null,
    ssl: null,
    crcChecked: false,
  };
}

/** A line with no CR yet: need-more if it can still become a valid line, else invalid. */
function checkPartialLine(line: string): ProxyParseResult {
  const fields = line.split(' ');
  // fields[0] is (a prefix of) "PROXY", checked by the caller; with no space yet there is nothing else.
  if (fields.length === 1) return NEED_MORE;
  const protocol = fields[1];
  if (fields.length === 2) {
    return PROTOCOLS.some((name) => name.startsWith(protocol)) ? NEED_MORE : invalid('PROXY v1: protocol is not TCP4, TCP6 or UNKNOWN');
  }
  if (protocol === 'UNKNOWN') return NEED_MORE;
  if (protocol !== 'TCP4' && protocol !== 'TCP6') return invalid('PROXY v1: protocol is not TCP4, TCP6 or UNKNOWN');
  if (fields.length > 6) return invalid(`PROXY v1: ${protocol} needs exactly 4 fields separated by single spaces`);
  const isV4 = protocol === 'TCP4';
  for (let i = 2; i < fields.length; i++) {
    const field = fields[i];
    const complete = i < fields.length - 1;
    const isAddress = i < 4;
    let ok: boolean;
    if (isAddress) {
      if (complete) ok = (isV4 ? parseIPv4Text(field) : parseIPv6Text(field)) !== null;
      else ok = isV4 ? isIPv4TextPrefix(field) : isIPv6TextPrefix(field);
    } else {
      // Every prefix of a valid port is a valid port or empty (the last port ends at CR, so never here complete).
      ok = (!complete && field === '') || parsePort(field) >= 0;
    }
    if (!ok) return invalid(`PROXY v1: bad ${FIELD_NAMES[i - 2]}`);
  }
  return NEED_MORE;
}
