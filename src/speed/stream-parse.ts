// Parsing a micro-batch's stream files (on a parse thread): each file's logged prefix into its own table of
// (user, bucket) totals, whose lines become the file's per-seq deltas, and all of them summed into one block per
// speed-worker partition (with event-time windows, also each file's purchases per (user, slide slot)); and a file's
// late rows, looked for once its lateness threshold is known.

import { type AggBlock, type AggSink, UserAggTable } from '../core/agg-table.js';
import { LambdaflowError } from '../core/errors.js';
import { type BadRow, type BadRowMode, type EventParserOptions, type ParseCounts, type RangeParse, totalBad } from '../core/event-parser.js';
import { type LateRow } from '../io/logs/late-rows.js';
import { formatDeltaLines } from '../io/views/deltas.js';
import type { StreamFileToParse } from '../messages.js';

export interface ParsedStreamFile {
  readonly seq: number;
  readonly path: string;
  readonly counts: ParseCounts;
  readonly badRowCount: number;
  /** Bad rows with their lines (permissive and failfast modes). */
  readonly badRows: readonly BadRow[];
  /** The file ended before its logged size. */
  readonly truncated: boolean;
  /** With event-time windows: every purchase per (user, slot of its event second), late or not (the threshold comes later). */
  readonly eventSlots?: AggBlock;
}

export interface StreamParse {
  /** All files' users summed, one block per partition. */
  readonly blocks: readonly AggBlock[];
  /** The files' delta lines, in seq order (`seq,user_id,bucket_start,count,amount`). */
  readonly deltas: Uint8Array;
  readonly files: readonly ParsedStreamFile[];
}

/** Reads a file's first `size` bytes into a table (io/read-range.ts parseFileRange, or bytes in memory in tests). */
export type ReadLogged = (file: StreamFileToParse, table: AggSink, mode: BadRowMode, onGoodRow?: EventParserOptions['onGoodRow']) => RangeParse;

/**
 * A sink that adds each purchase to `table` and, once the parser reports the row's event second (onGoodRow comes
 * right after the row's add), to `slots` under its slide slot: one parse gives both.
 */
function slotTee(table: UserAggTable, slots: UserAggTable, slideSeconds: number): { sink: AggSink; onGoodRow: NonNullable<EventParserOptions['onGoodRow']> } {
  let pending: { bytes: Uint8Array; start: number; end: number; cents: number; hash: number } | undefined;
  return {
    sink: {
      add(bytes, start, end, count, cents, hash, bucket) {
        table.add(bytes, start, end, count, cents, hash, bucket);
        pending = { bytes, start, end, cents, hash };
      },
    },
    onGoodRow(_bytes, _start, _end, second) {
      if (pending) slots.add(pending.bytes, pending.start, pending.end, 1, pending.cents, pending.hash, Math.floor(second / slideSeconds));
      pending = undefined;
    },
  };
}

/**
 * A logged file that cannot be read is damaged state; a typed error keeps its code (E_INPUT for a file that is no
 * longer regular, E_OVERFLOW, …) and gains the seq.
 */
function readError(file: StreamFileToParse, error: unknown): LambdaflowError {
  const message = `cannot read ingested stream file ${file.path} (seq ${file.seq}): ${(error as Error).message}`;
  if (error instanceof LambdaflowError) return new LambdaflowError(error.code, message, { ...error.context, file: file.path }, { cause: error });
  return new LambdaflowError('E_STATE', message, { file: file.path }, { cause: error });
}

/** Parses a micro-batch's files; `slideSeconds` (event-time windows) also gives each file's purchases per slot. */
export function parseStreamFiles(
  files: readonly StreamFileToParse[],
  partitions: number,
  mode: BadRowMode,
  bucketSeconds: number,
  read: ReadLogged,
  slideSeconds?: number,
): StreamParse {
  const sum = new UserAggTable();
  const deltas: Uint8Array[] = [];
  const parsed: ParsedStreamFile[] = [];
  for (const file of files) {
    const table = new UserAggTable(64);
    const slots = slideSeconds === undefined ? undefined : new UserAggTable(64);
    const tee = slots && slotTee(table, slots, slideSeconds!);
    let result: RangeParse;
    try {
      result = tee ? read(file, tee.sink, mode, tee.onGoodRow) : read(file, table, mode);
    } catch (error) {
      throw readError(file, error);
    }
    parsed.push({
      seq: file.seq,
      path: file.path,
      counts: result.counts,
      badRowCount: totalBad(result.counts),
      badRows: result.badRows,
      truncated: result.truncated,
      ...(slots ? { eventSlots: slots.toBlock() } : {}),
    });
    // A failfast run stops at its first bad row: the files after it are not counted anywhere.
    if (mode === 'failfast' && result.badRows.length > 0) break;
    deltas.push(formatDeltaLines(file.seq, table.toBlock(), bucketSeconds));
    sum.mergeTable(table);
  }
  return { blocks: sum.toPartitionedBlocks(partitions), deltas: Buffer.concat(deltas), files: parsed };
}

/**
 * A logged file's late rows: its good rows (purchases and views) whose event second is below `threshold`, with their
 * line numbers; `read` parses the file, calling onGoodRow for each good row.
 */
export function lateRowsOf(
  file: StreamFileToParse,
  threshold: number,
  read: (onGoodRow: NonNullable<EventParserOptions['onGoodRow']>) => RangeParse,
): LateRow[] {
  const rows: LateRow[] = [];
  try {
    read((bytes, start, end, second, line) => {
      // A copy: the bytes are the reader's buffer (a Buffer, whose slice would be a view of it).
      if (second < threshold) rows.push({ line, second, raw: new Uint8Array(bytes.subarray(start, end)) });
    });
  } catch (error) {
    throw readError(file, error);
  }
  return rows;
}
