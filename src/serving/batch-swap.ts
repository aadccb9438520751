// Batch swaps in the serving store: a batch view with a higher watermark S_new replaces the base, and of the overlay
// exactly the seqs it did not absorb are kept, per stream (src/core/exact-merge.ts). The loader prepares that overlay
// off the hot path from the delta files; the seqs the store applied since come from the recent ones, added in slices
// before the swap (advancePrepared) and the last few at the swap itself. Every step is done twice over the same
// seqs' blocks: per user (the overlay) and per (user, bucket) (src/serving/overlay-buckets.ts).

import { type AggBlock, UserAggTable } from '../core/agg-table.js';
import { type DeltaRange, type ExactMergePlan, type MergeWatermarks, checkDeltasFound, planExactMerge } from '../core/exact-merge.js';
import { SortedUserTable } from '../core/sorted-table.js';
import { type BatchBase, type PreparedOverlay } from '../core/view-state.js';
import { DEFAULT_STREAM } from '../io/files/layout.js';
import { watermarkOf } from './batch-base.js';
import { type CurrentVersion, type SnapshotStatus } from './current-version.js';
import { addChange, reserveOverlay } from './overlay.js';
import { OverlayBuckets } from './overlay-buckets.js';
import { type RecentSeqs } from './recent-seqs.js';

/** One stream's part of a batch swap. */
interface StreamSwap {
  readonly stream: string;
  readonly watermarks: MergeWatermarks;
  readonly plan: ExactMergePlan;
}

/**
 * The seqs a swap takes out of a stream's part of the overlay: the plan's correction, or — when the new batch view
 * absorbed all the stream holds — every seq the overlay has of it.
 */
function removedRange({ watermarks, plan }: StreamSwap): DeltaRange | undefined {
  if (plan.useRealtime) return plan.correction;
  const { realtimeWatermark, realtimeThroughSeq } = watermarks;
  return realtimeThroughSeq > realtimeWatermark ? { afterSeq: realtimeWatermark, throughSeq: realtimeThroughSeq, sign: -1 } : undefined;
}

/**
 * Swaps in a batch view with a higher watermark S_new, keeping of the overlay exactly the seqs it did not absorb
 * (per stream): the prepared overlay plus the recent seqs after it, or — when none fits — the overlay less the
 * absorbed seqs, or the seqs it keeps, taken from the recent ones. A view with a lower watermark (of any stream) is
 * refused (undefined); seqs found nowhere are E_STATE (nothing changes; the caller reloads).
 */
export function swapBatch(version: CurrentVersion, recent: RecentSeqs, base: BatchBase, prepared?: PreparedOverlay): SnapshotStatus | undefined {
  const status = version.loaded;
  if (base.view === undefined) return undefined;
  const streams = [DEFAULT_STREAM, ...new Set([...Object.keys(status.streams), ...Object.keys(base.view.streamWatermarks ?? {})])];
  if (streams.some((stream) => watermarkOf(base, stream) < watermarkOf(version.base, stream))) return undefined;
  const plans: StreamSwap[] = streams.map((stream) => {
    const watermarks = {
      batchWatermark: watermarkOf(base, stream),
      realtimeWatermark: watermarkOf(version.base, stream),
      realtimeThroughSeq: version.throughSeqOf(stream),
    };
    return { stream, watermarks, plan: planExactMerge(watermarks) };
  });
  const others = plans.filter(({ stream }) => stream !== DEFAULT_STREAM && (stream in status.streams || (base.view!.streamWatermarks?.[stream] ?? 0) > 0));
  const streamThroughSeqs = Object.fromEntries(others.map(({ stream, plan }) => [stream, plan.throughSeq]));
  const after = prepared && afterPrepared(recent, plans, prepared);
  if (after) {
    // The loader built the kept overlay and its totals: only the seqs applied since it read them are added here.
    version.setBase(base);
    // Its room was made by the loader (reserveOverlay), off this thread.
    version.setOverlay(UserAggTable.fromState(prepared.overlay), OverlayBuckets.fromState(prepared.buckets));
    const totals = version.addToOverlay(after.overAllTime(), after, prepared.totals);
    recent.forgetAbsorbed(base);
    return version.publishRecounted(plans[0]!.plan.throughSeq, status.lastIngestedAtMs, 'batch', streamThroughSeqs, totals);
  }
  let overlay: UserAggTable;
  let buckets: OverlayBuckets;
  if (!plans.some(({ plan }) => plan.useRealtime)) {
    overlay = new UserAggTable();
    buckets = OverlayBuckets.of(new UserAggTable());
  } else if (!plans.some(removedRange)) {
    // The same seqs on a recomputed base.
    overlay = version.overlay;
    buckets = version.overlayBuckets;
  } else {
    const kept = fromRecent(recent, plans) ?? subtracted(version.overlayBuckets.table, recent, plans);
    overlay = kept.overAllTime();
    buckets = OverlayBuckets.of(kept);
  }
  version.setBase(base);
  version.setOverlay(reserveOverlay(overlay, base), buckets);
  recent.forgetAbsorbed(base);
  return version.publishRecounted(plans[0]!.plan.throughSeq, status.lastIngestedAtMs, 'batch', streamThroughSeqs);
}

