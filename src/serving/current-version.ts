// The serving store's current version: its batch base, its overlay (with the change log exports read it through, and
// its totals per bucket beside it) and its status. Every change publishes a new status, numbered and timed here; the tables are replaced whole or added
// to, never copied.

import { type AggTableState, UserAggTable } from '../core/agg-table.js';
import { type Clock } from '../core/clock.js';
import { type EventTimeHead } from '../core/event-time.js';
import { LambdaflowError } from '../core/errors.js';
import { SortedUserTable } from '../core/sorted-table.js';
import { type BatchBase, type ViewTotals } from '../core/view-state.js';
import { DEFAULT_STREAM } from '../io/files/layout.js';
import { type WindowInfo } from '../io/views/views.js';
import { EMPTY_BASE, watermarkOf } from './batch-base.js';
import { ChangeLog } from './change-log.js';
import { addChange, mergedTotals } from './overlay.js';
import { OverlayBuckets } from './overlay-buckets.js';

/** What /status says, and serve logs, while there is no batch view: the totals are the speed layer's alone. */
export const NO_BATCH_VIEW = 'no batch view yet';

export interface SnapshotStatus {
  /** Increases by one with every change. */
  readonly version: number;
  readonly batchView: string | null;
  readonly batchWatermark: number;
  /** N: the last ingest seq reflected. */
  readonly throughSeq: number;
  readonly users: number;
  readonly purchases: number;
  readonly cents: number;
  readonly builtAtMs: number;
  /** Ingest time of the newest stream file reflected (null when unknown, e.g. only a batch view). */
  readonly lastIngestedAtMs: number | null;
  /** Users whose totals this version changed (all of them for a batch swap). */
  readonly changedUsers: number;
  readonly kind: 'load' | 'realtime' | 'batch';
  /** NATS partition streams (`p0`, …): the batch view's watermark and the last ingest seq reflected of each; empty without. */
  readonly streams: Readonly<Record<string, StreamPosition>>;
  /** The default stream's event clock as its speed layer last published it (null: none yet, or from before event time). */
  readonly eventTime: EventTimeHead | null;
  /** The speed window the window view serves (null: the exact view, or no window published yet). */
  readonly window: ServedWindow | null;
}

/** A speed window served: its folder's name and what its `_WINDOW.json` says (undefined: it has none). */
export interface ServedWindow {
  readonly name: string;
  readonly info: WindowInfo | undefined;
}

export interface StreamPosition {
  readonly batchWatermark: number;
  readonly throughSeq: number;
  readonly eventTime: EventTimeHead | null;
}

/** A new status as a change makes it: all but its number, the time it was built, the event clocks and the window, which publishing gives it. */
export type StatusChange = Omit<SnapshotStatus, 'version' | 'builtAtMs' | 'eventTime' | 'window'>;

/** One version's parts: its status, its base, and its overlay's arrays. */
export interface StoreView {
  readonly status: SnapshotStatus;
  readonly base: BatchBase;
  readonly overlay: AggTableState;
  /** Changes when the store replaces its overlay (entries renumbered); updates only add to it. */
  readonly overlayGeneration: number;
  /** The overlay's changes since an export last cut the log. */
  readonly changes: ChangeLog;
}

export class CurrentVersion {
  private currentBase: BatchBase = EMPTY_BASE;
  private currentBaseTable = new SortedUserTable(EMPTY_BASE.table);
  private currentOverlay = new UserAggTable();
  private currentBuckets = OverlayBuckets.of(new UserAggTable());
  private overlayGeneration = 0;
  private changes = new ChangeLog();
  private status: SnapshotStatus | undefined;
  /** Each stream's event clock as its speed layer's head last said, given to the next version published. */
  private readonly eventTimes = new Map<string, EventTimeHead | null>();
  /** The speed window the next version published holds (the window view's). */
  private window: ServedWindow | null = null;

  constructor(private readonly clock: Clock) {}

  /** A stream's event clock, for the versions published from now on (it changes no total: no version of its own). */
  noteEventTime(stream: string, eventTime: EventTimeHead | null): void {
    this.eventTimes.set(stream, eventTime);
  }

  /** The speed window the versions published from now on hold (set with the overlay that holds it). */
  noteWindow(window: ServedWindow | null): void {
    this.window = window;
  }

  /** The current status; undefined until the first load (a store that cannot say what it holds serves nothing). */
  get current(): SnapshotStatus | undefined {
    return this.status;
  }

