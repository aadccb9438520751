// Every message that crosses a thread boundary, named once and imported as types on both sides.

import type { AggBlock } from './core/agg-table.js';
import type { SerializedError } from './core/errors.js';
import type { BadRowMode } from './core/event-parser.js';
import type { RangeParse } from './io/read-range.js';
import type { LogLevel } from './io/logger.js';
import type { MergeResult, MergeViewKind } from './serving/merge.js';

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

/** Merge thread: the merge loop's settings (the layout is rebuilt from the data root). */
export interface MergeThreadInit {
  readonly dataRoot: string;
  readonly intervalMs: number;
  readonly view: MergeViewKind;
  readonly logLevel: LogLevel;
}

export type MergeThreadRequest = { readonly type: 'stop' };

export type MergeThreadReply =
  | { readonly type: 'merged'; readonly result: MergeResult; readonly mergedAtMs: number }
  | { readonly type: 'log'; readonly line: string }
  | { readonly type: 'stopped' }
  | { readonly type: 'error'; readonly error: SerializedError };
