// The merged view as CSV (the original demo's merged_view.csv): header, then every user with a non-zero total,
// sorted by user id. One function, so /view.csv and merged_view.csv of the same version are the same bytes.

import { UserAggTable, compareUserIds } from '../core/agg-table.js';
import { csvField } from '../core/csv-fields.js';
import { formatCents } from '../core/money.js';
import { MERGED_VIEW_HEADER } from '../core/view-format.js';
import { type FrozenView } from './store.js';

const decoder = new TextDecoder();
const encoder = new TextEncoder();

export function formatMergedView(view: FrozenView): Uint8Array<ArrayBuffer> {
  const base = UserAggTable.fromState(view.base.table);
  const overlay = UserAggTable.fromState(view.overlay);
  // Overlay users the base lacks, in id order, merged into the base's precomputed id order.
  const extra: { id: string; entry: number }[] = [];
  for (let e = 0; e < overlay.size; e++) {
    const key = overlay.keyAt(e);
    if (base.find(key, 0, key.length, overlay.hashAt(e)) < 0) extra.push({ id: decoder.decode(key), entry: e });
  }
  extra.sort((a, b) => compareUserIds(a.id, b.id));
  const chunks: string[] = [`${MERGED_VIEW_HEADER}\n`];
  let text = '';
  const line = (id: string, count: number, cents: number): void => {
    if (count === 0 && cents === 0) return;
    text += `${csvField(id)},${count},${formatCents(cents)}\n`;
    if (text.length > 1 << 16) {
      chunks.push(text);
      text = '';
    }
  };
  let x = 0;
  for (const e of view.base.byId) {
    const key = base.keyAt(e);
    const id = decoder.decode(key);
    for (; x < extra.length && compareUserIds(extra[x]!.id, id) < 0; x++) line(extra[x]!.id, overlay.countAt(extra[x]!.entry), overlay.centsAt(extra[x]!.entry));
    const o = overlay.find(key, 0, key.length, base.hashAt(e));
    line(id, base.countAt(e) + (o < 0 ? 0 : overlay.countAt(o)), base.centsAt(e) + (o < 0 ? 0 : overlay.centsAt(o)));
  }
  for (; x < extra.length; x++) line(extra[x]!.id, overlay.countAt(extra[x]!.entry), overlay.centsAt(extra[x]!.entry));
  chunks.push(text);
  return encoder.encode(chunks.join(''));
}
