import { test } from 'node:test';
import { orderingCases, strayCases } from './ordering-cases.js';
import { type Cell, instrumentConnections } from './ordering-coverage.js';
import { type OpenRig, runOrderingCase } from './ordering-harness.js';
import { assertTableCovered } from './ordering-table-check.js';

/**
 * An outcome a transport may show in some cases besides the table's, and why: what its protocol puts on
 * the wire that TCP does not (TLS's close_notify is data). Kept to the cases named, and each must be
 * explained — anything else that differs from TCP is a bug.
 */
export interface TransportDifference {
  /** Case ids (e.g. 'closeNow → peerFin (same turn)') it applies to. */
  readonly cases: readonly string[];
  /** The outcome also allowed, as `formatOutcome` writes it. */
  readonly outcome: string;
  readonly why: string;
}

/**
 * The ordering suite on one transport: every case of the table, then the check that the cases drove
 * every cell of `connectionStateTable`. ORDERING_CASES=<regex> runs only the cases whose names match
 * (the coverage check then fails).
 */
export function orderingSuite(transport: string, openRig: OpenRig, differences: readonly TransportDifference[] = []): void {
  instrumentConnections();
  const only = process.env['ORDERING_CASES'] !== undefined ? new RegExp(process.env['ORDERING_CASES']) : null;
  const pairs = orderingCases.filter((c) => only === null || only.test(c.name));
  const strays = strayCases.filter((c) => only === null || only.test(c.name));
  const byPairs = new Set<Cell>();
  const byStrays = new Set<Cell>();
  const alsoAllowed = (id: string): string[] => differences.filter((d) => d.cases.includes(id)).map((d) => d.outcome);
  const unknown = differences.flatMap((d) => d.cases).filter((id) => !orderingCases.some((c) => c.id === id));
  if (unknown.length > 0) throw new Error(`transport differences name cases the table does not have: ${unknown.join(', ')}`);

  test(`ordering on ${transport}: one close, the right reason, nothing left, what the peer sees`, { concurrency: 16, timeout: 120_000 }, async (t) => {
    await Promise.all([
      ...pairs.map((c) => t.test(c.name, { timeout: 20_000 }, () => runOrderingCase(openRig, c, byPairs, alsoAllowed(c.id)))),
      ...strays.map((c) => t.test(c.name, { timeout: 20_000 }, () => runOrderingCase(openRig, c, byStrays))),
    ]);
  });

  test(`ordering on ${transport}: every cell of connectionStateTable is driven by some case`, (t) => {
    const strayOnly = assertTableCovered(byPairs, byStrays, strayCases);
    t.diagnostic(`${byPairs.size} cells driven by orderings; only by stray events: ${strayOnly.join(', ')}`);
  });
}
