// Reading published views into what the serving store holds (run on a serving thread, off the hot path): a batch
// view as a BatchBase (with its per-bucket totals indexed), the realtime view made exact against it, and the overlay a
// swap to a new batch view keeps — per (user, bucket), and per user over all time.

import fs from 'node:fs';
import path from 'node:path';
import { ALL_TIME, UserAggTable, stateTransferList, userIdDecoder } from '../core/agg-table.js';
import { BucketIndexBuilder, type BucketIndexState } from '../core/bucket-index.js';
import { LambdaflowError } from '../core/errors.js';
import { SortedUserTable } from '../core/sorted-table.js';
import { checkDeltasFound, exactMerge, planExactMerge } from '../core/exact-merge.js';
import { NO_BUCKET_FIELD, bucketField, forEachViewLine, mergeViewText, viewPartEncoding } from '../core/view-format.js';
import { DeltaFiles } from '../io/views/deltas.js';
import { DEFAULT_STREAM } from '../io/files/layout.js';
import { type ManifestFacts, readBatchManifest } from '../io/views/manifest.js';
import { BUCKETS_FOLDER, forEachBatchViewPart, mergeCheckpoint, mergeViewDirectory, readingView } from '../io/views/views.js';
import { type Answer } from '../io/threads/thread-rpc.js';
import type { BatchViewRef, RealtimeViewRef, ServingBatchResult, ServingLoadResult, ServingRequest } from '../messages.js';
import { type BatchBase, type PreparedOverlay } from '../core/view-state.js';
import { EMPTY_BASE, buildBatchBase, watermarkOf } from './batch-base.js';
import { mergedTotals, reserveOverlay } from './overlay.js';

/** A batch view's table is sized up front for at most this many users (more: it grows as it reads). */
const PRESIZE_MAX_USERS = 4_000_000;
/** `,0,0.01` and a newline: the shortest a batch view line is beside its key. */
const MIN_LINE_BYTES_BESIDE_KEY = 8;

/**
 * The most key bytes a view's parts hold for `users` users as the batch layer writes them (a key, then at least
 * `,0,0.01` and a newline: amounts have two decimals), to size a table's key arena: room given up front may be
 * resident whether used or not (an allocator reusing freed pages clears them). A view written with shorter lines (another job's) may hold more: the arena
 * then grows. Undefined when a part is compressed.
 */
function keyBytesAtMost(dir: string, users: number): number | undefined {
  return readingView(dir, () => {
    let bytes = 0;
    for (const name of fs.readdirSync(dir)) {
      const encoding = viewPartEncoding(name);
      if (encoding === 'gzip') return undefined;
      if (encoding === 'plain') bytes += fs.statSync(path.join(dir, name)).size;
    }
    return Math.max(0, bytes - MIN_LINE_BYTES_BESIDE_KEY * users);
  });
}

/**
 * A batch view as a BatchBase; its `buckets/` parts indexed when its manifest says they are of the data folder's bucket
 * size (a view without them, from before event time, answers all-time questions only).
 */
function readBatchBase(batch: BatchViewRef | null, bucketSeconds: number): BatchBase {
  if (!batch) return EMPTY_BASE;
  const { badRowsTotal, users, bucketSeconds: viewBucketSeconds, parts } = readBatchManifest(batch.dir);
  // Sized for the users it says it holds (a table grown by doubling leaves as much garbage as it holds), up to a bound
  // a damaged manifest cannot push past.
  const expectedUsers = Math.min(users ?? 0, PRESIZE_MAX_USERS);
  const table = new UserAggTable(expectedUsers, 'shared', users === undefined ? undefined : keyBytesAtMost(batch.dir, expectedUsers));
  forEachBatchViewPart(batch.dir, 'parts', parts, (bytes, file) => mergeViewText(bytes, file, table, 1, 'header-or-data', NO_BUCKET_FIELD));
  const bucketsDir = path.join(batch.dir, BUCKETS_FOLDER);
  const hasBuckets = viewBucketSeconds === bucketSeconds && fs.existsSync(bucketsDir);
  return buildBatchBase(
    table,
    {
      name: path.basename(batch.dir),
      watermark: batch.watermark,
      streamWatermarks: batch.streamWatermarks,
      createdAtMs: batch.createdAtMs,
      badRows: badRowsTotal ?? 0,
    },
    hasBuckets ? (sorted) => readBucketIndex(batch.dir, parts, sorted, bucketSeconds) : undefined,
  );
}

/** A batch view's buckets/ parts (`user_id,bucket_start,count,amount`, a header allowed) indexed against its users. */
function readBucketIndex(viewDir: string, parts: ManifestFacts['parts'], users: SortedUserTable, bucketSeconds: number): BucketIndexState {
  const index = new BucketIndexBuilder(viewDir);
  forEachBatchViewPart(viewDir, 'buckets', parts, (bytes, file) =>
    forEachViewLine(
      bytes,
      file,
      0,
      (_prefix, key, start, end, count, cents, bucket) => {
        const entry = users.find(key, start, end);
        if (entry < 0 || bucket === ALL_TIME)
          throw new LambdaflowError(
            'E_STATE',
            `damaged batch view ${viewDir}: ${file} has a line ${entry < 0 ? 'of a user not in its parts' : 'without a bucket'}`,
            { file },
          );
        index.add(entry, bucket, count, cents);
      },
      { firstLine: 'header-or-data', buckets: bucketField(bucketSeconds) },
    ),
  );
  return index.build(
    users.size,
    (e) => [users.countAt(e), users.centsAt(e)],
    (e) => userIdDecoder.decode(users.keyAt(e)),
    'shared',
  );
}

