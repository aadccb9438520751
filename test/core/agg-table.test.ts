// The one aggregation contract: UserAggTable add / merge / exact inverse, growth, hash partitioning into blocks,
// and blocks that survive the structured clone used between threads.

import { describe, expect, it } from 'vitest';
import { ALL_TIME, type AggBlock, UserAggTable, blockToSortedTotals, compareUserIds, tableFromBlocks } from '../../src/core/agg-table.js';
import { fnv1a, fnv1aString, partitionOf, partitionOfHash } from '../../src/core/hash.js';
import { seeded } from '../helpers/prng.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function addUser(table: UserAggTable, userId: string, count: number, cents: number): void {
  const bytes = encoder.encode(userId);
  table.add(bytes, 0, bytes.length, count, cents);
}

function blockUsers(block: AggBlock): string[] {
  const users: string[] = [];
  let start = 0;
  for (const end of block.keyEnds) {
    users.push(decoder.decode(block.keys.subarray(start, end)));
    start = end;
  }
  return users;
}

/** An independent model: a Map of string keys, sorted like the views are. */
function modelTotals(model: Map<string, { count: number; cents: number }>): { userId: string; count: number; cents: number }[] {
  return [...model.entries()]
    .filter(([, t]) => t.count !== 0 || t.cents !== 0)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([userId, t]) => ({ userId, count: t.count, cents: t.cents }));
}

describe('fnv1a and partitions', () => {
  it('is the standard 32-bit FNV-1a', () => {
    expect(fnv1aString('')).toBe(0x811c9dc5);
    expect(fnv1aString('a')).toBe(0xe40c292c);
    expect(fnv1aString('foobar')).toBe(0xbf9cf968);
  });

  it('hashes bytes [start, end) of a larger buffer like the string alone', () => {
    const bytes = encoder.encode('xxfoobaryy');
    expect(fnv1a(bytes, 2, 8)).toBe(fnv1aString('foobar'));
    expect(fnv1aString('ü中😀')).toBe(fnv1a(encoder.encode('ü中😀'), 0, encoder.encode('ü中😀').length));
  });

  it('partitionOfHash is a non-negative modulo, partitionOf agrees with it', () => {
    expect(partitionOfHash(0xffffffff, 7)).toBe(0xffffffff % 7);
    expect(partitionOfHash(-1, 7)).toBe(0xffffffff % 7); // a signed view of the same 32 bits
    for (const id of ['u1', 'u2', 'ü', '😀', '']) {
      for (const r of [1, 2, 3, 8, 13]) {
        const p = partitionOf(id, r);
        expect(p).toBe(fnv1aString(id) % r);
        expect(p).toBeGreaterThanOrEqual(0);
        expect(p).toBeLessThan(r);
      }
    }
  });
});

