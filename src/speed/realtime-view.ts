// The realtime view's bookkeeping on the main thread: which seqs it holds (its batch watermark S_R and through-seq N),
// the newest ingest time, and the per-seq delta lines parsed but not yet written. Its totals live in the speed
// workers, one part per partition.

import { type UnitEventTime } from '../core/event-time.js';
import { type DeltaStore } from './ports.js';

interface PendingDeltas {
  readonly first: number;
  readonly last: number;
  readonly lines: Uint8Array;
  /** Each seq's event time, for the file's trailer (empty: not known seq by seq). */
  readonly units: readonly UnitEventTime[];
}

export class RealtimeView {
  private pending: PendingDeltas[] = [];
  private dirty = true;

  constructor(
    private readonly deltas: DeltaStore,
    /** S_R: the batch watermark the view is relative to. */
    public watermark: number,
    /** N: the last logged seq the view reflects. */
    public throughSeq: number,
    public lastIngestedAtMs: number | null,
  ) {}

  /** Changed since the head was last published. */
  get changed(): boolean {
    return this.dirty;
  }

  /** Records logged seqs first..last counted into the workers, with their delta lines (unless already on disk) and event time. */
  counted(first: number, last: number, ingestedAtMs: number, lines: Uint8Array | undefined, units: readonly UnitEventTime[]): void {
    if (lines) this.pending.push({ first, last, lines, units });
    this.throughSeq = Math.max(this.throughSeq, last);
    this.lastIngestedAtMs = Math.max(this.lastIngestedAtMs ?? ingestedAtMs, ingestedAtMs);
    this.dirty = true;
  }

  /** Moves onto a batch view with watermark S_B (its absorbed seqs already subtracted in the workers). */
  rebased(batchWatermark: number): void {
    this.watermark = batchWatermark;
    this.throughSeq = Math.max(this.throughSeq, batchWatermark);
    this.dirty = true;
  }

  /** Writes the pending deltas; throws E_WRITE, keeping them pending, when it cannot. */
  async flushDeltas(): Promise<void> {
    while (this.pending.length > 0) {
      const { first, last, lines, units } = this.pending[0]!;
      await this.deltas.write(first, last, lines, units);
      this.pending.shift();
    }
  }

  get hasPendingDeltas(): boolean {
    return this.pending.length > 0;
  }

  published(): void {
    this.dirty = false;
  }
}
