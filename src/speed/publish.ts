// The speed layer's published outputs on disk: the realtime head (every micro-batch), realtime checkpoints
// (`realtime-<ms>/`) and windows (`speed-<ms>.txt/`), each directory made visible in one rename.

import { eventClockOf } from '../core/event-time.js';
import fs from 'node:fs';
import path from 'node:path';
import { DirectoryPublisher, writeFileAtomically } from '../io/files/atomic.js';
import { type DataLayout } from '../io/files/layout.js';
import { type Logger } from '../io/runtime/logger.js';
import { LambdaflowError } from '../core/errors.js';
import { checkedJsonText, contentCheckOf } from '../io/files/content-check.js';
import {
  CHECKPOINT_PARTS_KEY,
  WINDOW_FILE,
  batchWatermarkOf,
  listBatchViews,
  listRealtimeViews,
  listSpeedViews,
  pruneViews,
  readCheckpointParts,
  windowInfoText,
} from '../io/views/views.js';
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
    await writeFileAtomically(this.layout.realtimeHead, checkedJsonText(head));
  }

  async publishCheckpoint(head: RealtimeHead, parts: readonly Uint8Array[], atMs: number): Promise<void> {
    const { servingRealtime } = this.layout;
    let createdAtMs = atMs;
    while (fs.existsSync(path.join(servingRealtime, `realtime-${createdAtMs}`))) createdAtMs++;
    await publishDirectory(path.join(servingRealtime, `realtime-${createdAtMs}`), [
      // Unsorted: readers load it into tables, and sorting every user at each checkpoint would cost more than parsing.
      ...parts.map((bytes, partition) => [partName(partition), bytes] as const),
      [
        '_REALTIME.json',
        checkedJsonText({
          ...head,
          createdAtMs,
          [CHECKPOINT_PARTS_KEY]: Object.fromEntries(parts.map((bytes, partition) => [partName(partition), contentCheckOf(bytes)])),
        }),
      ],
    ]);
    pruneViews(
      listRealtimeViews(servingRealtime).sort((a, b) => a.createdAtMs - b.createdAtMs),
      CHECKPOINTS_KEPT,
    );
  }

  /**
   * The newest checkpoint whose parts prove themselves; a damaged one is never trusted: it is removed (one warning),
   * and the next older one is tried (the recovery rebuilds what it lacks from the deltas and the logged files).
   */
  latestCheckpoint(): RealtimeCheckpoint | undefined {
    const untrusted = (dir: string, error: LambdaflowError): void => {
      this.logger.warn(`speed: ${error.message}; removed ${dir}, the realtime view is rebuilt without it`);
      fs.rmSync(dir, { recursive: true, force: true });
    };
    for (const view of listRealtimeViews(this.layout.servingRealtime, untrusted).reverse()) {
      let parts: Buffer[];
      try {
        parts = readCheckpointParts(view.dir);
      } catch (error) {
        if (!(error instanceof LambdaflowError) || error.code !== 'E_STATE') throw error;
        untrusted(view.dir, error);
        continue;
      }
      const { dir, watermark, throughSeq, lastIngestedAtMs, eventTime } = view;
      return { name: dir, watermark, throughSeq, lastIngestedAtMs, parts, eventClock: eventTime && eventClockOf(eventTime) };
    }
    return undefined;
  }

  async publishWindow(endMs: number, parts: readonly Uint8Array[], info?: WindowInfo): Promise<void> {
    const dir = path.join(this.layout.servingSpeed, `speed-${endMs}.txt`);
    // Published before a restart (within the same slide at a graceful stop; an event-time window due again): replace it.
    if (fs.existsSync(dir)) fs.rmSync(dir, { recursive: true, force: true });
    const files = parts.map((bytes, partition) => [partName(partition), bytes] as const);
    await publishDirectory(dir, info ? [...files, [WINDOW_FILE, windowInfoText(info)]] : files);
    pruneViews(listSpeedViews(this.layout.servingSpeed), this.keepWindows);
  }
}
