// An overlay on a batch base, as the merged view reads it: merged(user) = base(user) + overlay(user). Its totals
// against the base, a change added to it with the totals it moves, and its room made up front. Run on the serving
// thread and on the threads that prepare an overlay.

import { type UserAggTable } from '../core/agg-table.js';
import { type SortedUserTable } from '../core/sorted-table.js';
import { type BatchBase, type ViewTotals } from '../core/view-state.js';
import { type ChangeLog } from './change-log.js';

/** A user whose totals are zero is not in the view. */
export const isZero = (count: number, cents: number): boolean => count === 0 && cents === 0;

/** Users, purchases and cents of a batch view plus an overlay: O(overlay). */
export function mergedTotals(base: BatchBase, baseTable: SortedUserTable, overlay: UserAggTable): ViewTotals {
  let { users, purchases, cents } = base;
  for (let e = 0; e < overlay.size; e++) {
    const count = overlay.countAt(e);
    const amount = overlay.centsAt(e);
    if (isZero(count, amount)) continue;
    const key = overlay.keyAt(e);
    const b = baseTable.find(key, 0, key.length, overlay.hashAt(e));
    const baseCount = b < 0 ? 0 : baseTable.countAt(b);
    const baseCents = b < 0 ? 0 : baseTable.centsAt(b);
    users += (isZero(baseCount + count, baseCents + amount) ? 0 : 1) - (b < 0 ? 0 : 1);
    purchases += count;
    cents += amount;
  }
  return { users, purchases, cents };
}

/**
 * Gives an overlay its hash slots up front: the users changed since a batch view are at most about the users it holds,
 * and an overlay outgrowing its slots on the serving thread rehashes every user at once (~200 ms at 800 k users, every
 * lookup waiting). Its columns get room for twice the users it holds (at most the batch view's): they grow as they fill
 * later (a copy, no rehash), but not in the seconds after a load or swap, when the serving thread has the most to do.
 */
export function reserveOverlay(overlay: UserAggTable, base: BatchBase): UserAggTable {
  overlay.reserveSlots(base.users);
  overlay.reserveEntries(Math.min(2 * overlay.size, Math.max(overlay.size, base.users)));
  return overlay;
}

/**
 * Adds a change to an overlay on a base (through its change log, when exports read it); returns the merged view's
 * totals adjusted by what it changed (O(users changed)). Keys are read in place and looked up once per table: this
 * loop is the cost of every realtime update.
 */
export function addChange(
  baseTable: SortedUserTable,
  overlay: UserAggTable,
  changes: ChangeLog | undefined,
  change: UserAggTable,
  totals: ViewTotals,
): ViewTotals {
  let { users, purchases, cents } = totals;
  const { arena, keyStart } = change.keyColumns();
  for (let e = 0; e < change.size; e++) {
    const start = keyStart[e]!;
    const end = keyStart[e + 1]!;
    const hash = change.hashAt(e);
    const dCount = change.countAt(e);
    const dCents = change.centsAt(e);
    const b = baseTable.find(arena, start, end, hash);
    const o = overlay.find(arena, start, end, hash);
    const count = (b < 0 ? 0 : baseTable.countAt(b)) + (o < 0 ? 0 : overlay.countAt(o));
    const amount = (b < 0 ? 0 : baseTable.centsAt(b)) + (o < 0 ? 0 : overlay.centsAt(o));
    users += (isZero(count + dCount, amount + dCents) ? 0 : 1) - (isZero(count, amount) ? 0 : 1);
    purchases += dCount;
    cents += dCents;
    if (o >= 0 && changes) changes.addAt(overlay, o, dCount, dCents);
    else if (o >= 0) overlay.addAt(o, dCount, dCents);
    else overlay.add(arena, start, end, dCount, dCents, hash);
  }
  return { users, purchases, cents };
}
