// The speed layer: micro-batches of new stream files → ingest log → parse threads → speed workers (sliding window
// and realtime view, per partition) → deltas, head, windows and checkpoints on disk.
//
// Order of effects per micro-batch, which is what makes crashes safe:
//   1. new complete files are appended to the ingest log (fsync): from here on they are in the master dataset;
//   2. parse threads read them; the main thread routes each partition's totals to its worker (window + realtime);
//   3. their per-seq delta lines are written, then the head says the realtime view now reaches their seqs;
//   4. at each slide's end, the window is published and the realtime view checkpointed.
// A crash anywhere leaves the log as the truth. A restart rebuilds the realtime view from the newest checkpoint plus
// the deltas after it (re-reading only logged files whose deltas were never written), and the window from the
// logged files still inside it: work bounded by what happened since the last slide, not by the stream's history.
//
// Event time (src/core/event-time.ts): each logged file is a unit. Its rows below W(seq − 1) are late: counted like any
// other, and also set aside (ports.late) and counted; the clock after each seq is in the deltas' trailers, in the head
// and in each checkpoint, so a restart finds the same late rows whatever the micro-batches were.
//
// With `--time event` the window is on event time instead (src/core/event-window.ts): each file's purchases per slide
// slot come back from the parse, less its late ones, and every window the watermark passes is published once, after
// the file that made it due. Its state is saved with each checkpoint; a restart goes on from it, reading the logged
// files after it again through the same parse, so a window due again after a kill -9 is the same window.
//
// Everything outside (files, threads, time) comes in through ports (./ports.ts) and the Clock, so tests drive
// hundreds of micro-batches in memory with a manual clock; src/pipeline/speed.ts wires the real ones.

import { type Clock } from '../core/clock.js';
import { LambdaflowError } from '../core/errors.js';
import { checkDeltasFound, planExactMerge } from '../core/exact-merge.js';
import { type BadRowMode } from '../core/event-parser.js';
import {
  DEFAULT_ALLOWED_LATENESS_SECONDS,
  EVENT_CLOCK_START,
  EventClockTracker,
  type UnitEventTime,
  unitLateness,
  watermarkJson,
  watermarkOf,
} from '../core/event-time.js';
import { type DueWindow, type EventWindowSpec, EventWindows } from '../core/event-window.js';
import { sortedEntries } from '../core/key-order.js';
import { formatEntries } from '../core/view-lines.js';
import { type LateRow } from '../io/logs/late-rows.js';
import { type WindowSpec, inWindowAt, nextTickAfter, slideClosedBy, slideOfTick, windowBefore } from '../core/window.js';
import { type IngestEntry } from '../io/logs/ingest-log.js';
import { type Logger } from '../io/runtime/logger.js';
import {
  type DeltaStore,
  type EventWindowStore,
  type IngestAppender,
  type PartitionStore,
  type RealtimeHead,
  type SpeedOutputs,
  type StreamParse,
  type StreamParser,
  type StreamSource,
} from './ports.js';
import { RealtimeView } from './realtime-view.js';

/** Who watches a running speed layer. */
export interface SpeedObservers {
  readonly onSlide?: (status: SpeedStatus) => void;
  /** Called after each micro-batch whose realtime head was published (an in-process reader can look now). */
  readonly onRealtime?: (head: RealtimeHead) => void;
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
  /** The event-time watermark W (null before any good row) and the rows found late, in the whole stream. */
  readonly eventWatermark: number | null;
  readonly lateRows: number;
  /** How long the source has not been able to read (a NATS server or cluster not answering); null while it reads. */
  readonly sourceUnreadableMs: number | null;
}

/** The outside world of one speed layer. */
export interface SpeedPorts {
  readonly clock: Clock;
  readonly source: StreamSource;
  readonly log: IngestAppender;
  readonly parser: StreamParser;
  readonly partitions: PartitionStore;
  readonly deltas: DeltaStore;
  readonly outputs: SpeedOutputs;
  readonly logger: Logger;
  /** Writes a logged file's bad rows to quarantine (permissive mode). */
  readonly quarantine: (entry: IngestEntry, parsed: StreamParse['files'][number]) => Promise<void>;
  /** Writes (replaces) a logged file's late rows, found below `watermark`, beside the quarantine. */
  readonly late: (entry: IngestEntry, watermark: number, rows: readonly LateRow[]) => Promise<void>;
  readonly mode: BadRowMode;
  /** Where event-time windows keep their state (needed with an event-time window only). */
  readonly eventWindowStore?: EventWindowStore;
}

