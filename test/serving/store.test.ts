// The serving store against a model, through the facade the serving layer uses: after every load, realtime update
// and batch swap, lookups, top-N, totals and the CSV export equal a recount of every seq the version says it reflects
// (each exactly once).

import { describe, expect, it } from 'vitest';
import { UserAggTable } from '../../src/core/agg-table.js';
import { seededRandom } from '../../src/core/event-generator.js';
import { type PreparedOverlay } from '../../src/core/view-state.js';
import { DEFAULT_STREAM } from '../../src/io/files/layout.js';
import { buildBatchBase } from '../../src/serving/batch-base.js';
import { formatMergedView } from '../../src/serving/export.js';
import { ServingStore } from '../../src/serving/store.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { type Model, batchView, checkStore, expectedCsv, makeSeqs, model, seqBlocks, tableOf, totalsOf } from '../helpers/serving-model.js';

describe('ServingStore', () => {
  it('stays equal to a recount through 400 random updates, batch swaps (absorbing part, all, or more than it holds) and reloads', () => {
    const random = seededRandom(11);
    const users = 60;
    const seqs = makeSeqs(random, 2_000, users);
    const store = new ServingStore(new ManualClock(5));
    expect(store.current).toBeUndefined();
    store.load(batchView(seqs, 3), tableOf(seqs, 3, 5), 5, null);
    checkStore(store, seqs, users);
    let versions = store.current!.version;
    let swaps = 0;
    let fitting = 0;
    let advanced = 0;
    let refused = 0;
    /** A swap being prepared, as the serving layer does it: asked for at some seq, done a few updates later. */
    let pending: { base: ReturnType<typeof batchView>; prepared: PreparedOverlay | undefined; updatesLeft: number } | undefined;
    for (let step = 0; step < 400; step++) {
      const { throughSeq, batchWatermark } = store.current!;
      const roll = random();
      if (pending && pending.updatesLeft === 0) {
        let { prepared } = pending;
        const { base } = pending;
        pending = undefined;
        // Half of the prepared overlays are first moved closer to N a few users at a time, between lookups.
        if (prepared && random() < 0.5) {
          const maxUsers = 1 + Math.floor(random() * 6);
          for (let next = store.advancePrepared(base, prepared, maxUsers); next; next = store.advancePrepared(base, prepared, maxUsers)) {
            expect(Object.values(next.ranges).some((r, i) => r.throughSeq > Object.values(prepared!.ranges)[i]!.throughSeq)).toBe(true);
            prepared = next;
            advanced++;
          }
        }
        try {
          expect(store.swapBatch(base, prepared)).toBeDefined();
          swaps++;
        } catch (error) {
          // Seqs it can find neither in the prepared overlay nor among those it kept: nothing changed; the serving
          // layer reloads.
          expect((error as Error).message).toMatch(/incomplete/);
          expect(store.current!.throughSeq).toBe(throughSeq);
          refused++;
          store.load(batchView(seqs, batchWatermark), tableOf(seqs, batchWatermark, throughSeq), throughSeq, null);
        }
        store.keepRecent(false);
      } else if (!pending && roll < 0.2) {
        // A batch view absorbing up to some seq S_new (possibly beyond what the store has seen). The store keeps the
        // seqs it applies from now on; the loader reads the seqs (S_new, P] from the delta files, P the store's N now.
        store.keepRecent(true);
        const newWatermark = batchWatermark + Math.floor(random() * (throughSeq - batchWatermark + 4));
        let prepared: PreparedOverlay | undefined;
        const kind = random();
        if (kind < 0.8) {
          // One in four of those does not fit: a run of deltas cut short, one starting elsewhere or reaching past N.
          const misfit = kind >= 0.6;
          const cut = misfit && random() < 0.4;
          let through = Math.max(newWatermark, throughSeq);
          if (cut) through = newWatermark + Math.floor(random() * Math.max(0, throughSeq - newWatermark));
          else if (misfit) through = random() < 0.5 ? throughSeq + 1 + Math.floor(random() * 3) : through;
          const afterSeq = misfit && !cut && through <= throughSeq ? newWatermark + 1 : newWatermark;
          prepared = {
            ranges: { [DEFAULT_STREAM]: { afterSeq, throughSeq: through } },
            overlay: tableOf(seqs, afterSeq, through).toState(),
            buckets: tableOf(seqs, afterSeq, through).toState(),
            totals: totalsOf(model(seqs, Math.max(through, newWatermark))),
          };
          if (!misfit) fitting++;
        }
        pending = { base: batchView(seqs, newWatermark), prepared, updatesLeft: Math.floor(random() * 4) };
      } else if (!pending && roll < 0.25) {
        // A reload from scratch: realtime view R built against the batch.
        store.load(batchView(seqs, batchWatermark), tableOf(seqs, batchWatermark, throughSeq + 2), throughSeq + 2, null);
      } else {
        if (pending) pending.updatesLeft--;
        const more = Math.floor(random() * 4);
        // Updates may repeat seqs already applied (a poll seeing a delta file again): those are skipped.
        const from = Math.max(0, throughSeq - Math.floor(random() * 2));
        store.apply(seqBlocks(seqs, from, throughSeq + more), 1_000 + step);
      }
      expect(store.current!.version).toBeGreaterThanOrEqual(versions);
      versions = store.current!.version;
      checkStore(store, seqs, users);
    }
    expect(swaps).toBeGreaterThan(20);
    expect(fitting).toBeGreaterThan(5);
    expect(advanced).toBeGreaterThan(5);
    expect(refused).toBeGreaterThan(0);
  });
});

