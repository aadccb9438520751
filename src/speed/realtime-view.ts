// The realtime view: per-user totals of the logged stream files no batch view has absorbed yet, the per-seq deltas
// that let any reader subtract what a later batch absorbs, and the rebase onto a newer batch view.

import { type AggBlock, UserAggTable } from '../core/agg-table.js';
import { exactMerge } from '../core/exact-merge.js';
import { type DeltaStore, type RealtimeUpdate, type SeqTotals } from './ports.js';

export class RealtimeView {
  private table = new UserAggTable();
  private watermark: number;
  private through: number;
  /** Per-seq totals counted here but not yet written as deltas (a write failed): written before the next publish. */
  private pending: SeqTotals[] = [];
  /** Written since the last publish: what in-process readers have not been handed yet. */
  private unannounced: SeqTotals[] = [];
  private dirty = true;
  private lastIngestedAt: number | null;

  /** A view of nothing past `batchWatermark`, through `throughSeq` (the log's last seq). */
  constructor(
    private readonly deltas: DeltaStore,
    batchWatermark: number,
    throughSeq: number,
    lastIngestedAtMs: number | null,
  ) {
    this.watermark = batchWatermark;
    this.through = throughSeq;
    this.lastIngestedAt = lastIngestedAtMs;
  }

  /** S_R: the batch watermark the view is relative to. */
  get batchWatermark(): number {
    return this.watermark;
  }

  /** N: the last logged seq the view reflects. */
  get throughSeq(): number {
    return this.through;
  }

  get users(): number {
    return this.table.liveSize;
  }

  /** Changed since it was last published. */
  get changed(): boolean {
    return this.dirty;
  }

  /** Counts a logged file (seq past the watermark); `hasDelta` when a delta for it is already on disk (recovery). */
  add(seq: number, ingestedAtMs: number, file: UserAggTable, hasDelta = false): void {
    this.table.mergeTable(file);
    if (!hasDelta) this.pending.push({ seq, block: file.toBlock() });
    this.through = Math.max(this.through, seq);
    this.lastIngestedAt = Math.max(this.lastIngestedAt ?? ingestedAtMs, ingestedAtMs);
    this.dirty = true;
  }

  /** Writes the pending deltas (consecutive seqs per file); throws E_WRITE, keeping them pending, when it cannot. */
  async flushDeltas(): Promise<void> {
    while (this.pending.length > 0) {
      let run = 1;
      while (run < this.pending.length && this.pending[run]!.seq === this.pending[run - 1]!.seq + 1) run++;
      const written = this.pending.slice(0, run);
      await this.deltas.write(written);
      this.unannounced.push(...written);
      this.pending = this.pending.slice(run);
    }
  }

  get hasPendingDeltas(): boolean {
    return this.pending.length > 0;
  }

  /**
   * Moves the view onto a batch view with a higher watermark: subtracts exactly the deltas it absorbed (an E_STATE
   * error when some are missing). Deltas at or below `keepAbove` are pruned: no retained batch view needs them.
   */
  rebase(batchWatermark: number, keepAbove: number): boolean {
    if (batchWatermark <= this.watermark) return false;
    const plan = exactMerge(
      { batchWatermark, realtimeWatermark: this.watermark, realtimeThroughSeq: this.through },
      (range) => this.deltas.merge(range, this.table),
    );
    this.table = plan.useRealtime ? this.table.compacted() : new UserAggTable();
    this.watermark = batchWatermark;
    this.through = Math.max(this.through, batchWatermark);
    this.dirty = true;
    this.deltas.prune(keepAbove);
    return true;
  }

  /** The view's totals and range. */
  snapshot(): { block: AggBlock; watermark: number; throughSeq: number; lastIngestedAtMs: number | null } {
    return { block: this.table.toBlock(), watermark: this.watermark, throughSeq: this.through, lastIngestedAtMs: this.lastIngestedAt };
  }

  /** Marks the view published and returns what it added since the last publish. */
  published(): RealtimeUpdate {
    this.dirty = false;
    const items = this.unannounced;
    this.unannounced = [];
    return { items, throughSeq: this.through, lastIngestedAtMs: this.lastIngestedAt };
  }
}
