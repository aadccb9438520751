// The speed layer: micro-batches of new stream files → ingest log → sliding window (workers) + realtime view.
//
// Order of effects per micro-batch, which is what makes crashes safe:
//   1. new complete files are appended to the ingest log (fsync): from here on they are in the master dataset;
//   2. their rows are parsed and routed: window slides in the workers, realtime totals here;
//   3. a delta file with their per-seq totals, then the realtime view, are published atomically.
// A crash anywhere leaves the log as the truth: on restart, everything logged past the batch watermark is re-read
// to rebuild the realtime view (and missing deltas), and the window is rebuilt from logged files still inside it.

import fs from 'node:fs';
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { UserAggTable, blockToSortedTotals } from '../core/agg-table.js';
import { type Clock } from '../core/clock.js';
import { LambdaflowError } from '../core/errors.js';
import { type BadRowMode } from '../core/event-parser.js';
import { type WindowSpec } from '../core/window.js';
import { formatBlock, formatTotals } from '../core/view-format.js';
import { DirectoryPublisher, removeStaleTemps } from '../io/atomic.js';
import { type SeqTotals, coveredSeqs, mergeDeltas, pruneDeltas, writeDeltaFile } from '../io/deltas.js';
import { type IngestEntry, IngestLogWriter } from '../io/ingest-log.js';
import { type DataLayout, isInputFileName } from '../io/layout.js';
import { acquireLock } from '../io/lock.js';
import { type Logger } from '../io/logger.js';
import { writeQuarantine } from '../io/quarantine.js';
import { parseFileRange } from '../io/read-range.js';
import { sleep } from '../io/sleep.js';
import { listBatchViews, listRealtimeViews, listSpeedViews, pruneViews } from '../io/views.js';
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

/**
 * A file modified less than this ago may still be written in place: it is stat'ed again after this long and
 * ingested only if unchanged. Files renamed into place (the contract) are older than this when seen.
 */
const SETTLE_MS = 50;
const REALTIME_VIEWS_KEPT = 3;
const WATCHER_RECYCLE_ADDS = 2_000;

/** Groups sorted sequence numbers into runs of consecutive numbers (one delta file per run). */
function consecutiveRuns<T extends { seq: number }>(items: readonly T[]): T[][] {
  const runs: T[][] = [];
  for (const item of items) {
    const run = runs.at(-1);
    if (run && run.at(-1)!.seq + 1 === item.seq) run.push(item);
    else runs.push([item]);
  }
  return runs;
}

class SpeedLayer {
  private realtime = new UserAggTable();
  private batchWatermark = 0;
  private throughSeq = 0;
  private readonly logged = new Set<string>();
  private readonly hinted = new Set<string>();
  private lastListingMs = -Infinity;
  private watcher: FSWatcher | undefined;
  private watchedAdds = 0;
  private realtimeChanged = true;
  private slideEvents = 0;
  private slideMaxLagMs = 0;
  private totalEvents = 0;
  /** Per-seq totals ingested but not yet written as a delta file (a write failed). */
  private pendingDeltas: SeqTotals[] = [];

  constructor(
    private readonly config: SpeedConfig,
    private readonly log: IngestLogWriter,
    private readonly workers: SpeedWorkers,
  ) {}

  private slideOfTick(tickMs: number): number {
    return Math.floor((tickMs - 1) / this.config.window.slideMs);
  }

  private filePath(name: string): string {
    return path.join(this.config.layout.streamInput, name);
  }

  /** Parses a logged file's ingested prefix; bad rows go to quarantine (or stop the layer in failfast mode). */
  private async parseLogged(entry: IngestEntry): Promise<UserAggTable> {
    const table = new UserAggTable(64);
    const file = this.filePath(entry.name);
    let parsed;
    try {
      parsed = parseFileRange(file, 0, entry.size, table, this.config.mode);
    } catch (error) {
      throw new LambdaflowError('E_STATE', `cannot read ingested stream file ${file} (seq ${entry.seq}): ${(error as Error).message}`, { file });
    }
    if (parsed.truncated) throw new LambdaflowError('E_STATE', `ingested stream file ${file} (seq ${entry.seq}) shrank below its logged size`, { file });
    const first = parsed.badRows[0];
    if (this.config.mode === 'failfast' && first) {
      throw new LambdaflowError('E_BAD_ROW', `bad row in ${file} at line ${first.line}: ${first.reason}`, { file, line: first.line, reason: first.reason });
    }
    if (this.config.mode === 'permissive' && parsed.badRows.length > 0) {
      // The file is already in the master dataset: failing to record its bad rows must not stop its good rows.
      try {
        await writeQuarantine(this.config.layout, entry.name, parsed.badRows);
      } catch (error) {
        if (!(error instanceof LambdaflowError) || error.code !== 'E_WRITE') throw error;
        this.config.logger.error(`speed: ${parsed.badRows.length} bad rows of ${entry.name} counted but not quarantined (the next batch run writes them): ${error.message}`);
      }
    }
    this.totalEvents += parsed.counts.rows;
    return table;
  }

