// The merged view as CSV (the original demo's merged_view.csv): header, then every user with a non-zero total,
// sorted by user id. One function, so /view.csv and merged_view.csv of the same version are the same bytes. Written
// from key bytes straight into one buffer: no string per user, so a 585 k-user export costs its bytes, not more.

import { UserAggTable } from '../core/agg-table.js';
import { ViewLineWriter, compareKeyBytes, sortedEntries } from '../core/sorted-view.js';
import { MERGED_VIEW_HEADER } from '../core/view-format.js';
import { type StoreView } from './store.js';

export function formatMergedView(view: StoreView): Uint8Array<ArrayBuffer> {
  const base = UserAggTable.fromState(view.base.table);
  const overlay = UserAggTable.fromState(view.overlay);
  // Each overlay user found once, in the base (its entry noted, so the walk over every base user below does no lookup)
  // or not (an extra: sorted and merged into the base's entries, which are in id order).
  const overlayOf = new Int32Array(base.size).fill(-1);
  const extra = new UserAggTable(64);
  for (let e = 0; e < overlay.size; e++) {
    const key = overlay.keyAt(e);
    const b = base.find(key, 0, key.length, overlay.hashAt(e));
    if (b >= 0) overlayOf[b] = e;
    else extra.add(key, 0, key.length, overlay.countAt(e), overlay.centsAt(e), overlay.hashAt(e));
  }
  const extraOrder = sortedEntries(extra);
  const baseKeys = base.keyColumns();
  const extraKeys = extra.keyColumns();
  const writer = new ViewLineWriter(baseKeys.arena.length + extraKeys.arena.length + 40 * (base.size + extraOrder.length), `${MERGED_VIEW_HEADER}\n`);
  const writeExtra = (x: number): void => {
    const start = extraKeys.keyStart[x]!;
    writer.line(extraKeys.arena, start, start + extraKeys.keyLength[x]!, extra.countAt(x), extra.centsAt(x));
  };
  let next = 0;
  for (let e = 0; e < base.size; e++) {
    const start = baseKeys.keyStart[e]!;
    const length = baseKeys.keyLength[e]!;
    for (; next < extraOrder.length; next++) {
      const x = extraOrder[next]!;
      if (compareKeyBytes(extraKeys.arena, extraKeys.keyStart[x]!, extraKeys.keyLength[x]!, baseKeys.arena, start, length) > 0) break;
      writeExtra(x);
    }
    const o = overlayOf[e]!;
    const count = base.countAt(e) + (o < 0 ? 0 : overlay.countAt(o));
    const cents = base.centsAt(e) + (o < 0 ? 0 : overlay.centsAt(o));
    if (count !== 0 || cents !== 0) writer.line(baseKeys.arena, start, start + length, count, cents);
  }
  for (; next < extraOrder.length; next++) writeExtra(extraOrder[next]!);
  // An owned copy of exactly the bytes written: it is moved to another thread, and the writer's buffer has spare room.
  const written = writer.bytes();
  const owned = new Uint8Array(written.length);
  owned.set(written);
  return owned;
}
