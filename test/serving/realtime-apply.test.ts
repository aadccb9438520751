// Realtime updates: seqs must follow N without a gap, a user whose total returns to zero leaves the view, and a
// backlog is cut into slices of bounded work.

import { describe, expect, it } from 'vitest';
import { UserAggTable } from '../../src/core/agg-table.js';
import { seededRandom } from '../../src/core/event-generator.js';
import { formatMergedView } from '../../src/serving/export.js';
import { type SeqBlock, sliceByUsers } from '../../src/serving/realtime-apply.js';
import { ServingStore } from '../../src/serving/store.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { batchView, makeSeqs, seqBlocks, tableOf } from '../helpers/serving-model.js';

describe('applying seqs', () => {
  it('refuses a gap in the seqs and changes nothing', () => {
    const seqs = makeSeqs(seededRandom(3), 20, 10);
    const store = new ServingStore(new ManualClock());
    store.load(batchView(seqs, 2), tableOf(seqs, 2, 4), 4, null);
    const before = store.current;
    expect(() => store.apply(seqBlocks(seqs, 5, 7), null)).toThrow(/jump from seq 4 to seq 6/);
    expect(store.current).toBe(before);
  });

  it('counts a user whose total returns to zero as gone, and back when it changes again', () => {
    const store = new ServingStore(new ManualClock());
    const block = (cents: number) => {
      const t = new UserAggTable();
      t.add(Buffer.from('z'), 0, 1, cents > 0 ? 1 : -1, cents);
      return t.toBlock();
    };
    store.load(batchView([], 0), new UserAggTable(), 0, null);
    store.apply([{ seq: 1, block: block(500) }], null);
    expect(store.current).toMatchObject({ users: 1, changedUsers: 1 });
    store.apply([{ seq: 2, block: block(-500) }], null);
    expect(store.current).toMatchObject({ users: 0, purchases: 0, cents: 0 });
    expect(store.get('z')).toBeUndefined();
    expect(Buffer.from(formatMergedView(store.view())).toString()).toBe('user_id,purchase_count_total,purchase_amount_total\n');
  });
});

describe('sliceByUsers: a realtime backlog in steps', () => {
  const item = (seq: number, users: number): SeqBlock => {
    const table = new UserAggTable();
    for (let u = 0; u < users; u++) {
      const key = Buffer.from(`u${seq}-${u}`);
      table.add(key, 0, key.length, 1, 1);
    }
    return { seq, block: table.toBlock() };
  };
  const shape = (slices: SeqBlock[][]): number[][] => slices.map((slice) => slice.map((i) => i.seq));

  it.each([
    { name: 'nothing', items: [], max: 10, expected: [] },
    { name: 'all in one when they fit', items: [item(1, 3), item(2, 3), item(3, 4)], max: 10, expected: [[1, 2, 3]] },
    {
      name: 'a new slice when the next seq would pass the limit',
      items: [item(1, 6), item(2, 5), item(3, 5), item(4, 1)],
      max: 10,
      expected: [[1], [2, 3], [4]],
    },
    { name: 'a seq larger than the limit alone', items: [item(1, 2), item(2, 25), item(3, 2)], max: 10, expected: [[1], [2], [3]] },
    { name: 'seqs without users ride along', items: [item(1, 0), item(2, 10), item(3, 0)], max: 10, expected: [[1, 2, 3]] },
    { name: 'in seq order whatever the order given', items: [item(3, 4), item(1, 4), item(2, 4)], max: 10, expected: [[1, 2], [3]] },
  ])('$name', ({ items, max, expected }) => {
    const slices = sliceByUsers(items, max);
    expect(shape(slices)).toEqual(expected);
    expect(slices.flat().length).toBe(items.length);
  });
});
