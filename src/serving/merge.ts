// The serving layer: merges the latest batch view with the speed layer's output into merged_view.csv.

import fs from 'node:fs';
import path from 'node:path';
import { UserAggTable } from '../core/agg-table.js';
import { LambdaflowError } from '../core/errors.js';
import { MERGED_VIEW_HEADER, formatTotals } from '../core/view-format.js';
import { writeFileAtomically } from '../io/atomic.js';
import { mergeDeltas } from '../io/deltas.js';
import { type DataLayout } from '../io/layout.js';
import { latestBatchView, listRealtimeViews, listSpeedViews, mergeViewDirectory } from '../io/views.js';

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

/**
 * Exact merge. With B the batch view (watermark S_B) and R the realtime view (stream files in (S_R, N]):
 *   S_R = S_B: B + R
 *   S_R < S_B: B + R - deltas(S_R, min(S_B, N)]   (the batch absorbed part of R)
 *   S_R > S_B: B + R + deltas(S_B, S_R]           (R was rebased on a batch view this merge does not see)
 */
function mergeExact(layout: DataLayout, table: UserAggTable): Omit<MergeResult, 'users'> {
  const batch = latestBatchView(layout.servingBatch);
  const batchWatermark = batch?.watermark ?? 0;
  if (batch) mergeViewDirectory(batch.dir, table);
  const realtime = listRealtimeViews(layout.servingRealtime).at(-1);
  if (!realtime || realtime.throughSeq <= batchWatermark) {
    return { batchDir: batch?.dir, batchWatermark, throughSeq: batchWatermark, speedDir: undefined };
  }
  mergeViewDirectory(realtime.dir, table);
  const [from, to, sign] =
    realtime.watermark < batchWatermark
      ? ([realtime.watermark, Math.min(batchWatermark, realtime.throughSeq), -1] as const)
      : ([batchWatermark, realtime.watermark, 1] as const);
  if (to > from) {
    const found = mergeDeltas(layout.realtimeDeltas, from, to, table, sign);
    if (found.size !== to - from) {
      throw new LambdaflowError('E_STATE', `realtime deltas for ingest seq ${from + 1}..${to} are incomplete; merge skipped this round`);
    }
  }
  return { batchDir: batch?.dir, batchWatermark, throughSeq: realtime.throughSeq, speedDir: realtime.dir };
}

function mergeWindow(layout: DataLayout, table: UserAggTable): Omit<MergeResult, 'users'> {
  const batch = latestBatchView(layout.servingBatch);
  if (batch) mergeViewDirectory(batch.dir, table);
  const speed = listSpeedViews(layout.servingSpeed).at(-1);
  if (speed) mergeViewDirectory(speed.dir, table);
  return { batchDir: batch?.dir, batchWatermark: batch?.watermark ?? 0, throughSeq: batch?.watermark ?? 0, speedDir: speed?.dir };
}

/** One merge: reads the views and writes merged_view.csv atomically. */
export async function mergeOnce(layout: DataLayout, kind: MergeViewKind): Promise<MergeResult> {
  const table = new UserAggTable();
  let result: Omit<MergeResult, 'users'>;
  try {
    result = kind === 'exact' ? mergeExact(layout, table) : mergeWindow(layout, table);
  } catch (error) {
    // A view removed between listing and reading (pruned by a newer publish) is a race, not damage: retry later.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new LambdaflowError('E_STATE', `a view disappeared while being merged (${(error as Error).message}); merge skipped this round`);
    }
    throw error;
  }
  const totals = table.toSortedTotals();
  await fs.promises.mkdir(path.dirname(layout.mergedView), { recursive: true });
  await writeFileAtomically(layout.mergedView, `${MERGED_VIEW_HEADER}\n${formatTotals(totals)}`);
  return { ...result, users: totals.length };
}
