// A batch view prepared for serving (src/core/view-state.ts): its table in shared memory (built by the thread that
// loads it, then read by the serving thread, never copied), its entries in user-id order, with orders by amount and by
// count. Built off the hot path.

import { UserAggTable } from '../core/agg-table.js';
import { type BucketIndexState } from '../core/bucket-index.js';
import { SortedUserTable, sortedTableState } from '../core/sorted-table.js';
import { sortScratchBytes, sortedEntries } from '../core/key-order.js';
import { orderByValueDescending } from '../core/value-order.js';
import { type BatchBase, type BatchViewMeta } from '../core/view-state.js';
import { batchWatermarkOf } from '../io/views/views.js';

/**
 * Orders a table's entries by id (in place: the table stays a table of the same users, without those whose totals
 * are zero), sorts them by amount and by count, and shares its arrays (a table made in shared memory is not copied);
 * `buckets` then indexes the view's per-bucket totals against the entries in that order.
 */
export function buildBatchBase(table: UserAggTable, view: BatchViewMeta | undefined, buckets?: (table: SortedUserTable) => BucketIndexState): BatchBase {
  // The sort and the reorder work in the memory the two orders by value end up in (8 bytes an entry each way), and
  // those are sorted with the id order's memory, of no more use by then: a loader holds the view and one column
  // beside it, not the garbage of each step until a collection comes.
  const orders = new SharedArrayBuffer(sortScratchBytes(table.size));
  // sortedEntries leaves out users whose totals are zero.
  const byId = sortedEntries(table, orders);
  table.reorder(byId, orders);
  const n = table.size;
  let purchases = 0;
  let cents = 0;
  for (let e = 0; e < n; e++) {
    purchases += table.countAt(e);
    cents += table.centsAt(e);
  }
  const state = sortedTableState(table, 'shared');
  // Ties by id ascending, which is entry order.
  const byValue = (values: Float64Array, at: number): Uint32Array =>
    orderByValueDescending(values, new Uint32Array(orders, at * Uint32Array.BYTES_PER_ELEMENT, n), byId.buffer);
  return {
    view,
    table: state,
    byCents: byValue(state.centsOf, 0),
    byCount: byValue(state.countOf, n),
    users: n,
    purchases,
    cents,
    buckets: buckets?.(new SortedUserTable(state)),
  };
}

export const EMPTY_BASE: BatchBase = buildBatchBase(new UserAggTable(), undefined);

/** A batch view's watermark of a stream (0: it read nothing of it). */
export const watermarkOf = (base: BatchBase, stream: string): number => batchWatermarkOf(base.view, stream);