/**
 * Moves a prepared overlay (for the batch view `base`) closer to what the store reflects: adds the next recent seqs
 * past its ranges, at most about `maxUsers` users of them, and returns it with its ranges and totals updated — or
 * undefined once what is left is within `maxUsers` (the swap adds that) or it cannot be extended (seqs no longer
 * recent, a range not starting at the view's watermark: the swap decides). The loader prepares an overlay while
 * the store goes on applying seqs; adding those in slices between lookups keeps the swap itself short. It takes
 * over the prepared overlay's arrays: only the returned one may be used after.
 */
export function advancePrepared(
  version: CurrentVersion,
  recent: RecentSeqs,
  base: BatchBase,
  prepared: PreparedOverlay,
  maxUsers: number,
): PreparedOverlay | undefined {
  const pending: { stream: string; blocks: AggBlock[] }[] = [];
  let users = 0;
  for (const [stream, range] of Object.entries(prepared.ranges)) {
    if (range.afterSeq !== watermarkOf(base, stream)) return undefined;
    const blocks = recent.blocks(stream, range.throughSeq, version.throughSeqOf(stream));
    if (!blocks) return undefined;
    for (const block of blocks) users += block.counts.length;
    pending.push({ stream, blocks });
  }
  if (users <= maxUsers) return undefined;
  const change = new UserAggTable(64);
  const ranges = { ...prepared.ranges };
  let taken = 0;
  for (const { stream, blocks } of pending) {
    let through = ranges[stream]!.throughSeq;
    for (const block of blocks) {
      if (taken > 0 && taken + block.counts.length > maxUsers) break;
      change.mergeBlock(block);
      taken += block.counts.length;
      through++;
    }
    ranges[stream] = { afterSeq: ranges[stream]!.afterSeq, throughSeq: through };
  }
  const overlay = UserAggTable.fromState(prepared.overlay);
  const buckets = UserAggTable.fromState(prepared.buckets);
  buckets.mergeTable(change);
  // Not the store's overlay yet: no export has read it, so no log.
  const totals = addChange(new SortedUserTable(base.table), overlay, undefined, change.overAllTime(), prepared.totals);
  return { ranges, overlay: overlay.toState(), buckets: buckets.toState(), totals };
}

/**
 * The seqs to add to a prepared overlay — per stream that keeps realtime seqs, those after the prepared range
 * through N, from the recent seqs — or undefined when it does not fit (a range not starting at the new watermark,
 * reaching past N, or seqs no longer recent): the swap then works from the store's own overlay.
 */
function afterPrepared(recent: RecentSeqs, plans: readonly StreamSwap[], prepared: PreparedOverlay): UserAggTable | undefined {
  const planned = new Set(plans.map(({ stream }) => stream));
  if (Object.entries(prepared.ranges).some(([stream, range]) => !planned.has(stream) && range.throughSeq > range.afterSeq)) return undefined;
  const change = new UserAggTable(64);
  for (const { stream, watermarks, plan } of plans) {
    const range = prepared.ranges[stream] ?? { afterSeq: watermarks.batchWatermark, throughSeq: watermarks.batchWatermark };
    if (range.afterSeq !== watermarks.batchWatermark) return undefined;
    if (!plan.useRealtime) {
      if (range.throughSeq > range.afterSeq) return undefined;
      continue;
    }
    if (range.throughSeq > plan.throughSeq) return undefined;
    const blocks = recent.blocks(stream, range.throughSeq, plan.throughSeq);
    if (!blocks) return undefined;
    for (const block of blocks) change.mergeBlock(block);
  }
  return change;
}

/**
 * The overlay (per user and bucket) after a swap summed from the recent seqs this store applied — per stream that
 * keeps realtime seqs, (S_new, N] — or undefined when some is not among them. A batch view usually absorbs all but the
 * last seconds of the realtime view, so this costs what those seconds changed, not what the overlay holds.
 */
function fromRecent(recent: RecentSeqs, plans: readonly StreamSwap[]): UserAggTable | undefined {
  const blocks: AggBlock[] = [];
  for (const { stream, watermarks, plan } of plans) {
    if (!plan.useRealtime) continue;
    const found = recent.blocks(stream, watermarks.batchWatermark, plan.throughSeq);
    if (!found) return undefined;
    blocks.push(...found);
  }
  const overlay = new UserAggTable(blocks.reduce((users, block) => users + block.counts.length, 0));
  for (const block of blocks) overlay.mergeBlock(block);
  return overlay.compacted();
}

/**
 * The overlay (per user and bucket) less the seqs a batch absorbed, per stream, from the recent ones; E_STATE when some
 * are not among them.
 */
function subtracted(current: UserAggTable, recent: RecentSeqs, plans: readonly StreamSwap[]): UserAggTable {
  const overlay = current.clone();
  for (const swap of plans) {
    const range = removedRange(swap);
    if (!range) continue;
    const found = new Set<number>();
    for (let seq = range.afterSeq + 1; seq <= range.throughSeq; seq++) {
      const block = recent.block(swap.stream, seq);
      if (!block) continue;
      overlay.mergeBlock(block, range.sign);
      found.add(seq);
    }
    checkDeltasFound(range, found);
  }
  return overlay.compacted();
}
