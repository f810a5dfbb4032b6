/**
 * The ordering table (test/helpers/ordering-cases.ts) on real TCP over 127.0.0.1: every pair of
 * events, both orders, same turn and a turn apart. The same table runs on the memory transport
 * (ordering-memory.test.ts); a case that passes on one and fails on the other is a transport bug.
 */
import { test } from 'node:test';
import { orderingCases, strayCases } from '../helpers/ordering-cases.js';
import { type Cell, instrumentConnections } from '../helpers/ordering-coverage.js';
import { runOrderingCase } from '../helpers/ordering-harness.js';
import { assertTableCovered } from '../helpers/ordering-table-check.js';
import { openTcpRig } from '../helpers/ordering-tcp-rig.js';

instrumentConnections();
// ORDERING_CASES=<regex> runs only the cases whose names match (the coverage check then fails).
const only = process.env['ORDERING_CASES'] !== undefined ? new RegExp(process.env['ORDERING_CASES']) : null;
const pairs = orderingCases.filter((c) => only === null || only.test(c.name));
const strays = strayCases.filter((c) => only === null || only.test(c.name));
const byPairs = new Set<Cell>();
const byStrays = new Set<Cell>();

test('ordering on TCP: one close, the right reason, nothing left, what the peer sees', { concurrency: 16, timeout: 120_000 }, async (t) => {
  await Promise.all([
    ...pairs.map((c) => t.test(c.name, { timeout: 20_000 }, () => runOrderingCase(openTcpRig, c, byPairs))),
    ...strays.map((c) => t.test(c.name, { timeout: 20_000 }, () => runOrderingCase(openTcpRig, c, byStrays))),
  ]);
});

test('ordering on TCP: every cell of connectionStateTable is driven by some case', (t) => {
  const strayOnly = assertTableCovered(byPairs, byStrays, strayCases);
  t.diagnostic(`${byPairs.size} cells driven by orderings; only by stray events: ${strayOnly.join(', ')}`);
});
