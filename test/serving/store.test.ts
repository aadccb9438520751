// The serving store against a model: after every load, realtime update and batch swap, lookups, top-N, totals and
// the CSV export equal a recount of every seq the version says it reflects (each exactly once).

import fs from 'node:fs';
import path from 'node:path';
import { text } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { UserAggTable } from '../../src/core/agg-table.js';
import { LambdaflowError } from '../../src/core/errors.js';
import { seededRandom } from '../../src/core/event-generator.js';
import { buildBatchBase } from '../../src/serving/batch-base.js';
import { ChangeLog } from '../../src/serving/change-log.js';
import { type ExportLayout, type PlannedView, applyExportPlan, formatMergedView, planExport, planExportNow, writeWholeExport } from '../../src/serving/export.js';
import { ViewExports } from '../../src/serving/view-exports.js';
import { DEFAULT_STREAM } from '../../src/io/layout.js';
import { type PreparedOverlay, type SeqBlock, ServingStore, type TopBy, sliceByUsers } from '../../src/serving/store.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { tempRoots } from '../helpers/temp-dirs.js';

const tempRoot = tempRoots();

type Model = Map<string, { count: number; cents: number }>;

/**
 * Each version's CSV as the service writes it (src/serving/view-exports.ts): planned from the last export's layout,
 * whole when the plan cannot be made; applied to bytes in memory here, spliced from files there.
 */
class PlannedExports {
  private last: { layout: ExportLayout; bytes: Uint8Array } | undefined;

  /** The last export's layout (a plan moves it on to the bytes it makes: give them back with adopt). */
  get layout(): ExportLayout | undefined {
    return this.last?.layout;
  }

  adopt(bytes: Uint8Array): void {
    this.last = { layout: this.last!.layout, bytes };
  }

  format(view: PlannedView): Uint8Array {
    const plan = this.last && planExportNow(this.last.layout, view);
    if (this.last && plan) return (this.last.bytes = applyExportPlan(this.last.bytes, plan));
    // As the service does when it freezes a version to write it whole: changes are logged from here.
    view.changes.cut();
    const chunks: Buffer[] = [];
    const layout = writeWholeExport(view, (chunk) => chunks.push(Buffer.from(chunk)));
    this.last = { layout, bytes: Buffer.concat(chunks) };
    return this.last.bytes;
  }
}

/** Seq s's purchases, generated once: [user, cents][] (refunds included). */
function makeSeqs(random: () => number, n: number, users: number): [string, number][][] {
  return Array.from({ length: n }, () =>
    Array.from({ length: Math.floor(random() * 8) }, () => [`user-${Math.floor(random() ** 2 * users)}`, Math.floor(random() * 10_000) - (random() < 0.15 ? 10_000 : 0)] as [string, number]),
  );
}

function tableOf(seqs: readonly [string, number][][], afterSeq: number, throughSeq: number): UserAggTable {
  const table = new UserAggTable();
  for (let seq = afterSeq + 1; seq <= throughSeq; seq++) {
    for (const [user, cents] of seqs[seq - 1]!) {
      const key = Buffer.from(user);
      table.add(key, 0, key.length, 1, cents);
    }
  }
  return table;
}

function model(seqs: readonly [string, number][][], throughSeq: number): Model {
  const totals: Model = new Map();
  for (let seq = 1; seq <= throughSeq; seq++) {
    for (const [user, cents] of seqs[seq - 1]!) {
      const t = totals.get(user) ?? { count: 0, cents: 0 };
      totals.set(user, { count: t.count + 1, cents: t.cents + cents });
    }
  }
  for (const [user, t] of totals) if (t.count === 0 && t.cents === 0) totals.delete(user);
  return totals;
}

function expectedCsv(totals: Model): string {
  const lines = [...totals].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([u, t]) => `${u},${t.count},${(t.cents < 0 ? '-' : '') + Math.floor(Math.abs(t.cents) / 100)}.${String(Math.abs(t.cents) % 100).padStart(2, '0')}`);
  return ['user_id,purchase_count_total,purchase_amount_total', ...lines].join('\n') + '\n';
}

function expectedTop(totals: Model, by: TopBy, n: number): { userId: string; count: number; cents: number }[] {
  return [...totals]
    .map(([userId, t]) => ({ userId, ...t }))
    .sort((a, b) => (by === 'amount' ? b.cents - a.cents : b.count - a.count) || (a.userId < b.userId ? -1 : 1))
    .slice(0, n);
}