describe('UserAggTable add / merge / inverse', () => {
  it('adds counts and cents per user, keyed by exact bytes', () => {
    const table = new UserAggTable();
    addUser(table, 'u1', 1, 150);
    addUser(table, 'u2', 1, 200);
    addUser(table, 'u1', 2, -50);
    addUser(table, 'U1', 1, 1);
    expect(table.size).toBe(3);
    expect(table.toSortedTotals()).toEqual([
      { userId: 'U1', count: 1, cents: 1 },
      { userId: 'u1', count: 3, cents: 100 },
      { userId: 'u2', count: 1, cents: 200 },
    ]);
  });

  it('reads keys from a byte range and copies them (later changes to the buffer do not leak in)', () => {
    const table = new UserAggTable();
    const buffer = encoder.encode('..abc..');
    table.add(buffer, 2, 5, 1, 10);
    buffer.fill(0x7a);
    table.add(encoder.encode('abc'), 0, 3, 1, 5);
    expect(table.toSortedTotals()).toEqual([{ userId: 'abc', count: 2, cents: 15 }]);
  });

  it('sorts by JS string comparison (UTF-16 code units), as every output does', () => {
    const table = new UserAggTable();
    const ids = ['b', 'a', 'B', 'ａ', '😀', 'é', 'a1', '10', '9', ''];
    for (const id of ids) addUser(table, id, 1, 1);
    expect(table.toSortedTotals().map((t) => t.userId)).toEqual([...ids].sort());
    expect(compareUserIds('😀', 'ａ')).toBe(-1); // surrogates (0xD83D) sort before U+FF41
    expect(compareUserIds('a', 'a')).toBe(0);
  });

  it('mergeBlock with sign -1 undoes mergeBlock exactly: the table returns to empty', () => {
    const random = seeded(5);
    const slide = new UserAggTable();
    for (let i = 0; i < 5_000; i++) addUser(slide, `u${random.int(700)}`, 1, random.between(-10_000, 10_000));
    const block = slide.toBlock();
    const window = new UserAggTable();
    window.mergeBlock(block);
    expect(window.toSortedTotals()).toEqual(slide.toSortedTotals());
    window.mergeBlock(block, -1);
    expect(window.toSortedTotals()).toEqual([]);
    expect(window.liveSize).toBe(0);
    expect(window.size).toBeGreaterThan(0); // the zero entries are still held until compacted
    expect(window.compacted().size).toBe(0);
    expect(window.toBlock().counts.length).toBe(0);
  });

  it('the inverse law invReduce(reduce(x, y), x) = y holds exactly', () => {
    const random = seeded(11);
    const x = new UserAggTable();
    const y = new UserAggTable();
    for (let i = 0; i < 3_000; i++) addUser(x, `u${random.int(400)}`, 1, random.between(-99_999, 99_999));
    for (let i = 0; i < 3_000; i++) addUser(y, `u${random.int(400)}`, 1, random.between(-99_999, 99_999));
    const sum = new UserAggTable();
    sum.mergeTable(x);
    sum.mergeTable(y);
    sum.mergeTable(x, -1);
    expect(sum.toSortedTotals()).toEqual(y.toSortedTotals());
  });

  it('users whose count and cents are both zero are dropped; a zero amount with purchases is kept', () => {
    const table = new UserAggTable();
    addUser(table, 'gone', 2, 500);
    addUser(table, 'gone', -2, -500);
    addUser(table, 'refunded', 1, 500);
    addUser(table, 'refunded', 1, -500);
    addUser(table, 'free', 1, 0);
    expect(table.toSortedTotals()).toEqual([
      { userId: 'free', count: 1, cents: 0 },
      { userId: 'refunded', count: 2, cents: 0 },
    ]);
    expect(table.liveSize).toBe(2);
    expect(table.size).toBe(3);
    addUser(table, 'gone', 1, 1); // comes back to life
    expect(table.liveSize).toBe(3);
    expect(table.toSortedTotals().map((t) => t.userId)).toEqual(['free', 'gone', 'refunded']);
  });

  it('compacted() keeps exactly the non-zero users and stays usable', () => {
    const table = new UserAggTable();
    for (let i = 0; i < 100; i++) addUser(table, `u${i}`, 1, i);
    for (let i = 0; i < 100; i += 2) addUser(table, `u${i}`, -1, -i);
    const compact = table.compacted();
    expect(compact.size).toBe(50);
    expect(compact.toSortedTotals()).toEqual(table.toSortedTotals());
    addUser(compact, 'u0', 1, 7);
    expect(compact.toSortedTotals().find((t) => t.userId === 'u0')).toEqual({ userId: 'u0', count: 1, cents: 7 });
  });

  it('reorder() puts the given entries in that order in place, drops the others, and stays usable (shared memory too)', () => {
    for (const memory of ['local', 'shared'] as const) {
      const table = new UserAggTable(64, memory);
      for (let i = 0; i < 50; i++) addUser(table, `user-${i}`.repeat(1 + (i % 3)), 1 + i, 100 * i);
      // Every third entry, last first.
      const order = Uint32Array.from({ length: 17 }, (_, k) => 48 - 3 * k);
      const expected = [...order].map((e) => ({ key: decoder.decode(table.keyAt(e)), count: table.countAt(e), cents: table.centsAt(e) }));
      table.reorder(order);
      expect(table.size).toBe(17);
      expected.forEach(({ key, count, cents }, i) => {
        expect(decoder.decode(table.keyAt(i))).toBe(key);
        expect([table.countAt(i), table.centsAt(i)]).toEqual([count, cents]);
        const bytes = encoder.encode(key);
        expect(table.find(bytes, 0, bytes.length)).toBe(i);
      });
      expect(table.find(encoder.encode('user-1user-1'), 0, 12)).toBe(-1);
      expect(table.toState().keyStart.buffer instanceof SharedArrayBuffer).toBe(memory === 'shared');
      addUser(table, 'user-48', 1, 1);
      addUser(table, 'new', 2, 3);
      expect(table.toSortedTotals().find((t) => t.userId === 'new')).toEqual({ userId: 'new', count: 2, cents: 3 });
      expect(table.size).toBe(18);
    }
  });

  it('refuses a total that would leave the exact integer range', () => {
    const table = new UserAggTable();
    addUser(table, 'whale', 1, Number.MAX_SAFE_INTEGER - 10);
    expect(() => addUser(table, 'whale', 1, 100)).toThrow(expect.objectContaining({ code: 'E_OVERFLOW' }));
  });
});

