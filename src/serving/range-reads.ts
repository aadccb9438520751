// Reads of the serving store's current version over a range of event time: one user's totals or series, everyone's
// series, and the top N over the range — from the batch view's per-bucket index plus the overlay's per-bucket totals.
// A range is whole buckets, [first, end) in bucket numbers (src/core/event-time.ts bucketRange).
//
// The top N of a range reads every (user, bucket) pair in it: it runs in steps of about STEP_PAIRS pairs with the event
// loop free between (lookups keep their latency), one computation at a time, and is kept per range for its version.

import { ALL_TIME, UserAggTable, type UserTotal, userIdDecoder } from '../core/agg-table.js';
import { type BucketIndexState, lowerBound } from '../core/bucket-index.js';
import { type BucketRange, formatSeconds } from '../core/event-time.js';
import { LambdaflowError } from '../core/errors.js';
import { fnv1a } from '../core/hash.js';
import { sortedEntries } from '../core/key-order.js';
import { formatBucketLines } from '../core/view-lines.js';
import { runInSteps } from '../io/runtime/steps.js';
import { type CurrentVersion, type SnapshotStatus } from './current-version.js';
import { BoundedBest, TOP_MAX, type TopBy } from './lookups.js';
import { isZero } from './overlay.js';

/** A range's (or a point's) purchases and cents. */
export interface RangeTotals {
  readonly count: number;
  readonly cents: number;
}

/** A top N over a range, of the version it was computed from. */
export interface RangeTop {
  readonly status: SnapshotStatus;
  readonly users: readonly UserTotal[];
}

/** Pairs of the batch view read per step of a range's top N (~1–2 ms). */
const STEP_PAIRS = 32_768;
/** Ranges whose top N is kept. */
const TOPS_KEPT = 16;

const encoder = new TextEncoder();

/** The header of `merge --buckets`' merged_buckets.csv. */
export const MERGED_BUCKETS_HEADER = 'user_id,bucket_start,purchase_count,purchase_amount_total';

export class RangeReads {
  private readonly tops = new Map<string, RangeTop>();
  /** Computations asked for, each with the version it will be of at least. */
  private readonly computing = new Map<string, { readonly atLeast: number; readonly top: Promise<RangeTop> }>();
  private queue: Promise<unknown> = Promise.resolve();
  /** The one computation's sums by entry of the batch view, kept between computations (they run one at a time). */
  private sums: RangeSums | undefined;

  constructor(
    private readonly version: CurrentVersion,
    private readonly bucketSeconds: number,
  ) {}

  /** Why the current version cannot answer a question over a range of time, or undefined when it can. */
  refusal(): string | undefined {
    const { base, overlayBuckets } = this.version;
    const size = formatSeconds(this.bucketSeconds);
    if (base.view && !base.buckets)
      return `batch view ${base.view.name} has no per-bucket totals of ${size} (written before event time, or with another bucket size): run batch to recompute it`;
    if (!overlayBuckets.answersRanges)
      return 'the realtime view holds totals over all time only (the window view, or deltas written before event time): run batch to absorb them';
    return undefined;
  }

  /**
   * Every (user, bucket) total of the merged view, as `user_id,bucket_start,purchase_count,purchase_amount_total` lines
   * after that header, sorted by user id then bucket (`merge --buckets`). Held whole: for a one-off export.
   */
  bucketsCsv(): Buffer {
    const refusal = this.refusal();
    if (refusal !== undefined) throw new LambdaflowError('E_STATE', `the merged view's buckets cannot be written: ${refusal}`);
    const { base, baseTable, overlayBuckets } = this.version;
    const table = new UserAggTable(Math.max(64, overlayBuckets.table.size));
    if (base.buckets) {
      const { pairStart, pairBucket, pairCount, pairCents } = base.buckets;
      for (let e = 0; e < base.users; e++) {
        const key = baseTable.keyAt(e);
        for (let p = pairStart[e]!; p < pairStart[e + 1]!; p++) table.add(key, 0, key.length, pairCount[p]!, pairCents[p]!, undefined, pairBucket[p]);
      }
    }
    table.mergeTable(overlayBuckets.table);
    const lines = formatBucketLines(table, this.bucketSeconds, sortedEntries(table)).bytes;
    return Buffer.concat([Buffer.from(`${MERGED_BUCKETS_HEADER}\n`), lines]);
  }

