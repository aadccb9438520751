// The text format of views (`user_id,purchase_count,purchase_amount_total` lines, or with `bucket_start` after the user
// id for totals per event-time bucket) written and read by every layer.

import { ALL_TIME, type AggBlock, type UserAggTable, type UserTotal, userIdDecoder } from './agg-table.js';
import { csvField, hasQuote, parseQuotedLine, splitUnquoted } from './csv-fields.js';
import { LambdaflowError } from './errors.js';
import { MAX_TOTAL_CENTS, formatCents, parseCents, parseCentsString } from './money.js';
import { ALL_TIME_FIELD, ViewLineWriter } from './view-lines.js';

export const MERGED_VIEW_HEADER = 'user_id,purchase_count_total,purchase_amount_total';
/** The column names a Spark job writes as the first line of every part with `header=true`. */
export const BATCH_VIEW_HEADER = 'user_id,purchase_count,purchase_amount_total';
/** The first line of every part of per-(user, bucket) totals we write, and the one a Spark job writes with `header=true`. */
export const BUCKETS_HEADER = 'user_id,bucket_start,purchase_count,purchase_amount_total';

/**
 * How a file's lines give a total's bucket: `none` (no bucket field: every total is over all time) or `start` (a
 * `bucket_start` field after the user id, in seconds, aligned to `bucketSeconds`; an empty field is over all time).
 */
export type BucketField = { readonly kind: 'none' } | { readonly kind: 'start'; readonly bucketSeconds: number };

export const NO_BUCKET_FIELD: BucketField = Object.freeze({ kind: 'none' });
export const bucketField = (bucketSeconds: number): BucketField => Object.freeze({ kind: 'start', bucketSeconds });

const BUCKETS_HEADER_LINE = new TextEncoder().encode(`${BUCKETS_HEADER}\n`);

/** A part's bucket field as its first line says: BUCKETS_HEADER (a realtime checkpoint's parts) or none (from before buckets). */
export function bucketFieldOf(bytes: Uint8Array, bucketSeconds: number): BucketField {
  const headed = bytes.length >= BUCKETS_HEADER_LINE.length && BUCKETS_HEADER_LINE.every((b, i) => bytes[i] === b);
  return headed ? bucketField(bucketSeconds) : NO_BUCKET_FIELD;
}

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
 * are read back into tables, where order does not matter. `prefix` (e.g. "17,") starts every line; with a bucket
 * field, each line gives its total's bucket start (empty for a total over all time).
 */
export function formatBlock(block: AggBlock, prefix = '', buckets: BucketField = NO_BUCKET_FIELD): Buffer {
  const writer = new ViewLineWriter(block.keys.length + block.counts.length * (prefix.length + 44), '', prefix);
  let start = 0;
  for (let i = 0; i < block.counts.length; i++) {
    const end = block.keyEnds[i]!;
    const bucket = block.buckets[i]!;
    if (buckets.kind === 'none') writer.line(block.keys, start, end, block.counts[i]!, block.cents[i]!);
    else writer.line(block.keys, start, end, block.counts[i]!, block.cents[i]!, bucket === ALL_TIME ? ALL_TIME_FIELD : bucket * buckets.bucketSeconds);
    start = end;
  }
  return writer.bytes();
}

const VIEW_HEADER_BYTES = [BATCH_VIEW_HEADER, MERGED_VIEW_HEADER, BUCKETS_HEADER].map((header) => encoder.encode(header));

