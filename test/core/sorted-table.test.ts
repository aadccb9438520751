// A batch view's table as the serving layer holds it finds every user its source table held, and no other.

import { describe, expect, it } from 'vitest';
import { UserAggTable } from '../../src/core/agg-table.js';
import { SortedUserTable, sortedTableState } from '../../src/core/sorted-table.js';
import { sortedEntries } from '../../src/core/key-order.js';
import { seeded } from '../helpers/prng.js';

/** Ids of 1–12 characters over an alphabet of 1- to 4-byte UTF-8 characters; many are prefixes of others. */
function idsOf(seed: number, count: number): string[] {
  const random = seeded(seed);
  const alphabet = ['a', 'b', '0', ',', '"', 'é', 'ह', '😀'];
  const ids = new Set<string>();
  while (ids.size < count) ids.add(Array.from({ length: random.between(1, 12) }, () => random.pick(alphabet)).join(''));
  return [...ids];
}

/** A table of the ids (totals made up from the seed), its entries reordered by id as a batch view's are. */
function reorderedTable(ids: readonly string[], seed: number, memory: 'local' | 'shared'): { table: UserAggTable; totals: Map<string, [number, number]> } {
  const random = seeded(seed);
  const table = new UserAggTable(ids.length, memory);
  const totals = new Map<string, [number, number]>();
  for (const id of ids) {
    const key = Buffer.from(id);
    const count = random.between(1, 1_000);
    const cents = random.between(-5_000, 10 ** 9);
    table.add(key, 0, key.length, count, cents);
    totals.set(id, [count, cents]);
  }
  table.reorder(sortedEntries(table));
  return { table, totals };
}

describe('SortedUserTable', () => {
  it.each(['local', 'shared'] as const)('finds every user with its totals and key, and no id it lacks (%s memory)', (memory) => {
    const ids = idsOf(1, 5_000);
    const held = ids.slice(0, 4_000);
    const { table, totals } = reorderedTable(held, 2, memory);
    const sorted = new SortedUserTable(sortedTableState(table, memory));
    expect(sorted.size).toBe(held.length);
    for (const id of held) {
      const key = Buffer.from(id);
      const e = sorted.find(key, 0, key.length);
      expect(e).toBeGreaterThanOrEqual(0);
      expect(Buffer.from(sorted.keyAt(e)).toString()).toBe(id);
      expect([sorted.countAt(e), sorted.centsAt(e)]).toEqual(totals.get(id));
    }
    // Ids it lacks, many a prefix or an extension of one it holds (same hash slots, other lengths).
    for (const id of [...ids.slice(4_000), ...held.map((h) => `${h}a`), ...held.filter((h) => [...h].length > 1).map((h) => [...h].slice(0, -1).join(''))]) {
      if (totals.has(id)) continue;
      const key = Buffer.from(id);
      expect(sorted.find(key, 0, key.length)).toBe(-1);
    }
    // Entry order is the table's: keys back to back, each starting where the one before ends.
    for (let e = 0; e < sorted.size; e++) expect(Buffer.from(sorted.keyAt(e)).equals(Buffer.from(table.keyAt(e)))).toBe(true);
    expect(sorted.state.keyStart[0]).toBe(0);
  });

  it('keeps arrays already in shared memory, copies the rest there, and leaves the table as it was', () => {
    const ids = idsOf(3, 1_000);
    const shared = reorderedTable(ids, 4, 'shared').table;
    const state = sortedTableState(shared, 'shared');
    expect(state.slots.buffer).toBe(shared.toState().slots.buffer);
    expect(state.countOf.buffer).toBe(shared.toState().countOf.buffer);

    const { table: local, totals } = reorderedTable(ids, 4, 'local');
    const copied = sortedTableState(local, 'shared');
    for (const column of [copied.slots, copied.arena, copied.keyStart, copied.countOf, copied.centsOf]) expect(column.buffer).toBeInstanceOf(SharedArrayBuffer);
    for (const id of ids) {
      const key = Buffer.from(id);
      expect([local.countAt(local.find(key, 0, key.length)), local.centsAt(local.find(key, 0, key.length))]).toEqual(totals.get(id));
    }
  });
});