/**
 * Adds one stream's realtime view, made exact against the batch watermark, to the overlay of (user, bucket) totals: its
 * checkpoint (corrected by deltas) and the deltas after it through `throughSeq`. Returns the last seq it holds.
 */
function loadRealtime(buckets: UserAggTable, batchWatermark: number, checkpoint: RealtimeViewRef | null, headThroughSeq: number, deltas: DeltaFiles): number {
  let from = batchWatermark;
  if (checkpoint) {
    const watermarks = { batchWatermark, realtimeWatermark: checkpoint.watermark, realtimeThroughSeq: checkpoint.throughSeq };
    if (planExactMerge(watermarks).useRealtime) {
      mergeCheckpoint(checkpoint.dir, buckets, deltas.bucketSeconds);
      exactMerge(watermarks, (range) => deltas.merge(range, buckets));
      from = checkpoint.throughSeq;
    }
  }
  const throughSeq = Math.max(from, headThroughSeq);
  if (throughSeq > from) checkDeltasFound({ afterSeq: from, throughSeq, sign: 1 }, deltas.merge({ afterSeq: from, throughSeq, sign: 1 }, buckets));
  return throughSeq;
}

/**
 * The overlay a swap to `base` keeps, with its totals: per stream, the deltas from the view's watermark up to the last
 * seq the store reflected when it asked (the store adds the seqs it applied since). A seq missing here is one the swap
 * cannot account for (the store keeps only those it applies after asking): E_STATE, and the serving layer reloads.
 */
function preparedOverlay(
  base: BatchBase,
  streams: readonly { stream: string; deltasDir: string; keepThrough: number }[],
  bucketSeconds: number,
): PreparedOverlay {
  const buckets = new UserAggTable();
  const ranges: Record<string, { afterSeq: number; throughSeq: number }> = {};
  for (const { stream, deltasDir, keepThrough } of streams) {
    const watermark = watermarkOf(base, stream);
    const range = { afterSeq: watermark, throughSeq: Math.max(watermark, keepThrough), sign: 1 } as const;
    // Added straight into the overlay, not read into a table per seq first.
    if (range.throughSeq > range.afterSeq) checkDeltasFound(range, new DeltaFiles(deltasDir, bucketSeconds).merge(range, buckets));
    ranges[stream] = { afterSeq: range.afterSeq, throughSeq: range.throughSeq };
  }
  const overlay = buckets.overAllTime();
  return { ranges, overlay: overlay.toState(), buckets: buckets.compacted().toState(), totals: mergedTotals(base, new SortedUserTable(base.table), overlay) };
}

/** A serving thread's request handler: each request runs on a thread started for it (src/serving/serving-threads.ts). */
export async function handleServingRequest(request: ServingRequest): Promise<Answer<unknown>> {
  switch (request.type) {
    case 'load': {
      const base = readBatchBase(request.batch, request.bucketSeconds);
      // The window view's overlay is a window's totals over all time: it keeps no buckets.
      const buckets = new UserAggTable();
      const batchWatermark = watermarkOf(base, DEFAULT_STREAM);
      let throughSeq = batchWatermark;
      const streamThroughSeqs: Record<string, number> = {};
      if (request.window) {
        mergeViewDirectory(request.window, buckets);
      } else {
        throughSeq = loadRealtime(buckets, batchWatermark, request.checkpoint, request.throughSeq, new DeltaFiles(request.deltasDir, request.bucketSeconds));
        for (const stream of request.streams) {
          const deltas = new DeltaFiles(stream.deltasDir, request.bucketSeconds);
          streamThroughSeqs[stream.stream] = loadRealtime(buckets, watermarkOf(base, stream.stream), stream.checkpoint, stream.throughSeq, deltas);
        }
      }
      const overlay = buckets.overAllTime().toState();
      const bucketState = buckets.compacted().toState();
      const result: ServingLoadResult = { base, overlay, buckets: bucketState, throughSeq, lastIngestedAtMs: request.lastIngestedAtMs, streamThroughSeqs };
      // The base lives in shared memory: posting it shares it; the overlay is moved.
      return { result, transfer: [...stateTransferList(overlay), ...stateTransferList(bucketState)] };
    }
    case 'batch': {
      const base = readBatchBase(request.batch, request.bucketSeconds);
      const prepared = preparedOverlay(base, request.streams, request.bucketSeconds);
      const kept: PreparedOverlay = { ...prepared, overlay: reserveOverlay(UserAggTable.fromState(prepared.overlay), base).toState() };
      const result: ServingBatchResult = { base, prepared: kept };
      return { result, transfer: [...stateTransferList(kept.overlay), ...stateTransferList(kept.buckets)] };
    }
    case 'window': {
      const table = new UserAggTable();
      mergeViewDirectory(request.dir, table);
      const state = table.toState();
      return { result: state, transfer: stateTransferList(state) };
    }
  }
}
