// The speed layer's published outputs on disk: realtime views (`realtime-<ms>/`) and windows (`speed-<ms>.txt/`),
// each written as a directory made visible in one rename, and the batch views it rebases on.

import fs from 'node:fs';
import path from 'node:path';
import { type AggBlock, blockToSortedTotals } from '../core/agg-table.js';
import { formatBlock, formatTotals } from '../core/view-format.js';
import { DirectoryPublisher } from '../io/atomic.js';
import { type DataLayout } from '../io/layout.js';
import { type Logger } from '../io/logger.js';
import { listBatchViews, listRealtimeViews, listSpeedViews, pruneViews } from '../io/views.js';
import { type RealtimeSnapshot, type SpeedCounters, type SpeedOutputs } from './ports.js';

const REALTIME_VIEWS_KEPT = 3;

async function publishDirectory(dir: string, files: readonly (readonly [name: string, data: string | Uint8Array])[]): Promise<void> {
  const publisher = await DirectoryPublisher.begin(dir);
  try {
    for (const [name, data] of files) await publisher.write(name, data);
    await publisher.commit();
  } catch (error) {
    await publisher.abort();
    throw error;
  }
}

export class SpeedViewFiles implements SpeedOutputs {
  constructor(
    private readonly layout: DataLayout,
    private readonly logger: Logger,
    /** Speed window directories kept. */
    private readonly keepWindows: number,
  ) {}

  batchWatermarks(): number[] {
    return listBatchViews(this.layout.servingBatch, this.logger).map((view) => view.watermark);
  }

  async publishRealtime(snapshot: RealtimeSnapshot & SpeedCounters, atMs: number): Promise<void> {
    const { servingRealtime } = this.layout;
    let createdAtMs = atMs;
    while (fs.existsSync(path.join(servingRealtime, `realtime-${createdAtMs}`))) createdAtMs++;
    const { watermark, throughSeq, lastIngestedAtMs, rowsIngested, badRows, startedAtMs } = snapshot;
    const meta = { watermark, throughSeq, createdAtMs, lastIngestedAtMs, rowsIngested, badRows, startedAtMs };
    await publishDirectory(path.join(servingRealtime, `realtime-${createdAtMs}`), [
      // Unsorted: readers load it into a table, and sorting 100 k users every micro-batch would cost more than parsing.
      ['part-00000', formatBlock(snapshot.block)],
      ['_REALTIME.json', JSON.stringify(meta) + '\n'],
    ]);
    pruneViews(listRealtimeViews(servingRealtime).sort((a, b) => a.createdAtMs - b.createdAtMs), REALTIME_VIEWS_KEPT);
  }

  async publishWindow(endMs: number, blocks: readonly AggBlock[]): Promise<number> {
    const dir = path.join(this.layout.servingSpeed, `speed-${endMs}.txt`);
    // Published before a restart within the same slide (at a graceful stop, with the slide still open): replace it.
    if (fs.existsSync(dir)) fs.rmSync(dir, { recursive: true, force: true });
    await publishDirectory(
      dir,
      blocks.map((block, partition) => [`part-${String(partition).padStart(5, '0')}`, formatTotals(blockToSortedTotals(block))] as const),
    );
    pruneViews(listSpeedViews(this.layout.servingSpeed), this.keepWindows);
    return blocks.reduce((n, block) => n + block.counts.length, 0);
  }
}
