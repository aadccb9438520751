// View lines written from a table's key bytes into one buffer: `user_id,count,amount` and
// `user_id,bucket_start,count,amount`, quoted as RFC 4180 requires and formatted as formatTotals does.

import { ALL_TIME, type UserAggTable } from './agg-table.js';

const COMMA = 0x2c;
const QUOTE = 0x22;
const NEWLINE = 0x0a;
const CR = 0x0d;

const scratch = new Uint8Array(20);

/** "00" … "99": two digits per division (a bucket start has ten digits, and is written once a line). */
const DIGIT_PAIRS = Uint8Array.from({ length: 200 }, (_, i) => 0x30 + (i % 2 === 0 ? Math.floor(i / 20) : (i >> 1) % 10));
const INT32_LIMIT = 0x8000_0000;

/** What ViewLineWriter.line takes as a bucket start to write an empty bucket field (a total over all time). */
export const ALL_TIME_FIELD = -2;

/**
 * Writes a non-negative integer's digits at `at`; returns the offset after them. Below 2^31 in int32 arithmetic, two
 * digits at a time, backwards from the end (V8 turns `/ 100 | 0` into a multiply); above, in doubles.
 */
function writeDigits(out: Buffer, at: number, value: number): number {
  if (value >= INT32_LIMIT) return writeLargeDigits(out, at, value);
  let v = value | 0;
  const end = at + digitCount(v);
  let p = end;
  while (v >= 100) {
    const q = (v / 100) | 0;
    const pair = (v - q * 100) << 1;
    out[--p] = DIGIT_PAIRS[pair + 1]!;
    out[--p] = DIGIT_PAIRS[pair]!;
    v = q;
  }
  // The one or two digits left are the first ones.
  if (v >= 10) {
    out[at + 1] = DIGIT_PAIRS[(v << 1) + 1]!;
    out[at] = DIGIT_PAIRS[v << 1]!;
  } else {
    out[at] = 0x30 + v;
  }
  return end;
}

/** Digits of a non-negative int32. */
function digitCount(v: number): number {
  if (v < 100_000) return v < 100 ? (v < 10 ? 1 : 2) : v < 1_000 ? 3 : v < 10_000 ? 4 : 5;
  return v < 10_000_000 ? (v < 1_000_000 ? 6 : 7) : v < 100_000_000 ? 8 : v < 1_000_000_000 ? 9 : 10;
}

function writeLargeDigits(out: Buffer, at: number, value: number): number {
  let n = 0;
  do {
    const next = Math.floor(value / 10);
    scratch[n++] = 0x30 + (value - next * 10);
    value = next;
  } while (value > 0);
  while (n > 0) out[at++] = scratch[--n]!;
  return at;
}

/** Writes cents as an amount with exactly two decimals (as formatCents does); returns the offset after it. */
function writeAmount(out: Buffer, at: number, cents: number): number {
  if (cents < 0) out[at++] = 0x2d;
  const abs = Math.abs(cents);
  const whole = Math.floor(abs / 100);
  const pair = (abs - whole * 100) << 1;
  at = writeDigits(out, at, whole);
  out[at++] = 0x2e;
  out[at++] = DIGIT_PAIRS[pair]!;
  out[at++] = DIGIT_PAIRS[pair + 1]!;
  return at;
}

/**
 * View lines `user_id,count,amount`, or `user_id,bucket_start,count,amount` for a total in one bucket, written into
 * one buffer (user ids quoted as RFC 4180 requires), growing it as needed; `linePrefix` (e.g. a delta's `seq,`) starts
 * every line.
 */
export class ViewLineWriter {
  private out: Buffer;
  private at = 0;
  private readonly prefix: Buffer;

  constructor(expectedBytes: number, head = '', linePrefix = '') {
    this.out = Buffer.allocUnsafe(Math.max(expectedBytes, head.length, 64));
    this.at = this.out.write(head, 0, 'latin1');
    this.prefix = Buffer.from(linePrefix, 'latin1');
  }

