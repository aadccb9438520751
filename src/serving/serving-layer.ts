// The serving layer at run time: keeps the store current from the data folder (new realtime deltas as soon as the
// speed layer publishes them, new batch views loaded off the hot path), or from the speed layer in-process, and
// publishes merged_view.csv on its own cadence (src/serving/view-exports.ts).

import fs from 'node:fs';
import { setImmediate as yieldToEvents } from 'node:timers/promises';
import { type Clock } from '../core/clock.js';
import { LambdaflowError } from '../core/errors.js';
import { type AggTableState, UserAggTable } from '../core/agg-table.js';
import { DeltaFiles } from '../io/deltas.js';
import { DEFAULT_STREAM, type DataLayout, allStreamLayouts, partitionStreams } from '../io/layout.js';
import { type Logger } from '../io/logger.js';
import { runInSteps } from '../io/steps.js';
import { ThreadClient } from '../io/thread-rpc.js';
import {
  type BatchViewInfo,
  type RealtimeHeadInfo,
  type RealtimeViewInfo,
  batchWatermarkOf,
  latestBatchView,
  listRealtimeViews,
  listSpeedViews,
  readRealtimeHead,
} from '../io/views.js';
import { workerUrl } from '../io/worker-url.js';
import type { BatchViewRef, RealtimeViewRef, ServingBatchResult, ServingLoadResult, ServingRequest } from '../messages.js';
import { type MergeViewKind } from './view-kind.js';
import { ServingStore, type SnapshotStatus, sliceByUsers } from './store.js';
import { type ExportedVersion, ViewExports } from './view-exports.js';

export interface ServingConfig {
  readonly layout: DataLayout;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly view: MergeViewKind;
  /** merged_view.csv is written this often, when the version changed. */
  readonly csvIntervalMs: number;
  /** New realtime state is looked for this often (a file-system event wakes it sooner). */
  readonly pollMs: number;
  /** Called after merged_view.csv is written, with the version it holds. */
  readonly onCsvWritten?: (status: SnapshotStatus, writtenAtMs: number) => void;
}

/** The speed layer's counters as last seen, for events/s. */
interface CounterSample {
  readonly atMs: number;
  readonly rows: number;
  readonly badRows: number;
  readonly startedAtMs: number;
}

const BATCH_CHECK_MS = 500;
/**
 * Users per realtime apply step: ~2 ms of work between two turns of the event loop (twice that on a machine whose
 * cores the speed and batch layers share: a lookup arriving waits for the step under way).
 */
const APPLY_SLICE_USERS = 2_048;
const RETRY_MS = 1_000;
/**
 * A serving thread's garbage is a few large buffers, not many small objects: a small young generation keeps its heap
 * at ~9 MB instead of ~15 MB while it loads a view beside the one it replaces (measured; loads take as long).
 */
const SERVING_THREAD_LIMITS = { maxYoungGenerationSizeMb: 3 };
/** events/s is measured over this much recent time. */
const RATE_WINDOW_MS = 10_000;

/** One stream the store follows: the default one (the data folder's paths) or a NATS partition's (streams/p<i>/). */
interface FollowedStream {
  readonly layout: DataLayout;
  readonly deltas: DeltaFiles;
}

const followed = (layout: DataLayout): FollowedStream => ({ layout, deltas: new DeltaFiles(layout.realtimeDeltas) });

const batchRef = (view: BatchViewInfo): BatchViewRef => ({ dir: view.dir, watermark: view.watermark, streamWatermarks: view.streamWatermarks, createdAtMs: view.createdAtMs });

export class ServingLayer {
  readonly store: ServingStore;
  /** The default stream first, then each NATS partition stream found in the data folder. */
  private streams: FollowedStream[];
  private readonly listeners = new Set<(status: SnapshotStatus) => void>();
  private ready = false;
  private task: Promise<void> | undefined;
  private lastBatchCheckMs = -Infinity;
  private loadedWindow: string | undefined;
  private lastCsvMs = -Infinity;
  private csvWrite: Promise<void> | undefined;
  private writtenVersion = 0;
  private readonly exports: ViewExports;
  /** Per stream, the speed layer's counters as last seen. */
  private readonly counters = new Map<string, CounterSample[]>();
  private wake: (() => void) | undefined;
  private watchers: fs.FSWatcher[] = [];
  /** Threads loading a view now (close stops them). */
  private readonly threads = new Set<ThreadClient<ServingRequest>>();

