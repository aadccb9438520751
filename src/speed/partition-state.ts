// One partition of the speed layer's state, owned by one speed worker: its users' sliding window and their part of
// the realtime view (users are split by partitionOfHash, so every user lives in exactly one partition).

import { type AggBlock, UserAggTable } from '../core/agg-table.js';
import { fnv1a, partitionOfHash } from '../core/hash.js';
import { BUCKETS_HEADER, bucketField, bucketFieldOf, forEachViewLine, formatBlock } from '../core/view-format.js';
import { SlidingWindow } from '../core/window.js';
import { sortedEntries } from '../core/key-order.js';
import { formatEntries } from '../core/view-lines.js';
import type { PartitionLines } from '../messages.js';

/** Calls `accept` for every delta line of a range and returns the seqs found (io/deltas.ts DeltaFiles.forEachLine). */
export type DeltaLines = (
  accept: (seq: number, key: Uint8Array, start: number, end: number, count: number, cents: number, bucket: number) => void,
) => ReadonlySet<number>;

export class PartitionState {
  private readonly window: SlidingWindow;
  private realtime = new UserAggTable();

  constructor(
    readonly partition: number,
    readonly partitions: number,
    slidesPerWindow: number,
    /** The data folder's bucket size: the realtime view holds totals per (user, bucket). */
    private readonly bucketSeconds: number,
  ) {
    this.window = new SlidingWindow(slidesPerWindow);
  }

  /** Adds this partition's block of a parse: to slide `slide` (null: not in the window) and, if asked, to the realtime view. */
  add(block: AggBlock, slide: number | null, realtime: boolean): void {
    if (slide !== null) this.window.add(slide, block);
    if (realtime) this.realtime.mergeBlock(block);
  }

  /** Closes the slides before `slide` and returns the window they form, as view lines sorted by user id. */
  windowBefore(slide: number): PartitionLines {
    const window = this.window.windowBefore(slide);
    const order = sortedEntries(window);
    return { bytes: formatEntries(window, order), users: order.length };
  }

  /** Adds (sign 1) or subtracts (-1) this partition's users' delta lines into the realtime view; returns the seqs found. */
  applyDeltas(lines: DeltaLines, sign: 1 | -1): ReadonlySet<number> {
    const found = lines((_seq, key, start, end, count, cents, bucket) => {
      const hash = fnv1a(key, start, end);
      if (partitionOfHash(hash, this.partitions) === this.partition) this.realtime.add(key, start, end, sign * count, sign * cents, hash, bucket);
    });
    this.compactIfSparse();
    return found;
  }

  /** Adds this partition's users of a published realtime view (a checkpoint; its parts may come from another partitioning). */
  loadView(parts: readonly Uint8Array[], name: string): void {
    for (const bytes of parts) {
      const accept = (_prefix: readonly number[], key: Uint8Array, start: number, end: number, count: number, cents: number, bucket: number): void => {
        const hash = fnv1a(key, start, end);
        if (partitionOfHash(hash, this.partitions) === this.partition) this.realtime.add(key, start, end, count, cents, hash, bucket);
      };
      forEachViewLine(bytes, name, 0, accept, { firstLine: 'header-or-data', buckets: bucketFieldOf(bytes, this.bucketSeconds) });
    }
  }

  clearRealtime(): void {
    this.realtime = new UserAggTable();
  }

  /** The realtime view's lines for this partition, per (user, bucket) after a BUCKETS_HEADER line (unsorted: readers load them into tables). */
  realtimeView(): PartitionLines {
    const block = this.realtime.toBlock();
    const lines = formatBlock(block, '', bucketField(this.bucketSeconds));
    return { bytes: Buffer.concat([Buffer.from(`${BUCKETS_HEADER}\n`), lines]), users: this.realtime.overAllTime().size };
  }

  /** Rebuilds the realtime table when users whose totals returned to zero outnumber the live ones. */
  private compactIfSparse(): void {
    if (this.realtime.size - this.realtime.liveSize > Math.max(1024, this.realtime.liveSize)) this.realtime = this.realtime.compacted();
  }
}
