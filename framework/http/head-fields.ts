import { badRequest } from './http-errors.js';
import { asciiLower, splitList } from './syntax.js';

/** One field line as received: the name lower-cased, the value OWS-trimmed. */
export type FieldLine = readonly [name: string, value: string];

/** The header fields of a parsed head, looked up case-insensitively. */
export interface HttpFields {
  /** Every field line in arrival order, names lower-cased, duplicates not combined. */
  readonly fields: readonly FieldLine[];
  /**
   * The value of a field (any case), duplicates combined in order with ", " (RFC 9110 §5.3; "; " for
   * Cookie), or null when absent. An empty value is "", not null.
   */
  get(name: string): string | null;
  /** True when the field is present (even with an empty value). */
  has(name: string): boolean;
  /**
   * The elements of a list field (RFC 9110 §5.6.1): split on commas outside quoted strings, trimmed,
   * empty elements dropped; [] when absent. Tokens keep their case: compare with `listHas` or lower-case them.
   */
  list(name: string): string[];
  /** True when the list field `name` has an element equal to `token`, ignoring ASCII case. */
  listHas(name: string, token: string): boolean;
}

/**
 * Fields a request may carry at most once: a second line is a 400, as RFC 9112 §3.2 requires for Host.
 * The others are not lists (RFC 9110 §5.3 forbids repeating them) and a second value would be a
 * smuggling or confusion vector: Authorization, Content-Type, Origin (RFC 6454 §7.3) and the WebSocket
 * request fields (RFC 6455 §11.3.1, §11.3.5). Content-Length is handled apart: identical duplicates pass.
 */
export const DEFAULT_REQUEST_SINGLETONS: readonly string[] = Object.freeze([
  'host',
  'authorization',
  'proxy-authorization',
  'content-type',
  'origin',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-origin',
]);

/** Fields a response may carry at most once (RFC 6455 §11.3.3, §11.3.4 for the WebSocket ones). */
export const DEFAULT_RESPONSE_SINGLETONS: readonly string[] = Object.freeze(['content-type', 'location', 'sec-websocket-accept', 'sec-websocket-protocol']);

/**
 * @internal The field store a head parser fills line by line; it is the `HttpFields` of the head it
 * returns. Compact because a head can live as long as its connection (`WebSocket.head`): the lines
 * are one flat array of name, value, name, value…; lookups scan it (a head has at most a hundred
 * lines, and is asked a handful of times), and the tuples of `fields` are made only when asked for.
 */
export class FieldTable implements HttpFields {
  readonly #lines: string[] = [];
  readonly #singletons: ReadonlySet<string>;
  #fields: FieldLine[] | null = null;

  constructor(singletons: ReadonlySet<string>) {
    this.#singletons = singletons;
  }

  /** Record one field line (name already lower-cased); a repeated singleton throws a 400. */
  add(name: string, value: string): void {
    if (this.#singletons.has(name) && this.#indexOf(name) >= 0) throw badRequest(`duplicate ${name} field`);
    this.#lines.push(name, value);
    this.#fields = null;
  }

  get fields(): readonly FieldLine[] {
    if (this.#fields === null) {
      const lines = this.#lines;
      const fields: FieldLine[] = [];
      for (let i = 0; i < lines.length; i += 2) fields.push([lines[i]!, lines[i + 1]!]);
      this.#fields = fields;
    }
    return this.#fields;
  }

  #indexOf(lowerName: string): number {
    const lines = this.#lines;
    for (let i = 0; i < lines.length; i += 2) if (lines[i] === lowerName) return i;
    return -1;
  }

  get(name: string): string | null {
    const wanted = asciiLower(name);
    const lines = this.#lines;
    let combined: string | null = null;
    for (let i = 0; i < lines.length; i += 2) {
      if (lines[i] !== wanted) continue;
      const value = lines[i + 1]!;
      if (combined === null || combined.length === 0) combined = value;
      // An empty line adds nothing to a list; joining it would only make an empty element.
      else if (value.length > 0) combined += (wanted === 'cookie' ? '; ' : ', ') + value;
    }
    return combined;
  }

  has(name: string): boolean {
    return this.#indexOf(asciiLower(name)) >= 0;
  }

  list(name: string): string[] {
    const value = this.get(name);
    return value === null ? [] : splitList(value);
  }

  listHas(name: string, token: string): boolean {
    const wanted = asciiLower(token);
    for (const element of this.list(name)) if (asciiLower(element) === wanted) return true;
    return false;
  }
}

/** @internal The `HttpFields` half of a parsed head, reading the table its parser filled. */
export abstract class FieldsView implements HttpFields {
  readonly #table: FieldTable;

  protected constructor(table: FieldTable) {
    this.#table = table;
  }

  get fields(): readonly FieldLine[] {
    return this.#table.fields;
  }

  get(name: string): string | null {
    return this.#table.get(name);
  }

  has(name: string): boolean {
    return this.#table.has(name);
  }

  list(name: string): string[] {
    return this.#table.list(name);
  }

  listHas(name: string, token: string): boolean {
    return this.#table.listHas(name, token);
  }
}
