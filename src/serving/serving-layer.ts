// The serving layer at run time: keeps the store current from the data folder (new realtime state as soon as the
// speed layer publishes it, new batch views loaded off the hot path), or from the speed layer in-process, and
// publishes merged_view.csv on its own cadence (src/serving/csv-cadence.ts). The follow loop is here; what differs
// between the exact and window views is their strategy object (src/serving/merge-view.ts).

import fs from 'node:fs';
import { UserAggTable, type UserTotal } from '../core/agg-table.js';
import { type Clock } from '../core/clock.js';
import { LambdaflowError } from '../core/errors.js';
import { type DataLayout, allStreamLayouts, partitionStreams } from '../io/files/layout.js';
import { type Logger } from '../io/runtime/logger.js';
import { type BatchViewInfo, VIEW_REMOVED, batchWatermarkOf, latestBatchView } from '../io/views/views.js';
import { CsvCadence } from './csv-cadence.js';
import { DamageWarnings } from './damage-warnings.js';
import { NO_BATCH_VIEW, type SnapshotStatus } from './current-version.js';
import { ExactView } from './exact-view.js';
import { type TopBy } from './lookups.js';
import { type MergeView, type MergeViewContext, batchRef } from './merge-view.js';
import { type ServingReads } from './serving-reads.js';
import { ServingThreads } from './serving-threads.js';
import { SpeedCounters } from './speed-counters.js';
import { OverlayBuckets } from './overlay-buckets.js';
import { ServingStore } from './store.js';
import { type MergeViewKind } from './view-kind.js';
import { type ExportedVersion, ViewExports } from './view-exports.js';
import { WindowView } from './window-view.js';

export interface ServingConfig {
  readonly layout: DataLayout;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly view: MergeViewKind;
  /** The data folder's event-time bucket size: what realtime deltas and checkpoints are read with. */
  readonly bucketSeconds: number;
  /** merged_view.csv is written this often, when the version changed. */
  readonly csvIntervalMs: number;
  /** New realtime state is looked for this often (a file-system event wakes it sooner). */
  readonly pollMs: number;
  /** Called after merged_view.csv is written, with the version it holds. */
  readonly onCsvWritten?: (status: SnapshotStatus, writtenAtMs: number) => void;
}

const BATCH_CHECK_MS = 500;
const RETRY_MS = 1_000;

/** The strategy object of each merged view. */
const MERGE_VIEW_STRATEGIES: Readonly<Record<MergeViewKind, (context: MergeViewContext) => MergeView>> = {
  exact: (context) => new ExactView(context),
  window: (context) => new WindowView(context),
};

/** A state or input error: the view on disk is not consistent yet, and a load later may find it so. */
/** Loads `merge --once` makes when batch jobs keep pruning the view it reads: each time a newer one exists. */
const ONCE_ATTEMPTS = 5;

const isRetryable = (error: unknown): boolean => error instanceof LambdaflowError && (error.code === 'E_STATE' || error.code === 'E_INPUT');

export class ServingLayer implements ServingReads {
  readonly store: ServingStore;
  /** The default stream first, then each NATS partition stream found in the data folder. */
  private streams: DataLayout[];
  private readonly listeners = new Set<(status: SnapshotStatus) => void>();
  private ready = false;
  private task: Promise<void> | undefined;
  private lastBatchCheckMs = -Infinity;
  private readonly mergeView: MergeView;
  private readonly threads = new ServingThreads();
  private readonly counters: SpeedCounters;
  private readonly exports: ViewExports;
  private readonly csvCadence: CsvCadence;
  private wake: (() => void) | undefined;
  private watchers: fs.FSWatcher[] = [];
  private readonly warnings: DamageWarnings;
  /** `merge --once`: a damaged file the follow loop would skip with a warning is an error instead. */
  private refusesDamage = false;

  private constructor(private readonly config: ServingConfig) {
    this.store = new ServingStore(config.clock, config.bucketSeconds);
    this.streams = allStreamLayouts(config.layout);
    this.counters = new SpeedCounters(config.clock);
    this.warnings = new DamageWarnings(config.logger);
    this.exports = new ViewExports(config.layout.mergedView, this.store);
    this.csvCadence = new CsvCadence(
      { target: config.layout.mergedView, intervalMs: config.csvIntervalMs, clock: config.clock, logger: config.logger, onWritten: config.onCsvWritten },
      this.exports,
    );
    this.mergeView = MERGE_VIEW_STRATEGIES[config.view]({
      layout: config.layout,
      bucketSeconds: config.bucketSeconds,
      store: this.store,
      threads: this.threads,
      counters: this.counters,
      streams: () => this.streams,
      busy: () => this.task !== undefined,
      background: (what, step) => this.background(what, step),
      changed: (status) => this.changed(status),
      reload: () => this.load(),
      skipped: (error, what) => {
        if (this.refusesDamage) throw error;
        this.warnings.warn(error, `serving: ${error.message}; ${what}`);
      },
    });
  }

  /** `run` then loads the first view (readiness) and keeps it current. */
  static open(config: ServingConfig): ServingLayer {
    return new ServingLayer(config);
  }

  get current(): SnapshotStatus | undefined {
    return this.store.current;
  }

  get isReady(): boolean {
    return this.ready;
  }

  get(userId: string): UserTotal | undefined {
    return this.store.get(userId);
  }

  top(by: TopBy, n: number): UserTotal[] {
    return this.store.top(by, n);
  }

  get bucketSeconds(): number {
    return this.config.bucketSeconds;
  }

  get ranges(): ServingReads['ranges'] {
    return this.store.ranges;
  }

