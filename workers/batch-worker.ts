// Batch worker entry points for piscina: `map` parses byte ranges into partial aggregates, `reduce` writes a part.

import fs from 'node:fs';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { UserAggTable, blockToSortedTotals, blockTransferList, tableFromBlocks } from '../src/core/agg-table.js';
import { EventParser, parserOptionsFor } from '../src/core/event-parser.js';
import { formatTotals } from '../src/core/view-format.js';
import type { MapRange, MapResult, MapTask, RangeResult, ReduceResult, ReduceTask } from '../src/messages.js';

const READ_BYTES = 4 << 20;
let buffer: Buffer | undefined;

function readRange(range: MapRange, table: UserAggTable, task: MapTask): RangeResult {
  buffer ??= Buffer.allocUnsafe(READ_BYTES);
  const parser = new EventParser(table, parserOptionsFor(task.mode, range.start === 0));
  const fd = fs.openSync(range.path, 'r');
  let truncated = false;
  try {
    let carry = 0;
    let position = range.start;
    for (;;) {
      const read = fs.readSync(fd, buffer, carry, Math.min(buffer.length - carry, range.end - position), position);
      position += read;
      truncated = read === 0 && position < range.end;
      const final = position >= range.end || truncated;
      const filled = carry + read;
      const consumed = parser.consume(buffer, 0, filled, final);
      if (final || parser.hasStopped) break;
      buffer.copyWithin(0, consumed, filled);
      carry = filled - consumed;
    }
  } finally {
    fs.closeSync(fd);
  }
  return { fileIndex: range.fileIndex, start: range.start, lineCount: parser.lineCount, counts: parser.counts, badRows: parser.badRows, truncated };
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

export function map(task: MapTask): MapResult {
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

export function reduce(task: ReduceTask): ReduceResult {
  const table = tableFromBlocks(task.blocks);
  const totals = blockToSortedTotals(table.toBlock());
  const fd = fs.openSync(task.outputPath, 'w');
  try {
    fs.writeSync(fd, formatTotals(totals));
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
