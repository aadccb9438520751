// Per-user totals compared user by user: how a benchmark proves two implementations gave the same answer.

import { type UserTotal, compareUserIds } from '../core/agg-table.js';

/** Totals from a Map keyed by user id, sorted like every view. */
export function totalsFromMap(map: ReadonlyMap<string, { count: number; cents: number }>): UserTotal[] {
  return [...map].map(([userId, t]) => ({ userId, count: t.count, cents: t.cents })).sort((a, b) => compareUserIds(a.userId, b.userId));
}

/** Undefined when both sorted lists hold the same users with the same count and cents; else the first difference. */
export function firstDifference(left: readonly UserTotal[], right: readonly UserTotal[]): string | undefined {
  const show = (t: UserTotal | undefined): string => (t === undefined ? 'nothing' : `${t.userId} (${t.count} purchases, ${t.cents} cents)`);
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    const a = left[i];
    const b = right[i];
    if (a?.userId !== b?.userId || a?.count !== b?.count || a?.cents !== b?.cents) return `entry ${i + 1}: ${show(a)} vs ${show(b)}`;
  }
  return undefined;
}
