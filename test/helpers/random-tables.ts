// Random (user, bucket) tables for the core's tests, with an independent recount of what went into them.

import { UserAggTable } from '../../src/core/agg-table.js';
import { type Recount, addPurchase, emptyRecount } from './reference.js';
import { seeded } from './prng.js';

/**
 * A table of `rows` purchases over ~300 users (some ids non-ASCII) and 40 buckets of `bucketSeconds` from bucket 100,
 * amounts from −1.00 to 8.99, and the recount of the same purchases.
 */
export function randomBucketedTable(seed: number, bucketSeconds: number, rows = 5_000): { readonly table: UserAggTable; readonly recount: Recount } {
  const { tables, recount } = randomBucketedTables(seed, bucketSeconds, 1, rows);
  return { table: tables[0]!, recount };
}

/** The purchases of randomBucketedTable spread at random over `count` tables (as map tasks split rows), and their recount. */
export function randomBucketedTables(
  seed: number,
  bucketSeconds: number,
  count: number,
  rows = 5_000,
): { readonly tables: UserAggTable[]; readonly recount: Recount } {
  const random = seeded(seed).next;
  const tables = Array.from({ length: count }, () => new UserAggTable());
  const recount = emptyRecount(bucketSeconds);
  for (let i = 0; i < rows; i++) {
    const user = `u${Math.floor(random() * 300)}${random() < 0.1 ? '\u00e9' : ''}`;
    const bucket = 100 + Math.floor(random() * 40);
    const cents = Math.floor(random() * 1_000) - 100;
    const key = Buffer.from(user);
    // One table draws no extra number: randomBucketedTable's seeds keep giving the rows they always gave.
    tables[count === 1 ? 0 : Math.floor(random() * count)]!.add(key, 0, key.length, 1, cents, undefined, bucket);
    addPurchase(recount, user, BigInt(cents), bucket * bucketSeconds);
  }
  return { tables, recount };
}
