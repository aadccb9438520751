// Parse-pool entry points for piscina: `map` parses byte ranges into partial aggregates, `reduce` writes a part
// (the batch layer); `parseStream` parses a speed-layer micro-batch's files, `lateRows` finds their late rows.

import fs from 'node:fs';
import { workerData } from 'node:worker_threads';
import { type AggSink, PartitionedTables, UserAggTable, blockTransferList, stateTransferList } from '../src/core/agg-table.js';
import { batchPartsOf } from '../src/core/batch-parts.js';
import { contentCheckOf } from '../src/io/files/content-check.js';
import { parseFileRange } from '../src/io/files/read-range.js';
import { type ErrorCode, LambdaflowError } from '../src/core/errors.js';
import { type Answer, answerTask, ownedBytes } from '../src/io/threads/thread-rpc.js';
import type { LateRowsTask, MapRange, MapResult, MapTask, ParsePoolData, RangeResult, ReduceResult, ReduceTask, StreamParseTask } from '../src/messages.js';
import { type LateRow } from '../src/io/logs/late-rows.js';
import { type StreamParse, lateRowsOf, parseStreamFiles } from '../src/speed/stream-parse.js';
import { runInBackground } from '../src/io/threads/thread-priority.js';

// The batch layer's pool runs in the background; the speed layer's parse pool (the same entry) does not.
if ((workerData as ParsePoolData | undefined)?.background) runInBackground();

function readRange(range: MapRange, table: AggSink, task: MapTask): RangeResult {
  return { fileIndex: range.fileIndex, start: range.start, ...parseFileRange(range.path, range.start, range.end, table, task.mode, task.bucketSeconds) };
}

/** Runs a task, turning a file-system error into a LambdaflowError `asCode` (answerTask sends those as data). */
function withFileErrors<T>(asCode: ErrorCode, file: string, run: () => T): T {
  try {
    return run();
  } catch (error) {
    if (!(error instanceof LambdaflowError) && typeof (error as NodeJS.ErrnoException).code === 'string') {
      throw new LambdaflowError(asCode, `${file}: ${(error as Error).message}`, { file }, { cause: error });
    }
    throw error;
  }
}

export const map = answerTask((task: MapTask) => withFileErrors('E_INPUT', task.ranges[0]?.path ?? '', () => mapRanges(task)));

function mapRanges(task: MapTask): Answer<MapResult> {
  const partitioned = new PartitionedTables(task.partitions, task.expectedUsersEach);
  const ranges: RangeResult[] = [];
  for (let i = Atomics.add(task.next, 0, 1); i < task.ranges.length; i = Atomics.add(task.next, 0, 1)) {
    const result = readRange(task.ranges[i]!, partitioned, task);
    ranges.push(result);
    // Failfast: stop here (the other tasks take the ranges after this one; the first bad row is still found).
    if (task.mode === 'failfast' && result.badRows.length > 0) break;
  }
  const tables = partitioned.tables.map((table) => table.toState());
  return { result: { tables, ranges }, transfer: tables.flatMap(stateTransferList) };
}

export const reduce = answerTask((task: ReduceTask) => withFileErrors('E_WRITE', task.outputPath, () => ({ result: reducePartition(task) })));

/**
 * Merges the map tasks' tables of one partition and writes the part of all-time totals (its users summed over their
 * buckets, in id order) and the part of per-bucket totals (src/core/batch-parts.ts).
 */
function reducePartition(task: ReduceTask): ReduceResult {
  const parts = batchPartsOf(
    task.tables.map((state) => UserAggTable.fromState(state)),
    task.bucketSeconds,
  );
  writeDurably(task.outputPath, parts.users);
  writeDurably(task.bucketsPath, parts.buckets);
  const checks = { users: contentCheckOf(parts.users), buckets: contentCheckOf(parts.buckets) };
  return { partition: task.partition, users: parts.userCount, userBuckets: parts.bucketCount, purchases: parts.purchases, cents: parts.cents, checks };
}

function writeDurably(file: string, bytes: Uint8Array): void {
  const fd = fs.openSync(file, 'w');
  try {
    fs.writeFileSync(fd, bytes); // loops until every byte is written, unlike one writeSync
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** The speed layer's micro-batch parse: the same parser, per file, with per-seq delta lines (src/speed/stream-parse.ts). */
export const parseStream = answerTask((task: StreamParseTask) =>
  withFileErrors('E_INPUT', task.files[0]?.path ?? '', (): Answer<StreamParse> => {
    const result = parseStreamFiles(
      task.files,
      task.partitions,
      task.mode,
      task.bucketSeconds,
      (file, table, mode, onGoodRow) => parseFileRange(file.path, file.start, file.end, table, mode, task.bucketSeconds, onGoodRow),
      task.slideSeconds,
    );
    const deltas = ownedBytes(result.deltas);
    const slots = result.files.flatMap((file) => (file.eventSlots ? blockTransferList(file.eventSlots) : []));
    return { result: { ...result, deltas }, transfer: [...result.blocks.flatMap(blockTransferList), ...slots, deltas.buffer] };
  }),
);

/** A micro-batch's late rows, file by file (src/speed/stream-parse.ts lateRowsOf). */
export const lateRows = answerTask((task: LateRowsTask) =>
  withFileErrors('E_INPUT', task.files[0]?.path ?? '', (): Answer<LateRow[][]> => ({
    result: task.files.map((file) =>
      lateRowsOf(file, file.threshold, (onGoodRow) => parseFileRange(file.path, file.start, file.end, DISCARD, 'drop', 0, onGoodRow)),
    ),
  })),
);

const DISCARD: AggSink = { add() {} };
