// The merged view as CSV (the original demo's merged_view.csv): header, then every user with a non-zero total,
// sorted by user id. One format, so /view.csv and merged_view.csv of the same version are the same bytes. Written
// from key bytes straight into buffers, no string per user. A whole export is handed out in chunks, never held
// whole; the next version's file is planned from the last one's layout: ranges of its bytes, and the lines of the
// users that changed (so an export costs what changed plus a copy, and no version is ever held in memory).

import { type AggTableState, type KeyColumns, grownCopy } from '../core/agg-table.js';
import { SortedUserTable } from '../core/sorted-table.js';
import { ViewLineWriter, compareKeyBytes, sortByKey } from '../core/sorted-view.js';
import { MERGED_VIEW_HEADER } from '../core/view-format.js';
import { SplicePieces } from '../io/export-file.js';
import { runToEnd } from '../io/steps.js';
import { type BatchBase } from './batch-base.js';
import { type StoreView } from './store.js';

/** A whole export is handed out in chunks of about this many bytes (~1–2 ms of lines each). */
const CHUNK_BYTES = 1 << 18;

/**
 * An exported file's layout: enough to plan the next version's file from it. The file is segments, one per base
 * entry g (the overlay-only users whose ids fall between base entry g-1 and g, then g's line), and a last one
 * (overlay-only users after the last base entry).
 */
export interface ExportLayout {
  readonly base: BatchBase;
  readonly overlayGeneration: number;
  /** The file's length in bytes. */
  size: number;
  /** Segment g spans bytes [start[g], start[g + 1]); base.users + 2 numbers. */
  readonly start: Float64Array;
  /** Overlay entries the file knows (their totals then are the change log's business: see ChangeLog). */
  seen: number;
  /** Per overlay entry: its base entry, or −1 − its segment for a user the base lacks. */
  place: Int32Array;
  /** Per base entry: its overlay entry, or −1. */
  readonly overlayOf: Int32Array;
}

/** What an export reads of a version (all at once: tests and benchmarks). */
export type ExportedView = Pick<StoreView, 'base' | 'overlay' | 'overlayGeneration'>;

/** What an export reads of a version in steps: that, live, with the log of the overlay's changes. */
export type PlannedView = Pick<StoreView, 'base' | 'overlay' | 'overlayGeneration' | 'changes'>;

/** The next version's file: its pieces in order (ranges of the last export's file and of `fresh`), and its length. */
export interface ExportPlan {
  readonly pieces: SplicePieces;
  readonly fresh: Buffer;
  readonly size: number;
}

/** The CSV of one version, from scratch, in memory (tests and benchmarks; the service writes files). */
export function formatMergedView(view: ExportedView): Uint8Array {
  const chunks: Buffer[] = [];
  writeWholeExport(view, (chunk) => chunks.push(Buffer.from(chunk)));
  return Buffer.concat(chunks);
}

/** A plan applied to the previous export's bytes in memory (tests and benchmarks; the service splices files). */
export function applyExportPlan(previous: Uint8Array, plan: ExportPlan): Uint8Array {
  const out = new Uint8Array(plan.size);
  const { pieces } = plan;
  let at = 0;
  for (let i = 0; i < pieces.count; i++) {
    out.set((pieces.isFresh(i) ? plan.fresh : previous).subarray(pieces.from(i), pieces.to(i)), at);
    at += pieces.to(i) - pieces.from(i);
  }
  return out;
}

/** An overlay's totals as an export reads them (as frozen, for the service; as they stand, for a synchronous export). */
interface OverlayTotals {
  count(e: number): number;
  cents(e: number): number;
}

/**
 * The whole file, handed to `write` in chunks (each is written over after `write` returns), with its layout: what
 * the next export needs to write only the changes. All at once, from the totals as they stand (tests, benchmarks).
 */
export function writeWholeExport(view: ExportedView, write: (chunk: Uint8Array) => void): ExportLayout {
  const { overlay } = view;
  const steps = wholeExportSteps(view, overlay.entries, { count: (e) => overlay.countOf[e]!, cents: (e) => overlay.centsOf[e]! });
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    if (step.value) write(step.value);
  }
}

/**
 * A whole export of the version current now, in steps: it freezes the version at once (the overlay entries held, and
 * their totals by a cut of the change log, which keeps from here the totals of those that change), so the store may
 * go on changing between steps. Each step hands out a chunk to write before the next step (which writes over it), or
 * nothing (a pause); the last returns the layout.
 */
export function wholeExport(view: PlannedView): Generator<Uint8Array | undefined, ExportLayout> {
  const seen = view.overlay.entries;
  return wholeExportSteps(view, seen, freezeTotals(view).totals);
}

/**
 * Freezes the overlay's totals now: cuts its change log (handing out the entries it held) and reads every entry's
 * totals as they were at this cut, however the store changes them later (the log keeps those it changes).
 */
