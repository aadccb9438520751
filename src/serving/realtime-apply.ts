// Realtime updates of the serving store: the per-seq deltas of new seqs added to the overlay, in O(users changed),
// each update a new version; and a backlog of seqs cut into slices of bounded work.

import { type AggBlock, UserAggTable } from '../core/agg-table.js';
import { LambdaflowError } from '../core/errors.js';
import { DEFAULT_STREAM } from '../io/files/layout.js';
import { type CurrentVersion, type SnapshotStatus } from './current-version.js';
import { type RecentSeqs } from './recent-seqs.js';

/** One seq's totals per (user, bucket). */
export interface SeqBlock {
  readonly seq: number;
  readonly block: AggBlock;
}

/** Consecutive runs of seqs, in seq order, of at most `maxUsers` users in all (a seq with more is a run of its own). */
export function sliceByUsers(items: readonly SeqBlock[], maxUsers: number): SeqBlock[][] {
  const slices: SeqBlock[][] = [];
  let slice: SeqBlock[] = [];
  let users = 0;
  for (const item of [...items].sort((a, b) => a.seq - b.seq)) {
    const n = item.block.counts.length;
    if (slice.length > 0 && users + n > maxUsers) {
      slices.push(slice);
      slice = [];
      users = 0;
    }
    slice.push(item);
    users += n;
  }
  if (slice.length > 0) slices.push(slice);
  return slices;
}

/**
 * Adds the deltas of a stream's new seqs to the current version (keeping their blocks in `recent` while it keeps).
 * Seqs at or below N are skipped (already reflected); the rest must continue N without a gap, or nothing is applied
 * and E_STATE says what is missing (the caller reloads). Undefined when nothing was new.
 */
export function applySeqs(
  version: CurrentVersion,
  recent: RecentSeqs,
  items: readonly SeqBlock[],
  lastIngestedAtMs: number | null,
  stream: string,
): SnapshotStatus | undefined {
  const status = version.loaded;
  let expected = version.throughSeqOf(stream) + 1;
  const fresh = items.filter((item) => item.seq >= expected).sort((a, b) => a.seq - b.seq);
  if (fresh.length === 0) return undefined;
  for (const item of fresh) {
    const where = stream === DEFAULT_STREAM ? '' : ` of stream ${stream}`;
    if (item.seq !== expected) throw new LambdaflowError('E_STATE', `realtime deltas${where} jump from seq ${expected - 1} to seq ${item.seq}`);
    expected++;
  }
  const change = new UserAggTable(64);
  const bucketChange = new UserAggTable(64);
  for (const item of fresh) {
    change.mergeBlock(item.block, 1, true);
    bucketChange.mergeBlock(item.block);
    recent.remember(stream, item.seq, item.block);
  }
  const last = fresh.at(-1)!.seq;
  const { users, purchases, cents } = version.addToOverlay(change, bucketChange, status);
  return version.publish({
    ...status,
    throughSeq: stream === DEFAULT_STREAM ? last : status.throughSeq,
    streams: stream === DEFAULT_STREAM ? status.streams : Object.freeze({ ...status.streams, [stream]: version.positionOf(stream, last) }),
    users,
    purchases,
    cents,
    lastIngestedAtMs: lastIngestedAtMs ?? status.lastIngestedAtMs,
    changedUsers: change.liveSize,
    kind: 'realtime',
  });
}