  csv(): Promise<ExportedVersion> {
    return this.exports.current();
  }

  onVersion(listener: (status: SnapshotStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get eventsPerSecond(): number | null {
    return this.counters.eventsPerSecond;
  }

  get rowsIngested(): number | null {
    return this.counters.rowsIngested;
  }

  get sourceUnreadableSeconds(): ReadonlyMap<string, number> {
    return this.counters.sourceUnreadableSeconds;
  }

  get badRows(): { batch: number; stream: number } {
    return { batch: this.store.batchView?.badRows ?? 0, stream: this.counters.badRows };
  }

  get exportsWritten(): Readonly<ViewExports['written']> {
    return this.exports.written;
  }

  /** After a change of the store: the listeners. */
  private changed(status: SnapshotStatus | undefined): void {
    if (!status) return;
    for (const listener of this.listeners) listener(status);
  }

  /** The speed layer published a new realtime head (in-process, inside `all`): look now rather than at the next poll. */
  nudge(): void {
    this.wake?.();
  }

  private async load(): Promise<void> {
    const { layout, logger } = this.config;
    this.streams = allStreamLayouts(layout);
    const batch = latestBatchView(layout.servingBatch, logger);
    const result = await this.mergeView.load(batch ? batchRef(batch) : null, this.streams);
    this.changed(
      this.store.load(
        result.base,
        UserAggTable.fromState(result.overlay),
        result.throughSeq,
        result.lastIngestedAtMs,
        result.streamThroughSeqs,
        OverlayBuckets.fromState(result.buckets),
      ),
    );
    if (!batch && !this.ready)
      logger.warn(`serving: ${NO_BATCH_VIEW} in ${layout.servingBatch}: serving the speed layer's totals alone until a batch job publishes one`);
    this.ready = true;
    this.warnings.loaded();
  }

  /** Runs a background load step (one at a time); a state error is logged and answered by a full reload. */
  private background(what: string, step: () => Promise<void>): void {
    if (this.task) return;
    this.task = step()
      .catch(async (error: unknown) => {
        if (!isRetryable(error)) throw error;
        this.warnings.warn(error, `serving: ${what}: ${(error as Error).message}; loading the view again (keeping the last good version meanwhile)`);
        await this.config.clock.sleep(this.ready ? 0 : RETRY_MS);
        await this.load();
      })
      .catch((error: unknown) => {
        if (!isRetryable(error)) throw error;
        this.warnings.warn(error, `serving: reload failed (${(error as Error).message}); trying again`);
      })
      .finally(() => (this.task = undefined));
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
      view.watermark >= current.batchWatermark &&
      Object.entries(current.streams).every(([stream, position]) => batchWatermarkOf(view, stream) >= position.batchWatermark);
    if (newest && advances(newest) && `batch-${newest.createdAtMs}` !== current.batchView)
      this.background('batch view swap', () => this.mergeView.batchChanged(newest));
  }

  /** Changes in the view's watched folders wake the poll at once. */
  private watch(): void {
    for (const dir of this.mergeView.watched()) {
      try {
        fs.mkdirSync(dir, { recursive: true });
        const watcher = fs.watch(dir, () => this.wake?.());
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
          if (!isRetryable(error)) throw error;
          this.warnings.warn(error, `serving: cannot load a consistent view yet (${(error as Error).message}); retrying`);
          await clock.sleep(RETRY_MS, signal);
        }
      }
      this.watch();
      while (!signal.aborted) {
        await this.step();
        // Not AbortSignal.any([signal, woken.signal]): on Node 20 every signal composed from `signal` stays listed in
        // it (a WeakRef), one more per poll or nudge for as long as the service runs.
        const woken = new AbortController();
        const wake = (): void => woken.abort();
        signal.addEventListener('abort', wake, { once: true });
        if (signal.aborted) wake();
        this.wake = wake;
        try {
          await clock.sleep(this.config.pollMs, woken.signal);
        } finally {
          signal.removeEventListener('abort', wake);
          this.wake = undefined;
        }
      }
      await this.task;
      if (this.ready) {
        await this.step();
        await this.task;
        await this.csvCadence.writeNow();
      }
    } finally {
      await this.close();
    }
  }

  /**
   * `merge --once`: loads the view (an inconsistent one is an error, not retried; one a batch job pruned while it was
   * read is, from the newest), writes merged_view.csv, closes.
   */
  async once(): Promise<SnapshotStatus> {
    this.refusesDamage = true;
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          await this.load();
          break;
        } catch (error) {
          if (!(error instanceof LambdaflowError && error.context.reason === VIEW_REMOVED) || attempt === ONCE_ATTEMPTS) throw error;
          this.config.logger.info(`merge: ${error.message}; reading the newest view`);
        }
      }
      await this.csvCadence.writeNow();
      return this.store.current!;
    } finally {
      await this.close();
    }
  }

  /** One step once loaded: the view's realtime refresh, a look for a newer batch view, merged_view.csv when due. */
  private async step(): Promise<void> {
    const now = this.config.clock.now();
    await this.mergeView.refresh();
    this.checkBatch(now);
    this.csvCadence.maybeWrite(now, this.store.current!);
  }

  /** Stops the serving threads (run and once do it when they end): a load still running is stopped, not applied. */
  async close(): Promise<void> {
    for (const watcher of this.watchers.splice(0)) watcher.close();
    await this.threads.close();
    // The background step whose load was stopped ends with that error, applying nothing: it is not left unhandled.
    await this.task?.catch(() => undefined);
    await this.exports.close();
  }
}