function freezeTotals({ overlay, changes }: PlannedView): { changed: Uint32Array; totals: OverlayTotals } {
  const changed = changes.cut();
  return { changed, totals: { count: (e) => changes.countAtCut(e, overlay.countOf[e]!), cents: (e) => changes.centsAtCut(e, overlay.centsOf[e]!) } };
}

function* wholeExportSteps(view: ExportedView, seen: number, totals: OverlayTotals): Generator<Uint8Array | undefined, ExportLayout> {
  const base = new SortedUserTable(view.base.table);
  const { overlay } = view;
  const n = base.size;
  // Each overlay user found once, in the base (noted both ways, so the walk over every base user below does no
  // lookup) or not (sorted, then merged into the base's entries, which are in id order).
  const overlayOf = new Int32Array(n).fill(-1);
  const place = new Int32Array(Math.max(seen, 64));
  const extras: number[] = [];
  for (let e = 0; e < seen; e++) {
    if (e % PLAN_SLICE === PLAN_SLICE - 1) yield undefined;
    const b = findInBase(base, overlay, e);
    place[e] = b;
    if (b >= 0) overlayOf[b] = e;
    else extras.push(e);
  }
  // One step: a native sort (~10 ms for 100 k users the batch view lacks).
  const extraOrder = sortByKey(overlay, Uint32Array.from(extras));
  yield undefined;
  const writer = new ViewLineWriter(CHUNK_BYTES + 4096, `${MERGED_VIEW_HEADER}\n`);
  let flushed = 0;
  const drain = (): Uint8Array => {
    const chunk = writer.drain();
    flushed += chunk.length;
    return chunk;
  };
  const start = new Float64Array(n + 2);
  let next = 0;
  for (let g = 0; g <= n; g++) {
    // Handed out a chunk at a time, between lines (a segment may hold every user: no batch view yet).
    if (writer.length >= CHUNK_BYTES) yield drain();
    start[g] = flushed + writer.length;
    for (; next < extraOrder.length; next++) {
      const x = extraOrder[next]!;
      if (g < n && compareKeys(overlay, x, view.base.table, g) > 0) break;
      place[x] = -1 - g;
      if (writer.length >= CHUNK_BYTES) yield drain();
      writeOverlayLine(writer, overlay, x, totals);
    }
    if (g < n) writeBaseLine(writer, base, g, overlayOf[g]!, totals);
  }
  const size = flushed + writer.length;
  start[n + 1] = size;
  yield drain();
  return { base: view.base, overlayGeneration: view.overlayGeneration, size, start, seen, place, overlayOf };
}

/** Work a plan does between two pauses, in entries or segments walked (a new user placed counts as 16): ~1–3 ms. */
const PLAN_SLICE = 16_384;

/**
 * Plans the view's file from the last export's (whose layout it then describes); returns undefined when the view has
 * another base or overlay table: that one is written whole. A generator: its first step freezes the totals (it cuts
 * the change log, which then keeps the totals of those the store changes), so the caller may run the later steps
 * between other work while the store goes on changing, and the plan is still of the version it began with.
 */
