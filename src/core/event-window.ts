// Event-time sliding windows: the non-late purchases per (user, slide slot of their event second), and each window
// the watermark has passed, final from the moment it is due.
//
//   event seconds ──────────────────────────────────────────────────────────────►
//        ┌──────┬──────┬──────┬──────┬──────┬──────┐
//        │ slot │ slot │ slot │ slot │ slot │ slot │ …   slot s = floor(second / slide), seconds [s·slide, (s+1)·slide)
//        └──────┴──────┴──────┴──────┴──────┴──────┘
//        ◄──────────── window ending at e ─────────►▲ e, a multiple of the slide: seconds [e − window, e)
//                                                   └ due once W ≥ e, after the unit whose rows moved W there
//
// Laws:
//   a row of a later unit n is late unless second ≥ W(n−1) ≥ e, so nothing can reach a window once it is due: it is
//   published once, after the unit that made it due (its watermark and late rows are that unit's), whatever the
//   micro-batches were;
//   a slot whose seconds all lie before P − window (P: the last window end due) can reach no window still to come:
//   dropped, so memory follows the users of one window plus what is ahead of the watermark.
//
// Slots are numbered like buckets in the tables' bucket column (a Uint32): exact for event seconds below
// 2^32 · slide (year 2106 with one-second slides).

import { type AggBlock, UserAggTable } from './agg-table.js';
import { LambdaflowError } from './errors.js';
import { parseWhole } from './event-parser.js';
import { type EventClock, EVENT_CLOCK_START, advanceEventClock, watermarkOf } from './event-time.js';

/** What the speed layer's window is on: ingest time (the original demo's) or the rows' event time. */
export const WINDOW_TIMES = ['processing', 'event'] as const;
export type WindowTime = (typeof WINDOW_TIMES)[number];

export interface EventWindowSpec {
  readonly windowSeconds: number;
  readonly slideSeconds: number;
  readonly allowedLatenessSeconds: number;
}

/** Builds the spec, throwing a RangeError naming both values unless window and slide are whole seconds, one a multiple of the other. */
export function eventWindowSpec(windowMs: number, slideMs: number, allowedLatenessSeconds: number): EventWindowSpec {
  if (slideMs % 1000 !== 0 || windowMs % 1000 !== 0)
    throw new RangeError(`event-time windows need a whole-second window and slide, got ${windowMs} ms and ${slideMs} ms`);
  if (windowMs % slideMs !== 0) throw new RangeError(`window (${windowMs} ms) must be a multiple of the slide (${slideMs} ms)`);
  return Object.freeze({ windowSeconds: windowMs / 1000, slideSeconds: slideMs / 1000, allowedLatenessSeconds });
}

/** One unit (a logged stream file) as the parse pool found it. */
export interface EventWindowUnit {
  readonly seq: number;
  /** Its good rows' largest event second (−∞: none). */
  readonly maxEventSecond: number;
  /** Every purchase, per (user, slot). */
  readonly purchases: AggBlock;
  /** Its late rows' lines (purchases and views), found below W(seq − 1). */
  readonly lateLines: readonly Uint8Array[];
}

/** A window that became due: final, never to change. */
export interface DueWindow {
  readonly startSecond: number;
  readonly endSecond: number;
  /** W after the unit that made it due. */
  readonly watermark: number;
  /** The stream's late rows through that unit. */
  readonly lateRows: number;
  /** Per user, its purchases in the window (over all time: one entry a user, none at zero). */
  readonly totals: UserAggTable;
}

/** What a restart needs to go on exactly: the units counted, the clock after them, the last window due, the slots kept. */
export interface EventWindowState {
  readonly throughSeq: number;
  readonly clock: EventClock;
  /** The end of the last window due (−∞: none yet); windows ending at or before it are never due again. */
  readonly dueThroughSecond: number;
  readonly slots: UserAggTable;
}

const NEWLINE = new Uint8Array([0x0a]);

export class EventWindows {
  private seq: number;
  private clock: EventClock;
  private dueThrough: number;
  private slots: UserAggTable;

  constructor(
    readonly spec: EventWindowSpec,
    state: EventWindowState = { throughSeq: 0, clock: EVENT_CLOCK_START, dueThroughSecond: -Infinity, slots: new UserAggTable() },
  ) {
    this.seq = state.throughSeq;
    this.clock = state.clock;
    this.dueThrough = state.dueThroughSecond;
    this.slots = state.slots;
  }

