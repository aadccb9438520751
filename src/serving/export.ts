// The merged view as CSV (the original demo's merged_view.csv): header, then every user with a non-zero total,
// sorted by user id. One format, so /view.csv and merged_view.csv of the same version are the same bytes. Written
// from key bytes straight into buffers, no string per user. A whole export is handed out in chunks, never held
// whole; the next version's file is planned from the last one's layout: ranges of its bytes, and the lines of the
// users that changed (so an export costs what changed plus a copy, and no version is ever held in memory).
//
// The exporter (src/serving/view-exports.ts) takes three steps, each changing only what it says: freezeVersion cuts
// the overlay's change log (the version an export reads is fixed from then on, however the store goes on), planning
// reads the frozen version and the last layout without changing either, and moveLayout moves the layout on to the
// planned file once that file is written.

import { type AggTableState, type KeyColumns, grownCopy } from '../core/agg-table.js';
import { SortedUserTable } from '../core/sorted-table.js';
import { compareKeyBytes, sortByKey } from '../core/key-order.js';
import { ViewLineWriter } from '../core/view-lines.js';
import { MERGED_VIEW_HEADER } from '../core/view-format.js';
import { type BatchBase } from '../core/view-state.js';
import { SplicePieces } from '../io/files/export-file.js';
import { runToEnd } from '../io/runtime/steps.js';
import { type StoreView } from './current-version.js';

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

/**
 * A version frozen for an export (freezeVersion): its tables, the overlay entries it holds, the entries changed since
 * the last freeze, and every entry's totals as they were when it was frozen, however the store changes them since.
 */
export interface FrozenVersion extends ExportedView {
  /** Overlay entries [0, entries) are the version's. */
  readonly entries: number;
  /** Entries changed since the last freeze (in no order). */
  readonly changed: Uint32Array;
  readonly totals: OverlayTotals;
}

/**
 * The next version's file: its pieces in order (ranges of the last export's file and of `fresh`), its length, and
 * how the last layout moves on to describe it (moveLayout).
 */
export interface ExportPlan {
  readonly pieces: SplicePieces;
  readonly fresh: Buffer;
  readonly size: number;
  readonly layoutMove: LayoutMove;
}

/** What moveLayout changes in the layout a plan was made from. */
interface LayoutMove {
  /** The overlay entries the last file knew (the layout's `seen`), and those the planned file knows. */
  readonly known: number;
  readonly entries: number;
  /** The places of entries [known, entries), as ExportLayout.place. */
  readonly places: Int32Array;
  /** Segments from runStart[i] up to runStart[i + 1] (the last run: to the end) start shift[i] bytes later. */
  readonly runStart: readonly number[];
  readonly shift: readonly number[];
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
 * Freezes a version now, for an export in steps: cuts the overlay's change log (handing out the entries it held) and
 * reads every entry's totals as they were at this cut, however the store changes them later (the log keeps those it
 * changes). The one step that changes what it reads (the log): the exporter takes it once per export, and the next
 * export's plan starts from this cut.
 */
export function freezeVersion(view: PlannedView): FrozenVersion {
  const { base, overlay, overlayGeneration, changes } = view;
  const entries = overlay.entries;
  const changed = changes.cut();
  const totals: OverlayTotals = { count: (e) => changes.countAtCut(e, overlay.countOf[e]!), cents: (e) => changes.centsAtCut(e, overlay.centsOf[e]!) };
  return { base, overlay, overlayGeneration, entries, changed, totals };
}

/**
 * A whole export of a frozen version, in steps (the store may go on changing between them). Each step hands out a
 * chunk to write before the next step (which writes over it), or nothing (a pause); the last returns the layout.
 */
