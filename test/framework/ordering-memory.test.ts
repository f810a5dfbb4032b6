/**
 * The ordering table (test/helpers/ordering-cases.ts) on the memory transport: every pair of
 * events, both orders, same turn and a turn apart. The same table runs on real TCP
 * (ordering-tcp.test.ts); a case that passes on one and fails on the other is a transport bug.
 */
import { test } from 'node:test';
import { orderingCases, strayCases } from '../helpers/ordering-cases.js';
import { type Cell, instrumentConnections } from '../helpers/ordering-coverage.js';
import { runOrderingCase } from '../helpers/ordering-harness.js';
import { assertTableCovered } from '../helpers/ordering-table-check.js';
import { openMemoryRig } from '../helpers/ordering-memory-rig.js';

instrumentConnections();
// ORDERING_CASES=<regex> runs only the cases whose names match (the coverage check then fails).
const only = process.env['ORDERING_CASES'] !== undefined ? new RegExp(process.env['ORDERING_CASES']) : null;
const pairs = orderingCases.filter((c) => only === null || only.test(c.name));
const strays = strayCases.filter((c) => only === null || only.test(c.name));
const byPairs = new Set<Cell>();
const byStrays = new Set<Cell>();

test('ordering on memory: one close, the right reason, nothing left, what the peer sees', { concurrency: 16, timeout: 120_000 }, async (t) => {
  await Promise.all([
    ...pairs.map((c) => t.test(c.name, { timeout: 20_000 }, () => runOrderingCase(openMemoryRig, c, byPairs))),
    ...strays.map((c) => t.test(c.name, { timeout: 20_000 }, () => runOrderingCase(openMemoryRig, c, byStrays))),
  ]);
});

test('ordering on memory: every cell of connectionStateTable is driven by some case', (t) => {
  const strayOnly = assertTableCovered(byPairs, byStrays, strayCases);
  t.diagnostic(`${byPairs.size} cells driven by orderings; only by stray events: ${strayOnly.join(', ')}`);
});
