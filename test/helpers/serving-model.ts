// The serving store's tests' model: random seqs of purchases, the tables and blocks the store is given, a recount of
// the seqs a version reflects (totals, top-N, the merged view's CSV), and each version's CSV planned as the service
// plans it. Written from the contract, without the store's own arithmetic.

import { expect } from 'vitest';
import { UserAggTable } from '../../src/core/agg-table.js';
import { runToEnd } from '../../src/io/runtime/steps.js';
import { buildBatchBase } from '../../src/serving/batch-base.js';
import {
  type ExportLayout,
  type ExportPlan,
  type PlannedView,
  applyExportPlan,
  formatMergedView,
  moveLayout,
  planExportNow,
  writeWholeExport,
} from '../../src/serving/export.js';
import { type TopBy } from '../../src/serving/lookups.js';
import { type SeqBlock } from '../../src/serving/realtime-apply.js';
import { type ServingStore } from '../../src/serving/store.js';

export type Model = Map<string, { count: number; cents: number }>;

/**
 * Each version's CSV as the service writes it (src/serving/view-exports.ts): planned from the last export's layout,
 * whole when the plan cannot be made; applied to bytes in memory here, spliced from files there.
 */
export class PlannedExports {
  private last: { layout: ExportLayout; bytes: Uint8Array } | undefined;

  /** The last export's layout. */
  get layout(): ExportLayout | undefined {
    return this.last?.layout;
  }

  /** A plan made from the last export's layout, applied to its bytes: the layout moves on to them. */
  adopt(plan: ExportPlan, bytes: Uint8Array): void {
    runToEnd(moveLayout(this.last!.layout, plan));
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
export function makeSeqs(random: () => number, n: number, users: number): [string, number][][] {
  return Array.from({ length: n }, () =>
    Array.from(
      { length: Math.floor(random() * 8) },
      () => [`user-${Math.floor(random() ** 2 * users)}`, Math.floor(random() * 10_000) - (random() < 0.15 ? 10_000 : 0)] as [string, number],
    ),
  );
}

export function tableOf(seqs: readonly [string, number][][], afterSeq: number, throughSeq: number): UserAggTable {
  const table = new UserAggTable();
  for (let seq = afterSeq + 1; seq <= throughSeq; seq++) {
    for (const [user, cents] of seqs[seq - 1]!) {
      const key = Buffer.from(user);
      table.add(key, 0, key.length, 1, cents);
    }
  }
  return table;
}

export function model(seqs: readonly [string, number][][], throughSeq: number): Model {
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

export function expectedCsv(totals: Model): string {
  const lines = [...totals]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([u, t]) => `${u},${t.count},${(t.cents < 0 ? '-' : '') + Math.floor(Math.abs(t.cents) / 100)}.${String(Math.abs(t.cents) % 100).padStart(2, '0')}`);
  return ['user_id,purchase_count_total,purchase_amount_total', ...lines].join('\n') + '\n';
}

function expectedTop(totals: Model, by: TopBy, n: number): { userId: string; count: number; cents: number }[] {
  return [...totals]
    .map(([userId, t]) => ({ userId, ...t }))
    .sort((a, b) => (by === 'amount' ? b.cents - a.cents : b.count - a.count) || (a.userId < b.userId ? -1 : 1))
    .slice(0, n);
}

const exporters = new WeakMap<ServingStore, PlannedExports>();

/** The store's current version against a recount of the seqs it says it reflects: totals, lookups, top-N, CSV whole and planned. */
export function checkStore(store: ServingStore, seqs: readonly [string, number][][], users: number): void {
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

export const batchView = (seqs: readonly [string, number][][], watermark: number, name = `batch-${watermark}`) =>
  buildBatchBase(tableOf(seqs, 0, watermark), { name, watermark, createdAtMs: watermark, badRows: 0 });

export const totalsOf = (truth: Model) => ({
  users: truth.size,
  purchases: [...truth.values()].reduce((n, t) => n + t.count, 0),
  cents: [...truth.values()].reduce((n, t) => n + t.cents, 0),
});

export const seqBlocks = (seqs: readonly [string, number][][], afterSeq: number, throughSeq: number): SeqBlock[] =>
  Array.from({ length: throughSeq - afterSeq }, (_, i) => ({ seq: afterSeq + 1 + i, block: tableOf(seqs, afterSeq + i, afterSeq + i + 1).toBlock() }));