describe('ServingStore with NATS partition streams', () => {
  /** Each stream's seqs; the default stream is 'default'. */
  const STREAMS = ['default', 'p0', 'p1'] as const;

  it('stays equal to a recount of every stream through random updates of each, batch swaps and reloads', () => {
    const random = seededRandom(29);
    const users = 40;
    const seqsOf = Object.fromEntries(STREAMS.map((s) => [s, makeSeqs(random, 1_500, users)])) as Record<(typeof STREAMS)[number], [string, number][][]>;
    const store = new ServingStore(new ManualClock(5));
    // A batch view absorbing `watermarks` of each stream.
    const base = (watermarks: Record<string, number>, name: string) => {
      const table = new UserAggTable();
      for (const s of STREAMS) table.mergeTable(tableOf(seqsOf[s], 0, watermarks[s]!));
      const { default: watermark, ...streamWatermarks } = watermarks;
      return buildBatchBase(table, { name, watermark: watermark!, streamWatermarks, createdAtMs: 0, badRows: 0 });
    };
    const truthOf = (through: Record<string, number>): Model => {
      const totals: Model = new Map();
      for (const s of STREAMS) {
        for (const [user, t] of model(seqsOf[s], through[s]!)) {
          const sum = totals.get(user) ?? { count: 0, cents: 0 };
          totals.set(user, { count: sum.count + t.count, cents: sum.cents + t.cents });
        }
      }
      for (const [user, t] of totals) if (t.count === 0 && t.cents === 0) totals.delete(user);
      return totals;
    };
    const position = (): { watermarks: Record<string, number>; through: Record<string, number> } => {
      const status = store.current!;
      const watermarks: Record<string, number> = { default: status.batchWatermark };
      const through: Record<string, number> = { default: status.throughSeq };
      for (const s of ['p0', 'p1']) {
        watermarks[s] = status.streams[s]?.batchWatermark ?? 0;
        through[s] = status.streams[s]?.throughSeq ?? watermarks[s];
      }
      return { watermarks, through };
    };
    const check = (): void => {
      const truth = truthOf(position().through);
      expect(store.current!.users).toBe(truth.size);
      for (let u = 0; u < users; u++) {
        const id = `user-${u}`;
        const t = truth.get(id);
        expect(store.get(id), id).toEqual(t ? { userId: id, ...t } : undefined);
      }
      expect(Buffer.from(formatMergedView(store.view())).toString()).toBe(expectedCsv(truth));
    };
    const overlayOf = (watermarks: Record<string, number>, through: Record<string, number>): UserAggTable => {
      const table = new UserAggTable();
      for (const s of STREAMS) table.mergeTable(tableOf(seqsOf[s], watermarks[s]!, through[s]!));
      return table;
    };
    store.load(base({ default: 2, p0: 0, p1: 1 }, 'b0'), overlayOf({ default: 2, p0: 0, p1: 1 }, { default: 4, p0: 3, p1: 1 }), 4, null, { p0: 3, p1: 1 });
    check();
    let swaps = 0;
    for (let step = 0; step < 250; step++) {
      const { watermarks, through } = position();
      const roll = random();
      if (roll < 0.15) {
        // The loader's overlay of each stream's seqs past the new view's watermark, up to the store's (the store asked
        // just now, so it applied none since).
        const next: Record<string, number> = {};
        const kept: Record<string, number> = {};
        for (const s of STREAMS) {
          next[s] = watermarks[s]! + Math.floor(random() * (through[s]! - watermarks[s]! + 3));
          kept[s] = Math.max(next[s], through[s]!);
        }
        const prepared: PreparedOverlay = {
          ranges: Object.fromEntries(STREAMS.map((s) => [s, { afterSeq: next[s]!, throughSeq: kept[s]! }])),
          overlay: overlayOf(next, kept).toState(),
          buckets: overlayOf(next, kept).toState(),
          totals: totalsOf(truthOf(kept)),
        };
        expect(store.swapBatch(base(next, `b${step}`), prepared)).toBeDefined();
        swaps++;
      } else if (roll < 0.2) {
        const more = { default: through.default! + 1, p0: through.p0! + 2, p1: through.p1! };
        store.load(base(watermarks, `b${step}`), overlayOf(watermarks, more), more.default, null, { p0: more.p0, p1: more.p1 });
      } else {
        const s = STREAMS[Math.floor(random() * STREAMS.length)]!;
        store.apply(seqBlocks(seqsOf[s], through[s]!, through[s]! + Math.floor(random() * 4)), 1_000 + step, s);
      }
      check();
    }
    expect(swaps).toBeGreaterThan(15);
    // A view that goes back on one stream is refused.
    const { watermarks } = position();
    expect(store.swapBatch(base({ ...watermarks, p1: Math.max(0, watermarks.p1! - 1) }, 'older'))).toBeUndefined();
  });
});