/**
 * A checkpoint holds every user of the realtime view, so it costs what the view holds: at most one per this long (and
 * at a stop); a restart reads the newest plus the deltas after it.
 */
const CHECKPOINT_EVERY_MS = 10_000;
/**
 * A source that has not read for this long is reported (status line, head.json, then serve's /status and /metrics):
 * longer than a reconnect to a server that restarts, shorter than a cluster's leader election after losing a server.
 */
export const UNREADABLE_REPORTED_AFTER_MS = 3_000;

/** Groups entries into runs of consecutive seqs that share a key (one parse and one delta file each). */
function runsBy<K>(entries: readonly IngestEntry[], key: (entry: IngestEntry) => K): { key: K; entries: IngestEntry[] }[] {
  const runs: { key: K; entries: IngestEntry[] }[] = [];
  for (const entry of entries) {
    const k = key(entry);
    const run = runs.at(-1);
    if (run && run.key === k && run.entries.at(-1)!.seq + 1 === entry.seq) run.entries.push(entry);
    else runs.push({ key: k, entries: [entry] });
  }
  return runs;
}

/** One speed layer's state and its micro-batch step; `recover` first, then `tick` at every batch interval. */
export class SpeedLayer {
  private realtime: RealtimeView;
  private slideEvents = 0;
  private slideMaxLagMs = 0;
  private totalEvents = 0;
  private totalBadRows = 0;
  private realtimeUsers = 0;
  private lastCheckpointMs = -Infinity;
  /** The seq the newest checkpoint reaches (0: none). */
  private checkpointedThroughSeq = 0;
  private sourceUnreadableSinceMs: number | null = null;
  private readonly startedAtMs: number;
  private eventTime: EventClockTracker;
  /** Seqs the log folded (compacted) that a recovery reads from their compacted segments: their late rows were set aside when first counted. */
  private readonly foldedSeqs = new Set<number>();
  /** Event-time windows (undefined: the window is on processing time, or a recovery has not set them up yet). */
  private eventWindows: EventWindows | undefined;
  /** Windows due but not yet published (a failed write): published, in order, before any later one. */
  private readonly unpublished: DueWindow[] = [];
  private eventWindowUsers = 0;

  constructor(
    private readonly ports: SpeedPorts,
    private readonly window: WindowSpec,
    private readonly observers: SpeedObservers = {},
    private readonly allowedLatenessSeconds = DEFAULT_ALLOWED_LATENESS_SECONDS,
    /** Set: the window is on event time (`--time event`). */
    private readonly eventWindowSpec?: EventWindowSpec,
  ) {
    this.realtime = new RealtimeView(ports.deltas, 0, 0, null);
    this.startedAtMs = ports.clock.now();
    this.eventTime = new EventClockTracker(EVENT_CLOCK_START, 0, allowedLatenessSeconds);
  }

  /** The realtime view's watermark S_R and through-seq N. */
  get realtimeRange(): { readonly batchWatermark: number; readonly throughSeq: number } {
    return { batchWatermark: this.realtime.watermark, throughSeq: this.realtime.throughSeq };
  }

  private head(): RealtimeHead {
    const { watermark, throughSeq, lastIngestedAtMs } = this.realtime;
    const { maxEventSecond, lateRows } = this.eventTime.clock;
    return {
      watermark,
      throughSeq,
      lastIngestedAtMs,
      rowsIngested: this.totalEvents,
      badRows: this.totalBadRows,
      startedAtMs: this.startedAtMs,
      sourceUnreadableSinceMs: this.sourceUnreadableSinceMs,
      eventTime: {
        maxEventSecond: watermarkJson(maxEventSecond),
        watermark: watermarkJson(watermarkOf(this.eventTime.clock, this.allowedLatenessSeconds)),
        lateRows,
        allowedLatenessSeconds: this.allowedLatenessSeconds,
      },
    };
  }