function checkStore(store: ServingStore, seqs: readonly [string, number][][], users: number): void {
  const status = store.current!;
  const truth = model(seqs, status.throughSeq);
  expect(status.users).toBe(truth.size);
  expect(status.purchases).toBe([...truth.values()].reduce((n, t) => n + t.count, 0));
  expect(status.cents).toBe([...truth.values()].reduce((n, t) => n + t.cents, 0));
  for (let u = 0; u < users; u++) {
    const id = `user-${u}`;
    const t = truth.get(id);
    expect(store.get(id), id).toEqual(t ? { userId: id, ...t } : undefined);
  }
  for (const by of ['amount', 'count'] as const) expect(store.top(by, 25)).toEqual(expectedTop(truth, by, 25));
  expect(Buffer.from(formatMergedView(store.view())).toString()).toBe(expectedCsv(truth));
  // The service's way: each version planned from the previous export, only changed users regenerated.
  if (!exporters.has(store)) exporters.set(store, new PlannedExports());
  expect(Buffer.from(exporters.get(store)!.format(store.view())).toString()).toBe(expectedCsv(truth));
}

const exporters = new WeakMap<ServingStore, PlannedExports>();

const batchView = (seqs: readonly [string, number][][], watermark: number, name = `batch-${watermark}`) =>
  buildBatchBase(tableOf(seqs, 0, watermark), { name, watermark, createdAtMs: watermark, badRows: 0 });

const totalsOf = (truth: Model) => ({
  users: truth.size,
  purchases: [...truth.values()].reduce((n, t) => n + t.count, 0),
  cents: [...truth.values()].reduce((n, t) => n + t.cents, 0),
});

