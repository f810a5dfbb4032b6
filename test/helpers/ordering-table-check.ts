import assert from 'node:assert/strict';
import { type StrayCase, undrivableCells } from './ordering-cases.js';
import { type Cell, allCells } from './ordering-coverage.js';

/**
 * Every cell of `connectionStateTable` is driven: by an ordering of real events, or by a stray case
 * (the event delivered where nothing delivers it); only `undrivableCells` by neither. Returns the cells
 * only stray cases reach.
 */
export function assertTableCovered(byPairs: ReadonlySet<Cell>, byStrays: ReadonlySet<Cell>, strays: readonly StrayCase[]): Cell[] {
  for (const s of strays) assert.ok(byStrays.has(s.cell as Cell), `${s.name} did not drive ${s.cell}`);
  const missing = allCells.filter((cell) => !byPairs.has(cell) && !byStrays.has(cell));
  assert.deepEqual(missing, undrivableCells, `cells no case drove: ${missing.join(', ')}`);
  return allCells.filter((cell) => !byPairs.has(cell) && byStrays.has(cell));
}
