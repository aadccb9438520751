// What the speed layer needs from the outside world, as interfaces: files on disk and threads in production,
// in-memory stand-ins in tests that drive hundreds of micro-batches with a manual clock.

import { type AggBlock, type UserAggTable } from '../core/agg-table.js';
import { type DeltaRange } from '../core/exact-merge.js';
import { type SeqTotals } from '../io/deltas.js';
import { type IngestEntry } from '../io/ingest-log.js';
import { type NewFile } from '../io/stream-files.js';

export type { NewFile, SeqTotals };

/** Where new stream files come from. */
export interface StreamSource {
  /** Complete files not yet logged, sorted by name; `fullListing` asks not to trust change hints alone. */
  newFiles(nowMs: number, fullListing: boolean): Promise<NewFile[]>;
  /** These files are logged now: never report them again. */
  logged(names: readonly string[]): void;
  close(): Promise<void>;
}

/** The ingest log's append side: durable (fsync) before it returns. */
export interface IngestAppender {
  append(files: readonly { name: string; size: number }[], ingestedAtMs: number): IngestEntry[];
}

/** A logged file's ingested prefix, aggregated per user. */
export interface ParsedFile {
  readonly entry: IngestEntry;
  readonly table: UserAggTable;
  /** Rows read (good and bad). */
  readonly rows: number;
  readonly badRows: number;
}

/** Reads logged files (quarantining their bad rows, or failing in failfast mode). */
export interface LoggedFileReader {
  read(entry: IngestEntry): Promise<ParsedFile>;
}

/** Per-ingest-seq deltas kept until a batch view absorbs them. */
export interface DeltaStore {
  /** Durably writes the deltas of consecutive seqs. */
  write(items: readonly SeqTotals[]): Promise<void>;
  /** Adds a range's deltas into the table (signed) and returns the seqs found. */
  merge(range: DeltaRange, table: UserAggTable): ReadonlySet<number>;
  /** Removes deltas of seqs at or below throughSeq. */
  prune(throughSeq: number): void;
  /** Seqs some delta already covers. */
  covered(): ReadonlySet<number>;
}

/** The per-partition rings of slides (the speed workers). */
export interface SlideStore {
  readonly partitions: number;
  /** Sends blocks[p] to partition p for slide `slide` (slides only move forward). */
  add(slide: number, blocks: readonly AggBlock[]): void;
  /** Every partition's window of the slides before `slide`. */
  windows(slide: number): Promise<AggBlock[]>;
}

/** What the realtime view publishes. */
export interface RealtimeSnapshot {
  readonly block: AggBlock;
  /** The batch watermark it is relative to: it holds seqs (watermark, throughSeq]. */
  readonly watermark: number;
  readonly throughSeq: number;
  /** Ingest time of seq throughSeq (null before the first file). */
  readonly lastIngestedAtMs: number | null;
}

/** The speed layer's published outputs, and the batch views it rebases on. */
export interface SpeedOutputs {
  /** Watermarks of the retained batch views, ascending (empty without one). */
  batchWatermarks(): readonly number[];
  publishRealtime(snapshot: RealtimeSnapshot & SpeedCounters, atMs: number): Promise<void>;
  /** Publishes the window ending at endMs; returns its number of users. */
  publishWindow(endMs: number, blocks: readonly AggBlock[]): Promise<number>;
}

/** What a published realtime view adds for in-process readers: the per-seq totals written since the last publish. */
export interface RealtimeUpdate {
  readonly items: readonly SeqTotals[];
  readonly throughSeq: number;
  readonly lastIngestedAtMs: number | null;
}

/** The speed layer process's counters, published with each realtime view (for rates: rows since startedAtMs). */
export interface SpeedCounters {
  readonly rowsIngested: number;
  readonly badRows: number;
  readonly startedAtMs: number;
}
