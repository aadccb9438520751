// What the speed layer needs from the outside world, as interfaces: files on disk and threads in production,
// in-memory stand-ins in tests that drive hundreds of micro-batches with a manual clock.

import { type AggBlock } from '../core/agg-table.js';
import { type EventClock, type EventTimeHead, type UnitEventTime } from '../core/event-time.js';
import { type DeltaRange } from '../core/exact-merge.js';
import { type EventWindowSpec, type EventWindowState } from '../core/event-window.js';
import { type LateRow } from '../io/logs/late-rows.js';
import { type IngestEntry } from '../io/logs/ingest-log.js';
import { type NewFile } from '../io/files/stream-files.js';
import { type WindowInfo } from '../io/views/views.js';
import { type StreamParse } from './stream-parse.js';

export type { NewFile, StreamParse, WindowInfo };

/** Where new stream files come from. */
export interface StreamSource {
  /**
   * Complete files not yet logged, in the order to log them (by name; a NATS source's in stream order);
   * `fullListing` (a last micro-batch) asks not to trust change hints alone, and a NATS source to catch up.
   */
  newFiles(nowMs: number, fullListing: boolean): Promise<NewFile[]>;
  /** These files are logged now: never report them again. */
  logged(names: readonly string[]): void;
  /** These logged files were compacted and removed from the landing folder: no need to remember them. */
  forget(names: readonly string[]): void;
  /** Since when the source has not been able to read (a NATS source whose server or cluster does not answer); null while it reads. */
  unreadableSinceMs?(): number | null;
  close(): Promise<void>;
}

/** The ingest log's append side: durable (fsync) before it returns. */
export interface IngestAppender {
  append(files: readonly { name: string; size: number }[], ingestedAtMs: number): IngestEntry[];
  /** Folds the entries a finished compaction removed from the landing folder; returns their names. */
  foldCompacted(): readonly string[];
  /** Entries for folded seqs in (afterSeq, throughSeq]: named after their compacted file, ingested "long ago" (0). */
  foldedEntries(afterSeq: number, throughSeq: number): IngestEntry[];
}

/** A logged file to look through for its late rows: the good rows whose event second is below `threshold`. */
export interface LateRowsRequest {
  readonly entry: IngestEntry;
  readonly threshold: number;
}

/** Parses logged files off the main thread: one result per parse task, in seq order. */
export interface StreamParser {
  parse(entries: readonly IngestEntry[]): Promise<StreamParse[]>;
  /** Each file's late rows, in request order. */
  lateRows(requests: readonly LateRowsRequest[]): Promise<LateRow[][]>;
}

/** Per-ingest-seq deltas, kept until a batch view absorbs them. */
export interface DeltaStore {
  /** Durably writes the (already formatted) delta lines of seqs first..last, with each seq's event time when known (`units`, in seq order). */
  write(first: number, last: number, lines: Uint8Array, units?: readonly UnitEventTime[]): Promise<void>;
  /** The event time of each seq of (afterSeq, throughSeq] the deltas record. */
  eventTimes(afterSeq: number, throughSeq: number): ReadonlyMap<number, UnitEventTime>;
  /** Removes deltas of seqs at or below throughSeq. */
  prune(throughSeq: number): void;
  /** Removes the deltas that fail their checks (truncated, corrupted); returns why, one message each. */
  removeDamaged(): readonly string[];
  /** Seqs some delta covers. */
  covered(): ReadonlySet<number>;
}

/** The speed workers: per-partition rings of slides and parts of the realtime view. */
export interface PartitionStore {
  readonly partitions: number;
  /** Sends blocks[p] to partition p: into slide `slide` (null: not the window) and, if `realtime`, the realtime view. */
  add(blocks: readonly AggBlock[], slide: number | null, realtime: boolean): void;
  /** Every partition's window of the slides before `slide`, as view lines sorted by user id (formatted by the workers). */
  windows(slide: number): Promise<{ bytes: Uint8Array; users: number }[]>;
  /** Applies a delta range to the realtime view (each partition its users); resolves with the seqs every partition found. */
  applyDeltas(range: DeltaRange): Promise<ReadonlySet<number>>;
  /** Adds a checkpoint's parts to the realtime view. */
  load(parts: readonly Uint8Array[], name: string): void;
  clearRealtime(): void;
  /** Each partition's realtime view lines, and its users. */
  realtimeParts(): Promise<{ bytes: Uint8Array; users: number }[]>;
}

/** Where the realtime view is, published after every micro-batch that changed it. */
export interface RealtimeHead {
  /** S_R: the batch watermark the realtime view is relative to. */
  readonly watermark: number;
  /** N: it holds seqs (watermark, throughSeq]; the deltas of seqs past the checkpoint's are on disk. */
  readonly throughSeq: number;
  /** Ingest time of seq throughSeq (null before the first file). */
  readonly lastIngestedAtMs: number | null;
  /** This speed layer process's counters: rows and bad rows read since it started at startedAtMs. */
  readonly rowsIngested: number;
  readonly badRows: number;
  readonly startedAtMs: number;
  /** The stream's event clock through throughSeq (src/core/event-time.ts). */
  readonly eventTime: EventTimeHead;
  /** Since when the source has not been able to read (StreamSource.unreadableSinceMs); null while it reads. */
  readonly sourceUnreadableSinceMs: number | null;
}

/** A checkpoint of the realtime view (its full totals at head.throughSeq), as read back after a restart. */
export interface RealtimeCheckpoint {
  readonly name: string;
  readonly watermark: number;
  readonly throughSeq: number;
  readonly lastIngestedAtMs: number | null;
  readonly parts: readonly Uint8Array[];
  /** The event clock at throughSeq (undefined in a checkpoint from before event time). */
  readonly eventClock: EventClock | undefined;
}

/** The speed layer's published outputs, and the batch views it rebases on. */
export interface SpeedOutputs {
  /** Watermarks of the retained batch views, ascending (empty without one). */
  batchWatermarks(): readonly number[];
  /** Publishes where the realtime view is (small, every micro-batch). */
  publishHead(head: RealtimeHead): Promise<void>;
  /** Publishes a checkpoint: the realtime view's totals as parts (one per partition). */
  publishCheckpoint(head: RealtimeHead, parts: readonly Uint8Array[], atMs: number): Promise<void>;
  /** The newest checkpoint, if any. */
  latestCheckpoint(): RealtimeCheckpoint | undefined;
  /** Publishes the window ending at endMs, one part per partition, with what it is (`_WINDOW.json`). */
  publishWindow(endMs: number, parts: readonly Uint8Array[], info?: WindowInfo): Promise<void>;
}

/** Where the event-time windows' state is kept between runs (src/io/views/event-window-state.ts). */
export interface EventWindowStore {
  read(spec: EventWindowSpec): EventWindowState | undefined;
  write(spec: EventWindowSpec, state: EventWindowState): Promise<void>;
}
