// Sliding-window arithmetic for the speed layer: the window spec and the ring of per-slide aggregates.
//
//   time ─────────────────────────────────────────────────────────────►
//          ┌──────┬──────┬──────┬──────┬──────┬──────┐
//          │ s-6  │ s-5  │ s-4  │ s-3  │ s-2  │ s-1  │  s   ◄─ newest slide entering
//          └──────┴──────┴──────┴──────┴──────┴──────┘
//            ▲ oldest slide leaving        window [end - windowMs, end)
//
// Laws (Spark's invReduce(reduce(x, y), x) = y, exact because money is integer cents):
//   window(t + slide) = window(t) + slide(t + slide) - slide(t - window + slide)
//   a user whose window total returns to zero is dropped, exactly as a recomputation would never list them.

import { createRequire } from 'node:module';
import type { CircularBuffer as CircularBufferClass } from 'mnemonist';
import { type AggBlock, UserAggTable } from './agg-table.js';

// mnemonist's package index loads every structure (~40 ms at start-up); its ESM exports omit single modules.
const CircularBuffer = createRequire(import.meta.url)('mnemonist/circular-buffer') as typeof CircularBufferClass;

export interface WindowSpec {
  readonly batchIntervalMs: number;
  readonly windowMs: number;
  readonly slideMs: number;
  /** windowMs / slideMs: how many slides the ring holds. */
  readonly slidesPerWindow: number;
  /** slideMs / batchIntervalMs: how many micro-batches make one slide. */
  readonly batchesPerSlide: number;
}

/** Builds a window spec, throwing a RangeError naming both values when they do not divide evenly. */
export function windowSpec(batchIntervalMs: number, windowMs: number, slideMs: number): WindowSpec {
  for (const [name, value] of [
    ['batch interval', batchIntervalMs],
    ['window', windowMs],
    ['slide', slideMs],
  ] as const) {
    if (!Number.isInteger(value) || value <= 0) throw new RangeError(`${name} must be a positive whole number of milliseconds, got ${value}`);
  }
  if (slideMs % batchIntervalMs !== 0) {
    throw new RangeError(`slide (${slideMs} ms) must be a multiple of the batch interval (${batchIntervalMs} ms)`);
  }
  if (windowMs % slideMs !== 0) {
    throw new RangeError(`window (${windowMs} ms) must be a multiple of the slide (${slideMs} ms)`);
  }
  return Object.freeze({
    batchIntervalMs,
    windowMs,
    slideMs,
    slidesPerWindow: windowMs / slideMs,
    batchesPerSlide: slideMs / batchIntervalMs,
  });
}

/** A ring of the last `slidesPerWindow` slide aggregates and the window total kept by add/subtract. */
export class SlideRing {
  private readonly slides: CircularBufferClass<UserAggTable>;
  private totals = new UserAggTable();

  constructor(readonly slidesPerWindow: number) {
    this.slides = new CircularBuffer<UserAggTable>(Array, slidesPerWindow);
  }

  /** The current window's totals (users at zero may linger until the next compaction; views skip them). */
  get window(): UserAggTable {
    return this.totals;
  }

  /** Number of slides currently held. */
  get length(): number {
    return this.slides.size;
  }

  /** Enters the newest slide; when the ring is full, the oldest slide leaves and is subtracted. */
  push(slide: UserAggTable): void {
    if (this.slides.size === this.slidesPerWindow) {
      const expired = this.slides.shift()!;
      this.totals.mergeTable(expired, -1);
    }
    this.slides.push(slide);
    this.totals.mergeTable(slide);
    // Rebuild when dead users outnumber live ones, so memory follows the users in the window, not all ever seen.
    if (this.totals.size - this.totals.liveSize > Math.max(1024, this.totals.liveSize)) this.totals = this.totals.compacted();
  }
}

/**
 * A partition's sliding window fed by micro-batches: rows go into the open slide; closing slides pushes them
 * through the ring. Slides only move forward; a gap of empty slides longer than the window just empties it.
 */
export class SlidingWindow {
  private readonly ring: SlideRing;
  private openSlide: number | undefined;
  private open = new UserAggTable();

  constructor(readonly slidesPerWindow: number) {
    this.ring = new SlideRing(slidesPerWindow);
  }

  /** Adds a partial aggregate to slide `slide`, per user (over all time: the window is in processing time). */
  add(slide: number, rows: UserAggTable | AggBlock): void {
    this.advanceTo(slide);
    if (rows instanceof UserAggTable) this.open.mergeTable(rows, 1, true);
    else this.open.mergeBlock(rows, 1, true);
  }

  /** Closes every slide before `slide` and returns the window they form: slides [slide - slidesPerWindow, slide). */
  windowBefore(slide: number): UserAggTable {
    this.advanceTo(slide);
    return this.ring.window;
  }

  private advanceTo(slide: number): void {
    if (this.openSlide === undefined) {
      this.openSlide = slide;
      return;
    }
    if (slide < this.openSlide) throw new RangeError(`slide ${slide} is before the open slide ${this.openSlide}`);
    const steps = Math.min(slide - this.openSlide, this.slidesPerWindow + 1);
    for (let i = 0; i < steps; i++) {
      this.ring.push(this.open);
      this.open = new UserAggTable();
    }
    this.openSlide = slide;
  }
}

// Slide arithmetic: micro-batch ticks fall on multiples of the batch interval; ticks (k·slide, (k+1)·slide] form
// slide k, so the tick at (k+1)·slide is the last of slide k and closes it.

/** The slide that a micro-batch at tickMs (or a file ingested then) belongs to. */
export function slideOfTick(spec: WindowSpec, tickMs: number): number {
  return Math.floor((tickMs - 1) / spec.slideMs);
}

/** The first micro-batch tick strictly after nowMs. */
export function nextTickAfter(spec: WindowSpec, nowMs: number): number {
  return (Math.floor(nowMs / spec.batchIntervalMs) + 1) * spec.batchIntervalMs;
}

/** The slide a tick closes (its window is the slides before it), or undefined when the tick is inside a slide. */
export function slideClosedBy(spec: WindowSpec, tickMs: number): number | undefined {
  return tickMs % spec.slideMs === 0 ? tickMs / spec.slideMs : undefined;
}

/** Whether a file ingested at ingestedAtMs is inside the window that holds the slide of nowMs. */
export function inWindowAt(spec: WindowSpec, ingestedAtMs: number, nowMs: number): boolean {
  return ingestedAtMs <= nowMs && slideOfTick(spec, ingestedAtMs) > slideOfTick(spec, nowMs) - spec.slidesPerWindow;
}

/** The window [startMs, endMs) formed by the slides before `slide`. */
export function windowBefore(spec: WindowSpec, slide: number): { readonly startMs: number; readonly endMs: number } {
  return { startMs: (slide - spec.slidesPerWindow) * spec.slideMs, endMs: slide * spec.slideMs };
}