  /** One user's totals over the range (zero when it had none there). */
  user(userId: string, range: BucketRange): RangeTotals {
    return this.userPoints(userId, range, range.end - range.first)[0]!;
  }

  /** One user's totals per step of `stepBuckets` buckets over the range (zero-filled). */
  userPoints(userId: string, range: BucketRange, stepBuckets: number): RangeTotals[] {
    const { baseTable, base, overlayBuckets } = this.version;
    const key = encoder.encode(userId);
    const hash = fnv1a(key, 0, key.length);
    const { points, add } = zeroPoints(range, stepBuckets);
    const entry = baseTable.find(key, 0, key.length, hash);
    if (entry >= 0 && base.buckets) {
      const { pairStart, pairBucket, pairCount, pairCents } = base.buckets;
      const to = pairStart[entry + 1]!;
      for (let p = lowerBound(pairBucket, range.first, pairStart[entry], to); p < to && pairBucket[p]! < range.end; p++)
        add(pairBucket[p]!, pairCount[p]!, pairCents[p]!);
    }
    const buckets = overlayBuckets.buckets();
    for (let k = lowerBound(buckets, range.first); k < buckets.length && buckets[k]! < range.end; k++) {
      const e = overlayBuckets.table.find(key, 0, key.length, hash, buckets[k]);
      if (e >= 0) add(buckets[k]!, overlayBuckets.table.countAt(e), overlayBuckets.table.centsAt(e));
    }
    return points;
  }

  /** Everyone's totals per step of `stepBuckets` buckets over the range (zero-filled). */
  points(range: BucketRange, stepBuckets: number): RangeTotals[] {
    const { base, overlayBuckets } = this.version;
    const { points, add } = zeroPoints(range, stepBuckets);
    if (base.buckets) {
      const { buckets, bucketCount, bucketCents } = base.buckets;
      for (let k = lowerBound(buckets, range.first); k < buckets.length && buckets[k]! < range.end; k++) add(buckets[k]!, bucketCount[k]!, bucketCents[k]!);
    }
    const buckets = overlayBuckets.buckets();
    for (let k = lowerBound(buckets, range.first); k < buckets.length && buckets[k]! < range.end; k++)
      add(buckets[k]!, ...overlayBuckets.bucketTotals(buckets[k]!));
    return points;
  }

  /**
   * The top TOP_MAX users by amount or count over the range (descending, ties by user id ascending), of a version at
   * least `minVersion`: the one kept for the current version, one being computed that will be recent enough, or a new
   * one (after those already asked for).
   */
  top(by: TopBy, range: BucketRange, minVersion = 0): Promise<RangeTop> {
    const key = `${by}:${range.first}:${range.end}`;
    const { version } = this.version.loaded;
    const kept = this.tops.get(key);
    if (kept?.status.version === version) return Promise.resolve(kept);
    const running = this.computing.get(key);
    if (running && running.atLeast >= minVersion) return running.top;
    const top = this.queue
      .then(() => runInSteps(this.computeTop(by, range)))
      .then((computed) => {
        this.tops.delete(key);
        this.tops.set(key, computed);
        if (this.tops.size > TOPS_KEPT) this.tops.delete(this.tops.keys().next().value!);
        return computed;
      });
    const entry = { atLeast: version, top };
    this.computing.set(key, entry);
    const done = (): void => {
      if (this.computing.get(key) === entry) this.computing.delete(key);
    };
    top.then(done, done);
    this.queue = top.catch(() => undefined);
    return top;
  }

