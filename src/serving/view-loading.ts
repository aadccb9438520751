// Reading published views into what the serving store holds (run on a serving thread, off the hot path): a batch
// view as a BatchBase, the realtime view made exact against it, the deltas a new batch view absorbed.

import fs from 'node:fs';
import path from 'node:path';
import { UserAggTable, blockTransferList, stateTransferList } from '../core/agg-table.js';
import { checkDeltasFound, exactMerge, planExactMerge } from '../core/exact-merge.js';
import { writeFileAtomically } from '../io/atomic.js';
import { DeltaFiles } from '../io/deltas.js';
import { mergeViewDirectory } from '../io/views.js';
import { type Answer } from '../io/thread-rpc.js';
import type { BatchViewRef, ServingBatchResult, ServingExportResult, ServingLoadResult, ServingRequest } from '../messages.js';
import { type Clock } from '../core/clock.js';
import { ServingStore, applyChange } from './store.js';
import { type BatchBase, EMPTY_BASE, buildBatchBase } from './batch-base.js';
import { formatMergedView } from './export.js';

function badRowsOf(dir: string): number {
  try {
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, '_MANIFEST.json'), 'utf8')) as { badRowsTotal?: unknown };
    return typeof manifest.badRowsTotal === 'number' ? manifest.badRowsTotal : 0;
  } catch {
    return 0;
  }
}

function readBatchBase(batch: BatchViewRef | null): BatchBase {
  if (!batch) return EMPTY_BASE;
  const table = new UserAggTable();
  mergeViewDirectory(batch.dir, table);
  return buildBatchBase(table, { name: path.basename(batch.dir), watermark: batch.watermark, createdAtMs: batch.createdAtMs, badRows: badRowsOf(batch.dir) });
}

/**
 * A serving thread's request handler. The export thread also keeps a replica of the serving store, fed the same
 * changes in the same order, so exports format it directly and the main thread never copies its view.
 */
export function servingRequestHandler(clock: Clock): (request: ServingRequest) => Promise<Answer<unknown>> {
  const replica = new ServingStore(clock);
  return (request) => handleServingRequest(request, replica);
}

async function handleServingRequest(request: ServingRequest, replica: ServingStore): Promise<Answer<unknown>> {
  switch (request.type) {
    case 'load': {
      const base = readBatchBase(request.batch);
      const overlay = new UserAggTable();
      const batchWatermark = base.view?.watermark ?? 0;
      let throughSeq = batchWatermark;
      if (request.window) {
        mergeViewDirectory(request.window, overlay);
      } else {
        const deltas = new DeltaFiles(request.deltasDir);
        const checkpoint = request.checkpoint;
        let from = batchWatermark;
        if (checkpoint) {
          const watermarks = { batchWatermark, realtimeWatermark: checkpoint.watermark, realtimeThroughSeq: checkpoint.throughSeq };
          if (planExactMerge(watermarks).useRealtime) {
            mergeViewDirectory(checkpoint.dir, overlay);
            exactMerge(watermarks, (range) => deltas.merge(range, overlay));
            from = checkpoint.throughSeq;
          }
        }
        throughSeq = Math.max(from, request.throughSeq);
        if (throughSeq > from) checkDeltasFound({ afterSeq: from, throughSeq, sign: 1 }, deltas.merge({ afterSeq: from, throughSeq, sign: 1 }, overlay));
      }
      const state = overlay.compacted().toState();
      const result: ServingLoadResult = { base, overlay: state, throughSeq, lastIngestedAtMs: request.lastIngestedAtMs };
      // The base lives in shared memory: posting it shares it; the overlay is moved.
      return { result, transfer: stateTransferList(state) };
    }
    case 'batch': {
      const base = readBatchBase(request.batch);
      const absorbed = new UserAggTable();
      // Only an unbroken run of seqs from absorbAfter counts; the store takes later seqs from those it applied itself.
      let through = request.absorbAfter;
      for (const { seq, block } of new DeltaFiles(request.deltasDir).read(request.absorbAfter, request.absorbThrough)) {
        if (seq !== through + 1) break;
        absorbed.mergeBlock(block);
        through = seq;
      }
      const block = absorbed.toBlock();
      const result: ServingBatchResult = { base, absorbed: { afterSeq: request.absorbAfter, throughSeq: through, block } };
      return { result, transfer: blockTransferList(block) };
    }
    case 'window': {
      const table = new UserAggTable();
      mergeViewDirectory(request.dir, table);
      const state = table.toState();
      return { result: { table: state }, transfer: stateTransferList(state) };
    }
    case 'replicate':
      applyChange(replica, request.change);
      return { result: null };
    case 'export': {
      const view = replica.view();
      const bytes = formatMergedView(view);
      if (request.target) {
        await writeFileAtomically(request.target, bytes);
        return { result: { version: view.status.version, bytes: null } satisfies ServingExportResult };
      }
      return { result: { version: view.status.version, bytes } satisfies ServingExportResult, transfer: [bytes.buffer] };
    }
  }
}