describe('growth', () => {
  it('holds 60,000 users with keys of many lengths, matching a Map model', () => {
    const random = seeded(3);
    const table = new UserAggTable();
    const model = new Map<string, { count: number; cents: number }>();
    for (let i = 0; i < 150_000; i++) {
      const n = random.int(60_000);
      const userId = `user-${n}-${'k'.repeat(n % 41)}${n % 7 === 0 ? 'ü' : ''}`;
      const cents = random.between(-50_000, 50_000);
      addUser(table, userId, 1, cents);
      const t = model.get(userId) ?? { count: 0, cents: 0 };
      t.count++;
      t.cents += cents;
      model.set(userId, t);
    }
    expect(model.size).toBeGreaterThan(50_000);
    expect(table.size).toBe(model.size);
    expect(table.toSortedTotals()).toEqual(modelTotals(model));
  });

  it('a table sized for few users grows like one sized for many', () => {
    const small = new UserAggTable(1);
    const big = new UserAggTable(100_000);
    for (let i = 0; i < 20_000; i++) {
      addUser(small, `u${i * 7919}`, 1, i);
      addUser(big, `u${i * 7919}`, 1, i);
    }
    expect(small.toSortedTotals()).toEqual(big.toSortedTotals());
  });

  it('reserveSlots(n) and reserveEntries(n) on a table holding users make room so that n users fit without a rehash or a copy of the columns, and keep every total', () => {
    const random = seeded(5);
    const table = new UserAggTable();
    const model = new Map<string, { count: number; cents: number }>();
    const add = (userId: string, cents: number): void => {
      addUser(table, userId, 1, cents);
      const t = model.get(userId) ?? { count: 0, cents: 0 };
      model.set(userId, { count: t.count + 1, cents: t.cents + cents });
    };
    for (let i = 0; i < 700; i++) add(`early-${i}-${'x'.repeat(i % 30)}`, random.between(-900, 900));
    table.reserveSlots(20_000);
    table.reserveEntries(20_000);
    const reserved = table.toState();
    for (let i = 0; i < 19_300; i++) add(`late-${random.int(1_000_000)}-${'y'.repeat(i % 25)}`, random.between(-900, 900));
    const after = table.toState();
    // The same arrays: nothing was rehashed or copied while the users arrived (the key arena may still grow).
    for (const column of ['slots', 'keyStart', 'keyHash', 'countOf', 'centsOf'] as const) expect(after[column]).toBe(reserved[column]);
    expect(table.toSortedTotals()).toEqual(modelTotals(model));
  });
});

