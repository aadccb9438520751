// The merged view as CSV (the original demo's merged_view.csv): header, then every user with a non-zero total,
// sorted by user id. One format, so /view.csv and merged_view.csv of the same version are the same bytes. Written
// from key bytes straight into one buffer: no string per user, so a 585 k-user export costs its bytes, not more.
// MergedViewExporter writes the next version from the previous file, regenerating only the users that changed.

import { UserAggTable, grownCopy } from '../core/agg-table.js';
import { ViewLineWriter, compareKeyBytes, sortByKey } from '../core/sorted-view.js';
import { MERGED_VIEW_HEADER } from '../core/view-format.js';
import { type BatchBase } from './batch-base.js';
import { type StoreView } from './store.js';

/** The CSV of one version, from scratch. */
export function formatMergedView(view: StoreView): Uint8Array {
  return writeWhole(view, undefined).bytes;
}

/**
 * Only an export at least this large leaves its buffer for the next but one: smaller ones are not worth it, and may
 * sit in Node's pool of small buffers, shared with whatever else is allocated there.
 */
const SPARE_MIN_BYTES = 1 << 20;

/** The buffers of the export before the last, written over by the next one (instead of ~25 MB of garbage an export at 800 k users). */
interface Spare {
  /** The whole buffer the bytes were written into. */
  readonly buffer: Uint8Array;
  readonly start: Float64Array;
}

/**
 * The file as segments, one per base entry g (the overlay-only users whose ids fall between base entry g-1 and g,
 * then g's line), and a last one (overlay-only users after the last base entry): enough to rewrite one segment and
 * copy the others.
 */
interface LastExport {
  readonly base: BatchBase;
  readonly overlayGeneration: number;
  readonly bytes: Uint8Array;
  /** Segment g spans bytes [start[g], start[g + 1]); base.users + 2 numbers. */
  readonly start: Float64Array;
  /** The overlay as exported: entries known, and their totals then. */
  seen: number;
  counts: Float64Array;
  cents: Float64Array;
  /** Per overlay entry: its base entry, or −1 − its segment for a user the base lacks. */
  place: Int32Array;
  /** Per base entry: its overlay entry, or −1. */
  readonly overlayOf: Int32Array;
}

/**
 * Writes CSVs of successive versions of one store: a version with the previous one's base and overlay table costs
 * the users that changed plus a copy of the previous file's bytes; any other is written whole.
 */
export class MergedViewExporter {
  private last: LastExport | undefined;
  private spare: Spare | undefined;

  /**
   * The CSV of the view's version. Its bytes stay this exporter's, valid until the next call but one: copy them
   * before moving them to another thread.
   */
  format(view: StoreView): Uint8Array {
    const last = this.last;
    const spare = this.spare;
    // The last export's buffers become the spare only once this one is written: until then they are what it copies.
    const next: Spare | undefined = last && last.bytes.buffer.byteLength >= SPARE_MIN_BYTES ? { buffer: new Uint8Array(last.bytes.buffer), start: last.start } : undefined;
    if (last === undefined || last.base !== view.base || last.overlayGeneration !== view.overlayGeneration) {
      const whole = writeWhole(view, spare);
      this.last = whole.last;
      this.spare = next;
      return whole.bytes;
    }
    const { written, start } = writeChanges(last, view, spare);
    this.last = { ...last, bytes: written, start };
    this.spare = next;
    return written;
  }
}

/** A Float64Array of `length` numbers: the spare's when it is that long (every element is written before it is read). */
const startsFor = (length: number, spare: Spare | undefined): Float64Array => (spare?.start.length === length ? spare.start : new Float64Array(length));

/** The whole file, with what the next export needs to write only the changes. */
function writeWhole(view: StoreView, spare: Spare | undefined): { bytes: Uint8Array; last: LastExport } {
  const base = UserAggTable.fromState(view.base.table);
  const overlay = UserAggTable.fromState(view.overlay);
  const n = base.size;
  // Each overlay user found once, in the base (noted both ways, so the walk over every base user below does no
  // lookup) or not (sorted, then merged into the base's entries, which are in id order).
  const overlayOf = new Int32Array(n).fill(-1);
  const place = new Int32Array(Math.max(overlay.size, 64));
  const extras: number[] = [];
  for (let e = 0; e < overlay.size; e++) {
    const key = overlay.keyAt(e);
    const b = base.find(key, 0, key.length, overlay.hashAt(e));
    place[e] = b;
    if (b >= 0) overlayOf[b] = e;
    else extras.push(e);
  }
  const extraOrder = sortByKey(overlay, Uint32Array.from(extras));
  const baseKeys = base.keyColumns();
  const overlayKeys = overlay.keyColumns();
  const writer = new ViewLineWriter(baseKeys.arena.length + 40 * n + 64 * extraOrder.length, `${MERGED_VIEW_HEADER}\n`, '', spare?.buffer);
  const start = startsFor(n + 2, spare);
  let next = 0;
  for (let g = 0; g <= n; g++) {
    start[g] = writer.length;
    const keyStart = g < n ? baseKeys.keyStart[g]! : 0;
    const keyLength = g < n ? baseKeys.keyLength[g]! : 0;
    for (; next < extraOrder.length; next++) {
      const x = extraOrder[next]!;
      if (g < n && compareKeyBytes(overlayKeys.arena, overlayKeys.keyStart[x]!, overlayKeys.keyLength[x]!, baseKeys.arena, keyStart, keyLength) > 0) break;
      place[x] = -1 - g;
      writeOverlayOnly(writer, overlay, overlayKeys, x);
    }
    if (g < n) writeBaseLine(writer, base, baseKeys, overlay, g, overlayOf[g]!);
  }
  start[n + 1] = writer.length;
  const written = writer.bytes();
  const counts = new Float64Array(place.length);
  const cents = new Float64Array(place.length);
  for (let e = 0; e < overlay.size; e++) {
    counts[e] = overlay.countAt(e);
    cents[e] = overlay.centsAt(e);
  }
  return { bytes: written, last: { base: view.base, overlayGeneration: view.overlayGeneration, bytes: written, start, seen: overlay.size, counts, cents, place, overlayOf } };
}