const seqBlocks = (seqs: readonly [string, number][][], afterSeq: number, throughSeq: number): SeqBlock[] =>
  Array.from({ length: throughSeq - afterSeq }, (_, i) => ({ seq: afterSeq + 1 + i, block: tableOf(seqs, afterSeq + i, afterSeq + i + 1).toBlock() }));

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

  it('keeps every seq applied while a swap is prepared, however many (a swap with the overlay as the loader made it finds each)', () => {
    const seqs = makeSeqs(seededRandom(5), 5_000, 30);
    const store = new ServingStore(new ManualClock());
    store.load(batchView(seqs, 0), new UserAggTable(), 0, null);
    // Asked at seq 0 for a view absorbing seqs 1..2: the loader's overlay is empty, every later seq is the store's.
    store.keepRecent(true);
    for (let through = 0; through < 5_000; through += 100) store.apply(seqBlocks(seqs, through, through + 100), null);
    const prepared: PreparedOverlay = { ranges: { [DEFAULT_STREAM]: { afterSeq: 2, throughSeq: 2 } }, overlay: new UserAggTable().toState(), totals: totalsOf(model(seqs, 2)) };
    expect(store.swapBatch(batchView(seqs, 2), prepared)).toMatchObject({ batchWatermark: 2, throughSeq: 5_000 });
    checkStore(store, seqs, 30);
  });

  it('refuses a gap in the seqs and changes nothing', () => {
    const seqs = makeSeqs(seededRandom(3), 20, 10);
    const store = new ServingStore(new ManualClock());
    store.load(batchView(seqs, 2), tableOf(seqs, 2, 4), 4, null);
    const before = store.current;
    expect(() => store.apply(seqBlocks(seqs, 5, 7), null)).toThrow(/jump from seq 4 to seq 6/);
    expect(store.current).toBe(before);
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

  it('keeps a user id that begins with U+FEFF (a character like any other inside a file) in top-N answers', () => {
    const seqs: [string, number][][] = [[['\uFEFFbom', 900], ['plain', 100]], [['\uFEFFlive', 5_000]]];
    const store = new ServingStore(new ManualClock());
    store.load(batchView(seqs, 1), tableOf(seqs, 1, 2), 2, null);
    expect(store.top('amount', 3).map((u) => u.userId)).toEqual(['\uFEFFlive', '\uFEFFbom', 'plain']);
    expect(store.get('\uFEFFbom')).toEqual({ userId: '\uFEFFbom', count: 1, cents: 900 });
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
        through[s] = status.streams[s]?.throughSeq ?? watermarks[s]!;
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
          kept[s] = Math.max(next[s]!, through[s]!);
        }
        const prepared: PreparedOverlay = {
          ranges: Object.fromEntries(STREAMS.map((s) => [s, { afterSeq: next[s]!, throughSeq: kept[s]! }])),
          overlay: overlayOf(next, kept).toState(),
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

describe('planExportNow', () => {
  it('plans each version from the previous export byte for byte like a whole export, through updates, new users and swaps', () => {
    const random = seededRandom(23);
    const users = 20_000;
    // Seq s: 40 purchases over a wide id space (so new users land before, between and after the batch view's), a
    // fifth of them refunds; every tenth seq refunds what an earlier one bought (amounts back to where they were).
    const seqs: [string, number][][] = [];
    for (let s = 0; s < 600; s++) {
      if (s % 10 === 9) seqs.push(seqs[s - 5]!.map(([user, cents]) => [user, -cents]));
      else seqs.push(Array.from({ length: 40 }, () => [`user-${Math.floor(random() * users)}`, Math.floor(random() * 10_000) - (random() < 0.2 ? 10_000 : 0)] as [string, number]));
    }
    const store = new ServingStore(new ManualClock(5));
    store.load(batchView(seqs, 100), tableOf(seqs, 100, 100), 100, null);
    // Every seq after the load is kept, so a swap finds what it keeps among them.
    store.keepRecent(true);
    const exporter = new PlannedExports();
    let previous: { bytes: Uint8Array; text: string } | undefined;
    let through = 100;
    let watermark = 100;
    for (let step = 0; step < 120; step++) {
      const more = 1 + Math.floor(random() * 3);
      store.apply(seqBlocks(seqs, through, through + more), 1_000 + step);
      through += more;
      if (step % 40 === 39) {
        // A batch view absorbing all but the last few seqs: the next export starts from scratch.
        expect(store.swapBatch(batchView(seqs, through - 2))).toBeDefined();
        watermark = through - 2;
      }
      const whole = Buffer.from(formatMergedView(store.view())).toString();
      expect(whole).toBe(expectedCsv(model(seqs, through)));
      const bytes = exporter.format(store.view());
      expect(Buffer.from(bytes).toString()).toBe(whole);
      // A new export never writes over the last one's bytes (the service reads the last file while writing the next).
      if (previous) expect(Buffer.from(previous.bytes).toString()).toBe(previous.text);
      previous = { bytes, text: whole };
    }
  });
});

describe('planExport in steps', () => {
  it('is a plan of the version it began with, however the store changes between its steps', () => {
    const random = seededRandom(41);
    const seqs = makeSeqs(random, 1_000, 5_000);
    const store = new ServingStore(new ManualClock(5));
    store.load(batchView(seqs, 40), tableOf(seqs, 40, 40), 40, null);
    const exports = new PlannedExports();
    let through = 40;
    let previous = exports.format(store.view());
    let steps = 0;
    for (let round = 0; round < 20; round++) {
      const next = through + 5;
      store.apply(seqBlocks(seqs, through, next), next);
      through = next;
      const asked = through;
      const plan = planExport(exports.layout!, store.view());
      // Between steps, more seqs: new users and changed totals, the overlay's arrays growing.
      let step = plan.next();
      while (!step.done) {
        steps++;
        const more = through + 3;
        store.apply(seqBlocks(seqs, through, more), more);
        through = more;
        step = plan.next();
      }
      previous = applyExportPlan(previous, step.value!);
      expect(Buffer.from(previous).toString(), `round ${round}`).toBe(expectedCsv(model(seqs, asked)));
      exports.adopt(previous);
    }
    expect(steps).toBeGreaterThanOrEqual(40);
  });
});

describe('planExport and the change log', () => {
  it('writes a neighbour that changed after its first step with its totals from then', () => {
    // Base users b1 and b3; the overlay holds b3 (entry 0) and b2 (entry 1, which sorts into b3's segment).
    const baseTable = new UserAggTable();
    for (const [id, cents] of [['b1', 100], ['b3', 300]] as const) baseTable.add(Buffer.from(id), 0, 2, 1, cents);
    const base = buildBatchBase(baseTable, { name: 'batch-0', watermark: 0, createdAtMs: 0, badRows: 0 });
    const overlay = new UserAggTable();
    for (const [id, cents] of [['b3', 5], ['b2', 20]] as const) overlay.add(Buffer.from(id), 0, 2, 1, cents);
    const view = { base, overlay: overlay.toState(), overlayGeneration: 1, changes: new ChangeLog() };
    const exports = new PlannedExports();
    const first = exports.format(view);
    // b2 changes: its segment (b2, then b3) is rewritten. After the plan's first step, b3 changes too.
    view.changes.addAt(overlay, 1, 1, 30);
    const steps = planExport(exports.layout!, view);
    steps.next();
    view.changes.addAt(overlay, 0, 1, 7);
    let step = steps.next();
    while (!step.done) step = steps.next();
    const planned = Buffer.from(applyExportPlan(first, step.value!)).toString();
    expect(planned).toBe('user_id,purchase_count_total,purchase_amount_total\nb1,1,1.00\nb2,2,0.50\nb3,2,3.05\n');
    // The next plan writes b3's change.
    exports.adopt(Buffer.from(planned));
    expect(Buffer.from(exports.format(view)).toString()).toBe('user_id,purchase_count_total,purchase_amount_total\nb1,1,1.00\nb2,2,0.50\nb3,3,3.12\n');
  });
});

describe('ChangeLog', () => {
  it('keeps an entry\'s totals from before its first change since the last cut, and forgets them at the next cut', () => {
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

describe('planExport with no batch view', () => {
  it('pauses inside the one segment holding every user, and plans it right', () => {
    // 150 k users, none in the (empty) batch view: every one sorts into segment 0, which a change rewrites whole.
    const users = 150_000;
    const overlay = new UserAggTable();
    const key = (u: number): Buffer => Buffer.from(`user-${u}`);
    for (let u = 0; u < users; u++) overlay.add(key(u), 0, key(u).length, 1, u);
    const base = buildBatchBase(new UserAggTable(), { name: 'batch-0', watermark: 0, createdAtMs: 0, badRows: 0 });
    const view = { base, overlay: overlay.toState(), overlayGeneration: 1, changes: new ChangeLog() };
    const exports = new PlannedExports();
    let bytes = exports.format(view);
    view.changes.addAt(overlay, 7, 1, 5);
    const steps = planExport(exports.layout!, { ...view, overlay: overlay.toState() });
    let pauses = 0;
    let step = steps.next();
    for (; !step.done; step = steps.next()) pauses++;
    bytes = applyExportPlan(bytes, step.value!);
    expect(pauses, 'pauses while the segment of 150 k users is written').toBeGreaterThanOrEqual(4);
    const truth: Model = new Map(Array.from({ length: users }, (_, u) => [`user-${u}`, { count: u === 7 ? 2 : 1, cents: u === 7 ? 12 : u }]));
    expect(Buffer.from(bytes).toString()).toBe(expectedCsv(truth));
  });
});

describe('planned exports of small views', () => {
  it('writes each of many small exports right (they may share Node\'s pool of small buffers with each other)', () => {
    // A new user every seq: each export is longer than the one before.
    const seqs: [string, number][][] = Array.from({ length: 40 }, (_, s) => [[`user-${s}`, 100 + s]]);
    const store = new ServingStore(new ManualClock());
    store.load(batchView(seqs, 2), tableOf(seqs, 2, 2), 2, null);
    const exporter = new PlannedExports();
    // Other small buffers, from the same pool as a small export's: no export may write over them.
    const others: { buffer: Buffer; text: string }[] = [];
    for (let through = 3; through <= 40; through++) {
      store.apply(seqBlocks(seqs, through - 1, through), null);
      const text = `other buffer ${through} `.repeat(4);
      others.push({ buffer: Buffer.from(text), text });
      expect(Buffer.from(exporter.format(store.view())).toString()).toBe(expectedCsv(model(seqs, through)));
      for (const other of others) expect(other.buffer.toString()).toBe(other.text);
    }
  });
});

describe('ViewExports: a file per version', () => {
  it('writes each version a file equal to a recount (planned from the last, or whole after a swap), publishes it, and leaves only merged_view.csv', async () => {
    const { data } = tempRoot();
    const target = path.join(data, 'view', 'merged_view.csv');
    const random = seededRandom(31);
    const seqs = makeSeqs(random, 1_500, 3_000);
    const store = new ServingStore(new ManualClock(5));
    store.load(batchView(seqs, 50), tableOf(seqs, 50, 50), 50, null);
    store.keepRecent(true);
    let through = 50;
    const applyMore = (): void => {
      const next = through + 1 + Math.floor(random() * 3);
      store.apply(seqBlocks(seqs, through, next), next);
      through = next;
    };
    const exports = new ViewExports(target, store);
    for (let step = 0; step < 60; step++) {
      applyMore();
      if (step % 20 === 19) expect(store.swapBatch(batchView(seqs, through - 2, `batch-${step}`))).toBeDefined();
      const asked = store.current!.version;
      // Exports are written in steps, whole ones too, while the store goes on: more seqs arrive between the steps,
      // and the file must still be of the version it was asked at.
      const exported = exports.current();
      let done = false;
      void exported.finally(() => (done = true));
      for (let turns = 0; turns < 8 && !done; turns++) {
        await new Promise((resolve) => setImmediate(resolve));
        applyMore();
      }
      // Of the version current when it began (at or after the one asked at), exactly.
      const { status, file } = await exported;
      expect(status.version).toBeGreaterThanOrEqual(asked);
      expect(await text(file.stream()), `step ${step}`).toBe(expectedCsv(model(seqs, status.throughSeq)));
      await file.release();
      if (step % 7 === 0) {
        // Of the version current now (a whole export above applied more seqs meanwhile).
        const published = await exports.publish();
        expect(published.version).toBe(store.current!.version);
        expect(fs.readFileSync(target, 'utf8')).toBe(expectedCsv(model(seqs, through)));
      }
    }
    expect(exports.written.whole, 'whole exports: the first, and one after each of 3 swaps').toBe(4);
    expect(exports.written.planned).toBeGreaterThan(50);
    // merged_view.csv removed, the version unchanged: publishing writes it again.
    const last = await exports.publish();
    fs.rmSync(target);
    expect((await exports.publish()).version).toBe(last.version);
    expect(fs.readFileSync(target, 'utf8')).toBe(expectedCsv(model(seqs, through)));
    await exports.close();
    expect(fs.readdirSync(path.dirname(target))).toEqual(['merged_view.csv']);
  });

  it('writes the next export whole after merged_view.csv was rewritten in place, and exports nothing once closed', async () => {
    const { data } = tempRoot();
    const target = path.join(data, 'view', 'merged_view.csv');
    const seqs = makeSeqs(seededRandom(37), 40, 500);
    const store = new ServingStore(new ManualClock(5));
    store.load(batchView(seqs, 10), tableOf(seqs, 10, 10), 10, null);
    const exports = new ViewExports(target, store);
    await exports.publish();
    expect((fs.statSync(target).mode & 0o777).toString(8), 'published read-only: later exports are copied from it').toBe('444');
    // Someone rewrites it in place anyway (as its owner may): the next export must not copy their bytes.
    fs.chmodSync(target, 0o644);
    fs.writeFileSync(target, 'user_id,purchase_count_total,purchase_amount_total\nsomeone,1,1.00\n');
    store.apply(seqBlocks(seqs, 10, 20), 20);
    const refused = await exports.current().catch((error: unknown) => error);
    expect((refused as LambdaflowError).code).toBe('E_STATE');
    const { file } = await exports.current();
    expect(await text(file.stream())).toBe(expectedCsv(model(seqs, 20)));
    await file.release();
    expect(exports.written.whole, 'the first export, then one after the refused plan').toBe(2);

    // Closing waits for an export on its way, and refuses new ones (503 at the HTTP API); no export file is left.
    store.apply(seqBlocks(seqs, 20, 30), 30);
    const onItsWay = exports.publish();
    await exports.close();
    expect((await onItsWay).throughSeq).toBe(30);
    expect(((await exports.current().catch((error: unknown) => error)) as LambdaflowError).code).toBe('E_STATE');
    expect(fs.readFileSync(target, 'utf8')).toBe(expectedCsv(model(seqs, 30)));
    expect(fs.readdirSync(path.dirname(target))).toEqual(['merged_view.csv']);
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
    { name: 'a new slice when the next seq would pass the limit', items: [item(1, 6), item(2, 5), item(3, 5), item(4, 1)], max: 10, expected: [[1], [2, 3], [4]] },
    { name: 'a seq larger than the limit alone', items: [item(1, 2), item(2, 25), item(3, 2)], max: 10, expected: [[1], [2], [3]] },
    { name: 'seqs without users ride along', items: [item(1, 0), item(2, 10), item(3, 0)], max: 10, expected: [[1, 2, 3]] },
    { name: 'in seq order whatever the order given', items: [item(3, 4), item(1, 4), item(2, 4)], max: 10, expected: [[1, 2], [3]] },
  ])('$name', ({ items, max, expected }) => {
    const slices = sliceByUsers(items, max);
    expect(shape(slices)).toEqual(expected);
    expect(slices.flat().length).toBe(items.length);
  });
});
