// What the serving layer holds of a merged view, as plain data that crosses threads: a batch view prepared for
// serving, the overlay a batch swap keeps, and a view's totals. Shapes only; src/serving builds and reads them.

import type { AggTableState } from './agg-table.js';
import type { BucketIndexState } from './bucket-index.js';
import type { SortedTableState } from './sorted-table.js';

export interface BatchViewMeta {
  /** The view folder's name, e.g. batch-1700000000000. */
  readonly name: string;
  /** S_B: the last ingest seq it absorbed (of the default stream). */
  readonly watermark: number;
  /** Each NATS partition stream's last ingest seq it absorbed (a stream it does not name: none). */
  readonly streamWatermarks?: Readonly<Record<string, number>>;
  readonly createdAtMs: number;
  /** Bad rows its inputs held (from its manifest; 0 when it does not say). */
  readonly badRows: number;
}

/** A batch view prepared for serving: shared typed arrays, so it crosses threads without a copy. */
export interface BatchBase {
  /** Undefined: no batch view yet (an empty base). */
  readonly view: BatchViewMeta | undefined;
  /**
   * Entry i is the user with the i-th smallest id (the merged view's order): an export walks the columns front to
   * back instead of jumping around them for every user.
   */
  readonly table: SortedTableState;
  /** Entries by amount descending, then user id ascending. */
  readonly byCents: Uint32Array;
  /** Entries by count descending, then user id ascending. */
  readonly byCount: Uint32Array;
  readonly users: number;
  readonly purchases: number;
  readonly cents: number;
  /**
   * Its users' totals per event-time bucket of the data folder's size (src/core/bucket-index.ts); undefined for a view
   * that has none of that size (written before event time): it answers all-time questions only.
   */
  readonly buckets: BucketIndexState | undefined;
}

export interface ViewTotals {
  readonly users: number;
  readonly purchases: number;
  readonly cents: number;
}

/**
 * The overlay a batch swap keeps, built by the loader off the hot path: per stream (the default one under
 * DEFAULT_STREAM) its seqs (afterSeq, throughSeq], afterSeq being the new view's watermark; with the totals of the new
 * view plus this overlay. The store adds the seqs it applied after throughSeq itself.
 */
export interface PreparedOverlay {
  readonly ranges: Readonly<Record<string, { readonly afterSeq: number; readonly throughSeq: number }>>;
  /** Per user over all time, and per (user, bucket) (src/serving/overlay-buckets.ts). */
  readonly overlay: AggTableState;
  readonly buckets: AggTableState;
  readonly totals: ViewTotals;
}
