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

/** @internal The field store a head parser fills line by line; it is the `HttpFields` of the head it returns. */
export class FieldTable implements HttpFields {
  readonly fields: FieldLine[] = [];
  readonly #combined = new Map<string, string>();
  readonly #singletons: ReadonlySet<string>;

  constructor(singletons: ReadonlySet<string>) {
    this.#singletons = singletons;
  }

  /** Record one field line (name already lower-cased); a repeated singleton throws a 400. */
  add(name: string, value: string): void {
    this.fields.push([name, value]);
    const previous = this.#combined.get(name);
    if (previous === undefined) {
      this.#combined.set(name, value);
    } else if (this.#singletons.has(name)) {
      throw badRequest(`duplicate ${name} field`);
    } else {
      // An empty line adds nothing to a list; joining it would only make an empty element.
      if (value.length === 0) return;
      this.#combined.set(name, previous.length === 0 ? value : previous + (name === 'cookie' ? '; ' : ', ') + value);
    }
  }

  get(name: string): string | null {
    return this.#combined.get(asciiLower(name)) ?? null;
  }

  has(name: string): boolean {
    return this.#combined.has(asciiLower(name));
  }

  list(name: string): string[] {
    const value = this.#combined.get(asciiLower(name));
    return value === undefined ? [] : splitList(value);
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
