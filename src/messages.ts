// Every message that crosses a thread boundary, named once and imported as types on both sides.

import type { AggBlock, AggTableState } from './core/agg-table.js';
import type { SerializedError } from './core/errors.js';
import type { BadRowMode } from './core/event-parser.js';
import type { RangeParse } from './io/read-range.js';
import type { BatchBase } from './serving/batch-base.js';
import type { AbsorbedDeltas, FrozenView } from './serving/store.js';

/** A byte range of one input file, with the path the worker opens. */
export interface MapRange {
  readonly fileIndex: number;
  readonly path: string;
  readonly start: number;
  readonly end: number;
}

export interface MapTask {
  readonly ranges: readonly MapRange[];
  /** R, the number of reduce partitions. */
  readonly partitions: number;
  readonly mode: BadRowMode;
}

export interface RangeResult extends RangeParse {
  readonly fileIndex: number;
  readonly start: number;
}

/**
 * A task's expected failure, returned as data (errors thrown across threads lose their code and context).
 * Anything thrown instead is a crash (E_WORKER).
 */
export interface TaskFailure {
  readonly failure: SerializedError;
}

export interface MapResult {
  /** One block per reduce partition. */
  readonly blocks: readonly AggBlock[];
  readonly ranges: readonly RangeResult[];
}

export interface ReduceTask {
  readonly partition: number;
  readonly blocks: readonly AggBlock[];
  readonly outputPath: string;
}

export interface ReduceResult {
  readonly partition: number;
  readonly users: number;
  readonly purchases: number;
  readonly cents: number;
}

/** Speed worker: set up once with the partition it owns. */
export interface SpeedWorkerInit {
  readonly partition: number;
  readonly slidesPerWindow: number;
}

export type SpeedRequest =
  /** Adds a block of this partition's users to slide `slide` (slides only move forward). */
  | { readonly type: 'add'; readonly slide: number; readonly block: AggBlock }
  /** Closes every slide before `slide` and replies with the window they form. */
  | { readonly type: 'window'; readonly slide: number; readonly requestId: number };

export type SpeedReply =
  | { readonly type: 'ready' }
  | { readonly type: 'window'; readonly requestId: number; readonly block: AggBlock }
  | { readonly type: 'error'; readonly error: SerializedError };

/** A batch view to load, as listed. */
export interface BatchViewRef {
  readonly dir: string;
  readonly watermark: number;
  readonly createdAtMs: number;
}

/** A realtime view to load, as listed: it holds seqs (watermark, throughSeq]. */
export interface RealtimeViewRef {
  readonly dir: string;
  readonly watermark: number;
  readonly throughSeq: number;
  readonly lastIngestedAtMs: number | null;
}

/** Serving threads' work: loading views off the hot path, and writing the merged view's CSV. */
export type ServingRequest =
  /** Everything from files: a batch view, plus the realtime view made exact against it (or the speed window). */
  | { readonly type: 'load'; readonly batch: BatchViewRef | null; readonly realtime: RealtimeViewRef | null; readonly window: string | null; readonly deltasDir: string }
  /** A new batch view, with the deltas of seqs (absorbAfter, absorbThrough] it absorbed, summed. */
  | { readonly type: 'batch'; readonly batch: BatchViewRef; readonly deltasDir: string; readonly absorbAfter: number; readonly absorbThrough: number }
  /** A speed window's totals (the window view). */
  | { readonly type: 'window'; readonly dir: string }
  /** The merged view's CSV of a frozen version: written atomically to `target`, or returned. */
  | { readonly type: 'export'; readonly view: FrozenView; readonly target: string | null };

export interface ServingLoadResult {
  readonly base: BatchBase;
  readonly overlay: AggTableState;
  readonly throughSeq: number;
  readonly lastIngestedAtMs: number | null;
}

export interface ServingBatchResult {
  readonly base: BatchBase;
  readonly absorbed: AbsorbedDeltas;
}
