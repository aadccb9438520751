// The text format of views (`user_id,purchase_count,purchase_amount_total` lines) written and read by every layer.

import { type AggBlock, type UserAggTable, type UserTotal, userIdDecoder } from './agg-table.js';
import { csvField, hasQuote, parseQuotedLine, splitUnquoted } from './csv-fields.js';
import { LambdaflowError } from './errors.js';
import { MAX_TOTAL_CENTS, formatCents, parseCents, parseCentsString } from './money.js';
import { ViewLineWriter } from './sorted-view.js';

export const MERGED_VIEW_HEADER = 'user_id,purchase_count_total,purchase_amount_total';
/** The column names a Spark job writes as the first line of every part with `header=true`. */
export const BATCH_VIEW_HEADER = 'user_id,purchase_count,purchase_amount_total';

/** How a file of a view folder is read: as it is, gunzipped, or (undefined) not at all. */
export type ViewPartEncoding = 'plain' | 'gzip';

/**
 * Data files of a view folder: `part-` names with no extension (ours: `part-00000`), `.csv` or `.csv.gz` (Spark's
 * `part-00000-<uuid>-c000.csv[.gz]`). Everything else is not data: `_SUCCESS`, `_MANIFEST.json` and other `_` names,
 * hidden files such as Hadoop's `.part-….crc` checksums, and any other name.
 */
const VIEW_PART_NAME = /^part-[^.]*(?:\.csv(\.gz)?)?$/;

export function viewPartEncoding(name: string): ViewPartEncoding | undefined {
  const match = VIEW_PART_NAME.exec(name);
  if (match === null) return undefined;
  return match[1] === undefined ? 'plain' : 'gzip';
}

export function formatTotals(totals: readonly UserTotal[]): string {
  let text = '';
  for (const t of totals) text += `${csvField(t.userId)},${t.count},${formatCents(t.cents)}\n`;
  return text;
}

const encoder = new TextEncoder();

/**
 * View lines for a block in its own order (no sorting, no string per user id): for deltas and other files that
 * are read back into tables, where order does not matter. `prefix` (e.g. "17,") starts every line.
 */
export function formatBlock(block: AggBlock, prefix = ''): Buffer {
  const writer = new ViewLineWriter(block.keys.length + block.counts.length * (prefix.length + 32), '', prefix);
  let start = 0;
  for (let i = 0; i < block.counts.length; i++) {
    const end = block.keyEnds[i]!;
    writer.line(block.keys, start, end, block.counts[i]!, block.cents[i]!);
    start = end;
  }
  return writer.bytes();
}

const VIEW_HEADER_BYTES = [BATCH_VIEW_HEADER, MERGED_VIEW_HEADER].map((header) => encoder.encode(header));

/** Length of an accepted header line at the start of `bytes`, with its newline; 0 when the first line is not one. */
function viewHeaderLength(bytes: Uint8Array): number {
  for (const header of VIEW_HEADER_BYTES) {
    if (bytes.length < header.length || (bytes.length > header.length && bytes[header.length] !== 0x0a)) continue;
    let same = true;
    for (let i = 0; i < header.length && same; i++) same = bytes[i] === header[i];
    if (same) return Math.min(bytes.length, header.length + 1);
  }
  return 0;
}

/** A count: digits only (no sign, fraction or exponent), never empty. */
const WHOLE_NUMBER = /^\d+$/;

/** Whether a file's first line may be a header (`header-or-data`: view parts, which Spark may write with one). */
export type ViewFirstLine = 'data' | 'header-or-data';

/**
 * Parses view lines (optionally prefixed by `prefixFields` extra fields, e.g. a sequence number) from `bytes` and
 * calls `accept(prefix, userBytes, start, end, count, cents)` for each. Views are our own output (or a Spark job's
 * written to the same contract), so a malformed line means the file is damaged: that is an error naming the file
 * and line, never a silent skip. With `header-or-data`, an accepted header is skipped as the first line only: a
 * header anywhere else is a damaged line like any other. `linesBefore`: the file's lines before `bytes` (which then
 * start a line), for the line numbers errors give. Returns the number of lines `bytes` held.
 */
export function forEachViewLine(
  bytes: Uint8Array,
  file: string,
  prefixFields: number,
  accept: (prefix: readonly number[], key: Uint8Array, start: number, end: number, count: number, cents: number) => void,
  { firstLine = 'data', linesBefore = 0 }: { readonly firstLine?: ViewFirstLine; readonly linesBefore?: number } = {},
): number {
  const fieldCount = 3 + prefixFields;
  const ends = new Uint32Array(fieldCount);
  let lineStart = firstLine === 'header-or-data' ? viewHeaderLength(bytes) : 0;
  let line = linesBefore + (lineStart > 0 ? 1 : 0);
  while (lineStart < bytes.length) {
    let lineEnd = bytes.indexOf(0x0a, lineStart);
    if (lineEnd === -1) lineEnd = bytes.length;
    line++;
    const damaged = (): LambdaflowError => new LambdaflowError('E_STATE', `damaged view file ${file} at line ${line}`, { file, line });
    if (hasQuote(bytes, lineStart, lineEnd)) {
      const fields = parseQuotedLine(userIdDecoder.decode(bytes.subarray(lineStart, lineEnd)));
      if (fields === undefined || fields.length !== fieldCount) throw damaged();
      const key = encoder.encode(fields[prefixFields]!);
      const countText = fields[prefixFields + 1]!;
      const count = Number(countText);
      const cents = parseCentsString(fields[prefixFields + 2]!, MAX_TOTAL_CENTS);
      const prefix = fields.slice(0, prefixFields).map(Number);
      if (!WHOLE_NUMBER.test(countText) || Number.isNaN(cents) || prefix.some((p) => !Number.isInteger(p))) throw damaged();
      accept(prefix, key, 0, key.length, count, cents);
    } else if (lineEnd > lineStart) {
      if (splitUnquoted(bytes, lineStart, lineEnd, ends) !== fieldCount) throw damaged();
      const prefix: number[] = [];
      let fieldStart = lineStart;
      for (let k = 0; k < prefixFields; k++) {
        prefix.push(Number(userIdDecoder.decode(bytes.subarray(fieldStart, ends[k]!))));
        fieldStart = ends[k]! + 1;
      }
      const userStart = fieldStart;
      const userEnd = ends[prefixFields]!;
      const countEnd = ends[prefixFields + 1]!;
      if (countEnd === userEnd + 1) throw damaged();
      let count = 0;
      for (let i = userEnd + 1; i < countEnd; i++) {
        const c = bytes[i]! - 0x30;
        if (c < 0 || c > 9) throw damaged();
        count = count * 10 + c;
      }
      const cents = parseCents(bytes, countEnd + 1, lineEnd, MAX_TOTAL_CENTS);
      if (Number.isNaN(cents) || userEnd === userStart || prefix.some((p) => !Number.isInteger(p))) throw damaged();
      accept(prefix, bytes, userStart, userEnd, count, cents);
    }
    lineStart = lineEnd + 1;
  }
  return line - linesBefore;
}

/** Adds (sign 1) or subtracts (sign -1) a view file's totals into a table. */
export function mergeViewText(bytes: Uint8Array, file: string, table: UserAggTable, sign: 1 | -1 = 1, firstLine: ViewFirstLine = 'data'): void {
  forEachViewLine(bytes, file, 0, (_prefix, key, start, end, count, cents) => table.add(key, start, end, sign * count, sign * cents), { firstLine });
}