  /**
   * Sums every user's pairs in the range: the overlay's first, at once (it changes between steps), then the batch
   * view's bucket by bucket in steps (it never changes: a swap meanwhile leaves this one as it was). Users of the view
   * are summed in columns by entry, the overlay's other users in a table.
   */
  private *computeTop(by: TopBy, range: BucketRange): Generator<void, RangeTop> {
    const { base, baseTable, overlayBuckets } = this.version;
    const status = this.version.loaded;
    if (this.sums?.count.length !== base.users) this.sums = new RangeSums(base.users);
    const sums = this.sums;
    const others = new UserAggTable(64);
    const overlay = overlayBuckets.table;
    const { arena, keyStart } = overlay.keyColumns();
    try {
      for (let e = 0; e < overlay.size; e++) {
        const bucket = overlay.bucketAt(e);
        if (bucket === ALL_TIME || bucket < range.first || bucket >= range.end || isZero(overlay.countAt(e), overlay.centsAt(e))) continue;
        const entry = baseTable.find(arena, keyStart[e]!, keyStart[e + 1]!, overlay.hashAt(e));
        if (entry < 0) others.add(arena, keyStart[e]!, keyStart[e + 1]!, overlay.countAt(e), overlay.centsAt(e), overlay.hashAt(e));
        else sums.add(entry, overlay.countAt(e), overlay.centsAt(e));
      }
      if (base.buckets) yield* sumBaseRange(base.buckets, range, sums);
      const best = new BoundedBest(TOP_MAX, by);
      const { count, cents, touched } = sums;
      for (let i = 0; i < sums.touchedCount; i++) {
        if ((i & (STEP_PAIRS - 1)) === STEP_PAIRS - 1) yield;
        const e = touched[i]!;
        const value = by === 'amount' ? cents[e]! : count[e]!;
        if (isZero(count[e]!, cents[e]!) || !best.wants(value)) continue;
        best.offer(value, () => ({ userId: userIdDecoder.decode(baseTable.keyAt(e)), count: count[e]!, cents: cents[e]! }));
      }
      for (let e = 0; e < others.size; e++) {
        if (isZero(others.countAt(e), others.centsAt(e))) continue;
        best.offer(by === 'amount' ? others.centsAt(e) : others.countAt(e), () => ({
          userId: userIdDecoder.decode(others.keyAt(e)),
          count: others.countAt(e),
          cents: others.centsAt(e),
        }));
      }
      return { status, users: best.sorted() };
    } finally {
      sums.clear();
    }
  }
}

/**
 * A range's sums by entry of the batch view, and the entries touched: a range holds a small part of the users, so
 * they are read (and zeroed again) through the touched list, not by scanning every entry.
 */
class RangeSums {
  readonly count: Float64Array;
  readonly cents: Float64Array;
  readonly touched: Uint32Array;
  touchedCount = 0;
  private readonly seen: Uint8Array;

  constructor(users: number) {
    this.count = new Float64Array(users);
    this.cents = new Float64Array(users);
    this.touched = new Uint32Array(users);
    this.seen = new Uint8Array(users);
  }

  add(entry: number, count: number, cents: number): void {
    this.count[entry]! += count;
    this.cents[entry]! += cents;
    if (this.seen[entry] === 0) {
      this.seen[entry] = 1;
      this.touched[this.touchedCount++] = entry;
    }
  }

  clear(): void {
    for (let i = 0; i < this.touchedCount; i++) {
      const e = this.touched[i]!;
      this.count[e] = 0;
      this.cents[e] = 0;
      this.seen[e] = 0;
    }
    this.touchedCount = 0;
  }
}

/** Adds the batch view's pairs of the range into the sums, yielding every STEP_PAIRS pairs. */
function* sumBaseRange(index: BucketIndexState, range: BucketRange, sums: RangeSums): Generator<void, void> {
  const { buckets, bucketFirst, byBucket, pairEntry, pairCount, pairCents } = index;
  let sinceYield = 0;
  for (let k = lowerBound(buckets, range.first); k < buckets.length && buckets[k]! < range.end; k++) {
    for (let i = bucketFirst[k]!; i < bucketFirst[k + 1]!; i++) {
      const p = byBucket[i]!;
      sums.add(pairEntry[p]!, pairCount[p]!, pairCents[p]!);
      if (++sinceYield === STEP_PAIRS) {
        sinceYield = 0;
        yield;
      }
    }
  }
}

/** Zero-filled points of `stepBuckets` buckets over the range, and how to add a bucket's totals to its point. */
function zeroPoints(range: BucketRange, stepBuckets: number): { points: RangeTotals[]; add: (bucket: number, count: number, cents: number) => void } {
  const points = Array.from({ length: Math.ceil((range.end - range.first) / stepBuckets) }, () => ({ count: 0, cents: 0 }));
  const add = (bucket: number, count: number, cents: number): void => {
    const point = points[Math.floor((bucket - range.first) / stepBuckets)]!;
    point.count += count;
    point.cents += cents;
  };
  return { points, add };
}
