// Feeding bytes to the core EventParser the way a streaming caller does, split at chosen offsets, and a comparable
// snapshot of what it produced (totals, counts, bad rows, line count).

import { UserAggTable, type UserTotal } from '../../src/core/agg-table.js';
import { EventParser, type EventParserOptions, type ParseCounts } from '../../src/core/event-parser.js';

export interface BadRowView {
  readonly line: number;
  readonly reason: string;
  /** The quarantined bytes as latin1, so byte-for-byte differences show. */
  readonly raw: string;
}

export interface ParseSnapshot {
  readonly totals: UserTotal[];
  readonly counts: ParseCounts;
  readonly badRows: BadRowView[];
  readonly lineCount: number;
  readonly stopped: boolean;
}

export const DEFAULT_TEST_OPTIONS: EventParserOptions = { atFileStart: true, keepBadRows: true, stopAtFirstBadRow: false, bucketSeconds: 3_600 };

export function snapshotOf(parser: EventParser, table: UserAggTable): ParseSnapshot {
  return {
    totals: table.toSortedTotals(),
    counts: structuredClone(parser.counts),
    badRows: parser.badRows.map((row) => ({ line: row.line, reason: row.reason, raw: Buffer.from(row.raw).toString('latin1') })),
    lineCount: parser.lineCount,
    stopped: parser.hasStopped,
  };
}

/**
 * Feeds `bytes` in pieces cut at the given (ascending) offsets, honouring consume()'s contract: the unconsumed tail
 * it reports is copied, followed by the next piece, into a fresh buffer for the next call; the last call is final.
 */
export function parseInPieces(bytes: Uint8Array, cuts: readonly number[], options: Partial<EventParserOptions> = {}): ParseSnapshot {
  const table = new UserAggTable();
  const parser = new EventParser(table, { ...DEFAULT_TEST_OPTIONS, ...options });
  const ends = [...cuts, bytes.length];
  let tail: Uint8Array = new Uint8Array(0);
  let position = 0;
  ends.forEach((end, k) => {
    const piece = bytes.subarray(position, end);
    position = end;
    const buffer = new Uint8Array(tail.length + piece.length);
    buffer.set(tail, 0);
    buffer.set(piece, tail.length);
    const consumed = parser.consume(buffer, 0, buffer.length, k === ends.length - 1);
    if (consumed < 0 || consumed > buffer.length) throw new Error(`consume returned ${consumed} for a buffer of ${buffer.length}`);
    tail = buffer.slice(consumed);
  });
  return snapshotOf(parser, table);
}

/** Feeds `bytes` in fixed-size pieces. */
export function parseInChunksOf(bytes: Uint8Array, chunkBytes: number, options: Partial<EventParserOptions> = {}): ParseSnapshot {
  const cuts: number[] = [];
  for (let at = chunkBytes; at < bytes.length; at += chunkBytes) cuts.push(at);
  return parseInPieces(bytes, cuts, options);
}

export function bytesOf(text: string): Buffer {
  return Buffer.from(text, 'utf8');
}
