// Every message that crosses a thread boundary, named once and imported as types on both sides.

import type { AggBlock, AggTableState } from './core/agg-table.js';
import type { BadRowMode, RangeParse } from './core/event-parser.js';
import type { LogLevel } from './core/log-levels.js';
import type { BatchBase, PreparedOverlay } from './core/view-state.js';

/** A byte range of one input file, with the path the worker opens. */
export interface MapRange {
  readonly fileIndex: number;
  readonly path: string;
  readonly start: number;
  readonly end: number;
}

/** What a parse pool's threads are started with. */
export interface ParsePoolData {
  /** The batch layer's pool: its threads run at a lower priority (src/io/threads/thread-priority.ts). */
  readonly background: boolean;
}

/** Every map task gets the same ranges and takes the next one from the shared `next` until none is left. */
export interface MapTask {
  readonly ranges: readonly MapRange[];
  /** The index of the next range to take (shared by the tasks, advanced with Atomics.add). */
  readonly next: Int32Array;
  /** R, the number of reduce partitions. */
  readonly partitions: number;
  /** (User, bucket) keys each partition's table is sized for up front (0: grow as needed). */
  readonly expectedUsersEach: number;
  readonly mode: BadRowMode;
  /** The data folder's event-time bucket size: every purchase is added to its (user, bucket). */
  readonly bucketSeconds: number;
}

export interface RangeResult extends RangeParse {
  readonly fileIndex: number;
  readonly start: number;
}

export interface MapResult {
  /** One table per reduce partition, holding only that partition's users. */
  readonly tables: readonly AggTableState[];
  readonly ranges: readonly RangeResult[];
}

export interface ReduceTask {
  readonly partition: number;
  /** The map tasks' tables of this partition. */
  readonly tables: readonly AggTableState[];
  /** The part of users' all-time totals, and the part of their per-bucket totals (in the view's buckets/ folder). */
  readonly outputPath: string;
  readonly bucketsPath: string;
  readonly bucketSeconds: number;
}

interface PartCheck {
  readonly lines: number;
  readonly crc32: number;
}

export interface ReduceResult {
  readonly partition: number;
  readonly users: number;
  /** (User, bucket) lines written. */
  readonly userBuckets: number;
  readonly purchases: number;
  readonly cents: number;
  /** What the manifest says of the two parts written: their line counts and CRC-32s (src/io/files/content-check.ts). */
  readonly checks: { readonly users: PartCheck; readonly buckets: PartCheck };
}

/** A logged seq to parse: its seq, and where its rows are (its stream file's logged prefix, or a compacted segment). */
export interface StreamFileToParse {
  readonly seq: number;
  readonly path: string;
  readonly start: number;
  readonly end: number;
}

/** A micro-batch's stream files to parse on the pool, for P speed-worker partitions. */
export interface StreamParseTask {
  readonly files: readonly StreamFileToParse[];
  readonly partitions: number;
  readonly mode: BadRowMode;
  readonly bucketSeconds: number;
  /** With event-time windows: the slide, for each file's purchases per (user, slot). */
  readonly slideSeconds?: number;
}

/** Logged stream files to look through for their late rows: good rows with an event second below each one's threshold. */
export interface LateRowsTask {
  readonly files: readonly (StreamFileToParse & { readonly threshold: number })[];
}

/** Speed worker: set up once with the partition it owns. */
export interface SpeedWorkerInit {
  readonly partition: number;
  readonly partitions: number;
  readonly slidesPerWindow: number;
  /** Where the realtime deltas are (the worker reads them for a rebase or a recovery). */
  readonly deltasDir: string;
  readonly bucketSeconds: number;
}