  /**
   * Parses a run of logged files and routes their totals: to slide `slide` (null: not the window) and, if `realtime`,
   * to the realtime view with their delta lines (unless `deltasOnDisk`). Bad rows are quarantined, or stop the layer
   * in failfast mode; a file that shrank below its logged size is damaged state.
   */
  private async count(entries: readonly IngestEntry[], slide: number | null, realtime: boolean, deltasOnDisk = false): Promise<void> {
    if (entries.length === 0) return;
    const { parser, partitions, mode } = this.ports;
    const results = await parser.parse(entries);
    const bySeq = new Map(entries.map((entry) => [entry.seq, entry]));
    for (const result of results) {
      for (const file of result.files) {
        const entry = bySeq.get(file.seq)!;
        if (file.truncated)
          throw new LambdaflowError('E_STATE', `ingested stream file ${file.path} (seq ${file.seq}) shrank below its logged size`, { file: file.path });
        const first = file.badRows[0];
        if (mode === 'failfast' && first) {
          throw new LambdaflowError('E_BAD_ROW', `bad row in ${file.path} at line ${first.line}: ${first.reason}`, {
            file: file.path,
            line: first.line,
            reason: first.reason,
          });
        }
        if (mode === 'permissive' && file.badRows.length > 0) await this.quarantine(entry, file);
        this.totalEvents += file.counts.rows;
        this.totalBadRows += file.badRowCount;
      }
      // An event-time window leaves the processing-time slides empty.
      const windowSlide = this.eventWindowSpec ? null : slide;
      if (windowSlide !== null || realtime) partitions.add(result.blocks, windowSlide, realtime);
    }
    const files = results.flatMap((r) => r.files);
    const { units, lateRows } = await this.countEventTime(files, bySeq);
    if (this.eventWindows) await this.countEventWindows(this.eventWindows, files, bySeq, lateRows);
    if (realtime) {
      const lines = deltasOnDisk ? undefined : Buffer.concat(results.map((r) => r.deltas));
      // A trailer only when every seq's event time is known on its own (not folded into a checkpoint's clock).
      const seqUnits = entries.map((entry) => units.get(entry.seq));
      const known = seqUnits.every((unit) => unit !== undefined) ? seqUnits : [];
      this.realtime.counted(entries[0]!.seq, entries.at(-1)!.seq, entries.at(-1)!.ingestedAtMs, lines, known);
    }
  }

  /**
   * Advances the event clock over parsed files in seq order (those it has not counted yet): each file's threshold is
   * W(seq − 1); a file whose smallest second is below it is looked through for its late rows, which are set aside and
   * counted. Returns the event time of each file counted here, and the late rows found.
   */
  private async countEventTime(
    files: readonly StreamParse['files'][number][],
    bySeq: ReadonlyMap<number, IngestEntry>,
  ): Promise<{ units: Map<number, UnitEventTime>; lateRows: Map<number, readonly LateRow[]> }> {
    const counted = new Map<number, { maxEventSecond: number; lateRows: number }>();
    const lookThrough: { entry: IngestEntry; threshold: number }[] = [];
    const lateRows = new Map<number, readonly LateRow[]>();
    for (const file of [...files].sort((a, b) => a.seq - b.seq)) {
      if (this.eventTime.isKnown(file.seq)) continue;
      const threshold = this.eventTime.thresholdOf(file.seq);
      this.eventTime.advance(file.seq, file.counts.maxEventSecond);
      counted.set(file.seq, { maxEventSecond: file.counts.maxEventSecond, lateRows: 0 });
      if (file.counts.minEventSecond < threshold) lookThrough.push({ entry: bySeq.get(file.seq)!, threshold });
    }
    if (lookThrough.length > 0) {
      const found = await this.ports.parser.lateRows(lookThrough);
      for (const [i, { entry, threshold }] of lookThrough.entries()) {
        const rows = found[i]!;
        lateRows.set(entry.seq, rows);
        counted.get(entry.seq)!.lateRows = rows.length;
        this.eventTime.addLate(rows.length);
        if (rows.length > 0 && !this.foldedSeqs.has(entry.seq))
          await this.retryable(`setting aside the late rows of ${entry.name}`, () => this.ports.late(entry, threshold, rows));
      }
    }
    return { units: counted, lateRows };
  }