export function wholeExport(version: FrozenVersion): Generator<Uint8Array | undefined, ExportLayout> {
  return wholeExportSteps(version, version.entries, version.totals);
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
 * Plans a frozen version's file from the last export's layout, changing neither; returns undefined when the version
 * has another base or overlay table: that one is written whole. A generator: the caller may run its steps between
 * other work while the store goes on changing, and the plan is still of the version frozen.
 */
export function* planExport(last: ExportLayout, version: FrozenVersion): Generator<void, ExportPlan | undefined> {
  if (last.base !== version.base || last.overlayGeneration !== version.overlayGeneration) return undefined;
  const base = new SortedUserTable(version.base.table);
  const { overlay, totals, entries } = version;
  const n = base.size;
  // Changed users: those the log says changed, and entries added since.
  const known = last.seen;
  const changed: number[] = [];
  for (const e of version.changed) if (e < known) changed.push(e);
  for (let e = known; e < entries; e++) changed.push(e);
  // From here on, keys come from entries below `entries`, which never change, and totals as frozen.
  yield;
  const places = yield* placeNewEntries(base, overlay, known, entries);
  const placeOf = (e: number): number => (e < known ? last.place[e]! : places[e - known]!);
  const newInBase = new Map<number, number>();
  for (let i = 0; i < places.length; i++) if (places[i]! >= 0) newInBase.set(places[i]!, known + i);
  const overlayOfBase = (g: number): number => (last.overlayOf[g]! >= 0 ? last.overlayOf[g]! : (newInBase.get(g) ?? -1));
  // The segments those users are in.
  const dirty = new Uint8Array(n + 1);
  const segments: number[] = [];
  for (const e of changed) {
    const p = placeOf(e);
    const segment = p >= 0 ? p : -1 - p;
    if (dirty[segment] === 0) segments.push(segment);
    dirty[segment] = 1;
  }
  yield;
  const rewritten = Uint32Array.from(segments).sort();
  // The overlay-only users of those segments, in id order (so segment by segment).
  const extras: number[] = [];
  for (let e = 0; e < entries; e++) {
    if (e % PLAN_SLICE === PLAN_SLICE - 1) yield;
    const p = placeOf(e);
    if (p < 0 && dirty[-1 - p] === 1) extras.push(e);
  }
  const extraOrder = sortByKey(overlay, Uint32Array.from(extras));
  yield;

  // Segments [copied, g] are copied as they were (g's line then rewritten); they move by what the rewritten ones
  // before them grew or shrank: a run of segments with one shift, which moveLayout adds to their starts.
  const { start } = last;
  const writer = new ViewLineWriter(64 * (rewritten.length + extraOrder.length) + 64);
  const pieces = new SplicePieces();
  // The header, as it was.
  pieces.add(false, 0, start[0]!);
  let size = start[0]!;
  const runStart: number[] = [];
  const shift: number[] = [];
  let copied = 0;
  let next = 0;
  // Segments rewritten and lines written since the last pause (each rewritten segment counts as a few).
  let work = 0;
  for (const g of rewritten) {
    work += 8;
    if (work >= PLAN_SLICE) {
      yield;
      work = 0;
    }
    const from = start[copied]!;
    const to = start[g]!;
    pieces.add(false, from, to);
    runStart.push(copied);
    shift.push(size - from);
    size += to - from;
    const freshFrom = writer.length;
    for (; next < extraOrder.length && -1 - placeOf(extraOrder[next]!) === g; next++) {
      // A segment may hold many users (every one, with no batch view yet): it pauses inside too.
      if (++work >= PLAN_SLICE) {
        yield;
        work = 0;
      }
      writeOverlayLine(writer, overlay, extraOrder[next]!, totals);
    }
    if (g < n) writeBaseLine(writer, base, g, overlayOfBase(g), totals);
    pieces.add(true, freshFrom, writer.length);
    size += writer.length - freshFrom;
    copied = g + 1;
  }
  const from = start[copied]!;
  pieces.add(false, from, last.size);
  runStart.push(copied);
  shift.push(size - from);
  size += last.size - from;
  return { pieces, fresh: writer.bytes(), size, layoutMove: { known, entries, places, runStart, shift } };
}

/**
 * Moves the layout a plan was made from on to describe the planned file: the exporter's step once that file is
 * written. In steps, like the plan (it walks every segment's start).
 */
export function* moveLayout(layout: ExportLayout, plan: ExportPlan): Generator<void, void> {
  const { known, entries, places, runStart, shift } = plan.layoutMove;
  if (entries > layout.place.length) layout.place = grownCopy(layout.place, Math.max(entries, layout.place.length * 2));
  for (let e = known; e < entries; e++) {
    const p = places[e - known]!;
    layout.place[e] = p;
    if (p >= 0) layout.overlayOf[p] = e;
  }
  layout.seen = entries;
  const { start } = layout;
  let work = 0;
  for (let run = 0; run < runStart.length; run++) {
    const by = shift[run]!;
    if (by === 0) continue;
    const end = run + 1 < runStart.length ? runStart[run + 1]! : start.length;
    for (let k = runStart[run]!; k < end; k++) {
      if (++work % PLAN_SLICE === 0) yield;
      start[k] = start[k]! + by;
    }
  }
  layout.size = plan.size;
}

/**
 * Freezes a version, plans its file from the last export's and moves the layout on to it, at once (tests and
 * benchmarks; the service takes these steps apart, the layout moved only once the file is written).
 */
export function planExportNow(last: ExportLayout, view: PlannedView): ExportPlan | undefined {
  const plan = runToEnd(planExport(last, freezeVersion(view)));
  if (plan) runToEnd(moveLayout(last, plan));
  return plan;
}

/**
 * The places of overlay entries [from, to), added since the last export: their base entry, or −1 − the segment their
 * id falls in.
 */
function* placeNewEntries(base: SortedUserTable, overlay: AggTableState, from: number, to: number): Generator<void, Int32Array> {
  const places = new Int32Array(to - from);
  for (let e = from; e < to; e++) {
    if ((e - from) % (PLAN_SLICE / 16) === PLAN_SLICE / 16 - 1) yield;
    const b = findInBase(base, overlay, e);
    if (b >= 0) {
      places[e - from] = b;
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
    places[e - from] = -1 - low;
  }
  return places;
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
