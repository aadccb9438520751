// The speed layer: micro-batches of new stream files → ingest log → sliding window (workers) + realtime view.
//
// Order of effects per micro-batch, which is what makes crashes safe:
//   1. new complete files are appended to the ingest log (fsync): from here on they are in the master dataset;
//   2. their rows are parsed and routed: window slides in the workers, realtime totals here;
//   3. a delta file with their per-seq totals, then the realtime view, are published atomically.
// A crash anywhere leaves the log as the truth: on restart, everything logged past the batch watermark is re-read
// to rebuild the realtime view (and missing deltas), and the window is rebuilt from logged files still inside it.
//
// Everything outside (files, threads, time) comes in through ports (./ports.ts) and the Clock, so tests drive
// hundreds of micro-batches in memory with a manual clock; runSpeedLayer wires the real ones.

import fs from 'node:fs';
import { type Clock } from '../core/clock.js';
import { LambdaflowError } from '../core/errors.js';
import { type BadRowMode } from '../core/event-parser.js';
import { type WindowSpec, inWindowAt, nextTickAfter, slideClosedBy, slideOfTick, windowBefore } from '../core/window.js';
import { removeStaleTemps } from '../io/atomic.js';
import { DeltaFiles } from '../io/deltas.js';
import { type IngestEntry, IngestLogWriter } from '../io/ingest-log.js';
import { type DataLayout } from '../io/layout.js';
import { acquireLock } from '../io/lock.js';
import { type Logger } from '../io/logger.js';
import { StreamFiles } from '../io/stream-files.js';
import { StreamFileReader } from './logged-files.js';
import { type DeltaStore, type IngestAppender, type LoggedFileReader, type ParsedFile, type RealtimeUpdate, type SlideStore, type SpeedCounters, type SpeedOutputs, type StreamSource } from './ports.js';
import { RealtimeView } from './realtime-view.js';
import { SpeedViewFiles } from './publish.js';
import { SpeedWorkers } from './speed-workers.js';

export interface SpeedConfig {
  readonly layout: DataLayout;
  readonly threads: number;
  readonly mode: BadRowMode;
  readonly logger: Logger;
  readonly window: WindowSpec;
  /** Speed window directories kept. */
  readonly keepViews: number;
  readonly clock: Clock;
  readonly signal: AbortSignal;
  readonly onSlide?: (status: SpeedStatus) => void;
  /** Called after each realtime view is published, with the per-seq totals it added (in-process serving). */
  readonly onRealtime?: (update: RealtimeUpdate & SpeedCounters) => void;
}

export interface SpeedStatus {
  readonly windowEndMs: number;
  readonly eventsInSlide: number;
  readonly eventsPerSecond: number;
  readonly windowUsers: number;
  readonly realtimeUsers: number;
  readonly batchWatermark: number;
  readonly throughSeq: number;
  /** Slowest file of the slide: its last modification to its rows being in the published realtime view. */
  readonly maxLagMs: number;
  readonly totalEvents: number;
}

/** The outside world of one speed layer. */
export interface SpeedPorts {
  readonly clock: Clock;
  readonly source: StreamSource;
  readonly log: IngestAppender;
  readonly reader: LoggedFileReader;
  readonly slides: SlideStore;
  readonly deltas: DeltaStore;
  readonly outputs: SpeedOutputs;
  readonly logger: Logger;
}

/** One speed layer's state and its micro-batch step; `recover` first, then `tick` at every batch interval. */
export class SpeedLayer {
  private realtime: RealtimeView;
  private slideEvents = 0;
  private slideMaxLagMs = 0;
  private totalEvents = 0;
  private totalBadRows = 0;
  private readonly startedAtMs: number;

  constructor(
    private readonly ports: SpeedPorts,
    private readonly window: WindowSpec,
    private readonly observers: Pick<SpeedConfig, 'onSlide' | 'onRealtime'> = {},
  ) {
    this.realtime = new RealtimeView(ports.deltas, 0, 0, null);
    this.startedAtMs = ports.clock.now();
  }

