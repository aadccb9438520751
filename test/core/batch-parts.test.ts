// batchPartsOf: the reduce's all-time part sums each user's buckets in id order; the bucket part holds every non-zero pair.

import { describe, expect, it } from 'vitest';
import { UserAggTable, compareUserIds } from '../../src/core/agg-table.js';
import { batchPartsOf } from '../../src/core/batch-parts.js';
import { seeded } from '../helpers/prng.js';

describe('batchPartsOf', () => {
  it('sums each user over its buckets in id order and writes every (user, bucket) line once', () => {
    const random = seeded(5).next;
    const table = new UserAggTable();
    const model = new Map<string, Map<number, [number, number]>>();
    for (let i = 0; i < 5_000; i++) {
      const user = `u${Math.floor(random() * 300)}${random() < 0.1 ? '\u00e9' : ''}`;
      const bucket = 100 + Math.floor(random() * 40);
      const cents = Math.floor(random() * 1_000) - 100;
      const key = Buffer.from(user);
      table.add(key, 0, key.length, 1, cents, undefined, bucket);
      const buckets = model.get(user) ?? new Map<number, [number, number]>();
      const [c, a] = buckets.get(bucket) ?? [0, 0];
      buckets.set(bucket, [c + 1, a + cents]);
      model.set(user, buckets);
    }
    const users = [...model.keys()].sort(compareUserIds);
    const money = (cents: number): string => `${cents < 0 ? '-' : ''}${Math.floor(Math.abs(cents) / 100)}.${String(Math.abs(cents) % 100).padStart(2, '0')}`;
    const expectedBuckets = users.flatMap((u) =>
      [...model.get(u)!]
        .filter(([, [c, a]]) => c !== 0 || a !== 0)
        .sort(([a], [b]) => a - b)
        .map(([b, [c, a]]) => `${u},${b * 60},${c},${money(a)}\n`),
    );
    const expectedUsers = users
      .map((u) => [...model.get(u)!.values()].reduce(([c, a], [dc, da]) => [c + dc, a + da], [0, 0]))
      .map(([c, a], i) => `${users[i]},${c},${money(a)}\n`);
    const parts = batchPartsOf(table, 60);
    expect(parts.users.toString()).toBe(expectedUsers.join(''));
    expect(parts.buckets.toString().split('\n').filter(Boolean).sort()).toEqual(expectedBuckets.map((l) => l.trimEnd()).sort());
    expect([parts.userCount, parts.bucketCount]).toEqual([users.length, expectedBuckets.length]);
    const all = [...model.values()].flatMap((b) => [...b.values()]);
    expect([parts.purchases, parts.cents]).toEqual([all.reduce((n, [c]) => n + c, 0), all.reduce((n, [, a]) => n + a, 0)]);
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
    const parts = batchPartsOf(table, 10);
    expect(parts.users.toString()).toBe('a,2,1.00\n');
    expect(parts.buckets.toString().split('\n').filter(Boolean).sort()).toEqual(['a,30,2,1.00', 'z,10,1,5.00', 'z,20,-1,-5.00']);
    expect([parts.userCount, parts.bucketCount, parts.purchases, parts.cents]).toEqual([1, 3, 2, 100]);
  });
});
