// The blocks of the seqs the serving store applied while a batch swap is being prepared: what the swap adds to the
// loader's overlay (the loader read the seqs up to the store's N from the delta files when asked), or subtracts from
// the store's own overlay. Kept only while a swap is prepared, so memory does not grow with the seqs between batch
// views (at ~300 KB a seq at 100 k events/s, keeping them all would cost hundreds of MB).

import { type AggBlock } from '../core/agg-table.js';
import { type BatchBase } from '../core/view-state.js';
import { watermarkOf } from './batch-base.js';

export class RecentSeqs {
  /** Per stream: the blocks of seqs applied since keep(true). */
  private readonly byStream = new Map<string, Map<number, AggBlock>>();
  private keeping = false;

  /**
   * Whether to keep the blocks of the seqs applied from now on: on while the loader prepares a swap, off otherwise —
   * which forgets those kept. While on, every seq is kept: the swap must find each one it needs, however long the
   * load takes.
   */
  keep(keep: boolean): void {
    this.keeping = keep;
    if (!keep) this.byStream.clear();
  }

  /** Forgets every block kept (a load replaced the overlay they were applied to); keeping goes on if on. */
  clear(): void {
    this.byStream.clear();
  }

  /** A seq just applied: kept while keeping. */
  remember(stream: string, seq: number, block: AggBlock): void {
    if (!this.keeping) return;
    let recent = this.byStream.get(stream);
    if (!recent) this.byStream.set(stream, (recent = new Map<number, AggBlock>()));
    recent.set(seq, block);
  }

  /** One seq's block, when kept. */
  block(stream: string, seq: number): AggBlock | undefined {
    return this.byStream.get(stream)?.get(seq);
  }

  /** The blocks of a stream's seqs (afterSeq, throughSeq], in order, or undefined when one is not kept. */
  blocks(stream: string, afterSeq: number, throughSeq: number): AggBlock[] | undefined {
    const blocks: AggBlock[] = [];
    for (let seq = afterSeq + 1; seq <= throughSeq; seq++) {
      const block = this.block(stream, seq);
      if (!block) return undefined;
      blocks.push(block);
    }
    return blocks;
  }

  /** Seqs a batch view absorbed are never needed again. */
  forgetAbsorbed(base: BatchBase): void {
    for (const [stream, recent] of this.byStream) {
      const watermark = watermarkOf(base, stream);
      for (const seq of recent.keys()) if (seq <= watermark) recent.delete(seq);
    }
  }
}