/** A speed worker's messages (src/io/threads/thread-rpc.ts): notices (add, load, clear) in order with requests, which are answered. */
export type SpeedRequest =
  /** Notice: adds a block of this partition's users to slide `slide` (null: not the window; slides only move forward) and, if asked, to the realtime view. */
  | { readonly type: 'add'; readonly slide: number | null; readonly realtime: boolean; readonly block: AggBlock }
  /** Closes every slide before `slide`; answered with the window they form (PartitionLines). */
  | { readonly type: 'window'; readonly slide: number }
  /** Adds (sign 1) or subtracts the deltas of seqs (afterSeq, throughSeq] to the realtime view; answered with the seqs found (number[]). */
  | { readonly type: 'deltas'; readonly afterSeq: number; readonly throughSeq: number; readonly sign: 1 | -1 }
  /** Notice: adds this partition's users of a checkpoint's parts to the realtime view. */
  | { readonly type: 'load'; readonly parts: readonly Uint8Array[]; readonly name: string }
  /** Notice. */
  | { readonly type: 'clear' }
  /** Answered with this partition's realtime view lines (PartitionLines). */
  | { readonly type: 'realtime' };

/** View lines of one speed-worker partition (its window, or its part of the realtime view), and the users in them. */
export interface PartitionLines {
  readonly bytes: Uint8Array;
  readonly users: number;
}

/** A batch view to load, as listed. */
export interface BatchViewRef {
  readonly dir: string;
  readonly watermark: number;
  readonly streamWatermarks: Readonly<Record<string, number>>;
  readonly createdAtMs: number;
}

/** A NATS partition stream's realtime state to load: its newest checkpoint and its head's through-seq. */
export interface StreamRealtimeRef {
  readonly stream: string;
  readonly checkpoint: RealtimeViewRef | null;
  readonly throughSeq: number;
  readonly deltasDir: string;
}

/** A stream's deltas a swap keeps: the loader prepares the overlay of its seqs past the new view's watermark up to keepThrough. */
export interface StreamKeepRef {
  readonly stream: string;
  readonly deltasDir: string;
  /** The last seq of the stream the store reflected when it asked. */
  readonly keepThrough: number;
}

/** A realtime view to load, as listed: it holds seqs (watermark, throughSeq]. */
export interface RealtimeViewRef {
  readonly dir: string;
  readonly watermark: number;
  readonly throughSeq: number;
  readonly lastIngestedAtMs: number | null;
}

/** Serving threads' work: loading views off the hot path, and writing a version's CSV whole. */
export type ServingRequest =
  /**
   * Everything from files: a batch view plus, past its watermark, the realtime checkpoint made exact against it and
   * the deltas after it through `throughSeq` (the realtime head); or, for the window view, the speed window.
   */
  | {
      readonly type: 'load';
      /** The data folder's bucket size, to read deltas and checkpoints with. */
      readonly bucketSeconds: number;
      readonly batch: BatchViewRef | null;
      readonly checkpoint: RealtimeViewRef | null;
      readonly throughSeq: number;
      readonly lastIngestedAtMs: number | null;
      readonly window: string | null;
      readonly deltasDir: string;
      /** Each NATS partition stream's realtime state, loaded the same way and added to the overlay. */
      readonly streams: readonly StreamRealtimeRef[];
    }
  /** A new batch view, with the overlay a swap to it keeps (the default stream's seqs, then each partition stream's). */
  | { readonly type: 'batch'; readonly bucketSeconds: number; readonly batch: BatchViewRef; readonly streams: readonly StreamKeepRef[] }
  /** A speed window's totals (the window view). */
  | { readonly type: 'window'; readonly dir: string };

export interface ServingLoadResult {
  readonly base: BatchBase;
  /** The overlay per user over all time, and per (user, bucket). */
  readonly overlay: AggTableState;
  readonly buckets: AggTableState;
  readonly throughSeq: number;
  readonly lastIngestedAtMs: number | null;
  /** Each partition stream's last seq the overlay holds. */
  readonly streamThroughSeqs: Readonly<Record<string, number>>;
}

export interface ServingBatchResult {
  readonly base: BatchBase;
  /** The overlay the swap keeps, built here. */
  readonly prepared: PreparedOverlay;
}

/** A compaction run on its own thread (inside `all`), so reading and writing large files never blocks the event loop. */
export interface CompactionRequest {
  readonly dataRoot: string;
  readonly targetBytes: number;
  readonly minAgeMs: number;
  readonly logLevel: LogLevel;
}