describe('toPartitionedBlocks', () => {
  function sampleTable(): UserAggTable {
    const random = seeded(17);
    const table = new UserAggTable();
    for (let i = 0; i < 8_000; i++) addUser(table, `u${random.int(2_500)}${random.chance(0.1) ? 'é' : ''}`, 1, random.between(1, 99_999));
    addUser(table, 'zeroed', 1, 5);
    addUser(table, 'zeroed', -1, -5);
    return table;
  }

  it.each([1, 2, 3, 8, 16])('R = %i: each block holds exactly the users its partition owns, and their union is the whole', (partitions) => {
    const table = sampleTable();
    const blocks = table.toPartitionedBlocks(partitions);
    expect(blocks).toHaveLength(partitions);
    const union: ReturnType<typeof blockToSortedTotals> = [];
    blocks.forEach((block, p) => {
      const users = blockUsers(block);
      expect(block.keyEnds.length).toBe(users.length);
      expect(block.hashes.length).toBe(users.length);
      expect(block.counts.length).toBe(users.length);
      expect(block.cents.length).toBe(users.length);
      users.forEach((userId, i) => {
        const bytes = encoder.encode(userId);
        expect(block.hashes[i]).toBe(fnv1a(bytes, 0, bytes.length));
        expect(partitionOfHash(fnv1a(bytes, 0, bytes.length), partitions)).toBe(p);
      });
      union.push(...blockToSortedTotals(block));
    });
    const whole = table.toSortedTotals();
    expect(union.sort((a, b) => compareUserIds(a.userId, b.userId))).toEqual(whole);
    expect(whole.some((t) => t.userId === 'zeroed')).toBe(false);
    if (partitions > 1) expect(blocks.every((b) => b.counts.length > 0)).toBe(true);
  });

  it('an empty table gives R empty blocks', () => {
    const blocks = new UserAggTable().toPartitionedBlocks(4);
    expect(blocks.map((b) => b.counts.length)).toEqual([0, 0, 0, 0]);
    expect(tableFromBlocks(blocks).toSortedTotals()).toEqual([]);
  });

  it('blocks survive structuredClone (as between threads) and merge back to the same totals', () => {
    const table = sampleTable();
    const blocks = table.toPartitionedBlocks(5);
    const cloned = structuredClone(blocks);
    expect(cloned[0]!.keys).toBeInstanceOf(Uint8Array);
    expect(cloned[0]!.cents).toBeInstanceOf(Float64Array);
    expect(tableFromBlocks(cloned).toSortedTotals()).toEqual(table.toSortedTotals());
  });

  it('blocks survive structuredClone with their buffers transferred', () => {
    const table = sampleTable();
    const blocks = table.toPartitionedBlocks(3);
    const expected = table.toSortedTotals();
    const transfer = blocks.flatMap((b) => [b.keys.buffer, b.keyEnds.buffer, b.hashes.buffer, b.counts.buffer, b.cents.buffer]);
    const moved = structuredClone(blocks, { transfer });
    expect(blocks[0]!.keys.byteLength).toBe(0); // detached: the data moved, it was not copied
    expect(tableFromBlocks(moved).toSortedTotals()).toEqual(expected);
  });

  it('merging partial tables in any order, through blocks, equals one table of all rows (map → shuffle → reduce)', () => {
    const random = seeded(23);
    const rows = Array.from({ length: 20_000 }, () => ({ user: `u${Math.floor(random.next() ** 3 * 3_000)}`, cents: random.between(-999, 99_999) }));
    const whole = new UserAggTable();
    for (const r of rows) addUser(whole, r.user, 1, r.cents);
    const partitions = 4;
    const mappers = Array.from({ length: 6 }, () => new UserAggTable());
    rows.forEach((r, i) => addUser(mappers[i % mappers.length]!, r.user, 1, r.cents));
    const mapOutputs = mappers.map((m) => structuredClone(m.toPartitionedBlocks(partitions)));
    const reduced = Array.from({ length: partitions }, (_, p) => tableFromBlocks(mapOutputs.map((blocks) => blocks[p]!).reverse()));
    const union = reduced.flatMap((t) => t.toSortedTotals()).sort((a, b) => compareUserIds(a.userId, b.userId));
    expect(union).toEqual(whole.toSortedTotals());
  });
});

