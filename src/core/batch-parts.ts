// A batch reduce's output from a partition's (user, bucket) table: the all-time part and the bucket part.

import { type UserAggTable } from './agg-table.js';
import { sortedEntries } from './key-order.js';
import { formatBucketLines, formatEntries } from './view-lines.js';

/** A batch reduce's output: the all-time part and the bucket part, with what they hold. */
export interface BatchParts {
  /** `user_id,count,amount` per user, summed over its buckets, in id order. */
  readonly users: Buffer;
  /** `user_id,bucket_start,count,amount` per (user, bucket), in the table's order. */
  readonly buckets: Buffer;
  readonly userCount: number;
  readonly bucketCount: number;
  readonly purchases: number;
  readonly cents: number;
}

/** The two parts of a batch view from a partition's (user, bucket) table. */
export function batchPartsOf(table: UserAggTable, bucketSeconds: number): BatchParts {
  // Sized for a few buckets a user: one growth at most for most data, little room left over.
  const users = table.overAllTime(Math.ceil(table.liveSize / 2));
  const order = sortedEntries(users);
  const buckets = formatBucketLines(table, bucketSeconds);
  let purchases = 0;
  let cents = 0;
  for (const e of order) {
    purchases += users.countAt(e);
    cents += users.centsAt(e);
  }
  return { users: formatEntries(users, order), buckets: buckets.bytes, userCount: order.length, bucketCount: buckets.lines, purchases, cents };
}
