// What the HTTP API (and the live page and /metrics it serves) reads of the serving layer: the current version and
// the reads of it, readiness, the merged view's CSV, the speed layers' counters. Nothing that changes it.

import { type UserTotal } from '../core/agg-table.js';
import { type SnapshotStatus } from './current-version.js';
import { type TopBy } from './lookups.js';
import { type RangeReads } from './range-reads.js';
import { type ExportedVersion } from './view-exports.js';

export interface ServingReads {
  /** The current version's status; undefined until the first load. */
  readonly current: SnapshotStatus | undefined;
  /** True once a consistent view is loaded. */
  readonly isReady: boolean;
  /** One user's totals in the current version, or undefined when the user is not in the view. */
  get(userId: string): UserTotal | undefined;
  /** The top n users by amount or count (descending, ties by user id ascending) in the current version. */
  top(by: TopBy, n: number): UserTotal[];
  /** The data folder's event-time bucket size: ranges of time are whole buckets of it. */
  readonly bucketSeconds: number;
  /** The same reads over a range of event time (whole buckets), and series per bucket. */
  readonly ranges: Pick<RangeReads, 'refusal' | 'user' | 'userPoints' | 'points' | 'top'>;
  /** A file of the merged view's CSV of the current version (the same bytes merged_view.csv gets for it); release it when done. */
  csv(): Promise<ExportedVersion>;
  /** Calls `listener` with every new version; returns the unsubscribe function. */
  onVersion(listener: (status: SnapshotStatus) => void): () => void;
  /** Rows the speed layers read per second, recently (null before a speed layer has published twice). */
  readonly eventsPerSecond: number | null;
  /** Rows the running speed layers have read since they started (null before a first realtime view). */
  readonly rowsIngested: number | null;
  /** Per stream with a realtime head (`default`, `p0`, …): seconds its speed layer's source has not been able to read (0 while it reads). */
  readonly sourceUnreadableSeconds: ReadonlyMap<string, number>;
  /** Bad rows: the batch view's, plus those the running speed layers found. */
  readonly badRows: { readonly batch: number; readonly stream: number };
  /** The CSV files of versions written so far, by how. */
  readonly exportsWritten: Readonly<{ planned: number; whole: number }>;
}
