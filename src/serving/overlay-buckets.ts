// The realtime overlay per (user, event-time bucket), beside the per-user overlay the merged view's lookups and exports
// read: what the seqs past the batch view's watermark add to each user's buckets, and to each bucket over all users.
// Changed with the per-user overlay, by the same seqs, so the two always sum to the same totals.

import { ALL_TIME, type AggTableState, UserAggTable } from '../core/agg-table.js';

export class OverlayBuckets {
  /** Per bucket, over all users: [purchases, cents]. */
  private readonly perBucket = new Map<number, [number, number]>();
  private sortedBuckets: Uint32Array | undefined;
  /** Totals over all time among the keys: deltas from before buckets, or the window view's overlay. */
  private allTimeKeys = false;

  private constructor(readonly table: UserAggTable) {
    for (let e = 0; e < table.size; e++) this.count(table.bucketAt(e), table.countAt(e), table.centsAt(e));
  }

  /** The overlay of a copy of `table` (never the table itself: the per-user overlay may be that table, and is added to apart). */
  static of(table: UserAggTable): OverlayBuckets {
    const copy = new UserAggTable(table.size);
    copy.mergeTable(table);
    return new OverlayBuckets(copy);
  }

  static fromState(state: AggTableState): OverlayBuckets {
    return new OverlayBuckets(UserAggTable.fromState(state));
  }

  /** An overlay with no per-bucket totals at all (the window view's): it cannot answer a range question. */
  static unbucketed(): OverlayBuckets {
    const buckets = new OverlayBuckets(new UserAggTable(0));
    buckets.allTimeKeys = true;
    return buckets;
  }

  /** True when every total is in a bucket, so that ranges of buckets can be summed exactly. */
  get answersRanges(): boolean {
    return !this.allTimeKeys;
  }

  /** Adds a change of (user, bucket) totals. */
  add(change: UserAggTable, sign: 1 | -1 = 1): void {
    const { arena, keyStart } = change.keyColumns();
    for (let e = 0; e < change.size; e++) {
      this.table.add(arena, keyStart[e]!, keyStart[e + 1]!, sign * change.countAt(e), sign * change.centsAt(e), change.hashAt(e), change.bucketAt(e));
      this.count(change.bucketAt(e), sign * change.countAt(e), sign * change.centsAt(e));
    }
  }

  private count(bucket: number, count: number, cents: number): void {
    if (bucket === ALL_TIME) {
      if (count !== 0 || cents !== 0) this.allTimeKeys = true;
      return;
    }
    const totals = this.perBucket.get(bucket);
    if (totals) {
      totals[0] += count;
      totals[1] += cents;
    } else {
      this.perBucket.set(bucket, [count, cents]);
      this.sortedBuckets = undefined;
    }
  }

  /** The buckets the overlay has totals in, ascending. */
  buckets(): Uint32Array {
    return (this.sortedBuckets ??= Uint32Array.from(this.perBucket.keys()).sort());
  }

  /** A bucket's purchases and cents over all users. */
  bucketTotals(bucket: number): readonly [count: number, cents: number] {
    return this.perBucket.get(bucket) ?? [0, 0];
  }
}
