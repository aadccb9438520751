// The speed layer's published outputs on disk: the realtime head (every micro-batch), realtime checkpoints
// (`realtime-<ms>/`) and windows (`speed-<ms>.txt/`), each directory made visible in one rename.

import { eventClockOf } from '../core/event-time.js';
import fs from 'node:fs';
import path from 'node:path';
import { DirectoryPublisher, writeFileAtomically } from '../io/files/atomic.js';
import { type DataLayout } from '../io/files/layout.js';
import { type Logger } from '../io/runtime/logger.js';
import { batchWatermarkOf, listBatchViews, listRealtimeViews, listSpeedViews, pruneViews, readViewParts } from '../io/views/views.js';
import { type RealtimeCheckpoint, type RealtimeHead, type SpeedOutputs, type WindowInfo } from './ports.js';

const CHECKPOINTS_KEPT = 3;

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

const partName = (partition: number): string => `part-${String(partition).padStart(5, '0')}`;

export class SpeedViewFiles implements SpeedOutputs {
  constructor(
    private readonly layout: DataLayout,
    private readonly logger: Logger,
    /** Speed window directories kept. */
    private readonly keepWindows: number,
  ) {}

  /** This stream's watermark in each retained batch view (a partition stream's from `streamWatermarks`), ascending. */
  batchWatermarks(): number[] {
    return listBatchViews(this.layout.servingBatch, this.logger)
      .map((view) => batchWatermarkOf(view, this.layout.stream))
      .sort((a, b) => a - b);
  }

  async publishHead(head: RealtimeHead): Promise<void> {
    await writeFileAtomically(this.layout.realtimeHead, JSON.stringify(head) + '\n');
  }

  async publishCheckpoint(head: RealtimeHead, parts: readonly Uint8Array[], atMs: number): Promise<void> {
    const { servingRealtime } = this.layout;
    let createdAtMs = atMs;
    while (fs.existsSync(path.join(servingRealtime, `realtime-${createdAtMs}`))) createdAtMs++;
    await publishDirectory(path.join(servingRealtime, `realtime-${createdAtMs}`), [
      // Unsorted: readers load it into tables, and sorting every user at each checkpoint would cost more than parsing.
      ...parts.map((bytes, partition) => [partName(partition), bytes] as const),
      ['_REALTIME.json', JSON.stringify({ ...head, createdAtMs }) + '\n'],
    ]);
    pruneViews(listRealtimeViews(servingRealtime).sort((a, b) => a.createdAtMs - b.createdAtMs), CHECKPOINTS_KEPT);
  }

  latestCheckpoint(): RealtimeCheckpoint | undefined {
    const latest = listRealtimeViews(this.layout.servingRealtime).at(-1);
    if (!latest) return undefined;
    return {
      name: latest.dir,
      watermark: latest.watermark,
      throughSeq: latest.throughSeq,
      lastIngestedAtMs: latest.lastIngestedAtMs,
      parts: readViewParts(latest.dir),
      eventClock: latest.eventTime && eventClockOf(latest.eventTime),
    };
  }

  async publishWindow(endMs: number, parts: readonly Uint8Array[], info?: WindowInfo): Promise<void> {
    const dir = path.join(this.layout.servingSpeed, `speed-${endMs}.txt`);
    // Published before a restart (within the same slide at a graceful stop; an event-time window due again): replace it.
    if (fs.existsSync(dir)) fs.rmSync(dir, { recursive: true, force: true });
    const files = parts.map((bytes, partition) => [partName(partition), bytes] as const);
    await publishDirectory(dir, info ? [...files, ['_WINDOW.json', JSON.stringify(info) + '\n']] : files);
    pruneViews(listSpeedViews(this.layout.servingSpeed), this.keepWindows);
  }
}