  /** The realtime view's watermark S_R and through-seq N. */
  get realtimeRange(): { readonly batchWatermark: number; readonly throughSeq: number } {
    return { batchWatermark: this.realtime.batchWatermark, throughSeq: this.realtime.throughSeq };
  }

  private async read(entry: IngestEntry): Promise<ParsedFile> {
    const parsed = await this.ports.reader.read(entry);
    this.totalEvents += parsed.rows;
    this.totalBadRows += parsed.badRows;
    return parsed;
  }

  /** Rebuilds state from the ingest log after a start or a crash, and publishes the realtime view. */
  async recover(entries: readonly IngestEntry[]): Promise<void> {
    const { clock, deltas, outputs, slides } = this.ports;
    const batchWatermark = outputs.batchWatermarks().at(-1) ?? 0;
    this.realtime = new RealtimeView(deltas, batchWatermark, entries.at(-1)?.seq ?? 0, entries.at(-1)?.ingestedAtMs ?? null);
    const now = clock.now();
    const covered = deltas.covered();
    for (const entry of entries) {
      const inRealtime = entry.seq > batchWatermark;
      const inWindow = inWindowAt(this.window, entry.ingestedAtMs, now);
      if (!inRealtime && !inWindow) continue;
      const { table } = await this.read(entry);
      if (inRealtime) this.realtime.add(entry.seq, entry.ingestedAtMs, table, covered.has(entry.seq));
      if (inWindow) slides.add(slideOfTick(this.window, entry.ingestedAtMs), table.toPartitionedBlocks(slides.partitions));
    }
    const written = await this.retryable('writing realtime deltas', () => this.realtime.flushDeltas());
    this.ports.logger.info(
      `speed: recovered ${entries.length} logged files (realtime past watermark ${batchWatermark}: seq ${batchWatermark + 1}..${this.realtime.throughSeq}, ${this.realtime.users} users)`,
    );
    if (written) await this.retryable('publishing the realtime view', () => this.publishRealtime(now));
  }

  /** Runs a publishing step; a failed write (disk full, read-only folder) is logged and retried next micro-batch. */
  private async retryable(what: string, step: () => unknown): Promise<boolean> {
    try {
      await step();
      return true;
    } catch (error) {
      if (!(error instanceof LambdaflowError) || error.code !== 'E_WRITE') throw error;
      this.ports.logger.error(`speed: ${what} failed, will retry: ${error.message}`);
      return false;
    }
  }

  /** Drops from the realtime view what a newer batch view absorbed (only once every delta is on disk). */
  private rebase(): void {
    const watermarks = this.ports.outputs.batchWatermarks();
    const newest = watermarks.at(-1) ?? 0;
    const before = this.realtime.batchWatermark;
    // Keep deltas any retained batch view may still need (a merge may use an older view for a moment).
    if (this.realtime.rebase(newest, watermarks[0] ?? 0)) {
      this.ports.logger.info(`speed: batch view absorbed ingest seq ${before + 1}..${newest}; realtime view rebased`);
    }
  }

  /** One micro-batch at tick time tickMs; `last` (a graceful stop) lists the folder rather than trust late hints. */
  async tick(tickMs: number, last = false): Promise<void> {
    const { clock, source, log, slides } = this.ports;
    if (await this.retryable('writing realtime deltas', () => this.realtime.flushDeltas())) this.rebase();
    const files = await source.newFiles(tickMs, last);
    let entries: IngestEntry[] = [];
    if (!(await this.retryable('appending to the ingest log', () => (entries = log.append(files, tickMs))))) return;
    source.logged(entries.map((entry) => entry.name));
    const eventsBefore = this.totalEvents;
    const slide = slideOfTick(this.window, tickMs);
    for (const entry of entries) {
      const { table } = await this.read(entry);
      this.realtime.add(entry.seq, entry.ingestedAtMs, table);
      // Each file's users go straight to their partitions, which merge them into the slide in parallel.
      slides.add(slide, table.toPartitionedBlocks(slides.partitions));
    }
    this.slideEvents += this.totalEvents - eventsBefore;
    if (this.realtime.changed && (await this.retryable('writing realtime deltas', () => this.realtime.flushDeltas()))) {
      await this.retryable('publishing the realtime view', () => this.publishRealtime(tickMs));
    }
    const publishedAt = clock.now();
    for (const file of files) this.slideMaxLagMs = Math.max(this.slideMaxLagMs, publishedAt - file.mtimeMs);
    const closed = slideClosedBy(this.window, tickMs);
    if (closed !== undefined) await this.retryable('publishing the window', () => this.publishWindow(closed));
  }