/** The next file: the previous one's segments, those holding a changed user written again. */
function writeChanges(last: LastExport, view: StoreView, spare: Spare | undefined): { written: Uint8Array; start: Float64Array } {
  const base = UserAggTable.fromState(view.base.table);
  const overlay = UserAggTable.fromState(view.overlay);
  const n = base.size;
  placeNewEntries(last, base, overlay);
  // Changed users, by segment: an entry added since, or one whose totals differ from the last export's.
  const dirty = new Uint8Array(n + 1);
  const segments: number[] = [];
  for (let e = 0; e < overlay.size; e++) {
    if (e < last.seen && overlay.countAt(e) === last.counts[e] && overlay.centsAt(e) === last.cents[e]) continue;
    last.counts[e] = overlay.countAt(e);
    last.cents[e] = overlay.centsAt(e);
    const p = last.place[e]!;
    const segment = p >= 0 ? p : -1 - p;
    if (dirty[segment] === 0) segments.push(segment);
    dirty[segment] = 1;
  }
  last.seen = overlay.size;
  const rewritten = Uint32Array.from(segments).sort();
  // The overlay-only users of those segments, in id order (so segment by segment).
  const extras: number[] = [];
  for (let e = 0; e < overlay.size; e++) if (last.place[e]! < 0 && dirty[-1 - last.place[e]!] === 1) extras.push(e);
  const extraOrder = sortByKey(overlay, Uint32Array.from(extras));
  const baseKeys = base.keyColumns();
  const overlayKeys = overlay.keyColumns();

  const writer = new ViewLineWriter(last.bytes.length + 64 * extraOrder.length + 64, '', '', spare?.buffer);
  const start = startsFor(n + 2, spare);
  // The header, then segments [copied, g) as they were: they move by what the rewritten ones before them grew or shrank.
  writer.append(last.bytes, 0, last.start[0]!);
  let copied = 0;
  let next = 0;
  for (const g of rewritten) {
    const shift = writer.length - last.start[copied]!;
    for (let k = copied; k < g; k++) start[k] = last.start[k]! + shift;
    writer.append(last.bytes, last.start[copied]!, last.start[g]!);
    start[g] = writer.length;
    for (; next < extraOrder.length && -1 - last.place[extraOrder[next]!]! === g; next++) writeOverlayOnly(writer, overlay, overlayKeys, extraOrder[next]!);
    if (g < n) writeBaseLine(writer, base, baseKeys, overlay, g, last.overlayOf[g]!);
    copied = g + 1;
  }
  const shift = writer.length - last.start[copied]!;
  for (let k = copied; k <= n + 1; k++) start[k] = last.start[k]! + shift;
  writer.append(last.bytes, last.start[copied]!, last.bytes.length);
  return { written: writer.bytes(), start };
}

/** Places overlay entries added since the last export: in the base, or in the segment their id falls in. */
function placeNewEntries(last: LastExport, base: UserAggTable, overlay: UserAggTable): void {
  if (overlay.size > last.place.length) {
    const size = Math.max(overlay.size, last.place.length * 2);
    last.place = grownCopy(last.place, size);
    last.counts = grownCopy(last.counts, size);
    last.cents = grownCopy(last.cents, size);
  }
  const baseKeys = base.keyColumns();
  const overlayKeys = overlay.keyColumns();
  for (let e = last.seen; e < overlay.size; e++) {
    const key = overlay.keyAt(e);
    const b = base.find(key, 0, key.length, overlay.hashAt(e));
    if (b >= 0) {
      last.place[e] = b;
      last.overlayOf[b] = e;
      continue;
    }
    // The segment: how many base ids sort before this one (binary search over the id-ordered entries).
    let low = 0;
    let high = base.size;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (compareKeyBytes(baseKeys.arena, baseKeys.keyStart[middle]!, baseKeys.keyLength[middle]!, overlayKeys.arena, overlayKeys.keyStart[e]!, overlayKeys.keyLength[e]!) < 0) low = middle + 1;
      else high = middle;
    }
    last.place[e] = -1 - low;
  }
}

type KeyColumns = ReturnType<UserAggTable['keyColumns']>;

function writeOverlayOnly(writer: ViewLineWriter, overlay: UserAggTable, keys: KeyColumns, x: number): void {
  const count = overlay.countAt(x);
  const cents = overlay.centsAt(x);
  if (count === 0 && cents === 0) return;
  writer.line(keys.arena, keys.keyStart[x]!, keys.keyStart[x]! + keys.keyLength[x]!, count, cents);
}

function writeBaseLine(writer: ViewLineWriter, base: UserAggTable, keys: KeyColumns, overlay: UserAggTable, e: number, o: number): void {
  const count = base.countAt(e) + (o < 0 ? 0 : overlay.countAt(o));
  const cents = base.centsAt(e) + (o < 0 ? 0 : overlay.centsAt(o));
  if (count === 0 && cents === 0) return;
  writer.line(keys.arena, keys.keyStart[e]!, keys.keyStart[e]! + keys.keyLength[e]!, count, cents);
}
