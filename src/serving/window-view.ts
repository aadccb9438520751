// The window merged view (the original demo's arithmetic): a batch view plus the speed layer's current window, the
// overlay replaced whole by each new window, and everything loaded again for a newer batch view. Every version says
// which window it holds, from the window's `_WINDOW.json`.

import path from 'node:path';
import { type AggTableState, UserAggTable } from '../core/agg-table.js';
import { LambdaflowError } from '../core/errors.js';
import { formatSeconds } from '../core/event-time.js';
import { type DataLayout } from '../io/files/layout.js';
import { type PublishedView, listSpeedViews, readRealtimeHead, readWindowInfo } from '../io/views/views.js';
import type { BatchViewRef, ServingLoadResult } from '../messages.js';
import { type ServedWindow } from './current-version.js';
import { type MergeView, type MergeViewContext, type StreamRealtime, loadRequest } from './merge-view.js';

/** No realtime state is read: the window stands in for it. */
const NO_REALTIME: StreamRealtime = { checkpoint: null, throughSeq: 0, lastIngestedAtMs: null, eventTime: null };

const isoSecond = (ms: number): string => new Date(ms).toISOString().replace('.000Z', 'Z');

/** A served window in words, for log and result lines: its folder, its time kind and bounds, and its watermark. */
export function describeWindow(window: ServedWindow): string {
  const { name, info } = window;
  if (!info) return `window ${name} (no _WINDOW.json: its bounds unknown)`;
  if (info.time === 'processing') return `window ${name}: processing time [${isoSecond(info.startMs)}, ${isoSecond(info.endMs)})`;
  return (
    `window ${name}: event time [${isoSecond(info.start * 1000)}, ${isoSecond(info.end * 1000)}) of ${formatSeconds(info.end - info.start)}, ` +
    `watermark ${isoSecond(info.watermark * 1000)}, ${info.lateRows} late rows`
  );
}

export class WindowView implements MergeView {
  /** The speed window the store holds. */
  private loadedWindow: string | undefined;

  constructor(private readonly context: MergeViewContext) {}

  async load(batch: BatchViewRef | null, streams: readonly DataLayout[]): Promise<ServingLoadResult> {
    const window = listSpeedViews(this.context.layout.servingSpeed).at(-1);
    const served = window ? this.servedWindow(window) : null;
    const result = await this.context.threads.request<ServingLoadResult>(
      loadRequest(batch, streams, () => NO_REALTIME, window?.dir ?? null, this.context.bucketSeconds),
    );
    this.loadedWindow = window?.dir;
    // The version the load publishes says which window it holds, and the streams' event clocks as of it.
    this.context.store.noteWindow(served);
    this.noteEventClocks();
    return result;
  }

  /** Swaps in the newest speed window, as a background step (none while another runs). */
  async refresh(): Promise<void> {
    const { context } = this;
    if (context.busy()) return;
    const latest = listSpeedViews(context.layout.servingSpeed).at(-1);
    if (!latest || latest.dir === this.loadedWindow) return;
    context.background('window update', async () => {
      const served = this.servedWindow(latest);
      const table = await context.threads.request<AggTableState>({ type: 'window', dir: latest.dir });
      this.loadedWindow = latest.dir;
      this.noteEventClocks();
      context.changed(context.store.replaceOverlay(UserAggTable.fromState(table), served));
    });
  }

  /** What a window says it is; a damaged `_WINDOW.json` is said (its bounds then unknown), the window served all the same. */
  private servedWindow(window: PublishedView): ServedWindow {
    const name = path.basename(window.dir);
    try {
      return { name, info: readWindowInfo(window.dir, window.createdAtMs) };
    } catch (error) {
      if (!(error instanceof LambdaflowError) || error.code !== 'E_STATE') throw error;
      this.context.skipped(error, 'serving the window without saying which it is');
      return { name, info: undefined };
    }
  }

  /** Each stream's event clock as its realtime head says now, for the next version (a damaged head is said, its clock unknown). */
  private noteEventClocks(): void {
    for (const stream of this.context.streams()) {
      let head: ReturnType<typeof readRealtimeHead>;
      try {
        head = readRealtimeHead(stream.realtimeHead);
      } catch (error) {
        if (!(error instanceof LambdaflowError) || error.code !== 'E_STATE') throw error;
        this.context.skipped(error, "serving the window without its stream's event clock");
      }
      this.context.store.noteEventTime(stream.stream, head?.eventTime ?? null);
    }
  }

  /** The window is relative to no batch watermark: a newer batch view is loaded with everything. */
  batchChanged(): Promise<void> {
    return this.context.reload();
  }

  watched(): string[] {
    return [];
  }
}
