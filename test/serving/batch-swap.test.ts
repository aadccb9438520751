// Batch swaps: the seqs a new batch view did not absorb are kept — found among those applied while the swap was
// prepared, however many — and a swap that cannot account for them, or a batch view going back, changes nothing.

import { describe, expect, it } from 'vitest';
import { UserAggTable } from '../../src/core/agg-table.js';
import { seededRandom } from '../../src/core/event-generator.js';
import { type PreparedOverlay } from '../../src/core/view-state.js';
import { DEFAULT_STREAM } from '../../src/io/files/layout.js';
import { ServingStore } from '../../src/serving/store.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { batchView, checkStore, makeSeqs, model, seqBlocks, tableOf, totalsOf } from '../helpers/serving-model.js';

describe('swapBatch', () => {
  it('keeps every seq applied while a swap is prepared, however many (a swap with the overlay as the loader made it finds each)', () => {
    const seqs = makeSeqs(seededRandom(5), 5_000, 30);
    const store = new ServingStore(new ManualClock());
    store.load(batchView(seqs, 0), new UserAggTable(), 0, null);
    // Asked at seq 0 for a view absorbing seqs 1..2: the loader's overlay is empty, every later seq is the store's.
    store.keepRecent(true);
    for (let through = 0; through < 5_000; through += 100) store.apply(seqBlocks(seqs, through, through + 100), null);
    const prepared: PreparedOverlay = {
      ranges: { [DEFAULT_STREAM]: { afterSeq: 2, throughSeq: 2 } },
      overlay: new UserAggTable().toState(),
      buckets: new UserAggTable().toState(),
      totals: totalsOf(model(seqs, 2)),
    };
    expect(store.swapBatch(batchView(seqs, 2), prepared)).toMatchObject({ batchWatermark: 2, throughSeq: 5_000 });
    checkStore(store, seqs, 30);
  });

  it('refuses a batch swap whose absorbed seqs it cannot account for, and an older batch view', () => {
    const seqs = makeSeqs(seededRandom(4), 20, 10);
    const store = new ServingStore(new ManualClock());
    store.load(batchView(seqs, 2), tableOf(seqs, 2, 9), 9, null);
    const before = store.current;
    // The loader read nothing, and seqs 3..6 were never applied here (they came with the load): a gap.
    expect(() => store.swapBatch(batchView(seqs, 6))).toThrow(/incomplete/);
    expect(store.swapBatch(batchView(seqs, 1))).toBeUndefined();
    expect(store.current).toBe(before);
  });
});
