// The exact merged view: a batch view plus, past its watermark, every stream's realtime view (checkpoint and per-seq
// deltas), kept current delta by delta as the speed layers publish them, and a newer batch view swapped in keeping
// exactly the seqs it did not absorb.

import { setImmediate as yieldToEvents } from 'node:timers/promises';
import { LambdaflowError } from '../core/errors.js';
import { DeltaFiles } from '../io/views/deltas.js';
import { DEFAULT_STREAM, type DataLayout } from '../io/files/layout.js';
import { runInSteps } from '../io/runtime/steps.js';
import { type BatchViewInfo, listRealtimeViews, readRealtimeHead } from '../io/views/views.js';
import type { BatchViewRef, ServingBatchResult, ServingLoadResult } from '../messages.js';
import { type MergeView, type MergeViewContext, type StreamRealtime, batchRef, loadRequest } from './merge-view.js';
import { sliceByUsers } from './realtime-apply.js';

/**
 * Users per realtime apply step: ~2 ms of work between two turns of the event loop (twice that on a machine whose
 * cores the speed and batch layers share: a lookup arriving waits for the step under way).
 */
const APPLY_SLICE_USERS = 2_048;

/**
 * A stream's realtime state as published: its head, else its newest checkpoint whose _REALTIME.json proves itself (one
 * that does not is never claimed: `skipped` is told, and an older one and the deltas stand in for it).
 */
function realtimeOf(stream: DataLayout, skipped: MergeViewContext['skipped']): StreamRealtime {
  const head = readRealtimeHead(stream.realtimeHead);
  const checkpoint = listRealtimeViews(stream.servingRealtime, (_dir, error) =>
    skipped(error, 'serving without that checkpoint: an older one and the deltas stand in'),
  ).at(-1);
  return {
    checkpoint: checkpoint
      ? { dir: checkpoint.dir, watermark: checkpoint.watermark, throughSeq: checkpoint.throughSeq, lastIngestedAtMs: checkpoint.lastIngestedAtMs }
      : null,
    throughSeq: Math.max(head?.throughSeq ?? 0, checkpoint?.throughSeq ?? 0),
    lastIngestedAtMs: head?.lastIngestedAtMs ?? checkpoint?.lastIngestedAtMs ?? null,
    eventTime: head?.eventTime ?? checkpoint?.eventTime ?? null,
  };
}

export class ExactView implements MergeView {
  constructor(private readonly context: MergeViewContext) {}

  async load(batch: BatchViewRef | null, streams: readonly DataLayout[]): Promise<ServingLoadResult> {
    const states = new Map(streams.map((stream) => [stream, realtimeOf(stream, this.context.skipped)]));
    const result = await this.context.threads.request<ServingLoadResult>(
      loadRequest(batch, streams, (stream) => states.get(stream)!, null, this.context.bucketSeconds),
    );
    // The heads' event clocks go with the version the load publishes.
    for (const [stream, state] of states) this.context.store.noteEventTime(stream.stream, state.eventTime);
    return result;
  }

  /**
   * Applies the realtime deltas each stream's speed layer head says are published past the store's seq, in slices of
   * at most APPLY_SLICE_USERS users with the event loop free in between: a speed layer catching up after a stall
   * publishes hundreds of seqs at once, and one synchronous apply of them would hold every lookup back. Realtime
   * deltas keep coming in while a batch view loads (the store keeps them for its swap): pausing them would leave the
   * API stale for the whole load and then apply the backlog in one long step.
   */
  async refresh(): Promise<void> {
    const { store, counters } = this.context;
    for (const layout of this.context.streams()) {
      try {
        const head = readRealtimeHead(layout.realtimeHead);
        if (!head) continue;
        if (head.rowsIngested !== null && head.startedAtMs !== null) {
          counters.sample(layout.stream, { rows: head.rowsIngested, badRows: head.badRows ?? 0, startedAtMs: head.startedAtMs });
        }
        counters.sourceUnreadable(layout.stream, head.sourceUnreadableSinceMs);
        const through = store.throughSeqOf(layout.stream);
        if (head.throughSeq <= through) continue;
        const deltas = new DeltaFiles(layout.realtimeDeltas, this.context.bucketSeconds);
        const slices = sliceByUsers(await runInSteps(deltas.readInSteps(through, head.throughSeq)), APPLY_SLICE_USERS);
        for (const [i, items] of slices.entries()) {
          await yieldToEvents();
          // Only the last slice reaches the head's newest file: the others keep the staleness and event clock they had.
          const lastIngestedAtMs = i === slices.length - 1 ? head.lastIngestedAtMs : null;
          if (i === slices.length - 1) store.noteEventTime(layout.stream, head.eventTime ?? null);
          this.context.changed(store.apply(items, lastIngestedAtMs, layout.stream));
        }
        if (store.throughSeqOf(layout.stream) < head.throughSeq) {
          const where = layout.stream === DEFAULT_STREAM ? '' : ` of stream ${layout.stream}`;
          throw new LambdaflowError('E_STATE', `realtime deltas${where} past seq ${store.throughSeqOf(layout.stream)} are missing`);
        }
      } catch (error) {
        if (!(error instanceof LambdaflowError) || error.code !== 'E_STATE') throw error;
        this.context.background('realtime update', () => Promise.reject(error));
        return;
      }
    }
  }

  /**
   * Loads a newer batch view off the hot path and swaps it in, keeping exactly the seqs it did not absorb: the loader
   * reads those up to the store's seq when asked, and the store keeps the seqs it applies meanwhile.
   */
  async batchChanged(newest: BatchViewInfo): Promise<void> {
    const { store, threads } = this.context;
    const watermark = store.current!.batchWatermark;
    store.keepRecent(true);
    try {
      const result = await threads.request<ServingBatchResult>({
        type: 'batch',
        bucketSeconds: this.context.bucketSeconds,
        batch: batchRef(newest),
        streams: this.context
          .streams()
          .map((layout) => ({ stream: layout.stream, deltasDir: layout.realtimeDeltas, keepThrough: store.throughSeqOf(layout.stream) })),
      });
      // The seqs applied while the loader worked are added to its overlay in slices, the event loop free between, so
      // the swap itself adds only the last few.
      let prepared = result.prepared;
      for (
        let next = store.advancePrepared(result.base, prepared, APPLY_SLICE_USERS);
        next;
        next = store.advancePrepared(result.base, prepared, APPLY_SLICE_USERS)
      ) {
        prepared = next;
        await yieldToEvents();
      }
      // A reload meanwhile changed what the overlay is relative to: this swap no longer fits.
      if (store.current!.batchWatermark !== watermark) return;
      this.context.changed(store.swapBatch(result.base, prepared));
    } finally {
      store.keepRecent(false);
    }
  }

  /** A head is replaced by a rename in its serving/realtime/: an event there wakes the poll at once. */
  watched(): string[] {
    return this.context.streams().map((layout) => layout.servingRealtime);
  }
}
