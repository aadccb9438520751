// The window merged view (the original demo's arithmetic): a batch view plus the speed layer's current window, the
// overlay replaced whole by each new window, and everything loaded again for a newer batch view.

import { type AggTableState, UserAggTable } from '../core/agg-table.js';
import { type DataLayout } from '../io/files/layout.js';
import { listSpeedViews } from '../io/views/views.js';
import type { BatchViewRef, ServingLoadResult } from '../messages.js';
import { type MergeView, type MergeViewContext, type StreamRealtime, loadRequest } from './merge-view.js';

/** No realtime state is read: the window stands in for it. */
const NO_REALTIME: StreamRealtime = { checkpoint: null, throughSeq: 0, lastIngestedAtMs: null, eventTime: null };

export class WindowView implements MergeView {
  /** The speed window the store holds. */
  private loadedWindow: string | undefined;

  constructor(private readonly context: MergeViewContext) {}

  async load(batch: BatchViewRef | null, streams: readonly DataLayout[]): Promise<ServingLoadResult> {
    const window = listSpeedViews(this.context.layout.servingSpeed).at(-1);
    const result = await this.context.threads.request<ServingLoadResult>(
      loadRequest(batch, streams, () => NO_REALTIME, window?.dir ?? null, this.context.bucketSeconds),
    );
    this.loadedWindow = window?.dir;
    return result;
  }

  /** Swaps in the newest speed window, as a background step (none while another runs). */
  async refresh(): Promise<void> {
    const { context } = this;
    if (context.busy()) return;
    const latest = listSpeedViews(context.layout.servingSpeed).at(-1);
    if (!latest || latest.dir === this.loadedWindow) return;
    context.background('window update', async () => {
      const table = await context.threads.request<AggTableState>({ type: 'window', dir: latest.dir });
      this.loadedWindow = latest.dir;
      context.changed(context.store.replaceOverlay(UserAggTable.fromState(table)));
    });
  }

  /** The window is relative to no batch watermark: a newer batch view is loaded with everything. */
  batchChanged(): Promise<void> {
    return this.context.reload();
  }

  watched(): string[] {
    return [];
  }
}
