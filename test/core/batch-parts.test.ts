// batchPartsOf: the reduce's all-time part sums each user's buckets in id order; the bucket part holds every non-zero pair.

import { describe, expect, it } from 'vitest';
import { UserAggTable } from '../../src/core/agg-table.js';
import { batchPartsOf } from '../../src/core/batch-parts.js';
import { randomBucketedTable, randomBucketedTables } from '../helpers/random-tables.js';
import { expectedBucketLines, expectedViewLines } from '../helpers/reference.js';

describe('batchPartsOf', () => {
  it('sums each user over its buckets in id order and writes every (user, bucket) line once', () => {
    const { table, recount } = randomBucketedTable(5, 60);
    const parts = batchPartsOf([table], 60);
    const expectedBuckets = expectedBucketLines(recount.buckets);
    expect(parts.users.toString().trimEnd().split('\n')).toEqual(expectedViewLines(recount.totals));
    expect(parts.buckets.toString().trimEnd().split('\n').sort()).toEqual([...expectedBuckets].sort());
    expect([parts.userCount, parts.bucketCount]).toEqual([recount.totals.size, expectedBuckets.length]);
    const totals = [...recount.totals.values()];
    expect([parts.purchases, parts.cents]).toEqual([totals.reduce((n, t) => n + t.count, 0), Number(totals.reduce((n, t) => n + t.cents, 0n))]);
  });

  it.each([2, 3, 5])('merges %i map tables that share keys into one line per (user, bucket) and per user', (count) => {
    const { tables, recount } = randomBucketedTables(20 + count, 60, count, 8_000);
    const parts = batchPartsOf(tables, 60);
    const expectedBuckets = expectedBucketLines(recount.buckets);
    expect(parts.users.toString().trimEnd().split('\n')).toEqual(expectedViewLines(recount.totals));
    expect(parts.buckets.toString().trimEnd().split('\n').sort()).toEqual([...expectedBuckets].sort());
    expect([parts.userCount, parts.bucketCount]).toEqual([recount.totals.size, expectedBuckets.length]);
  });

  it('a key in two later tables but not the first is written once, with both totals', () => {
    const tables = [new UserAggTable(), new UserAggTable(), new UserAggTable()];
    const add = (t: number, user: string, bucket: number, cents: number): void =>
      tables[t]!.add(Buffer.from(user), 0, user.length, 1, cents, undefined, bucket);
    add(0, 'a', 1, 100);
    add(1, 'b', 2, 200);
    add(2, 'b', 2, 300);
    add(1, 'a', 1, 5);
    add(2, 'a', 1, 7);
    add(2, 'a', 3, 1);
    const parts = batchPartsOf(tables, 10);
    expect(parts.buckets.toString().split('\n').filter(Boolean).sort()).toEqual(['a,10,3,1.12', 'a,30,1,0.01', 'b,20,2,5.00']);
    expect(parts.users.toString()).toBe('a,4,1.13\nb,2,5.00\n');
  });

  it('batchPartsOf: a user whose buckets cancel keeps its bucket lines, has no all-time line; zero buckets are left out', () => {
    const table = new UserAggTable();
    const add = (user: string, bucket: number, count: number, cents: number): void =>
      table.add(Buffer.from(user), 0, user.length, count, cents, undefined, bucket);
    add('z', 1, 1, 500);
    add('z', 2, -1, -500);
    add('a', 3, 2, 100);
    add('a', 4, 1, 50);
    add('a', 4, -1, -50);
    const parts = batchPartsOf([table], 10);
    expect(parts.users.toString()).toBe('a,2,1.00\n');
    expect(parts.buckets.toString().split('\n').filter(Boolean).sort()).toEqual(['a,30,2,1.00', 'z,10,1,5.00', 'z,20,-1,-5.00']);
    expect([parts.userCount, parts.bucketCount, parts.purchases, parts.cents]).toEqual([1, 3, 2, 100]);
  });
});