  /** Rebuilds state from the ingest log after a start or a crash. */
  async recover(entries: readonly IngestEntry[]): Promise<void> {
    const { layout, window, clock } = this.config;
    this.batchWatermark = listBatchViews(layout.servingBatch).at(-1)?.watermark ?? 0;
    this.throughSeq = entries.at(-1)?.seq ?? 0;
    const now = clock.now();
    const firstWindowSlide = this.slideOfTick(now) - window.slidesPerWindow + 1;
    const covered = coveredSeqs(layout.realtimeDeltas);
    const missingDeltas: SeqTotals[] = [];
    for (const entry of entries) {
      this.logged.add(entry.name);
      const inRealtime = entry.seq > this.batchWatermark;
      const slide = this.slideOfTick(entry.ingestedAtMs);
      const inWindow = slide >= firstWindowSlide && entry.ingestedAtMs <= now;
      if (!inRealtime && !inWindow) continue;
      const table = await this.parseLogged(entry);
      if (inRealtime) {
        this.realtime.mergeTable(table);
        if (!covered.has(entry.seq)) missingDeltas.push({ seq: entry.seq, block: table.toBlock() });
      }
      if (inWindow) this.workers.add(slide, table.toPartitionedBlocks(this.workers.partitions));
    }
    for (const run of consecutiveRuns(missingDeltas)) await writeDeltaFile(layout.realtimeDeltas, run);
    this.config.logger.info(
      `speed: recovered ${entries.length} logged files (realtime past watermark ${this.batchWatermark}: seq ${this.batchWatermark + 1}..${this.throughSeq}, ${this.realtime.liveSize} users)`,
    );
    await this.publishRealtime(now);
  }

  /**
   * Starts watching for new files. chokidar keeps state for every file it has seen (~2 KB each), so after
   * WATCHER_RECYCLE_ADDS files a fresh watcher replaces it (started before the old one closes, and followed by a full
   * listing), keeping memory to the files of the last while rather than of the whole stream's history.
   */
  async watch(): Promise<void> {
    const previous = this.watcher;
    const watcher = watch(this.config.layout.streamInput, {
      ignoreInitial: true,
      depth: 0,
      ignored: (file, stats) => stats?.isFile() === true && !isInputFileName(path.basename(file)),
    });
    watcher.on('add', (file) => {
      this.hinted.add(path.basename(file));
      this.watchedAdds++;
    });
    watcher.on('error', (error) => this.config.logger.warn(`speed: watcher: ${error instanceof Error ? error.message : String(error)}`));
    this.watcher = watcher;
    this.watchedAdds = 0;
    if (previous) {
      await previous.close();
      this.lastListingMs = -Infinity;
    }
  }

  async stopWatching(): Promise<void> {
    await this.watcher?.close();
    this.watcher = undefined;
  }