  private async publishRealtime(atMs: number): Promise<void> {
    const counters: SpeedCounters = { rowsIngested: this.totalEvents, badRows: this.totalBadRows, startedAtMs: this.startedAtMs };
    await this.ports.outputs.publishRealtime({ ...this.realtime.snapshot(), ...counters }, atMs);
    this.observers.onRealtime?.({ ...this.realtime.published(), ...counters });
  }

  /** Publishes the window of the slides before `slide`. */
  async publishWindow(slide: number): Promise<void> {
    const { endMs } = windowBefore(this.window, slide);
    const windowUsers = await this.ports.outputs.publishWindow(endMs, await this.ports.slides.windows(slide));
    this.observers.onSlide?.({
      windowEndMs: endMs,
      eventsInSlide: this.slideEvents,
      eventsPerSecond: (this.slideEvents * 1000) / this.window.slideMs,
      windowUsers,
      realtimeUsers: this.realtime.users,
      batchWatermark: this.realtime.batchWatermark,
      throughSeq: this.realtime.throughSeq,
      maxLagMs: this.slideMaxLagMs,
      totalEvents: this.totalEvents,
    });
    this.slideEvents = 0;
    this.slideMaxLagMs = 0;
  }

  /**
   * Micro-batches at every batch interval until the signal aborts; then one last micro-batch for the complete files
   * and the window including the open slide.
   */
  async run(signal: AbortSignal): Promise<void> {
    const { clock } = this.ports;
    let tickMs = nextTickAfter(this.window, clock.now());
    while (!signal.aborted) {
      await clock.sleep(tickMs - clock.now(), signal);
      if (signal.aborted) break;
      await this.tick(tickMs);
      // A micro-batch that overran skips the ticks it missed rather than queueing them.
      tickMs = Math.max(tickMs + this.window.batchIntervalMs, nextTickAfter(this.window, clock.now()));
    }
    const finalMs = Math.max(clock.now(), tickMs - this.window.batchIntervalMs + 1);
    await this.tick(finalMs, true);
    await this.publishWindow(slideOfTick(this.window, finalMs) + 1);
  }
}

/** Runs the speed layer on the data folder until the signal aborts, then ingests what is complete, publishes, and returns. */
export async function runSpeedLayer(config: SpeedConfig): Promise<void> {
  const { layout, clock, logger, window } = config;
  for (const dir of [layout.streamInput, layout.servingSpeed, layout.realtimeDeltas]) await fs.promises.mkdir(dir, { recursive: true });
  const lock = acquireLock(layout.speedLock, 'speed layer');
  let workers: SpeedWorkers | undefined;
  let log: IngestLogWriter | undefined;
  let source: StreamFiles | undefined;
  try {
    await removeStaleTemps(layout.servingSpeed);
    await removeStaleTemps(layout.servingRealtime);
    const opened = IngestLogWriter.open(layout.ingestLog);
    log = opened.writer;
    workers = await SpeedWorkers.start(config.threads, window.slidesPerWindow);
    source = new StreamFiles({ dir: layout.streamInput, clock, logger, listEveryMs: window.slideMs }, opened.entries.map((entry) => entry.name));
    const speed = new SpeedLayer(
      {
        clock,
        source,
        log,
        reader: new StreamFileReader(layout, config.mode, logger),
        slides: workers,
        deltas: new DeltaFiles(layout.realtimeDeltas),
        outputs: new SpeedViewFiles(layout, logger, config.keepViews),
        logger,
      },
      window,
      config,
    );
    await speed.recover(opened.entries);
    await source.watch();
    await speed.run(config.signal);
  } finally {
    await source?.close();
    await workers?.stop();
    log?.close();
    lock.release();
  }
}