  private constructor(private readonly config: ServingConfig) {
    this.store = new ServingStore(config.clock);
    this.streams = allStreamLayouts(config.layout).map(followed);
    this.exports = new ViewExports(config.layout.mergedView, this.store);
  }

  /** `run` then loads the first view (readiness) and keeps it current. */
  static open(config: ServingConfig): ServingLayer {
    return new ServingLayer(config);
  }

  /** The CSV files of versions written so far, by how. */
  get exportsWritten(): Readonly<ViewExports['written']> {
    return this.exports.written;
  }

  /** True once a consistent view is loaded. */
  get isReady(): boolean {
    return this.ready;
  }

  /**
   * Reads views off the hot path, on a thread started for this one request: its garbage (the files and columns it
   * read through) goes with it, instead of waiting for a collection an idle thread never runs.
   */
  private async offThread<Result>(request: ServingRequest, transfer: ArrayBuffer[] = []): Promise<Result> {
    const thread = ThreadClient.start<ServingRequest>(workerUrl('serving-worker'), 'serving thread', SERVING_THREAD_LIMITS);
    this.threads.add(thread);
    try {
      return await thread.request<Result>(request, transfer);
    } finally {
      this.threads.delete(thread);
      await thread.close();
    }
  }

  /** Calls `listener` with every new version; returns the unsubscribe function. */
  onVersion(listener: (status: SnapshotStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** After a change of the store: the listeners. */
  private changed(status: SnapshotStatus | undefined): void {
    if (!status) return;
    for (const listener of this.listeners) listener(status);
  }

  /**
   * Rows the speed layers read per second over the last RATE_WINDOW_MS, up to now, summed over streams: a stream that
   * stopped falls to 0. Null before a speed layer has published twice.
   */
  get eventsPerSecond(): number | null {
    let total: number | null = null;
    for (const samples of this.counters.values()) {
      const rate = this.rateOf(samples);
      if (rate !== null) total = (total ?? 0) + rate;
    }
    return total;
  }

  private rateOf(counters: readonly CounterSample[]): number | null {
    const last = counters.at(-1);
    if (!last) return null;
    const now = this.config.clock.now();
    const since = now - RATE_WINDOW_MS;
    // The newest sample at or before the window's start (or the oldest of this speed process) is the baseline.
    const sameRun = counters.filter((c) => c.startedAtMs === last.startedAtMs);
    const base = sameRun.filter((c) => c.atMs <= since).at(-1) ?? sameRun[0]!;
    if (base === last && sameRun.length < 2) return null;
    const spanMs = now - Math.max(base.atMs, since);
    return spanMs > 0 ? ((last.rows - base.rows) * 1000) / spanMs : null;
  }

  /** Rows the running speed layers have read since they started (null before a first realtime view). */
  get rowsIngested(): number | null {
    const lasts = [...this.counters.values()].map((c) => c.at(-1)).filter((c) => c !== undefined);
    return lasts.length === 0 ? null : lasts.reduce((n, c) => n + c.rows, 0);
  }

  /** Bad rows: the batch view's, plus those the running speed layers found. */
  get badRows(): { batch: number; stream: number } {
    const stream = [...this.counters.values()].reduce((n, c) => n + (c.at(-1)?.badRows ?? 0), 0);
    return { batch: this.store.batchView?.badRows ?? 0, stream };
  }

  private sampleCounters(stream: string, sample: Omit<CounterSample, 'atMs'>): void {
    const now = this.config.clock.now();
    let counters = this.counters.get(stream);
    if (!counters) this.counters.set(stream, (counters = []));
    const last = counters.at(-1);
    if (last && last.rows === sample.rows && last.startedAtMs === sample.startedAtMs) return;
    counters.push({ ...sample, atMs: now });
    // Keep one sample older than the window: the baseline of the rate.
    while (counters.length > 2 && counters[1]!.atMs <= now - RATE_WINDOW_MS) counters.shift();
  }

  /** The speed layer published a new realtime head (in-process, inside `all`): look now rather than at the next poll. */
  nudge(): void {
    this.wake?.();
  }

  private async load(): Promise<void> {
    const { layout, view } = this.config;
    this.streams = allStreamLayouts(layout).map(followed);
    const batch = latestBatchView(layout.servingBatch, this.config.logger);
    const realtime = (stream: DataLayout): { checkpoint: RealtimeViewInfo | undefined; head: RealtimeHeadInfo | undefined } => ({
      head: view === 'exact' ? readRealtimeHead(stream.realtimeHead) : undefined,
      checkpoint: view === 'exact' ? listRealtimeViews(stream.servingRealtime).at(-1) : undefined,
    });
    const checkpointRef = (checkpoint: RealtimeViewInfo | undefined): RealtimeViewRef | null =>
      checkpoint ? { dir: checkpoint.dir, watermark: checkpoint.watermark, throughSeq: checkpoint.throughSeq, lastIngestedAtMs: checkpoint.lastIngestedAtMs } : null;
    const { head, checkpoint } = realtime(layout);
    const window = view === 'window' ? listSpeedViews(layout.servingSpeed).at(-1) : undefined;
    const result = await this.offThread<ServingLoadResult>({
      type: 'load',
      batch: batch ? batchRef(batch) : null,
      checkpoint: checkpointRef(checkpoint),
      throughSeq: Math.max(head?.throughSeq ?? 0, checkpoint?.throughSeq ?? 0),
      lastIngestedAtMs: head?.lastIngestedAtMs ?? checkpoint?.lastIngestedAtMs ?? null,
      window: window?.dir ?? null,
      deltasDir: layout.realtimeDeltas,
      streams: this.streams.slice(1).map(({ layout: stream }) => {
        const state = realtime(stream);
        return {
          stream: stream.stream,
          checkpoint: checkpointRef(state.checkpoint),
          throughSeq: Math.max(state.head?.throughSeq ?? 0, state.checkpoint?.throughSeq ?? 0),
          deltasDir: stream.realtimeDeltas,
        };
      }),
    });
    this.loadedWindow = window?.dir;
    this.changed(this.store.load(result.base, UserAggTable.fromState(result.overlay), result.throughSeq, result.lastIngestedAtMs, result.streamThroughSeqs));
    this.ready = true;
  }

  /** Runs a background load step (one at a time); a state error is logged and answered by a full reload. */
  private background(what: string, step: () => Promise<void>): void {
    if (this.task) return;
    this.task = step()
      .catch(async (error: unknown) => {
        if (!(error instanceof LambdaflowError) || (error.code !== 'E_STATE' && error.code !== 'E_INPUT')) throw error;
        this.config.logger.warn(`serving: ${what}: ${error.message}; loading the view again`);
        await this.config.clock.sleep(this.ready ? 0 : RETRY_MS);
        await this.load();
      })
      .catch((error: unknown) => {
        if (!(error instanceof LambdaflowError) || (error.code !== 'E_STATE' && error.code !== 'E_INPUT')) throw error;
        this.config.logger.warn(`serving: reload failed (${error.message}); trying again`);
      })
      .finally(() => (this.task = undefined));
  }

  /**
   * Applies the realtime deltas each stream's speed layer head says are published past the store's seq (exact view),
   * in slices of at most APPLY_SLICE_USERS users with the event loop free in between: a speed layer catching up after
   * a stall publishes hundreds of seqs at once, and one synchronous apply of them would hold every lookup back.
   */
  private async refreshRealtime(): Promise<void> {
    for (const { layout, deltas } of this.streams) {
      const head = readRealtimeHead(layout.realtimeHead);
      if (!head) continue;
      if (head.rowsIngested !== null && head.startedAtMs !== null) {
        this.sampleCounters(layout.stream, { rows: head.rowsIngested, badRows: head.badRows ?? 0, startedAtMs: head.startedAtMs });
      }
      const through = this.store.throughSeqOf(layout.stream);
      if (head.throughSeq <= through) continue;
      try {
        const slices = sliceByUsers(await runInSteps(deltas.readInSteps(through, head.throughSeq)), APPLY_SLICE_USERS);
        for (const [i, items] of slices.entries()) {
          await yieldToEvents();
          // Only the last slice reaches the head's newest file: the others keep the staleness they had.
          const lastIngestedAtMs = i === slices.length - 1 ? head.lastIngestedAtMs : null;
          this.changed(this.store.apply(items, lastIngestedAtMs, layout.stream));
        }
        if (this.store.throughSeqOf(layout.stream) < head.throughSeq) {
          const where = layout.stream === DEFAULT_STREAM ? '' : ` of stream ${layout.stream}`;
          throw new LambdaflowError('E_STATE', `realtime deltas${where} past seq ${this.store.throughSeqOf(layout.stream)} are missing`);
        }
      } catch (error) {
        if (!(error instanceof LambdaflowError) || error.code !== 'E_STATE') throw error;
        this.background('realtime update', () => Promise.reject(error));
        return;
      }
    }
  }

  /** Swaps in the newest speed window (window view). */
  private refreshWindow(): void {
    const latest = listSpeedViews(this.config.layout.servingSpeed).at(-1);
    if (!latest || latest.dir === this.loadedWindow) return;
    this.background('window update', async () => {
      const table = await this.offThread<AggTableState>({ type: 'window', dir: latest.dir });
      this.loadedWindow = latest.dir;
      this.changed(this.store.replaceOverlay(UserAggTable.fromState(table)));
    });
  }

  /**
   * Loads a newer batch view off the hot path and swaps it in, keeping exactly the seqs it did not absorb: the loader
   * reads those up to the store's seq when asked, and the store keeps the seqs it applies meanwhile.
   */
  private refreshBatch(newest: BatchViewInfo): void {
    this.background('batch view swap', async () => {
      if (this.config.view === 'window') return this.load();
      const watermark = this.store.current!.batchWatermark;
      this.store.keepRecent(true);
      try {
        const result = await this.offThread<ServingBatchResult>({
          type: 'batch',
          batch: batchRef(newest),
          streams: this.streams.map(({ layout }) => ({ stream: layout.stream, deltasDir: layout.realtimeDeltas, keepThrough: this.store.throughSeqOf(layout.stream) })),
        });
        // The seqs applied while the loader worked are added to its overlay in slices, the event loop free between, so
        // the swap itself adds only the last few.
        let prepared = result.prepared;
        for (let next = this.store.advancePrepared(result.base, prepared, APPLY_SLICE_USERS); next; next = this.store.advancePrepared(result.base, prepared, APPLY_SLICE_USERS)) {
          prepared = next;
          await yieldToEvents();
        }
        // A reload meanwhile changed what the overlay is relative to: this swap no longer fits.
        if (this.store.current!.batchWatermark !== watermark) return;
        this.changed(this.store.swapBatch(result.base, prepared));
      } finally {
        this.store.keepRecent(false);
      }
    });
  }

  private checkBatch(nowMs: number): void {
    if (nowMs - this.lastBatchCheckMs < BATCH_CHECK_MS || this.task) return;
    this.lastBatchCheckMs = nowMs;
    // A NATS partition stream that appeared since the load: loaded with everything else.
    if (partitionStreams(this.config.layout).length !== this.streams.length - 1) {
      this.background('new stream', () => this.load());
      return;
    }
    const newest = latestBatchView(this.config.layout.servingBatch, this.config.logger);
    const current = this.store.current!;
    const advances = (view: BatchViewInfo): boolean =>
      view.watermark >= current.batchWatermark && Object.entries(current.streams).every(([stream, position]) => batchWatermarkOf(view, stream) >= position.batchWatermark);
    if (newest && advances(newest) && `batch-${newest.createdAtMs}` !== current.batchView) this.refreshBatch(newest);
  }

  /** A file of the merged view's CSV of the current version (the same bytes merged_view.csv gets for it); release it when done. */
  csv(): Promise<ExportedVersion> {
    return this.exports.current();
  }

  private async writeCsv(): Promise<void> {
    this.lastCsvMs = this.config.clock.now();
    const status = await this.exports.publish();
    this.writtenVersion = status.version;
    this.config.onCsvWritten?.(status, this.config.clock.now());
  }

  private maybeWriteCsv(nowMs: number): void {
    if (this.csvWrite || nowMs - this.lastCsvMs < this.config.csvIntervalMs) return;
    if (this.writtenVersion === this.store.current!.version && fs.existsSync(this.config.layout.mergedView)) return;
    this.csvWrite = this.writeCsv()
      .catch((error: unknown) => {
        if (!(error instanceof LambdaflowError) || (error.code !== 'E_WRITE' && error.code !== 'E_STATE')) throw error;
        this.config.logger.warn(`serving: ${error.message}; merged_view.csv is written again next interval`);
      })
      .finally(() => (this.csvWrite = undefined));
  }

  /** A head is replaced by a rename in its serving/realtime/: an event there wakes the poll at once. */
  private watchRealtime(): void {
    for (const { layout } of this.streams) {
      try {
        fs.mkdirSync(layout.servingRealtime, { recursive: true });
        const watcher = fs.watch(layout.servingRealtime, () => this.wake?.());
        watcher.on('error', () => watcher.close());
        this.watchers.push(watcher);
      } catch {
        // Polling alone then.
      }
    }
  }

  /** Loads the first view, then keeps the store current until the signal aborts; writes merged_view.csv last. */
  async run(signal: AbortSignal): Promise<void> {
    const { clock } = this.config;
    try {
      while (!this.ready && !signal.aborted) {
        try {
          await this.load();
        } catch (error) {
          if (!(error instanceof LambdaflowError) || (error.code !== 'E_STATE' && error.code !== 'E_INPUT')) throw error;
          this.config.logger.warn(`serving: cannot load a consistent view yet (${error.message}); retrying`);
          await clock.sleep(RETRY_MS, signal);
        }
      }
      if (this.config.view === 'exact') this.watchRealtime();
      while (!signal.aborted) {
        await this.step();
        const woken = new AbortController();
        this.wake = () => woken.abort();
        await clock.sleep(this.config.pollMs, AbortSignal.any([signal, woken.signal]));
        this.wake = undefined;
      }
      await this.task;
      if (this.ready) {
        await this.step();
        await this.task;
        await this.csvWrite;
        await this.writeCsv();
      }
    } finally {
      await this.close();
    }
  }

  /** `merge --once`: loads the view (an inconsistent one is an error, not retried), writes merged_view.csv, closes. */
  async once(): Promise<SnapshotStatus> {
    try {
      await this.load();
      await this.writeCsv();
      return this.store.current!;
    } finally {
      await this.close();
    }
  }

  private async step(): Promise<void> {
    const now = this.config.clock.now();
    // Realtime deltas keep coming in while a batch view loads (the store keeps them for its swap): pausing them would
    // leave the API stale for the whole load and then apply the backlog in one long step.
    if (this.config.view === 'exact' && this.ready) await this.refreshRealtime();
    if (!this.task) {
      if (this.config.view === 'window') this.refreshWindow();
      this.checkBatch(now);
    }
    this.maybeWriteCsv(now);
  }

  /** Stops the serving threads (run and once do it when they end): a load still running is stopped, not applied. */
  async close(): Promise<void> {
    for (const watcher of this.watchers.splice(0)) watcher.close();
    await Promise.all([...this.threads].map((thread) => thread.close()));
    // The background step whose load was stopped ends with that error, applying nothing: it is not left unhandled.
    await this.task?.catch(() => undefined);
    await this.exports.close();
  }
}
