// The merged view's order, computed from key bytes, agrees with string order; lines written in it, with string formatting.

import { describe, expect, it } from 'vitest';
import { UserAggTable, compareUserIds } from '../../src/core/agg-table.js';
import { formatTotals } from '../../src/core/view-format.js';
import { sortByKey, sortScratchBytes, sortedEntries } from '../../src/core/key-order.js';
import { formatBucketLines, formatEntries } from '../../src/core/view-lines.js';
import { seeded } from '../helpers/prng.js';
import { randomBucketedTable } from '../helpers/random-tables.js';
import { expectedBucketLines } from '../helpers/reference.js';

/** Characters from every UTF-8 length, including the two ranges UTF-16 orders differently from code points. */
const ALPHABET = [
  'a',
  'b',
  'z',
  '0',
  '9',
  ',',
  '"',
  ' ',
  'é',
  'ß',
  '\u07ff',
  '\u0800',
  'ह',
  '\ud7ff',
  '\ue000',
  '\uefff',
  '\uf000',
  '\uffef',
  '😀',
  '𐀀',
  '\u{10ffff}',
  '中',
];

function tableOf(ids: readonly string[], random: ReturnType<typeof seeded>): UserAggTable {
  const table = new UserAggTable();
  for (const id of ids) {
    const key = Buffer.from(id);
    table.add(key, 0, key.length, random.between(1, 50), random.between(-10_000, 1_000_000));
  }
  return table;
}

describe('sortedEntries / formatEntries', () => {
  it.each([1, 2, 3, 4])('orders random unicode ids like JavaScript strings and writes the same lines (seed %i)', (seed) => {
    const random = seeded(seed);
    const ids = new Set<string>();
    // Many ids share their first 5 bytes, so the tie-breaking path runs too.
    while (ids.size < 3_000) {
      const prefix = random.chance(0.5) ? 'user-' : '';
      ids.add(prefix + Array.from({ length: random.between(1, 8) }, () => random.pick(ALPHABET)).join(''));
    }
    const table = tableOf([...ids], random);
    const order = sortedEntries(table);
    const decoded = Array.from(order, (e) => Buffer.from(table.keyAt(e)).toString());
    expect(decoded).toEqual([...ids].sort(compareUserIds));
    expect(formatEntries(table, order).toString()).toBe(formatTotals(table.toSortedTotals()));
  });

  it('sorts in scratch it is lent, ids tying several chunks deep, and refuses scratch too small', () => {
    const random = seeded(5);
    const ids = Array.from({ length: 2_000 }, (_, i) => `user-${String(random.between(0, 10 ** 9)).padStart(12, '0')}-${i % 7}`);
    const table = tableOf(ids, random);
    const scratch = new ArrayBuffer(sortScratchBytes(table.size));
    const order = sortByKey(
      table.keyColumns(),
      Uint32Array.from({ length: table.size }, (_, e) => e),
      scratch,
    );
    expect(Array.from(order, (e) => Buffer.from(table.keyAt(e)).toString())).toEqual([...new Set(ids)].sort(compareUserIds));
    expect(() => sortByKey(table.keyColumns(), new Uint32Array(3), new ArrayBuffer(sortScratchBytes(3) - 1))).toThrow(RangeError);
  });

  it('leaves out users whose totals are zero, keeps count > 0 at zero cents, and handles empty and one-user tables', () => {
    const random = seeded(9);
    const table = tableOf(['a', 'b', 'c'], random);
    const key = Buffer.from('b');
    table.add(key, 0, 1, -table.countAt(1), -table.centsAt(1));
    table.add(Buffer.from('c'), 0, 1, 0, -table.centsAt(2));
    const lines = formatEntries(table, sortedEntries(table)).toString();
    expect(lines).toBe(formatTotals(table.toSortedTotals()));
    expect(lines).not.toContain('b,');
    expect(lines).toMatch(/^c,\d+,0\.00$/m);
    expect(sortedEntries(new UserAggTable())).toHaveLength(0);
    expect(formatEntries(tableOf(['only'], random), sortedEntries(tableOf(['only'], seeded(9)))).toString()).toMatch(/^only,/);
  });
});

describe('sortedEntries / formatBucketLines with buckets', () => {
  it('orders users as the views do and each user buckets by number', () => {
    const { table, recount } = randomBucketedTable(5, 60);
    const lines = formatBucketLines(table, 60, sortedEntries(table));
    const expected = expectedBucketLines(recount.buckets);
    expect(lines.bytes.toString().trimEnd().split('\n')).toEqual(expected);
    expect(lines.lines).toBe(expected.length);
  });

  it('orders a user with many buckets inserted newest first (the long-run path) like a short one', () => {
    const table = new UserAggTable();
    for (const user of ['b', 'a']) {
      const key = Buffer.from(user);
      for (let bucket = 99; bucket >= 0; bucket--) table.add(key, 0, 1, 1, bucket, undefined, (bucket * 7) % 100);
    }
    const buckets = formatBucketLines(table, 10, sortedEntries(table)).bytes.toString().trim().split('\n');
    const expected = ['a', 'b'].flatMap((u) => Array.from({ length: 100 }, (_, b) => `${u},${b * 10},1,${(((b * 43) % 100) / 100).toFixed(2)}`));
    expect(buckets).toEqual(expected);
  });
});