  /** New complete input files: watcher hints every tick, a full listing every slide (hints can be lost). */
  private async newFiles(nowMs: number, fullListing: boolean): Promise<{ name: string; size: number; mtimeMs: number }[]> {
    let names: string[];
    if (fullListing || nowMs - this.lastListingMs >= this.config.window.slideMs) {
      this.lastListingMs = nowMs;
      names = await fs.promises.readdir(this.config.layout.streamInput);
    } else {
      names = [...this.hinted];
    }
    this.hinted.clear();
    const stat = async (name: string): Promise<fs.Stats | undefined> => {
      try {
        const s = await fs.promises.stat(this.filePath(name));
        return s.isFile() ? s : undefined;
      } catch {
        return undefined;
      }
    };
    const candidates: { name: string; size: number; mtimeMs: number }[] = [];
    for (const name of names.filter((n) => isInputFileName(n) && !this.logged.has(n))) {
      const s = await stat(name);
      if (s) candidates.push({ name, size: s.size, mtimeMs: s.mtimeMs });
    }
    const young = candidates.filter((c) => Date.now() - c.mtimeMs < SETTLE_MS);
    if (young.length > 0) await new Promise((r) => setTimeout(r, SETTLE_MS));
    const settled: typeof candidates = [];
    for (const candidate of candidates) {
      if (!young.includes(candidate)) {
        settled.push(candidate);
        continue;
      }
      const again = await stat(candidate.name);
      if (again && again.size === candidate.size && again.mtimeMs === candidate.mtimeMs) settled.push(candidate);
      else this.hinted.add(candidate.name); // still being written: look again next micro-batch
    }
    return settled.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Drops from the realtime view what a newer batch view absorbed. */
  private async rebase(): Promise<void> {
    const { layout } = this.config;
    const views = listBatchViews(layout.servingBatch);
    const newest = views.at(-1)?.watermark ?? 0;
    if (newest <= this.batchWatermark) return;
    const through = Math.min(newest, this.throughSeq);
    const found = mergeDeltas(layout.realtimeDeltas, this.batchWatermark, through, this.realtime, -1);
    if (found.size !== through - this.batchWatermark) {
      throw new LambdaflowError('E_STATE', `realtime deltas for seq ${this.batchWatermark + 1}..${through} are incomplete; restart the speed layer to rebuild them`);
    }
    this.config.logger.info(`speed: batch view absorbed ingest seq ${this.batchWatermark + 1}..${newest}; realtime view rebased`);
    this.batchWatermark = newest;
    this.realtime = this.realtime.compacted();
    this.realtimeChanged = true;
    // Keep deltas any retained batch view may still need (a merge may use an older view for a moment).
    pruneDeltas(layout.realtimeDeltas, views[0]!.watermark);
  }

  /** Runs a publishing step; a failed write (disk full, read-only folder) is logged and retried next micro-batch. */
  private async retryable(what: string, step: () => Promise<void>): Promise<boolean> {
    try {
      await step();
      return true;
    } catch (error) {
      if (!(error instanceof LambdaflowError) || error.code !== 'E_WRITE') throw error;
      this.config.logger.error(`speed: ${what} failed, will retry: ${error.message}`);
      return false;
    }
  }

  /** Writes the deltas not yet on disk; a realtime view is only published once its deltas are. */
  private flushDeltas(): Promise<boolean> {
    if (this.pendingDeltas.length === 0) return Promise.resolve(true);
    return this.retryable('writing realtime deltas', async () => {
      await writeDeltaFile(this.config.layout.realtimeDeltas, this.pendingDeltas);
      this.pendingDeltas = [];
    });
  }

  /** One micro-batch at tick time tickMs; `last` (a graceful stop) lists the folder rather than trust late hints. */
  async tick(tickMs: number, last = false): Promise<void> {
    const { window } = this.config;
    if (this.watchedAdds >= WATCHER_RECYCLE_ADDS) await this.watch();
    if (await this.flushDeltas()) await this.rebase();
    const files = await this.newFiles(tickMs, last);
    let entries: IngestEntry[] = [];
    if (!(await this.retryable('appending to the ingest log', async () => void (entries = this.log.append(files, tickMs))))) return;
    const eventsBefore = this.totalEvents;
    const slide = this.slideOfTick(tickMs);
    // chokidar keeps a file watcher per file it reports: release each once ingested (its name is logged).
    this.watcher?.unwatch(entries.map((entry) => this.filePath(entry.name)));
    for (const entry of entries) {
      this.logged.add(entry.name);
      const table = await this.parseLogged(entry);
      this.realtime.mergeTable(table);
      this.pendingDeltas.push({ seq: entry.seq, block: table.toBlock() });
      // Each file's users go straight to their workers, which merge them into the slide in parallel.
      this.workers.add(slide, table.toPartitionedBlocks(this.workers.partitions));
    }
    if (entries.length > 0) {
      this.throughSeq = entries.at(-1)!.seq;
      this.realtimeChanged = true;
    }
    this.slideEvents += this.totalEvents - eventsBefore;
    if (this.realtimeChanged && (await this.flushDeltas())) await this.retryable('publishing the realtime view', () => this.publishRealtime(tickMs));
    const publishedAt = Date.now();
    for (const file of files) this.slideMaxLagMs = Math.max(this.slideMaxLagMs, publishedAt - file.mtimeMs);
    if (tickMs % window.slideMs === 0) await this.retryable('publishing the window', () => this.publishWindow(tickMs / window.slideMs));
  }

  private async publishRealtime(nowMs: number): Promise<void> {
    const { layout } = this.config;
    let createdAtMs = nowMs;
    while (fs.existsSync(path.join(layout.servingRealtime, `realtime-${createdAtMs}`))) createdAtMs++;
    const publisher = await DirectoryPublisher.begin(path.join(layout.servingRealtime, `realtime-${createdAtMs}`));
    try {
      // Unsorted: readers load it into a table, and sorting 100 k users every micro-batch would cost more than parsing.
      await publisher.write('part-00000', formatBlock(this.realtime.toBlock()));
      await publisher.write('_REALTIME.json', JSON.stringify({ watermark: this.batchWatermark, throughSeq: this.throughSeq, createdAtMs }) + '\n');
      await publisher.commit();
    } catch (error) {
      await publisher.abort();
      throw error;
    }
    this.realtimeChanged = false;
    pruneViews(listRealtimeViews(layout.servingRealtime).sort((a, b) => a.createdAtMs - b.createdAtMs), REALTIME_VIEWS_KEPT);
  }

  /** Publishes the window of slides before `slide` as speed-<end ms>.txt/. */
  async publishWindow(slide: number): Promise<void> {
    const { layout, window, keepViews } = this.config;
    const blocks = await this.workers.windows(slide);
    const endMs = slide * window.slideMs;
    const dir = path.join(layout.servingSpeed, `speed-${endMs}.txt`);
    // Published before a restart within the same slide (at a graceful stop, with the slide still open): replace it.
    if (fs.existsSync(dir)) fs.rmSync(dir, { recursive: true, force: true });
    const publisher = await DirectoryPublisher.begin(dir);
    let windowUsers = 0;
    try {
      for (const [partition, block] of blocks.entries()) {
        windowUsers += block.counts.length;
        await publisher.write(`part-${String(partition).padStart(5, '0')}`, formatTotals(blockToSortedTotals(block)));
      }
      await publisher.commit();
    } catch (error) {
      await publisher.abort();
      throw error;
    }
    pruneViews(listSpeedViews(layout.servingSpeed), keepViews);
    this.config.onSlide?.({
      windowEndMs: endMs,
      eventsInSlide: this.slideEvents,
      eventsPerSecond: (this.slideEvents * 1000) / window.slideMs,
      windowUsers,
      realtimeUsers: this.realtime.liveSize,
      batchWatermark: this.batchWatermark,
      throughSeq: this.throughSeq,
      maxLagMs: this.slideMaxLagMs,
      totalEvents: this.totalEvents,
    });
    this.slideEvents = 0;
    this.slideMaxLagMs = 0;
  }
}

/** Runs the speed layer until the signal aborts, then ingests what is complete, publishes, and returns. */
export async function runSpeedLayer(config: SpeedConfig): Promise<void> {
  const { layout, clock, signal, window } = config;
  for (const dir of [layout.streamInput, layout.servingSpeed, layout.realtimeDeltas]) await fs.promises.mkdir(dir, { recursive: true });
  const lock = acquireLock(layout.speedLock, 'speed layer');
  let workers: SpeedWorkers | undefined;
  let log: IngestLogWriter | undefined;
  let speed: SpeedLayer | undefined;
  try {
    await removeStaleTemps(layout.servingSpeed);
    await removeStaleTemps(layout.servingRealtime);
    const opened = IngestLogWriter.open(layout.ingestLog);
    log = opened.writer;
    workers = await SpeedWorkers.start(config.threads, window.slidesPerWindow);
    speed = new SpeedLayer(config, log, workers);
    await speed.recover(opened.entries);
    await speed.watch();
    let tickMs = (Math.floor(clock.now() / window.batchIntervalMs) + 1) * window.batchIntervalMs;
    while (!signal.aborted) {
      await sleep(tickMs - clock.now(), signal);
      if (signal.aborted) break;
      await speed.tick(tickMs);
      // A micro-batch that overran skips the ticks it missed rather than queueing them.
      tickMs = Math.max(tickMs + window.batchIntervalMs, (Math.floor(clock.now() / window.batchIntervalMs) + 1) * window.batchIntervalMs);
    }
    // Graceful stop: one last micro-batch for complete files, then the window including the open slide.
    const finalMs = Math.max(clock.now(), tickMs - window.batchIntervalMs + 1);
    await speed.tick(finalMs, true);
    await speed.publishWindow(Math.floor((finalMs - 1) / window.slideMs) + 1);
  } finally {
    await speed?.stopWatching();
    await workers?.stop();
    log?.close();
    lock.release();
  }
}
