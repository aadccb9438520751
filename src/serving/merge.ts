// The serving layer: merges the latest batch view with the speed layer's output into merged_view.csv.

import fs from 'node:fs';
import path from 'node:path';
import { UserAggTable } from '../core/agg-table.js';
import { LambdaflowError } from '../core/errors.js';
import { MERGED_VIEW_HEADER, formatTotals } from '../core/view-format.js';
import { writeFileAtomically } from '../io/atomic.js';
import { exactMerge, planExactMerge } from '../core/exact-merge.js';
import { DeltaFiles } from '../io/deltas.js';
import { type DataLayout } from '../io/layout.js';
import { type Logger } from '../io/logger.js';
import { type BatchViewInfo, type PublishedView, type RealtimeViewInfo, latestBatchView, listRealtimeViews, listSpeedViews, mergeViewDirectory } from '../io/views.js';

export const MERGE_VIEWS = ['exact', 'window'] as const;
/** exact: batch + realtime view since its watermark. window: the original demo's batch + current 60 s window. */
export type MergeViewKind = (typeof MERGE_VIEWS)[number];

export interface MergeResult {
  readonly users: number;
  readonly batchDir: string | undefined;
  readonly batchWatermark: number;
  /** Last ingest sequence number reflected (exact view). */
  readonly throughSeq: number;
  readonly speedDir: string | undefined;
}

/** What a merge read: when it is the same as last time, the merged view is already current. */
interface MergeInputs {
  readonly batch: BatchViewInfo | undefined;
  /** The realtime view (exact) or speed window (window) merged on top, if any. */
  readonly top: PublishedView | undefined;
}

function sameInputs(a: MergeInputs | undefined, b: MergeInputs): boolean {
  return a !== undefined && a.batch?.dir === b.batch?.dir && a.top?.dir === b.top?.dir;
}

/**
 * The serving layer's merger. It keeps the parsed batch view between rounds (it changes only when a batch
 * completes) and skips rounds whose inputs did not change, so a short interval costs little when nothing happens.
 * The exact view is the batch view plus the realtime view, corrected by exactMerge (src/core/exact-merge.ts).
 */
export class Merger {
  private cachedBatch: { dir: string; table: UserAggTable } | undefined;
  private lastInputs: MergeInputs | undefined;
  private readonly deltas: DeltaFiles;

  constructor(
    private readonly layout: DataLayout,
    private readonly kind: MergeViewKind,
    private readonly logger: Logger,
  ) {
    this.deltas = new DeltaFiles(layout.realtimeDeltas);
  }

  private batchTable(batch: BatchViewInfo | undefined): UserAggTable {
    if (!batch) return new UserAggTable();
    if (this.cachedBatch?.dir !== batch.dir) {
      const table = new UserAggTable();
      mergeViewDirectory(batch.dir, table);
      this.cachedBatch = { dir: batch.dir, table };
    }
    return this.cachedBatch.table.clone();
  }

  private inputs(): MergeInputs {
    const batch = latestBatchView(this.layout.servingBatch, this.logger);
    if (this.kind === 'window') return { batch, top: listSpeedViews(this.layout.servingSpeed).at(-1) };
    return { batch, top: listRealtimeViews(this.layout.servingRealtime).at(-1) };
  }

  private combine({ batch, top }: MergeInputs): { table: UserAggTable; throughSeq: number } {
    const table = this.batchTable(batch);
    const batchWatermark = batch?.watermark ?? 0;
    if (!top) return { table, throughSeq: batchWatermark };
    if (this.kind === 'window') {
      mergeViewDirectory(top.dir, table);
      return { table, throughSeq: batchWatermark };
    }
    const realtime = top as RealtimeViewInfo;
    const watermarks = { batchWatermark, realtimeWatermark: realtime.watermark, realtimeThroughSeq: realtime.throughSeq };
    if (planExactMerge(watermarks).useRealtime) mergeViewDirectory(realtime.dir, table);
    return { table, throughSeq: exactMerge(watermarks, (range) => this.deltas.merge(range, table)).throughSeq };
  }

  /** Merges and writes merged_view.csv atomically; undefined when the inputs are unchanged (unless forced). */
  async merge(force = false): Promise<MergeResult | undefined> {
    const inputs = this.inputs();
    if (!force && sameInputs(this.lastInputs, inputs) && fs.existsSync(this.layout.mergedView)) return undefined;
    let combined: { table: UserAggTable; throughSeq: number };
    try {
      combined = this.combine(inputs);
    } catch (error) {
      // A view removed between listing and reading (pruned by a newer publish) is a race, not damage: retry later.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new LambdaflowError('E_STATE', `a view disappeared while being merged (${(error as Error).message}); merge skipped this round`);
      }
      throw error;
    }
    const totals = combined.table.toSortedTotals();
    await fs.promises.mkdir(path.dirname(this.layout.mergedView), { recursive: true });
    await writeFileAtomically(this.layout.mergedView, `${MERGED_VIEW_HEADER}\n${formatTotals(totals)}`);
    this.lastInputs = inputs;
    return {
      users: totals.length,
      batchDir: inputs.batch?.dir,
      batchWatermark: inputs.batch?.watermark ?? 0,
      throughSeq: combined.throughSeq,
      speedDir: inputs.top?.dir,
    };
  }
}

/** One merge that always writes merged_view.csv. */
export async function mergeOnce(layout: DataLayout, kind: MergeViewKind, logger: Logger): Promise<MergeResult> {
  return (await new Merger(layout, kind, logger).merge(true))!;
}