  /**
   * A line; `bucketStartSecond` (a bucket's first second) follows the user id: −1 writes no bucket field,
   * ALL_TIME_FIELD an empty one (a total over all time).
   */
  line(arena: Uint8Array, start: number, end: number, count: number, cents: number, bucketStartSecond = -1): void {
    this.ensure(this.prefix.length + 2 * (end - start) + 64);
    const out = this.out;
    let at = this.at;
    if (this.prefix.length > 0) {
      this.prefix.copy(out, at);
      at += this.prefix.length;
    }
    // Copied byte by byte while looking for a byte that needs quoting: ids are short, and a subarray per line costs
    // more than the copy.
    let plain = end;
    for (let i = start; i < end; i++) {
      const c = arena[i]!;
      if (c === COMMA || c === QUOTE || c === NEWLINE || c === CR) {
        plain = i;
        break;
      }
      out[at + i - start] = c;
    }
    if (plain === end) {
      at += end - start;
    } else {
      out[at++] = QUOTE;
      for (let i = start; i < end; i++) {
        if (arena[i] === QUOTE) out[at++] = QUOTE;
        out[at++] = arena[i]!;
      }
      out[at++] = QUOTE;
    }
    out[at++] = COMMA;
    if (bucketStartSecond !== -1) {
      if (bucketStartSecond >= 0) at = writeDigits(out, at, bucketStartSecond);
      out[at++] = COMMA;
    }
    if (count < 0) out[at++] = 0x2d;
    at = writeDigits(out, at, Math.abs(count));
    out[at++] = COMMA;
    at = writeAmount(out, at, cents);
    out[at++] = NEWLINE;
    this.at = at;
  }

  /** Bytes written so far. */
  get length(): number {
    return this.at;
  }

  private ensure(room: number): void {
    if (this.at + room <= this.out.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.out.length * 2, this.at + room));
    this.out.copy(grown, 0, 0, this.at);
    this.out = grown;
  }

  /** The bytes written since the last drain; the writer then starts again at the start of the same buffer (so write them first). */
  drain(): Buffer {
    const written = this.out.subarray(0, this.at);
    this.at = 0;
    return written;
  }

  /** The lines written (a view into the buffer, which it owns from its start). */
  bytes(): Buffer {
    return this.out.subarray(0, this.at);
  }
}

/** View lines `user_id,count,amount` for the given entries (one per user: all-time totals), in that order. */
export function formatEntries(table: UserAggTable, order: Uint32Array): Buffer {
  const { arena, keyStart } = table.keyColumns();
  let capacity = 0;
  for (const e of order) capacity += keyStart[e + 1]! - keyStart[e]! + 2 + 40; // key, commas, count and amount digits, newline
  const writer = new ViewLineWriter(capacity);
  for (const e of order) writer.line(arena, keyStart[e]!, keyStart[e + 1]!, table.countAt(e), table.centsAt(e));
  return writer.bytes();
}

/**
 * Lines `user_id,bucket_start,count,amount` for a table's non-zero (user, bucket) entries: in `order` when given (for
 * an export sorted by user then bucket: sortedEntries), else in entry order. A batch view's bucket parts are read in
 * any order (as Spark writes them), and entry order reads each column front to back where key order would miss the
 * cache on every entry. Entries over all time (ALL_TIME) have no bucket line.
 */
export function formatBucketLines(table: UserAggTable, bucketSeconds: number, order?: Uint32Array): { readonly bytes: Buffer; readonly lines: number } {
  const out = new ViewLineWriter(bucketLinesBytes(table, order?.length ?? table.size));
  const lines = writeBucketLines(out, table, bucketSeconds, order);
  return { bytes: out.bytes(), lines };
}

/** Room for `n` of a table's bucket lines (a writer grows past it if needed). */
export function bucketLinesBytes(table: UserAggTable, n: number): number {
  return table.keyColumns().keyStart[table.size]! + 52 * n;
}

/** What formatBucketLines writes, appended to `out`; returns the number of lines. */
export function writeBucketLines(out: ViewLineWriter, table: UserAggTable, bucketSeconds: number, order?: Uint32Array): number {
  const { arena, keyStart } = table.keyColumns();
  const n = order?.length ?? table.size;
  let lines = 0;
  for (let i = 0; i < n; i++) {
    const e = order === undefined ? i : order[i]!;
    const bucket = table.bucketAt(e);
    const count = table.countAt(e);
    const cents = table.centsAt(e);
    if (bucket === ALL_TIME || (count === 0 && cents === 0)) continue;
    out.line(arena, keyStart[e]!, keyStart[e + 1]!, count, cents, bucket * bucketSeconds);
    lines++;
  }
  return lines;
}