/** Length of an accepted header line at the start of `bytes`, with its newline; 0 when the first line is not one. */
export function viewHeaderLength(bytes: Uint8Array): number {
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

/** One view line: its prefix fields, the user id bytes[start, end), its bucket (ALL_TIME: none) and totals. */
export type ViewLine = (prefix: readonly number[], key: Uint8Array, start: number, end: number, count: number, cents: number, bucket: number) => void;

/** A bucket field's bucket: ALL_TIME when empty, undefined when it is not an aligned bucket start. */
function bucketOfField(bytes: Uint8Array, start: number, end: number, bucketSeconds: number): number | undefined {
  if (start === end) return ALL_TIME;
  if (end - start > 15) return undefined;
  let second = 0;
  for (let i = start; i < end; i++) {
    const d = bytes[i]! - 0x30;
    if (d < 0 || d > 9) return undefined;
    second = second * 10 + d;
  }
  return second % bucketSeconds === 0 && second / bucketSeconds < ALL_TIME ? second / bucketSeconds : undefined;
}

/**
 * Parses view lines (optionally prefixed by `prefixFields` extra fields, e.g. a sequence number; with a bucket field
 * after the user id when told) from `bytes` and calls `accept` for each. Views are our own output (or a Spark job's
 * written to the same contract), so a malformed line means the file is damaged: that is an error naming the file
 * and line, never a silent skip. With `header-or-data`, an accepted header is skipped as the first line only: a
 * header anywhere else is a damaged line like any other. `linesBefore`: the file's lines before `bytes` (which then
 * start a line), for the line numbers errors give. Returns the number of lines `bytes` held.
 */
export function forEachViewLine(
  bytes: Uint8Array,
  file: string,
  prefixFields: number,
  accept: ViewLine,
  {
    firstLine = 'data',
    linesBefore = 0,
    buckets = NO_BUCKET_FIELD,
  }: { readonly firstLine?: ViewFirstLine; readonly linesBefore?: number; readonly buckets?: BucketField } = {},
): number {
  const bucketFields = buckets.kind === 'none' ? 0 : 1;
  const fieldCount = 3 + prefixFields + bucketFields;
  const bucketSeconds = buckets.kind === 'none' ? 0 : buckets.bucketSeconds;
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
      const key = encoder.encode(fields[prefixFields]);
      const countText = fields[prefixFields + bucketFields + 1]!;
      const count = Number(countText);
      const cents = parseCentsString(fields[prefixFields + bucketFields + 2]!, MAX_TOTAL_CENTS);
      const prefix = fields.slice(0, prefixFields).map(Number);
      const bucketText = bucketFields === 0 ? undefined : encoder.encode(fields[prefixFields + 1]);
      const bucket = bucketText === undefined ? ALL_TIME : bucketOfField(bucketText, 0, bucketText.length, bucketSeconds);
      if (!WHOLE_NUMBER.test(countText) || Number.isNaN(cents) || bucket === undefined || prefix.some((p) => !Number.isInteger(p))) throw damaged();
      accept(prefix, key, 0, key.length, count, cents, bucket);
    } else if (lineEnd > lineStart) {
      if (splitUnquoted(bytes, lineStart, lineEnd, ends) !== fieldCount) throw damaged();
      const prefix: number[] = [];
      let fieldStart = lineStart;
      for (let k = 0; k < prefixFields; k++) {
        prefix.push(Number(userIdDecoder.decode(bytes.subarray(fieldStart, ends[k]))));
        fieldStart = ends[k]! + 1;
      }
      const userStart = fieldStart;
      const userEnd = ends[prefixFields]!;
      const bucket = bucketFields === 0 ? ALL_TIME : bucketOfField(bytes, userEnd + 1, ends[prefixFields + 1]!, bucketSeconds);
      const countStart = ends[prefixFields + bucketFields]! + 1;
      const countEnd = ends[prefixFields + bucketFields + 1]!;
      if (countEnd === countStart || bucket === undefined) throw damaged();
      let count = 0;
      for (let i = countStart; i < countEnd; i++) {
        const c = bytes[i]! - 0x30;
        if (c < 0 || c > 9) throw damaged();
        count = count * 10 + c;
      }
      const cents = parseCents(bytes, countEnd + 1, lineEnd, MAX_TOTAL_CENTS);
      if (Number.isNaN(cents) || userEnd === userStart || prefix.some((p) => !Number.isInteger(p))) throw damaged();
      accept(prefix, bytes, userStart, userEnd, count, cents, bucket);
    }
    lineStart = lineEnd + 1;
  }
  return line - linesBefore;
}

/** Adds (sign 1) or subtracts (sign -1) a view file's totals into a table. */
export function mergeViewText(
  bytes: Uint8Array,
  file: string,
  table: UserAggTable,
  sign: 1 | -1 = 1,
  firstLine: ViewFirstLine = 'data',
  buckets: BucketField = NO_BUCKET_FIELD,
): void {
  forEachViewLine(
    bytes,
    file,
    0,
    (_prefix, key, start, end, count, cents, bucket) => table.add(key, start, end, sign * count, sign * cents, undefined, bucket),
    { firstLine, buckets },
  );
}
