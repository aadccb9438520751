// The choice between the merged views (src/serving/view-kind.ts), one strategy object each (exact-view.ts,
// window-view.ts): what a load reads past the batch view, how the store is kept current between batch views, and
// what a newer batch view means. The serving layer follows the data folder the same way for both.

import { type EventTimeHead } from '../core/event-time.js';
import { type LambdaflowError } from '../core/errors.js';
import { type DataLayout } from '../io/files/layout.js';
import { type BatchViewInfo } from '../io/views/views.js';
import type { BatchViewRef, RealtimeViewRef, ServingLoadResult, ServingRequest } from '../messages.js';
import { type SnapshotStatus } from './current-version.js';
import { type ServingThreads } from './serving-threads.js';
import { type SpeedCounters } from './speed-counters.js';
import { type ServingStore } from './store.js';

export interface MergeView {
  /** Everything from the data folder, read off the hot path: `batch` and, past its watermark, what this view adds. */
  load(batch: BatchViewRef | null, streams: readonly DataLayout[]): Promise<ServingLoadResult>;
  /** Brings the store up to the newest realtime state; run every step of the serving layer. */
  refresh(): Promise<void>;
  /** What a newer batch view means (run as the layer's background step): a swap, or a load of everything. */
  batchChanged(newest: BatchViewInfo): Promise<void>;
  /** Folders whose changes wake the serving layer at once (without: the next poll finds them). */
  watched(): string[];
}

/** What a merged view works with: the serving layer's store, threads and counters, and its background step. */
export interface MergeViewContext {
  readonly layout: DataLayout;
  readonly bucketSeconds: number;
  readonly store: ServingStore;
  readonly threads: ServingThreads;
  readonly counters: SpeedCounters;
  /** The streams followed, the default one first (as of the last load). */
  streams(): readonly DataLayout[];
  /** True while a background step runs. */
  busy(): boolean;
  /** Runs a background step (one at a time: none while one runs); a state error is logged and answered by a load. */
  background(what: string, step: () => Promise<void>): void;
  /** Tells the listeners of a new version (undefined: nothing changed). */
  changed(status: SnapshotStatus | undefined): void;
  /** Loads everything again. */
  reload(): Promise<void>;
  /**
   * A damaged state file the view goes on without (`what` says how): serve warns once per file until it changes;
   * `merge --once` throws the error, refusing like it refuses any other damage.
   */
  readonly skipped: (error: LambdaflowError, what: string) => void;
}

/** What a load reads of one stream's realtime state: its newest checkpoint, and its head's reach. */
export interface StreamRealtime {
  readonly checkpoint: RealtimeViewRef | null;
  readonly throughSeq: number;
  readonly lastIngestedAtMs: number | null;
  /** Its event clock through throughSeq (null: none published). */
  readonly eventTime: EventTimeHead | null;
}

export const batchRef = (view: BatchViewInfo): BatchViewRef => ({
  dir: view.dir,
  watermark: view.watermark,
  streamWatermarks: view.streamWatermarks,
  createdAtMs: view.createdAtMs,
});

/**
 * A load request: `batch`, each stream's realtime state past it (the default stream first, its staleness with it),
 * and a speed window (null: none).
 */
export function loadRequest(
  batch: BatchViewRef | null,
  streams: readonly DataLayout[],
  realtimeOf: (stream: DataLayout) => StreamRealtime,
  window: string | null,
  bucketSeconds: number,
): ServingRequest {
  const [main, ...partitions] = streams as [DataLayout, ...DataLayout[]];
  const { checkpoint, throughSeq, lastIngestedAtMs } = realtimeOf(main);
  return {
    type: 'load',
    bucketSeconds,
    batch,
    checkpoint,
    throughSeq,
    lastIngestedAtMs,
    window,
    deltasDir: main.realtimeDeltas,
    streams: partitions.map((stream) => {
      const state = realtimeOf(stream);
      return { stream: stream.stream, checkpoint: state.checkpoint, throughSeq: state.throughSeq, deltasDir: stream.realtimeDeltas };
    }),
  };
}