  /**
   * Starts after `throughSeq` units nobody fed in (a stream that ran before event-time windows, or whose state is lost):
   * the first window due is the first that only rows still to come can reach, one starting after every second seen.
   */
  static after(spec: EventWindowSpec, throughSeq: number, clock: EventClock): EventWindows {
    const max = clock.maxEventSecond;
    const firstEnd = Number.isFinite(max) ? Math.ceil((max + 1 + spec.windowSeconds) / spec.slideSeconds) * spec.slideSeconds : -Infinity;
    return new EventWindows(spec, { throughSeq, clock, dueThroughSecond: firstEnd - spec.slideSeconds, slots: new UserAggTable() });
  }

  get throughSeq(): number {
    return this.seq;
  }

  /** The threshold of the next unit: W after the units counted. */
  get threshold(): number {
    return watermarkOf(this.clock, this.spec.allowedLatenessSeconds);
  }

  get state(): EventWindowState {
    return { throughSeq: this.seq, clock: this.clock, dueThroughSecond: this.dueThrough, slots: this.slots };
  }

  /** Counts the next unit's non-late purchases into their slots; returns the windows it made due, in end order. */
  add(unit: EventWindowUnit): DueWindow[] {
    if (unit.seq !== this.seq + 1) throw new LambdaflowError('E_STATE', `event-time windows: seq ${unit.seq} counted after seq ${this.seq}`, {});
    this.slots.mergeBlock(unit.purchases);
    if (unit.lateLines.length > 0) {
      const late = new UserAggTable(64);
      const lines: Uint8Array[] = [];
      for (const line of unit.lateLines) lines.push(line, NEWLINE);
      parseWhole(Buffer.concat(lines), late, { atFileStart: false, keepBadRows: false, bucketSeconds: this.spec.slideSeconds });
      this.slots.mergeTable(late, -1);
    }
    this.clock = advanceEventClock(this.clock, { maxEventSecond: unit.maxEventSecond, lateRows: unit.lateLines.length });
    this.seq = unit.seq;
    return this.takeDue();
  }

  /** Windows with end in (dueThrough, W] that hold a row; then drops the slots no later window reaches. */
  private takeDue(): DueWindow[] {
    const { slideSeconds, windowSeconds } = this.spec;
    const watermark = this.threshold;
    if (!Number.isFinite(watermark) || watermark < this.dueThrough + slideSeconds) return [];
    const lastEnd = Math.floor(watermark / slideSeconds) * slideSeconds;
    const firstEnd = Number.isFinite(this.dueThrough) ? this.dueThrough + slideSeconds : -Infinity;
    const due: DueWindow[] = [];
    // Only ends whose window holds a slot: each slot s reaches the windows ending in (s·slide, s·slide + window].
    const ends = new Set<number>();
    for (let e = 0; e < this.slots.size; e++) {
      if (this.slots.countAt(e) === 0 && this.slots.centsAt(e) === 0) continue;
      const slotStart = this.slots.bucketAt(e) * slideSeconds;
      for (let end = slotStart + slideSeconds; end <= slotStart + windowSeconds; end += slideSeconds) if (end >= firstEnd && end <= lastEnd) ends.add(end);
    }
    for (const endSecond of [...ends].sort((a, b) => a - b)) {
      const startSecond = endSecond - windowSeconds;
      const totals = new UserAggTable(64);
      for (let e = 0; e < this.slots.size; e++) {
        const slotStart = this.slots.bucketAt(e) * slideSeconds;
        if (slotStart < startSecond || slotStart >= endSecond) continue;
        totals.add(...this.keyOf(e), this.slots.countAt(e), this.slots.centsAt(e), this.slots.hashAt(e));
      }
      const live = totals.compacted();
      if (live.liveSize > 0) due.push({ startSecond, endSecond, watermark, lateRows: this.clock.lateRows, totals: live });
    }
    this.dueThrough = lastEnd;
    this.dropBefore(lastEnd - windowSeconds);
    return due;
  }

  private keyOf(entry: number): [Uint8Array, number, number] {
    const { arena, keyStart } = this.slots.keyColumns();
    return [arena, keyStart[entry]!, keyStart[entry + 1]!];
  }

  /** Keeps the slots starting at or after `second` (and none at zero). */
  private dropBefore(second: number): void {
    const kept = new UserAggTable(64);
    for (let e = 0; e < this.slots.size; e++) {
      if (this.slots.bucketAt(e) * this.spec.slideSeconds < second || (this.slots.countAt(e) === 0 && this.slots.centsAt(e) === 0)) continue;
      kept.add(...this.keyOf(e), this.slots.countAt(e), this.slots.centsAt(e), this.slots.hashAt(e), this.slots.bucketAt(e));
    }
    this.slots = kept;
  }
}
