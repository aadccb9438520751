// Reads of the current version: one user's totals and the top N, with user ids as they are in the files.

import { describe, expect, it } from 'vitest';
import { ServingStore } from '../../src/serving/store.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { batchView, tableOf } from '../helpers/serving-model.js';

describe('lookups', () => {
  it('keeps a user id that begins with U+FEFF (a character like any other inside a file) in top-N answers', () => {
    const seqs: [string, number][][] = [
      [
        ['\uFEFFbom', 900],
        ['plain', 100],
      ],
      [['\uFEFFlive', 5_000]],
    ];
    const store = new ServingStore(new ManualClock());
    store.load(batchView(seqs, 1), tableOf(seqs, 1, 2), 2, null);
    expect(store.top('amount', 3).map((u) => u.userId)).toEqual(['\uFEFFlive', '\uFEFFbom', 'plain']);
    expect(store.get('\uFEFFbom')).toEqual({ userId: '\uFEFFbom', count: 1, cents: 900 });
  });
});
