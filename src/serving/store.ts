// The serving store: the merged view in memory as versioned snapshots — an immutable batch base plus a realtime
// overlay changed in O(changed users) per update — with point lookups, top-N and the views exports read. The one
// object the serving layer keeps current; each of its jobs is a module of its own.
//
//   merged(user) = base(user) + overlay(user)        base: the batch view (watermark S_B), never changed
//                                                    overlay: every logged seq in (S_B, N], per user
//
// With NATS partition streams, each stream s has its own seqs, watermark S_B[s] and through-seq N[s]: the overlay is
// the sum over streams of their seqs (S_B[s], N[s]], and every rule holds per stream.
//
//   current-version.ts  the base, the overlay and the status; every change a new version
//   realtime-apply.ts   new seqs' deltas added to the overlay (seqs must follow N without a gap)
//   batch-swap.ts       a new batch view swapped in, keeping exactly the seqs it did not absorb
//   recent-seqs.ts      the seqs applied while a swap is prepared, for that swap
//   lookups.ts          one user's totals, the top N
//   range-reads.ts      the same over a range of event time, and series per bucket
//
// Reads on the serving thread are synchronous, so a response is computed from one version; an export, written in
// steps while the store goes on, reads one version through the overlay's change log (src/serving/change-log.ts).

import { type UserAggTable, type UserTotal } from '../core/agg-table.js';
import { type Clock } from '../core/clock.js';
import { DEFAULT_BUCKET_SECONDS, type EventTimeHead } from '../core/event-time.js';
import { type BatchBase, type BatchViewMeta, type PreparedOverlay } from '../core/view-state.js';
import { DEFAULT_STREAM } from '../io/files/layout.js';
import { watermarkOf } from './batch-base.js';
import { advancePrepared, swapBatch } from './batch-swap.js';
import { CurrentVersion, type ServedWindow, type SnapshotStatus, type StoreView } from './current-version.js';
import { Lookups, type TopBy } from './lookups.js';
import { reserveOverlay } from './overlay.js';
import { OverlayBuckets } from './overlay-buckets.js';
import { type SeqBlock, applySeqs } from './realtime-apply.js';
import { RangeReads } from './range-reads.js';
import { RecentSeqs } from './recent-seqs.js';

export class ServingStore {
  private readonly version: CurrentVersion;
  private readonly recent = new RecentSeqs();
  private readonly lookups: Lookups;
  /** Reads over ranges of event time, in buckets of the data folder's size. */
  readonly ranges: RangeReads;

  constructor(clock: Clock, bucketSeconds = DEFAULT_BUCKET_SECONDS) {
    this.version = new CurrentVersion(clock);
    this.lookups = new Lookups(this.version);
    this.ranges = new RangeReads(this.version, bucketSeconds);
  }

  /** A stream's event clock as its speed layer's head says, carried by the versions published from now on. */
  noteEventTime(stream: string, eventTime: EventTimeHead | null): void {
    this.version.noteEventTime(stream, eventTime);
  }

  /** The speed window the window view's next load holds, carried by the versions published from then on. */
  noteWindow(window: ServedWindow | null): void {
    this.version.noteWindow(window);
  }

  /** The current version's status; undefined until the first load (a store that cannot say what it holds serves nothing). */
  get current(): SnapshotStatus | undefined {
    return this.version.current;
  }

  /** The batch view served (undefined: none). */
  get batchView(): BatchViewMeta | undefined {
    return this.version.base.view;
  }

  /**
   * Replaces everything: a base, and an overlay holding exactly the seqs (S_B, throughSeq] of the default stream and
   * (S_B[s], streamThroughSeqs[s]] of each partition stream s — per user, and per (user, bucket) in `buckets` (without:
   * the overlay's totals are over all time only, and ranges of time cannot be answered).
   */
  load(
    base: BatchBase,
    overlay: UserAggTable,
    throughSeq: number,
    lastIngestedAtMs: number | null,
    streamThroughSeqs: Readonly<Record<string, number>> = {},
    // A copy: the per-user overlay below may be this very table, and the two are added to apart.
    buckets: OverlayBuckets = OverlayBuckets.of(overlay.clone()),
  ): SnapshotStatus {
    this.version.setBase(base);
    this.version.setOverlay(reserveOverlay(overlay.compacted(), base), buckets);
    this.recent.clear();
    const streams = Object.fromEntries(Object.entries(streamThroughSeqs).map(([stream, seq]) => [stream, Math.max(seq, watermarkOf(base, stream))]));
    return this.version.publishRecounted(Math.max(throughSeq, base.view?.watermark ?? 0), lastIngestedAtMs, 'load', streams);
  }

  /** The last ingest seq of a stream reflected (its batch watermark for a stream the store has not seen). */
  throughSeqOf(stream: string): number {
    return this.version.throughSeqOf(stream);
  }

  /** Adds the deltas of a stream's new seqs (src/serving/realtime-apply.ts). */
  apply(items: readonly SeqBlock[], lastIngestedAtMs: number | null, stream = DEFAULT_STREAM): SnapshotStatus | undefined {
    return applySeqs(this.version, this.recent, items, lastIngestedAtMs, stream);
  }

  /** Whether to keep the seqs applied from now on for a swap (src/serving/recent-seqs.ts). */
  keepRecent(keep: boolean): void {
    this.recent.keep(keep);
  }

  /** Swaps in a batch view with a higher watermark (src/serving/batch-swap.ts). */
  swapBatch(base: BatchBase, prepared?: PreparedOverlay): SnapshotStatus | undefined {
    return swapBatch(this.version, this.recent, base, prepared);
  }

  /** Moves a prepared overlay closer to what the store reflects, a slice of seqs at a time (src/serving/batch-swap.ts). */
  advancePrepared(base: BatchBase, prepared: PreparedOverlay, maxUsers: number): PreparedOverlay | undefined {
    return advancePrepared(this.version, this.recent, base, prepared, maxUsers);
  }

  /** The window view (the original demo's arithmetic): the overlay is replaced by the current window, `served`. */
  replaceOverlay(window: UserAggTable, served: ServedWindow): SnapshotStatus {
    const status = this.version.loaded;
    this.version.setOverlay(window.compacted(), OverlayBuckets.unbucketed());
    this.version.noteWindow(served);
    return this.version.publishRecounted(
      status.throughSeq,
      status.lastIngestedAtMs,
      'realtime',
      Object.fromEntries(Object.entries(status.streams).map(([s, p]) => [s, p.throughSeq])),
    );
  }

  /** One user's totals in the current version, or undefined when the user is not in the view. */
  get(userId: string): UserTotal | undefined {
    return this.lookups.get(userId);
  }

  /** The top n users by amount or count (descending, ties by user id ascending) in the current version. */
  top(by: TopBy, n: number): UserTotal[] {
    return this.lookups.top(by, n);
  }

  /** The current version's base and overlay, not copied: valid until the next change. */
  view(): StoreView {
    return this.version.view();
  }
}
