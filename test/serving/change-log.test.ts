// The overlay's change log: the totals an export froze, kept for the entries changed since.

import { describe, expect, it } from 'vitest';
import { UserAggTable } from '../../src/core/agg-table.js';
import { ChangeLog } from '../../src/serving/change-log.js';

describe('ChangeLog', () => {
  it("keeps an entry's totals from before its first change since the last cut, and forgets them at the next cut", () => {
    const table = new UserAggTable();
    for (let u = 0; u < 3_000; u++) table.add(Buffer.from(`u${u}`), 0, `u${u}`.length, 1, u);
    const log = new ChangeLog();
    log.addAt(table, 2_999, 1, 10);
    log.addAt(table, 2_999, 1, 10);
    log.addAt(table, 5, -1, -5);
    expect([log.countAtCut(2_999, table.countAt(2_999)), log.centsAtCut(2_999, table.centsAt(2_999))]).toEqual([1, 2_999]);
    expect([log.countAtCut(5, table.countAt(5)), log.centsAtCut(5, table.centsAt(5))]).toEqual([1, 5]);
    expect([log.countAtCut(6, 1), log.centsAtCut(6, 6)]).toEqual([1, 6]);
    expect([table.countAt(2_999), table.centsAt(2_999), table.countAt(5), table.centsAt(5)]).toEqual([3, 3_019, 0, 0]);
    expect([...log.cut()].sort((a, b) => a - b)).toEqual([5, 2_999]);
    expect(log.countAtCut(2_999, 3)).toBe(3);
    expect([...log.cut()]).toEqual([]);
  });
});