  /** The current status; E_STATE before the first load. */
  get loaded(): SnapshotStatus {
    if (!this.status) throw new LambdaflowError('E_STATE', 'the serving store has not loaded a consistent view yet');
    return this.status;
  }

  get base(): BatchBase {
    return this.currentBase;
  }

  /** The base's table, for lookups. */
  get baseTable(): SortedUserTable {
    return this.currentBaseTable;
  }

  /** Read it, or add to it through addToOverlay: a change made any other way escapes the change log. */
  get overlay(): UserAggTable {
    return this.currentOverlay;
  }

  /** The overlay per (user, bucket): changed with the overlay, never on its own. */
  get overlayBuckets(): OverlayBuckets {
    return this.currentBuckets;
  }

  /** The last ingest seq of a stream reflected (its batch watermark for a stream the store has not seen). */
  throughSeqOf(stream: string): number {
    const status = this.loaded;
    if (stream === DEFAULT_STREAM) return status.throughSeq;
    return status.streams[stream]?.throughSeq ?? watermarkOf(this.currentBase, stream);
  }

  setBase(base: BatchBase): void {
    this.currentBase = base;
    this.currentBaseTable = new SortedUserTable(base.table);
  }

  /**
   * A new overlay table, with its totals per bucket: its entries are numbered anew, so exports of the old one are of no
   * use to it.
   */
  setOverlay(overlay: UserAggTable, buckets: OverlayBuckets): void {
    this.currentOverlay = overlay;
    this.currentBuckets = buckets;
    this.overlayGeneration++;
    this.changes = new ChangeLog();
  }

  /**
   * Adds a change to the overlay — per user (`change`: over all time) and per (user, bucket) (`bucketChange`, the same
   * totals) — and returns `totals` adjusted by what it changed (O(users changed)).
   */
  addToOverlay(change: UserAggTable, bucketChange: UserAggTable, totals: ViewTotals): ViewTotals {
    this.currentBuckets.add(bucketChange);
    return addChange(this.currentBaseTable, this.currentOverlay, this.changes, change, totals);
  }

  /** Makes `change` the current status, with the next number, the time now and the event clocks last noted. */
  publish(change: StatusChange): SnapshotStatus {
    const streams = Object.fromEntries(
      Object.entries(change.streams).map(([stream, p]) => [stream, Object.freeze({ ...p, eventTime: this.eventTimes.get(stream) ?? null })]),
    );
    this.status = Object.freeze({
      ...change,
      streams: Object.freeze(streams),
      eventTime: this.eventTimes.get(DEFAULT_STREAM) ?? null,
      window: this.window,
      version: (this.status?.version ?? 0) + 1,
      builtAtMs: this.clock.now(),
    });
    return this.status;
  }

  /** Publishes the status after a change of base or overlay as a whole: every user counted as changed. */
  publishRecounted(
    throughSeq: number,
    lastIngestedAtMs: number | null,
    kind: SnapshotStatus['kind'],
    streamThroughSeqs: Readonly<Record<string, number>>,
    // Loads and swaps recount (O(overlay)) unless given them; updates adjust the totals instead.
    totals: ViewTotals = mergedTotals(this.currentBase, this.currentBaseTable, this.currentOverlay),
  ): SnapshotStatus {
    const streams: Record<string, StreamPosition> = {};
    for (const [stream, seq] of Object.entries(streamThroughSeqs)) streams[stream] = this.positionOf(stream, seq);
    return this.publish({
      batchView: this.currentBase.view?.name ?? null,
      batchWatermark: this.currentBase.view?.watermark ?? 0,
      throughSeq,
      ...totals,
      lastIngestedAtMs,
      changedUsers: totals.users,
      kind,
      streams: Object.freeze(streams),
    });
  }

  /** A partition stream's position on the current base, reflecting it through `throughSeq` (its event clock: publish's). */
  positionOf(stream: string, throughSeq: number): StreamPosition {
    return Object.freeze({ batchWatermark: watermarkOf(this.currentBase, stream), throughSeq, eventTime: null });
  }

  /**
   * The current version's base and overlay, not copied: valid until the next change (the overlay's entries only
   * grow or change totals until overlayGeneration changes).
   */
  view(): StoreView {
    return {
      status: this.loaded,
      base: this.currentBase,
      overlay: this.currentOverlay.toState(),
      overlayGeneration: this.overlayGeneration,
      changes: this.changes,
    };
  }
}
