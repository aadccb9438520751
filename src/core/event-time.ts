// Event time: the bucket a purchase's second falls in, aligned time ranges over buckets, and the speed layer's
// deterministic watermark with its lateness rule.
//
//   event second ts ──► bucket floor(ts / B)            (B: the data folder's bucket size, a divisor of a day)
//                       bucket start floor(ts / B) · B  (Unix seconds, UTC, epoch-aligned)
//
//   units (stream files in log order)   1     2     3   …   n-1    n
//   W(n) = max(event second over units 1..n) − L         W(0) = −∞
//   a row of unit n is late when its second < W(n−1)      (so lateness depends on the log alone)
//
// Buckets are numbered (floor(ts / B)) rather than stored as seconds: the largest accepted second over the smallest
// bucket (60 s) still fits a Uint32, and ALL_TIME (2^32 − 1) is never a bucket number.

import { ALL_TIME } from './agg-table.js';
import { MAX_TIMESTAMP_SECONDS } from './event-parser.js';

export { ALL_TIME };

export const SECONDS_PER_DAY = 86_400;
export const MIN_BUCKET_SECONDS = 60;
export const DEFAULT_BUCKET_SECONDS = 3_600;
export const DEFAULT_ALLOWED_LATENESS_SECONDS = 10;

/** Why a bucket size is refused, or undefined for a valid one: a divisor of one day from one minute, in whole seconds. */
export function bucketSecondsProblem(seconds: number): string | undefined {
  if (!Number.isInteger(seconds) || seconds < MIN_BUCKET_SECONDS) return `must be a whole number of seconds of at least 1m, got ${seconds} s`;
  if (SECONDS_PER_DAY % seconds !== 0)
    return `must divide one day (1m, 2m, 5m, 10m, 15m, 30m, 1h, 2h, 3h, 4h, 6h, 8h, 12h, 1d …), got ${formatSeconds(seconds)}`;
  return undefined;
}