describe('keys per (user, event-time bucket)', () => {
  function addBucket(table: UserAggTable, userId: string, bucket: number, count: number, cents: number): void {
    const bytes = encoder.encode(userId);
    table.add(bytes, 0, bytes.length, count, cents, fnv1a(bytes, 0, bytes.length), bucket);
  }

  it('keeps each bucket of a user apart, and a user over all time apart from its buckets', () => {
    const table = new UserAggTable();
    addBucket(table, 'u1', 10, 1, 100);
    addBucket(table, 'u1', 11, 1, 200);
    addBucket(table, 'u1', 10, 2, 50);
    addUser(table, 'u1', 1, 7);
    expect(table.toSortedBucketTotals()).toEqual([
      { userId: 'u1', bucket: 10, count: 3, cents: 150 },
      { userId: 'u1', bucket: 11, count: 1, cents: 200 },
      { userId: 'u1', bucket: ALL_TIME, count: 1, cents: 7 },
    ]);
    const bytes = encoder.encode('u1');
    expect(table.find(bytes, 0, 2, undefined, 11)).toBeGreaterThanOrEqual(0);
    expect(table.find(bytes, 0, 2, undefined, 12)).toBe(-1);
    expect(table.toSortedTotals()).toEqual([{ userId: 'u1', count: 5, cents: 357 }]);
  });

  it('sums a user over its buckets (overAllTime), against a Map model, through growth, blocks and reorder', () => {
    const random = seeded(31).next;
    const table = new UserAggTable(16);
    const perBucket = new Map<string, { count: number; cents: number }>();
    const perUser = new Map<string, { count: number; cents: number }>();
    for (let i = 0; i < 40_000; i++) {
      const user = `u${Math.floor(random() * 3_000)}`;
      const bucket = 470_000 + Math.floor(random() * 720);
      const cents = Math.floor(random() * 20_000) - 2_000;
      addBucket(table, user, bucket, 1, cents);
      for (const [model, key] of [
        [perBucket, `${user}@${bucket}`],
        [perUser, user],
      ] as const) {
        const t = model.get(key) ?? { count: 0, cents: 0 };
        model.set(key, { count: t.count + 1, cents: t.cents + cents });
      }
    }
    const fromBlocks = tableFromBlocks(table.toPartitionedBlocks(5).map((b) => structuredClone(b)));
    for (const t of [table, fromBlocks]) {
      const expected = [...perBucket].sort(([a], [b]) => compareBucketKeys(a, b)).map(([key, v]) => [key, v.count, v.cents]);
      expect(t.toSortedBucketTotals().map((x) => [`${x.userId}@${x.bucket}`, x.count, x.cents])).toEqual(expected);
      expect(t.overAllTime().toSortedTotals()).toEqual(modelTotals(perUser));
    }
    const order = Uint32Array.from({ length: table.size }, (_, i) => table.size - 1 - i);
    const before = table.toSortedBucketTotals();
    table.reorder(order);
    expect(table.toSortedBucketTotals()).toEqual(before);
  });

  it('puts every bucket of a user in the user partition (the hash is the user id alone)', () => {
    const table = new UserAggTable();
    for (let bucket = 0; bucket < 50; bucket++) for (const user of ['a', 'b', 'c', 'd']) addBucket(table, user, bucket, 1, 1);
    const blocks = table.toPartitionedBlocks(3);
    for (const [p, block] of blocks.entries()) for (const user of blockUsers(block)) expect(partitionOf(user, 3)).toBe(p);
    expect(blocks.reduce((n, b) => n + b.counts.length, 0)).toBe(200);
  });

  it('mergeBlock over all time adds a block of buckets to each user total', () => {
    const table = new UserAggTable();
    for (let bucket = 0; bucket < 3; bucket++) addBucket(table, 'x', bucket, 1, 10 * (bucket + 1));
    const allTime = new UserAggTable();
    allTime.mergeBlock(table.toBlock(), 1, true);
    expect(allTime.toSortedBucketTotals()).toEqual([{ userId: 'x', bucket: ALL_TIME, count: 3, cents: 60 }]);
  });
});

/** `user@bucket` keys in the order toSortedBucketTotals gives: user ids as the views sort them, then bucket. */
function compareBucketKeys(a: string, b: string): number {
  const [ua, ba] = a.split('@') as [string, string];
  const [ub, bb] = b.split('@') as [string, string];
  return compareUserIds(ua, ub) || Number(ba) - Number(bb);
}