  /**
   * Feeds the files event-time windows have not counted yet, in seq order, each less its late rows (those the event
   * clock found, or looked for here when the clock knew the file already), and publishes the windows they made due.
   */
  private async countEventWindows(
    windows: EventWindows,
    parsed: readonly StreamParse['files'][number][],
    bySeq: ReadonlyMap<number, IngestEntry>,
    lateFound: ReadonlyMap<number, readonly LateRow[]>,
  ): Promise<void> {
    const files = parsed.filter((file) => file.seq > windows.throughSeq).sort((a, b) => a.seq - b.seq);
    const thresholds = unitLateness(
      windows.state.clock,
      files.map((file) => file.counts),
      this.allowedLatenessSeconds,
    );
    const lookThrough = files.flatMap((file, i) =>
      thresholds[i]!.mayHaveLateRows && !lateFound.has(file.seq) ? [{ entry: bySeq.get(file.seq)!, threshold: thresholds[i]!.threshold }] : [],
    );
    const found = lookThrough.length > 0 ? await this.ports.parser.lateRows(lookThrough) : [];
    const late = new Map([...lateFound, ...lookThrough.map(({ entry }, i) => [entry.seq, found[i]!] as const)]);
    for (const file of files) {
      const lateLines = (late.get(file.seq) ?? []).map((row) => row.raw);
      this.unpublished.push(...windows.add({ seq: file.seq, maxEventSecond: file.counts.maxEventSecond, purchases: file.eventSlots!, lateLines }));
    }
    await this.retryable('publishing event-time windows', () => this.publishDueWindows());
  }

  private async publishDueWindows(): Promise<void> {
    while (this.unpublished.length > 0) {
      const window = this.unpublished[0]!;
      const { totals, startSecond: start, endSecond: end, watermark, lateRows } = window;
      const order = sortedEntries(totals);
      await this.ports.outputs.publishWindow(end * 1000, [formatEntries(totals, order)], { time: 'event', start, end, watermark, lateRows });
      this.eventWindowUsers = order.length;
      this.unpublished.shift();
    }
  }

  /** Saves the event-time windows' state, unless a window it counts as due is still unpublished. */
  private async saveEventWindows(): Promise<void> {
    if (!this.eventWindows || this.unpublished.length > 0) return;
    await this.ports.eventWindowStore!.write(this.eventWindowSpec!, this.eventWindows.state);
  }

  /** The file is already in the master dataset: failing to record its bad rows must not stop its good rows. */
  private async quarantine(entry: IngestEntry, file: StreamParse['files'][number]): Promise<void> {
    try {
      await this.ports.quarantine(entry, file);
    } catch (error) {
      if (!(error instanceof LambdaflowError) || error.code !== 'E_WRITE') throw error;
      this.ports.logger.error(
        `speed: ${file.badRows.length} bad rows of ${entry.name} counted but not quarantined (the next batch run writes them): ${error.message}`,
      );
    }
  }

  /** Adds the deltas of a range of seqs to the realtime view; resolves with the seqs found. */
  private applyDeltas(afterSeq: number, throughSeq: number, sign: 1 | -1): Promise<ReadonlySet<number>> {
    return this.ports.partitions.applyDeltas({ afterSeq, throughSeq, sign });
  }