/** `90s`, `15m`, `1h`, `1d`: the largest unit that divides it. */
export function formatSeconds(seconds: number): string {
  for (const [unit, size] of [
    ['d', SECONDS_PER_DAY],
    ['h', 3_600],
    ['m', 60],
  ] as const) {
    if (seconds >= size && seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}

/** The bucket number of an event second (fraction already dropped). */
export const bucketOf = (second: number, bucketSeconds: number): number => Math.floor(second / bucketSeconds);

/** The Unix second a bucket starts at. */
export const bucketStart = (bucket: number, bucketSeconds: number): number => bucket * bucketSeconds;

/** A bucket number read back from a bucket start: undefined unless it is aligned and in range. */
export function bucketOfStart(startSecond: number, bucketSeconds: number): number | undefined {
  if (!Number.isSafeInteger(startSecond) || startSecond < 0 || startSecond > MAX_TIMESTAMP_SECONDS || startSecond % bucketSeconds !== 0) return undefined;
  return startSecond / bucketSeconds;
}

/** Buckets [first, end) of a half-open time range [from, to) whose bounds are bucket-aligned. */
export interface BucketRange {
  readonly first: number;
  readonly end: number;
}

/**
 * The buckets of [fromSecond, toSecond), or a RangeError whose message names the bucket size and the nearest
 * aligned bounds (a range must be whole buckets: a partial bucket's share is not known).
 */
export function bucketRange(fromSecond: number, toSecond: number, bucketSeconds: number): BucketRange {
  const size = formatSeconds(bucketSeconds);
  for (const [name, second] of [
    ['from', fromSecond],
    ['to', toSecond],
  ] as const) {
    if (second % bucketSeconds !== 0) {
      const down = Math.floor(second / bucketSeconds) * bucketSeconds;
      const bound = (s: number): string => `${s} (${new Date(s * 1000).toISOString().replace('.000Z', 'Z')})`;
      throw new RangeError(
        `${name}=${second} is not aligned to the ${size} buckets: the nearest aligned bounds are ${bound(down)} and ${bound(down + bucketSeconds)}`,
      );
    }
  }
  if (fromSecond >= toSecond) throw new RangeError(`from (${fromSecond}) must be before to (${toSecond}), in whole ${size} buckets`);
  return { first: fromSecond / bucketSeconds, end: toSecond / bucketSeconds };
}

/**
 * The speed layer's event-time watermark over the units it has seen (per stream): W = max event second − L, −∞
 * before any good row. Plain state, so it is checkpointed and recovered exactly: the same units in the same order
 * give the same watermark and the same late rows, whatever the micro-batches were.
 */
export interface EventClock {
  /** The largest event second of any good row so far (−∞: none yet). */
  readonly maxEventSecond: number;
  /** Rows found late so far. */
  readonly lateRows: number;
}

export const EVENT_CLOCK_START: EventClock = Object.freeze({ maxEventSecond: -Infinity, lateRows: 0 });

/** W: the watermark after the units an event clock has seen. */
export const watermarkOf = (clock: EventClock, allowedLatenessSeconds: number): number => clock.maxEventSecond - allowedLatenessSeconds;

/** What one unit (a stream file, a NATS message file) contributes: its good rows' largest second, its late rows. */
export interface UnitEventTime {
  readonly maxEventSecond: number;
  readonly lateRows: number;
}

/** The event clock after one more unit. */
export function advanceEventClock(clock: EventClock, unit: UnitEventTime): EventClock {
  return { maxEventSecond: Math.max(clock.maxEventSecond, unit.maxEventSecond), lateRows: clock.lateRows + unit.lateRows };
}

/** The event clock as realtime heads and checkpoints publish it (JSON: null for none yet). */
export interface EventTimeHead {
  /** The largest event second of a good row so far. */
  readonly maxEventSecond: number | null;
  /** W: maxEventSecond − allowedLatenessSeconds. */
  readonly watermark: number | null;
  /** Rows found late, in the whole stream. */
  readonly lateRows: number;
  readonly allowedLatenessSeconds: number;
}

/** An EventTimeHead read back from JSON, checked (undefined: none, or not one). */
export function eventTimeHeadOf(value: unknown): EventTimeHead | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const { maxEventSecond, watermark, lateRows, allowedLatenessSeconds } = value as Record<string, unknown>;
  const max = maxEventSecondFromJson(maxEventSecond);
  const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
  if (max === undefined || !isCount(lateRows) || !isCount(allowedLatenessSeconds) || !(watermark === null || typeof watermark === 'number')) return undefined;
  return { maxEventSecond: watermarkJson(max), watermark: watermarkJson(max - allowedLatenessSeconds), lateRows, allowedLatenessSeconds };
}

/** The event clock an EventTimeHead describes. */
export const eventClockOf = (head: EventTimeHead): EventClock => ({ maxEventSecond: head.maxEventSecond ?? -Infinity, lateRows: head.lateRows });

/** A watermark for JSON (state files, answers): null for −∞. */
export const watermarkJson = (watermark: number): number | null => (Number.isFinite(watermark) ? watermark : null);

/** A max event second read back from JSON (null: none yet). */
export const maxEventSecondFromJson = (value: unknown): number | undefined =>
  value === null ? -Infinity : typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value <= MAX_TIMESTAMP_SECONDS ? value : undefined;

/** A unit's good rows' smallest and largest event seconds, as its parse found them (Infinity, −Infinity: none). */
export interface UnitSeconds {
  readonly minEventSecond: number;
  readonly maxEventSecond: number;
}

/** A unit's lateness threshold W(n−1), and whether any of its rows can be below it (only those units need a look at their rows). */
export interface UnitLateness {
  readonly threshold: number;
  readonly mayHaveLateRows: boolean;
}

/**
 * The thresholds of units in log order, from the event clock before the first: unit n's is W(n−1), which depends only
 * on the units before it, so a micro-batch's files parsed in parallel get the same thresholds as files read one by one.
 */
export function unitLateness(clock: EventClock, units: readonly UnitSeconds[], allowedLatenessSeconds: number): UnitLateness[] {
  let max = clock.maxEventSecond;
  return units.map((unit) => {
    const threshold = max - allowedLatenessSeconds;
    max = Math.max(max, unit.maxEventSecond);
    return { threshold, mayHaveLateRows: unit.minEventSecond < threshold };
  });
}

const ISO_UTC = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2}))?Z)?$/;

