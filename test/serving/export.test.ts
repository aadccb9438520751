// Export planning: each version's CSV planned from the last export's layout equals a whole export byte for byte,
// through updates, new users and swaps; a plan is of the version frozen, however the store changes between its
// steps; and planning changes neither the layout nor the version it reads (the layout moves at moveLayout only).

import { describe, expect, it } from 'vitest';
import { UserAggTable } from '../../src/core/agg-table.js';
import { seededRandom } from '../../src/core/event-generator.js';
import { runToEnd } from '../../src/io/runtime/steps.js';
import { buildBatchBase } from '../../src/serving/batch-base.js';
import { ChangeLog } from '../../src/serving/change-log.js';
import { applyExportPlan, formatMergedView, freezeVersion, planExport } from '../../src/serving/export.js';
import { ServingStore } from '../../src/serving/store.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { type Model, PlannedExports, batchView, expectedCsv, makeSeqs, model, seqBlocks, tableOf } from '../helpers/serving-model.js';

describe('planExportNow', () => {
  it('plans each version from the previous export byte for byte like a whole export, through updates, new users and swaps', () => {
    const random = seededRandom(23);
    const users = 20_000;
    // Seq s: 40 purchases over a wide id space (so new users land before, between and after the batch view's), a
    // fifth of them refunds; every tenth seq refunds what an earlier one bought (amounts back to where they were).
    const seqs: [string, number][][] = [];
    for (let s = 0; s < 600; s++) {
      if (s % 10 === 9) seqs.push(seqs[s - 5]!.map(([user, cents]) => [user, -cents]));
      else
        seqs.push(
          Array.from(
            { length: 40 },
            () => [`user-${Math.floor(random() * users)}`, Math.floor(random() * 10_000) - (random() < 0.2 ? 10_000 : 0)] as [string, number],
          ),
        );
    }
    const store = new ServingStore(new ManualClock(5));
    store.load(batchView(seqs, 100), tableOf(seqs, 100, 100), 100, null);
    // Every seq after the load is kept, so a swap finds what it keeps among them.
    store.keepRecent(true);
    const exporter = new PlannedExports();
    let previous: { bytes: Uint8Array; text: string } | undefined;
    let through = 100;
    for (let step = 0; step < 120; step++) {
      const more = 1 + Math.floor(random() * 3);
      store.apply(seqBlocks(seqs, through, through + more), 1_000 + step);
      through += more;
      if (step % 40 === 39) {
        // A batch view absorbing all but the last few seqs: the next export starts from scratch.
        expect(store.swapBatch(batchView(seqs, through - 2))).toBeDefined();
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
      const planning = planExport(exports.layout!, freezeVersion(store.view()));
      // Between steps, more seqs: new users and changed totals, the overlay's arrays growing.
      let step = planning.next();
      while (!step.done) {
        steps++;
        const more = through + 3;
        store.apply(seqBlocks(seqs, through, more), more);
        through = more;
        step = planning.next();
      }
      previous = applyExportPlan(previous, step.value!);
      expect(Buffer.from(previous).toString(), `round ${round}`).toBe(expectedCsv(model(seqs, asked)));
      exports.adopt(step.value!, previous);
    }
    expect(steps).toBeGreaterThanOrEqual(40);
  });
});

describe('planExport and the change log', () => {
  it('writes a neighbour that changed after its first step with its totals from then', () => {
    // Base users b1 and b3; the overlay holds b3 (entry 0) and b2 (entry 1, which sorts into b3's segment).
    const baseTable = new UserAggTable();
    for (const [id, cents] of [
      ['b1', 100],
      ['b3', 300],
    ] as const)
      baseTable.add(Buffer.from(id), 0, 2, 1, cents);
    const base = buildBatchBase(baseTable, { name: 'batch-0', watermark: 0, createdAtMs: 0, badRows: 0 });
    const overlay = new UserAggTable();
    for (const [id, cents] of [
      ['b3', 5],
      ['b2', 20],
    ] as const)
      overlay.add(Buffer.from(id), 0, 2, 1, cents);
    const view = { base, overlay: overlay.toState(), overlayGeneration: 1, changes: new ChangeLog() };
    const exports = new PlannedExports();
    const first = exports.format(view);
    // b2 changes: its segment (b2, then b3) is rewritten. After the plan's first step, b3 changes too.
    view.changes.addAt(overlay, 1, 1, 30);
    const steps = planExport(exports.layout!, freezeVersion(view));
    steps.next();
    view.changes.addAt(overlay, 0, 1, 7);
    let step = steps.next();
    while (!step.done) step = steps.next();
    const planned = Buffer.from(applyExportPlan(first, step.value!)).toString();
    expect(planned).toBe('user_id,purchase_count_total,purchase_amount_total\nb1,1,1.00\nb2,2,0.50\nb3,2,3.05\n');
    // The next plan writes b3's change.
    exports.adopt(step.value!, Buffer.from(planned));
    expect(Buffer.from(exports.format(view)).toString()).toBe('user_id,purchase_count_total,purchase_amount_total\nb1,1,1.00\nb2,2,0.50\nb3,3,3.12\n');
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
    const steps = planExport(exports.layout!, freezeVersion({ ...view, overlay: overlay.toState() }));
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
  it("writes each of many small exports right (they may share Node's pool of small buffers with each other)", () => {
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

describe('planExport reads, moveLayout moves', () => {
  it('leaves the layout and the frozen version as they were (the same plan again from them), and the layout moves only at moveLayout', () => {
    const seqs = makeSeqs(seededRandom(43), 200, 2_000);
    const store = new ServingStore(new ManualClock(5));
    store.load(batchView(seqs, 50), tableOf(seqs, 50, 50), 50, null);
    const exports = new PlannedExports();
    const first = exports.format(store.view());
    // New users (before, between and after the batch view's) and changed totals.
    store.apply(seqBlocks(seqs, 50, 80), 80);
    const version = freezeVersion(store.view());
    const layout = exports.layout!;
    const inputs = () => ({
      layout: { size: layout.size, seen: layout.seen, start: [...layout.start], place: [...layout.place], overlayOf: [...layout.overlayOf] },
      version: { entries: version.entries, changed: [...version.changed] },
    });
    const before = inputs();
    const plan = runToEnd(planExport(layout, version))!;
    expect(inputs()).toEqual(before);
    const bytes = applyExportPlan(first, plan);
    expect(Buffer.from(bytes).toString()).toBe(expectedCsv(model(seqs, 80)));
    expect(Buffer.from(applyExportPlan(first, runToEnd(planExport(layout, version))!))).toEqual(Buffer.from(bytes));
    exports.adopt(plan, bytes);
    expect([layout.size, layout.seen]).toEqual([bytes.length, version.entries]);
    // From the moved layout, the next version is planned right.
    store.apply(seqBlocks(seqs, 80, 100), 100);
    expect(Buffer.from(exports.format(store.view())).toString()).toBe(expectedCsv(model(seqs, 100)));
  });
});
