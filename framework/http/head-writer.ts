import { ErrorCodes, PorticoError } from '../core/errors.js';
import { checkRange } from '../framing/checks.js';
import { isFieldValue, isToken } from './syntax.js';

/** A header field to send: name and value. */
export type HeaderPair = readonly [name: string, value: string];

const STATUS_TEXT: Readonly<Record<number, string>> = {
  101: 'Switching Protocols',
  200: 'OK',
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  414: 'URI Too Long',
  417: 'Expectation Failed',
  426: 'Upgrade Required',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
};

/** The reason phrase portico sends with a status ("" for one it does not know: the phrase is optional, RFC 9112 §4). */
export function statusText(status: number): string {
  return STATUS_TEXT[status] ?? '';
}

/**
 * The bytes of an HTTP/1.1 response head: status line, the fields in order, the empty line. Names must
 * be tokens and values free of CR, LF and other controls, or INVALID_ARGUMENT is thrown — a value
 * taken from a request can then never split the response (header injection).
 */
export function formatResponseHead(status: number, headers: readonly HeaderPair[] = []): Buffer {
  checkRange(status, 100, 999, 'status', 'http');
  return headBytes(`HTTP/1.1 ${status} ${statusText(status)}\r\n`, headers);
}

/** The bytes of an HTTP/1.1 request head (a client's), with the same checks; `target` must be visible ASCII. */
export function formatRequestHead(method: string, target: string, headers: readonly HeaderPair[] = []): Buffer {
  if (!isToken(method)) throw new PorticoError(ErrorCodes.INVALID_ARGUMENT, 'http', `method ${JSON.stringify(method)} is not a token`);
  if (!/^[\x21-\x7e]+$/.test(target)) throw new PorticoError(ErrorCodes.INVALID_ARGUMENT, 'http', 'the request-target must be non-empty visible ASCII');
  return headBytes(`${method} ${target} HTTP/1.1\r\n`, headers);
}

function headBytes(startLine: string, headers: readonly HeaderPair[]): Buffer {
  let text = startLine;
  for (const [name, value] of headers) {
    if (!isToken(name)) throw new PorticoError(ErrorCodes.INVALID_ARGUMENT, 'http', `header name ${JSON.stringify(name)} is not a token`);
    if (!isFieldValue(value)) throw new PorticoError(ErrorCodes.INVALID_ARGUMENT, 'http', `the ${name} value holds CR, LF or a control character`);
    text += `${name}: ${value}\r\n`;
  }
  return Buffer.from(text + '\r\n', 'latin1');
}

/**
 * A complete refusal to send before closing: the status, `Connection: close` (the connection is not
 * reused after a refused head, RFC 9112 §9.6), `headers`, and `reason` as a small text/plain body.
 * A Connection entry in `headers` is added to the close option (a 426 must also say `Upgrade`, RFC 9110 §7.8).
 */
export function formatErrorResponse(status: number, reason: string, headers: readonly HeaderPair[] = []): Buffer {
  const body = Buffer.from(`${reason}\n`, 'utf8');
  const isConnection = (name: string): boolean => name.toLowerCase() === 'connection';
  const connection = ['close', ...headers.filter(([name]) => isConnection(name)).map(([, value]) => value)].join(', ');
  const head = formatResponseHead(status, [
    ['Connection', connection],
    ['Content-Type', 'text/plain; charset=utf-8'],
    ['Content-Length', String(body.length)],
    ...headers.filter(([name]) => !isConnection(name)),
  ]);
  return Buffer.concat([head, body]);
}