/**
 * A point in time given as Unix seconds (digits) or ISO 8601 UTC (`2026-12-07`, `2026-12-07T10:00Z`,
 * `2026-12-07T10:00:00Z`): whole seconds from 0 to MAX_TIMESTAMP_SECONDS, or undefined.
 */
export function parseTimeSeconds(text: string): number | undefined {
  let seconds: number;
  if (/^\d{1,12}$/.test(text)) seconds = Number(text);
  else {
    const match = ISO_UTC.exec(text);
    if (!match) return undefined;
    const [year, month, day, hour = 0, minute = 0, second = 0] = match.slice(1).map((part) => (part === undefined ? undefined : Number(part))) as number[];
    const ms = Date.UTC(year!, month! - 1, day, hour, minute, second);
    const back = new Date(ms);
    // Date.UTC rolls 2026-02-30 over into March: a date that does not come back the same is not a date.
    if (back.getUTCFullYear() !== year || back.getUTCMonth() !== month! - 1 || back.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59)
      return undefined;
    seconds = ms / 1000;
  }
  return seconds >= 0 && seconds <= MAX_TIMESTAMP_SECONDS ? seconds : undefined;
}

/**
 * The event clock as a stream's units are counted in log order (src/speed/speed-layer.ts), with units whose event time
 * is known already (a restart reads it from the deltas' trailers) folded in as their turn comes: a unit's threshold is
 * then the same whether its neighbours were read again or not.
 */
export class EventClockTracker {
  private now: EventClock;
  private seq: number;
  private readonly known = new Map<number, UnitEventTime>();

  constructor(
    clock: EventClock,
    /** The last unit `clock` counts. */
    throughSeq: number,
    readonly allowedLatenessSeconds: number,
  ) {
    this.now = clock;
    this.seq = throughSeq;
  }

  /** The clock after every unit counted or folded so far. */
  get clock(): EventClock {
    return this.now;
  }

  get throughSeq(): number {
    return this.seq;
  }

  /** A unit's event time known ahead of its turn. */
  know(seq: number, unit: UnitEventTime): void {
    if (seq > this.seq) this.known.set(seq, unit);
  }

  /** Whether unit `seq`'s event time is counted or known. */
  isKnown(seq: number): boolean {
    return seq <= this.seq || this.known.has(seq);
  }

  /** W(seq − 1), the threshold of unit `seq`: every unit before it must be counted or known. */
  thresholdOf(seq: number): number {
    this.foldKnown(seq - 1);
    if (this.seq !== seq - 1) throw new RangeError(`the event time of seq ${this.seq + 1} is not known before seq ${seq}`);
    return watermarkOf(this.now, this.allowedLatenessSeconds);
  }

  /** Counts unit `seq` (the next one) with its largest event second; its late rows come with addLate. */
  advance(seq: number, maxEventSecond: number): void {
    if (seq !== this.seq + 1) throw new RangeError(`seq ${seq} counted after seq ${this.seq}`);
    this.now = advanceEventClock(this.now, { maxEventSecond, lateRows: 0 });
    this.seq = seq;
  }

  addLate(rows: number): void {
    this.now = { ...this.now, lateRows: this.now.lateRows + rows };
  }

  /** Folds the known units through `seq` (and returns the clock after them). */
  foldKnown(seq: number): EventClock {
    while (this.seq < seq && this.known.has(this.seq + 1)) {
      this.now = advanceEventClock(this.now, this.known.get(this.seq + 1)!);
      this.known.delete(++this.seq);
    }
    return this.now;
  }
}