export function* planExport(last: ExportLayout, view: PlannedView): Generator<void, ExportPlan | undefined> {
  if (last.base !== view.base || last.overlayGeneration !== view.overlayGeneration) return undefined;
  const base = new SortedUserTable(view.base.table);
  const { overlay } = view;
  const n = base.size;
  // Changed users: those the log says changed, and entries added since.
  const seenBefore = last.seen;
  const seen = overlay.entries;
  growPlaces(last, seen);
  const { changed: logged, totals } = freezeTotals(view);
  const changed: number[] = [];
  for (const e of logged) if (e < seenBefore) changed.push(e);
  for (let e = seenBefore; e < seen; e++) changed.push(e);
  last.seen = seen;
  // From here on, keys come from entries below `seen`, which never change, and totals as frozen.
  yield;
  yield* placeNewEntries(last, base, overlay, seenBefore, seen);
  // The segments those users are in.
  const dirty = new Uint8Array(n + 1);
  const segments: number[] = [];
  for (const e of changed) {
    const p = last.place[e]!;
    const segment = p >= 0 ? p : -1 - p;
    if (dirty[segment] === 0) segments.push(segment);
    dirty[segment] = 1;
  }
  yield;
  const rewritten = Uint32Array.from(segments).sort();
  // The overlay-only users of those segments, in id order (so segment by segment).
  const extras: number[] = [];
  for (let e = 0; e < seen; e++) {
    if (e % PLAN_SLICE === PLAN_SLICE - 1) yield;
    if (last.place[e]! < 0 && dirty[-1 - last.place[e]!] === 1) extras.push(e);
  }
  const extraOrder = sortByKey(overlay, Uint32Array.from(extras));
  yield;

  // Segments [copied, g) are copied as they were; they move by what the rewritten ones before them grew or shrank.
  // `start` is moved in place: each old offset is read before it is written over.
  const { start } = last;
  const writer = new ViewLineWriter(64 * (rewritten.length + extraOrder.length) + 64);
  const pieces = new SplicePieces();
  // The header, as it was.
  pieces.add(false, 0, start[0]!);
  let size = start[0]!;
  let copied = 0;
  let next = 0;
  // Segments walked since the last pause (each rewritten one counts as a few).
  let work = 0;
  for (const g of rewritten) {
    work += g - copied + 8;
    if (work >= PLAN_SLICE) {
      yield;
      work = 0;
    }
    const from = start[copied]!;
    const to = start[g]!;
    pieces.add(false, from, to);
    const shift = size - from;
    for (let k = copied; k < g; k++) start[k] = start[k]! + shift;
    size += to - from;
    start[g] = size;
    const freshFrom = writer.length;
    for (; next < extraOrder.length && -1 - last.place[extraOrder[next]!]! === g; next++) {
      // A segment may hold many users (every one, with no batch view yet): it pauses inside too.
      if (++work >= PLAN_SLICE) {
        yield;
        work = 0;
      }
      writeOverlayLine(writer, overlay, extraOrder[next]!, totals);
    }
    if (g < n) writeBaseLine(writer, base, g, last.overlayOf[g]!, totals);
    pieces.add(true, freshFrom, writer.length);
    size += writer.length - freshFrom;
    copied = g + 1;
  }
  const from = start[copied]!;
  pieces.add(false, from, last.size);
  const shift = size - from;
  for (let k = copied; k <= n + 1; k++) {
    if ((k - copied) % PLAN_SLICE === PLAN_SLICE - 1) yield;
    start[k] = start[k]! + shift;
  }
  size += last.size - from;
  last.size = size;
  return { pieces, fresh: writer.bytes(), size };
}

/** Runs a plan to its end at once (tests and benchmarks; the service pauses between its steps). */
export function planExportNow(last: ExportLayout, view: PlannedView): ExportPlan | undefined {
  return runToEnd(planExport(last, view));
}

/** Makes room in the layout's places for `entries` overlay entries. */
function growPlaces(last: ExportLayout, entries: number): void {
  if (entries <= last.place.length) return;
  last.place = grownCopy(last.place, Math.max(entries, last.place.length * 2));
}

/** Places overlay entries [from, to), added since the last export: in the base, or in the segment their id falls in. */
function* placeNewEntries(last: ExportLayout, base: SortedUserTable, overlay: AggTableState, from: number, to: number): Generator<void, void> {
  for (let e = from; e < to; e++) {
    if ((e - from) % (PLAN_SLICE / 16) === PLAN_SLICE / 16 - 1) yield;
    const b = findInBase(base, overlay, e);
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
      if (compareKeys(base.state, middle, overlay, e) < 0) low = middle + 1;
      else high = middle;
    }
    last.place[e] = -1 - low;
  }
}

/** Overlay entry e's base entry, or −1. */
function findInBase(base: SortedUserTable, overlay: AggTableState, e: number): number {
  const start = overlay.keyStart[e]!;
  return base.find(overlay.arena, start, overlay.keyStart[e + 1]!, overlay.keyHash[e]);
}

/** Key a of one table against key b of another (user-id order). */
function compareKeys(keysA: KeyColumns, a: number, keysB: KeyColumns, b: number): number {
  const { arena: arenaA, keyStart: startA } = keysA;
  const { arena: arenaB, keyStart: startB } = keysB;
  return compareKeyBytes(arenaA, startA[a]!, startA[a + 1]! - startA[a]!, arenaB, startB[b]!, startB[b + 1]! - startB[b]!);
}

/** Overlay entry x's line, a user the base lacks (a user whose totals are zero has none). */
function writeOverlayLine(writer: ViewLineWriter, overlay: AggTableState, x: number, totals: OverlayTotals): void {
  const count = totals.count(x);
  const cents = totals.cents(x);
  if (count === 0 && cents === 0) return;
  writer.line(overlay.arena, overlay.keyStart[x]!, overlay.keyStart[x + 1]!, count, cents);
}

/** Base entry g's line, with overlay entry o's totals added (o < 0: none). */
function writeBaseLine(writer: ViewLineWriter, base: SortedUserTable, g: number, o: number, totals: OverlayTotals): void {
  const count = base.countAt(g) + (o < 0 ? 0 : totals.count(o));
  const cents = base.centsAt(g) + (o < 0 ? 0 : totals.cents(o));
  if (count === 0 && cents === 0) return;
  const { arena, keyStart } = base.state;
  writer.line(arena, keyStart[g]!, keyStart[g + 1]!, count, cents);
}
