// A batch reduce's output from the map tasks' (user, bucket) tables of one partition: the all-time part and the
// bucket part.
//
// The map tasks read different rows, so their tables mostly hold different (user, bucket) keys. Merging them into one
// table would insert nearly every key of all but one table again, and grow (rehash) it on the way: half the reduce's
// time with two threads. Instead, a key of a later table is only looked up in the earlier ones (no insert): found, its
// totals go there; not found, it stays where it is and is written from there.

import { UserAggTable } from './agg-table.js';
import { sortedEntries } from './key-order.js';
import { ViewLineWriter, bucketLinesBytes, formatEntries, writeBucketLines } from './view-lines.js';

/** A batch reduce's output: the all-time part and the bucket part, with what they hold. */
export interface BatchParts {
  /** `user_id,count,amount` per user, summed over its buckets, in id order. */
  readonly users: Buffer;
  /** `user_id,bucket_start,count,amount` per (user, bucket), table by table, each in its entry order. */
  readonly buckets: Buffer;
  readonly userCount: number;
  readonly bucketCount: number;
  readonly purchases: number;
  readonly cents: number;
}

/** The two parts of a batch view from a partition's (user, bucket) tables (one per map task; they may share keys). */
export function batchPartsOf(tables: readonly UserAggTable[], bucketSeconds: number): BatchParts {
  const own = ownEntries(tables);
  let entries = 0;
  let bytes = 0;
  for (let t = 0; t < tables.length; t++) {
    const n = own[t]?.length ?? tables[t]!.size;
    entries += n;
    bytes += bucketLinesBytes(tables[t]!, n);
  }
  // Sized for a few buckets a user: one growth at most for most data, little room left over.
  const users = new UserAggTable(Math.ceil(entries / 2));
  const out = new ViewLineWriter(bytes);
  let bucketCount = 0;
  for (let t = 0; t < tables.length; t++) {
    const table = tables[t]!;
    bucketCount += writeBucketLines(out, table, bucketSeconds, own[t]);
    users.mergeTable(table, 1, true, own[t]);
  }
  const live = users.compacted();
  const order = sortedEntries(live);
  let purchases = 0;
  let cents = 0;
  for (const e of order) {
    purchases += live.countAt(e);
    cents += live.centsAt(e);
  }
  return { users: formatEntries(live, order), buckets: out.bytes(), userCount: order.length, bucketCount, purchases, cents };
}

/**
 * Adds each key of a table to the first earlier table holding it, and returns, per table, the entries it keeps (the
 * keys no earlier table holds; undefined for the first, which keeps all). A key found in an earlier table is one that
 * table keeps: had it been moved from there, it would be in one earlier still, looked in first.
 */
function ownEntries(tables: readonly UserAggTable[]): (Uint32Array | undefined)[] {
  const own: (Uint32Array | undefined)[] = [undefined];
  for (let t = 1; t < tables.length; t++) {
    const table = tables[t]!;
    const { arena, keyStart } = table.keyColumns();
    const kept = new Uint32Array(table.size);
    let n = 0;
    for (let e = 0; e < table.size; e++) {
      const start = keyStart[e]!;
      const end = keyStart[e + 1]!;
      const hash = table.hashAt(e);
      const bucket = table.bucketAt(e);
      let found = false;
      for (let u = 0; u < t && !found; u++) {
        const at = tables[u]!.find(arena, start, end, hash, bucket);
        if (at >= 0) {
          tables[u]!.addAt(at, table.countAt(e), table.centsAt(e));
          found = true;
        }
      }
      if (!found) kept[n++] = e;
    }
    own.push(kept.subarray(0, n));
  }
  return own;
}