  /**
   * Rebuilds state after a start or a crash: the realtime view from the newest checkpoint (made exact against the
   * batch view) plus the deltas after it, re-reading only logged files whose deltas are missing; the window from the
   * logged files still inside it. Then publishes the head and a checkpoint.
   */
  async recover(logged: readonly IngestEntry[], lastSeq = logged.at(-1)?.seq ?? 0): Promise<void> {
    let entries = logged;
    const { clock, deltas, outputs, partitions, logger } = this.ports;
    const batchWatermark = outputs.batchWatermarks().at(-1) ?? 0;
    const last = entries.at(-1);
    // Seqs the log folded (compacted) are older than the window; the view still reaches the log's last seq.
    this.realtime = new RealtimeView(deltas, batchWatermark, Math.max(lastSeq, batchWatermark), last?.ingestedAtMs ?? null);
    const now = clock.now();
    let from = batchWatermark;
    const checkpoint = outputs.latestCheckpoint();
    // The event clock goes on from the newest checkpoint's (usable even when its totals are not); seqs after it come
    // from the deltas' trailers where they have one, from their files otherwise.
    const clockFrom = checkpoint?.eventClock !== undefined && checkpoint.throughSeq <= lastSeq ? checkpoint : undefined;
    this.checkpointedThroughSeq = checkpoint?.throughSeq ?? 0;
    this.eventTime = new EventClockTracker(clockFrom?.eventClock ?? EVENT_CLOCK_START, clockFrom?.throughSeq ?? 0, this.allowedLatenessSeconds);
    // A damaged delta is never trusted: without it its seqs are counted from their logged files and written again.
    for (const refused of deltas.removeDamaged()) logger.warn(`speed: ${refused}; removed it, its seqs are counted again from the logged files`);
    for (const [seq, unit] of deltas.eventTimes(this.eventTime.throughSeq, lastSeq)) this.eventTime.know(seq, unit);
    const savedWindows = this.eventWindowSpec && this.ports.eventWindowStore!.read(this.eventWindowSpec);
    const windowsFrom = savedWindows && savedWindows.throughSeq <= lastSeq ? savedWindows.throughSeq : lastSeq;
    if (checkpoint && checkpoint.throughSeq <= lastSeq) {
      const plan = planExactMerge({ batchWatermark, realtimeWatermark: checkpoint.watermark, realtimeThroughSeq: checkpoint.throughSeq });
      if (plan.useRealtime) {
        partitions.load(checkpoint.parts, checkpoint.name);
        const found = plan.correction ? await this.applyDeltas(plan.correction.afterSeq, plan.correction.throughSeq, plan.correction.sign) : undefined;
        try {
          if (plan.correction) checkDeltasFound(plan.correction, found!);
          from = checkpoint.throughSeq;
        } catch (error) {
          logger.warn(`speed: checkpoint ${checkpoint.name} not used (${(error as Error).message}); rebuilding the realtime view from the logged files`);
          partitions.clearRealtime();
        }
      }
    }
    // Past the checkpoint: deltas where they were written, the logged files otherwise (their compacted segments for
    // seqs the log folded).
    const folded = this.ports.log.foldedEntries(
      Math.min(from, this.eventTime.throughSeq, windowsFrom),
      entries[0]?.seq !== undefined ? entries[0].seq - 1 : lastSeq,
    );
    for (const entry of folded) this.foldedSeqs.add(entry.seq);
    entries = [...folded, ...entries];
    // Event-time windows go on from their saved state when every file after it is still there to read again.
    this.eventWindows = undefined;
    if (
      this.eventWindowSpec &&
      savedWindows &&
      windowsFrom === savedWindows.throughSeq &&
      (windowsFrom === lastSeq || entries.some((e) => e.seq === windowsFrom + 1))
    ) {
      this.eventWindows = new EventWindows(this.eventWindowSpec, savedWindows);
    } else if (this.eventWindowSpec && lastSeq === 0) this.eventWindows = new EventWindows(this.eventWindowSpec);
    const windowsThrough = this.eventWindows?.throughSeq ?? lastSeq;
    const covered = deltas.covered();
    const fromDeltas = new Set<number>();
    for (const run of runsBy(
      entries.filter((e) => e.seq > from),
      (e) => covered.has(e.seq),
    )) {
      if (!run.key) continue;
      const found = await this.applyDeltas(run.entries[0]!.seq - 1, run.entries.at(-1)!.seq, 1);
      for (const seq of found) fromDeltas.add(seq);
    }
    // What the deltas lacked is read from the files; the window needs the files inside it either way, and the event
    // clock every file whose event time no trailer gave.
    const inWindow = (e: IngestEntry): boolean => (this.eventWindowSpec ? e.seq > windowsThrough : inWindowAt(this.window, e.ingestedAtMs, now));
    const needed = entries.filter((e) => (e.seq > from && !fromDeltas.has(e.seq)) || inWindow(e) || !this.eventTime.isKnown(e.seq));
    for (const run of runsBy(
      needed,
      (e) => `${inWindowAt(this.window, e.ingestedAtMs, now) ? slideOfTick(this.window, e.ingestedAtMs) : 'none'}:${e.seq > from && !fromDeltas.has(e.seq)}`,
    )) {
      const [slide, realtime] = run.key.split(':');
      await this.count(run.entries, slide === 'none' ? null : Number(slide), realtime === 'true');
    }
    this.eventTime.foldKnown(lastSeq);
    this.foldedSeqs.clear();
    if (this.eventWindowSpec && !this.eventWindows) {
      this.eventWindows = EventWindows.after(this.eventWindowSpec, lastSeq, this.eventTime.clock);
      logger.warn(
        `speed: event-time windows start after seq ${lastSeq} (no saved state to go on from): the first published is the first that only later files can reach`,
      );
    }
    const written = await this.retryable('writing realtime deltas', () => this.realtime.flushDeltas());
    logger.info(
      `speed: recovered ${entries.length} logged files (realtime past watermark ${batchWatermark}: seq ${batchWatermark + 1}..${this.realtime.throughSeq}, ` +
        `${checkpoint && from === checkpoint.throughSeq ? `from checkpoint through seq ${from} plus ` : ''}${fromDeltas.size} seqs from deltas, ${needed.length} files read)`,
    );
    if (written) {
      await this.retryable('publishing the realtime head', () => this.publishHead());
      await this.retryable('checkpointing the realtime view', () => this.checkpoint(now));
    }
    await this.retryable('saving the event-time windows', () => this.saveEventWindows());
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

  /** Subtracts from the realtime view what a newer batch view absorbed (only once every delta is on disk). */
  private async rebase(): Promise<void> {
    const { outputs, partitions, deltas, logger } = this.ports;
    const watermarks = outputs.batchWatermarks();
    const newest = watermarks.at(-1) ?? 0;
    const before = this.realtime.watermark;
    if (newest <= before) return;
    const plan = planExactMerge({ batchWatermark: newest, realtimeWatermark: before, realtimeThroughSeq: this.realtime.throughSeq });
    if (!plan.useRealtime) partitions.clearRealtime();
    else if (plan.correction) {
      const { afterSeq, throughSeq, sign } = plan.correction;
      const found = await this.applyDeltas(afterSeq, throughSeq, sign);
      try {
        checkDeltasFound(plan.correction, found);
      } catch (error) {
        throw new LambdaflowError('E_STATE', `${(error as Error).message}; restart the speed layer to rebuild them`, {}, { cause: error });
      }
    }
    this.realtime.rebased(newest);
    // Keep deltas any retained batch view may still need (a reader may use an older view for a moment), and those past
    // the newest checkpoint: their trailers give a restart the event clock after it.
    deltas.prune(Math.min(watermarks[0] ?? 0, this.checkpointedThroughSeq));
    logger.info(`speed: batch view absorbed ingest seq ${before + 1}..${newest}; realtime view rebased`);
  }

  /** One micro-batch at tick time tickMs; `last` (a graceful stop) lists the folder rather than trust late hints. */
  async tick(tickMs: number, last = false): Promise<void> {
    const { clock, source, log } = this.ports;
    if (await this.retryable('writing realtime deltas', () => this.realtime.flushDeltas())) await this.rebase();
    const files = await source.newFiles(tickMs, last);
    let entries: IngestEntry[] = [];
    if (!(await this.retryable('appending to the ingest log', () => (entries = log.append(files, tickMs))))) return;
    source.logged(entries.map((entry) => entry.name));
    const eventsBefore = this.totalEvents;
    await this.count(entries, slideOfTick(this.window, tickMs), true);
    this.slideEvents += this.totalEvents - eventsBefore;
    // A source that stops (or starts again) reading changes nothing else: the head says so all the same.
    const since = source.unreadableSinceMs?.() ?? null;
    const unreadableSinceMs = since !== null && clock.now() - since >= UNREADABLE_REPORTED_AFTER_MS ? since : null;
    const unreadableChanged = unreadableSinceMs !== this.sourceUnreadableSinceMs;
    this.sourceUnreadableSinceMs = unreadableSinceMs;
    if ((this.realtime.changed || unreadableChanged) && (await this.retryable('writing realtime deltas', () => this.realtime.flushDeltas()))) {
      await this.retryable('publishing the realtime head', () => this.publishHead());
    }
    const publishedAt = clock.now();
    for (const file of files) this.slideMaxLagMs = Math.max(this.slideMaxLagMs, publishedAt - file.mtimeMs);
    const closed = slideClosedBy(this.window, tickMs);
    if (closed !== undefined) await this.closeSlide(closed, tickMs);
  }

  private async publishHead(): Promise<void> {
    const head = this.head();
    await this.ports.outputs.publishHead(head);
    this.realtime.published();
    this.observers.onRealtime?.(head);
  }

  /** Checkpoints the realtime view: its totals, as the workers hold them, at the head's seqs. */
  private async checkpoint(atMs: number): Promise<void> {
    if (this.realtime.hasPendingDeltas) return; // a checkpoint must not get ahead of the deltas a reader adds to it
    const parts = await this.ports.partitions.realtimeParts();
    this.realtimeUsers = parts.reduce((n, p) => n + p.users, 0);
    const head = this.head();
    await this.ports.outputs.publishCheckpoint(
      head,
      parts.map((p) => p.bytes),
      atMs,
    );
    this.lastCheckpointMs = atMs;
    this.checkpointedThroughSeq = head.throughSeq;
  }

  /**
   * At a slide's end: a checkpoint of the realtime view (at most every CHECKPOINT_EVERY_MS, or when `last`), the window
   * (whose status reports both), and the log folded past what compaction removed.
   */
  private async closeSlide(slide: number, atMs: number, last = false): Promise<void> {
    if (last || atMs - this.lastCheckpointMs >= CHECKPOINT_EVERY_MS) {
      await this.retryable('checkpointing the realtime view', () => this.checkpoint(atMs));
      await this.retryable('saving the event-time windows', () => this.saveEventWindows());
    }
    await this.retryable('publishing the window', () => this.publishWindow(slide));
    await this.retryable('folding the ingest log', () => this.ports.source.forget(this.ports.log.foldCompacted()));
  }

  /** Publishes the processing-time window of the slides before `slide` (event-time windows go out as they are due); reports the slide. */
  private async publishWindow(slide: number): Promise<void> {
    const { startMs, endMs } = windowBefore(this.window, slide);
    let windowUsers = this.eventWindowUsers;
    if (!this.eventWindowSpec) {
      const parts = await this.ports.partitions.windows(slide);
      await this.ports.outputs.publishWindow(
        endMs,
        parts.map((p) => p.bytes),
        { time: 'processing', startMs, endMs },
      );
      windowUsers = parts.reduce((n, p) => n + p.users, 0);
    }
    this.observers.onSlide?.({
      windowEndMs: endMs,
      eventsInSlide: this.slideEvents,
      eventsPerSecond: (this.slideEvents * 1000) / this.window.slideMs,
      windowUsers,
      realtimeUsers: this.realtimeUsers,
      batchWatermark: this.realtime.watermark,
      throughSeq: this.realtime.throughSeq,
      maxLagMs: this.slideMaxLagMs,
      totalEvents: this.totalEvents,
      eventWatermark: watermarkJson(watermarkOf(this.eventTime.clock, this.allowedLatenessSeconds)),
      lateRows: this.eventTime.clock.lateRows,
      sourceUnreadableMs: this.sourceUnreadableSinceMs === null ? null : this.ports.clock.now() - this.sourceUnreadableSinceMs,
    });
    this.slideEvents = 0;
    this.slideMaxLagMs = 0;
  }

  /**
   * Micro-batches at every batch interval until the signal aborts (at once when it already has: `--once`); then one
   * last micro-batch for the complete files, the window including the open slide, and a checkpoint.
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
    await this.closeSlide(slideOfTick(this.window, finalMs) + 1, finalMs, true);
  }
}
