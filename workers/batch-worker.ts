// Parse-pool entry points for piscina: `map` parses byte ranges into partial aggregates, `reduce` writes a part
// (the batch layer); `parseStream` parses a speed-layer micro-batch's files.

import fs from 'node:fs';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { UserAggTable, blockToSortedTotals, blockTransferList, tableFromBlocks } from '../src/core/agg-table.js';
import { parseFileRange } from '../src/io/read-range.js';
import { formatTotals } from '../src/core/view-format.js';
import { type ErrorCode, LambdaflowError, serializeError } from '../src/core/errors.js';
import { ownedBytes } from '../src/io/thread-rpc.js';
import type { MapRange, MapResult, MapTask, RangeResult, ReduceResult, ReduceTask, StreamParseTask, TaskFailure } from '../src/messages.js';
import { type StreamParse, parseStreamFiles } from '../src/speed/stream-parse.js';

function readRange(range: MapRange, table: UserAggTable, task: MapTask): RangeResult {
  return { fileIndex: range.fileIndex, start: range.start, ...parseFileRange(range.path, range.start, range.end, table, task.mode) };
}

/** Wraps a result so piscina transfers the listed buffers instead of cloning them. */
function moved<T extends object>(value: T, buffers: ArrayBuffer[]): T {
  return move({
    get [transferableSymbol]() {
      return buffers;
    },
    get [valueSymbol]() {
      return value;
    },
  }) as T;
}

/** Runs a task, returning a LambdaflowError (or a file-system error, as `asCode`) as a TaskFailure; anything else is a crash. */
function guarded<T>(asCode: ErrorCode, file: string, run: () => T): T | TaskFailure {
  try {
    return run();
  } catch (error) {
    if (error instanceof LambdaflowError) return { failure: serializeError(error, asCode) };
    if (typeof (error as NodeJS.ErrnoException).code === 'string') {
      return { failure: serializeError(new LambdaflowError(asCode, `${file}: ${(error as Error).message}`, { file }, { cause: error }), asCode) };
    }
    throw error;
  }
}

export function map(task: MapTask): MapResult | TaskFailure {
  return guarded('E_INPUT', task.ranges[0]?.path ?? '', () => mapRanges(task));
}

function mapRanges(task: MapTask): MapResult {
  const table = new UserAggTable();
  const ranges: RangeResult[] = [];
  for (const range of task.ranges) {
    const result = readRange(range, table, task);
    ranges.push(result);
    if (task.mode === 'failfast' && result.badRows.length > 0) break;
  }
  const blocks = table.toPartitionedBlocks(task.partitions);
  return moved({ blocks, ranges }, blocks.flatMap(blockTransferList));
}

export function reduce(task: ReduceTask): ReduceResult | TaskFailure {
  return guarded('E_WRITE', task.outputPath, () => reducePartition(task));
}

function reducePartition(task: ReduceTask): ReduceResult {
  const table = tableFromBlocks(task.blocks);
  const totals = blockToSortedTotals(table.toBlock());
  const fd = fs.openSync(task.outputPath, 'w');
  try {
    fs.writeFileSync(fd, formatTotals(totals)); // loops until every byte is written, unlike one writeSync
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  let purchases = 0;
  let cents = 0;
  for (const t of totals) {
    purchases += t.count;
    cents += t.cents;
  }
  return { partition: task.partition, users: totals.length, purchases, cents };
}

/** The speed layer's micro-batch parse: the same parser, per file, with per-seq delta lines (src/speed/stream-parse.ts). */
export function parseStream(task: StreamParseTask): StreamParse | TaskFailure {
  return guarded('E_INPUT', task.files[0]?.path ?? '', () => {
    const result = parseStreamFiles(task.files, task.partitions, task.mode, (file, table, mode) => parseFileRange(file.path, 0, file.size, table, mode));
    const deltas = ownedBytes(result.deltas);
    return moved({ ...result, deltas }, [...result.blocks.flatMap(blockTransferList), deltas.buffer]);
  });
}
