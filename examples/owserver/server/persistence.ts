/** owserver's persistence limits (reference §5); option names and defaults as owserver's. */
export interface PersistenceOptions {
  /** --no_persistence */
  readonly enabled: boolean;
  /** --clients_persistent_low: below this many persistent connections, an idle one gets the long timeout. */
  readonly clientsLow: number;
  /** --clients_persistent_high: at most this many connections hold a grant. */
  readonly clientsHigh: number;
  /** --timeout_persistent_low, ms. */
  readonly timeoutLowMs: number;
  /** --timeout_persistent_high, ms. */
  readonly timeoutHighMs: number;
}

export const defaultPersistence: PersistenceOptions = Object.freeze({
  enabled: true,
  clientsLow: 10,
  clientsHigh: 20,
  timeoutLowMs: 600_000,
  timeoutHighMs: 3_600_000,
});

/** The server-wide grant counter. A connection stays counted from its grant until it closes. */
export class PersistenceLedger {
  readonly options: PersistenceOptions;
  #granted = 0;
  refused = 0;

  constructor(options: PersistenceOptions = defaultPersistence) {
    this.options = options;
  }

  get granted(): number {
    return this.#granted;
  }

  /**
   * Decide one request. `holds`: this connection already has a grant. Returns whether the
   * connection stays open after the answer; updates the count.
   */
  decide(requested: boolean, holds: boolean): boolean {
    if (!requested || !this.options.enabled) {
      if (holds) this.#granted--;
      return false;
    }
    if (holds) return true;
    if (this.#granted < this.options.clientsHigh) {
      this.#granted++;
      return true;
    }
    this.refused++;
    return false;
  }

  /** A granted connection closed. */
  release(): void {
    this.#granted--;
  }

  /**
   * Idle timeout step 2: when the short wait expires, the long one applies only while fewer than
   * `clientsLow` connections hold a grant at that moment.
   */
  keepAfterShortWait(): boolean {
    return this.#granted < this.options.clientsLow;
  }
}
