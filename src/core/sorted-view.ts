// A table's users in the merged view's order, found and written from the key bytes: no string, no object per user.
//
// The order is compareUserIds' (JavaScript string order, i.e. UTF-16 code units). On UTF-8 bytes that is plain byte
// order except for one thing: UTF-16 puts characters U+E000–U+FFFF (lead bytes EE, EF) after the supplementary
// planes (lead bytes F0–F4, surrogate pairs in UTF-16). EE and EF only ever appear as lead bytes, so ranking them
// above F4 makes byte order and string order agree.
//
// Sorting: a most-significant-first radix sort, 5 ranked key bytes at a time, each pass one native BigUint64Array sort.

import { ALL_TIME, type KeyColumns, type UserAggTable, equalBytes } from './agg-table.js';

const RANK = new Uint8Array(256).map((_, b) => (b === 0xee ? 0xf5 : b === 0xef ? 0xf6 : b));
const INDEX_BITS = 24;

const CHUNK_BYTES = 5;
const INDEX_MASK = 2 ** INDEX_BITS - 1;

/** Bytes of scratch a sort of n entries needs: a 64-bit word per entry. */
export const sortScratchBytes = (n: number): number => 8 * n;

/** Entry e's ranked key bytes [depth, depth + CHUNK_BYTES), zero-padded, as one number (tells the runs that tie). */
function chunkOf(e: number, depth: number, { arena, keyStart }: KeyColumns): number {
  const start = keyStart[e]! + depth;
  const length = keyStart[e + 1]! - keyStart[e]! - depth;
  let chunk = 0;
  for (let i = 0; i < CHUNK_BYTES; i++) chunk = chunk * 256 + (i < length ? RANK[arena[start + i]!]! : 0);
  return chunk;
}

/**
 * Sorts order[from, to) by the ranked key bytes from `depth` on, CHUNK_BYTES at a time: each entry's next chunk over
 * its position in the range, sorted natively as 64-bit words; runs that still tie go one chunk deeper. A key that
 * ends pads with zeros, which no user id contains (control characters are refused), so shorter sorts first. Every
 * depth works in the same scratch (sortScratchBytes of the whole order): a range is done with it before its runs go
 * deeper.
 */
function sortChunks(order: Uint32Array, from: number, to: number, depth: number, keys: KeyColumns, scratch: ArrayBufferLike): void {
  const { arena, keyStart } = keys;
  const n = to - from;
  const words = new BigUint64Array(scratch, 0, n);
  const halves = new Uint32Array(scratch, 0, 2 * n); // little-endian: [low, high] per word
  let anyLonger = false;
  for (let i = 0; i < n; i++) {
    const e = order[from + i]!;
    const start = keyStart[e]! + depth;
    const length = keyStart[e + 1]! - keyStart[e]! - depth;
    if (length > CHUNK_BYTES) anyLonger = true;
    const b0 = length > 0 ? RANK[arena[start]!]! : 0;
    const b1 = length > 1 ? RANK[arena[start + 1]!]! : 0;
    const b2 = length > 2 ? RANK[arena[start + 2]!]! : 0;
    const b3 = length > 3 ? RANK[arena[start + 3]!]! : 0;
    const b4 = length > 4 ? RANK[arena[start + 4]!]! : 0;
    halves[2 * i + 1] = ((b0 << 24) | (b1 << 16) | (b2 << 8) | b3) >>> 0;
    halves[2 * i] = ((b4 << INDEX_BITS) | i) >>> 0;
  }
  words.sort();
  // The sorted entries go into the words' high halves, no longer needed (runs are told from the keys again below).
  for (let i = 0; i < n; i++) halves[2 * i + 1] = order[from + (halves[2 * i]! & INDEX_MASK)]!;
  for (let i = 0; i < n; i++) order[from + i] = halves[2 * i + 1]!;
  if (!anyLonger) return;
  let runStart = 0;
  let runChunk = chunkOf(order[from]!, depth, keys);
  for (let i = 1; i <= n; i++) {
    const chunk = i < n ? chunkOf(order[from + i]!, depth, keys) : -1;
    if (chunk === runChunk) continue;
    if (i - runStart > 1) sortChunks(order, from + runStart, from + i, depth + CHUNK_BYTES, keys, scratch);
    runStart = i;
    runChunk = chunk;
  }
}

/**
 * The table's entries with a non-zero total, in compareUserIds order of their users and, for a user's buckets, in
 * bucket order (`scratch`: see sortByKey).
 */
export function sortedEntries(table: UserAggTable, scratch?: ArrayBufferLike): Uint32Array {
  let live = 0;
  let bucketed = false;
  for (let e = 0; e < table.size; e++) {
    if (table.countAt(e) === 0 && table.centsAt(e) === 0) continue;
    live++;
    if (table.bucketAt(e) !== ALL_TIME) bucketed = true;
  }
  const order = new Uint32Array(live);
  for (let e = 0, i = 0; e < table.size; e++) if (table.countAt(e) !== 0 || table.centsAt(e) !== 0) order[i++] = e;
  sortByKey(table.keyColumns(), order, scratch);
  if (bucketed) sortBucketsOfEachUser(table, order);
  return order;
}

/** Puts each run of one user's entries (adjacent once sorted by key) in bucket order: runs are short (a user's buckets). */
function sortBucketsOfEachUser(table: UserAggTable, order: Uint32Array): void {
  const { arena, keyStart } = table.keyColumns();
  const sameUser = (a: number, b: number): boolean => {
    const length = keyStart[a + 1]! - keyStart[a]!;
    return keyStart[b + 1]! - keyStart[b]! === length && equalBytes(arena, keyStart[a]!, arena, keyStart[b]!, length);
  };
  let runStart = 0;
  for (let i = 1; i <= order.length; i++) {
    if (i < order.length && sameUser(order[runStart]!, order[i]!)) continue;
    if (i - runStart > 32) order.subarray(runStart, i).sort((a, b) => table.bucketAt(a) - table.bucketAt(b));
    else if (i - runStart > 1) insertionSortByBucket(table, order, runStart, i);
    runStart = i;
  }
}

/** Sorts a short order[from, to) by bucket: most users have a few buckets, where a comparator sort on a subarray costs more. */
function insertionSortByBucket(table: UserAggTable, order: Uint32Array, from: number, to: number): void {
  for (let i = from + 1; i < to; i++) {
    const e = order[i]!;
    const bucket = table.bucketAt(e);
    let j = i - 1;
    for (; j >= from && table.bucketAt(order[j]!) > bucket; j--) order[j + 1] = order[j]!;
    order[j + 1] = e;
  }
}

/**
 * Sorts some entries (of a table, or entries copied from one) in place into compareUserIds order of their keys;
 * returns them. `scratch` (at least sortScratchBytes(order.length)) lets a caller lend memory it reuses.
 */
export function sortByKey(keys: KeyColumns, order: Uint32Array, scratch: ArrayBufferLike = new ArrayBuffer(sortScratchBytes(order.length))): Uint32Array {
  if (order.length >= 2 ** INDEX_BITS) throw new RangeError(`cannot sort ${order.length} users in one table (at most ${INDEX_MASK})`);
  if (scratch.byteLength < sortScratchBytes(order.length))
    throw new RangeError(`a sort of ${order.length} users needs ${sortScratchBytes(order.length)} bytes of scratch`);
  if (order.length > 1) sortChunks(order, 0, order.length, 0, keys, scratch);
  return order;
}

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
  if (v >= 10) {
    out[--p] = DIGIT_PAIRS[(v << 1) + 1]!;
    out[--p] = DIGIT_PAIRS[v << 1]!;
  } else {
    out[--p] = 0x30 + v;
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

/** Compares two keys (in any arenas) in compareUserIds order. */
export function compareKeyBytes(a: Uint8Array, aStart: number, aLength: number, b: Uint8Array, bStart: number, bLength: number): number {
  const n = Math.min(aLength, bLength);
  for (let i = 0; i < n; i++) {
    const d = RANK[a[aStart + i]!]! - RANK[b[bStart + i]!]!;
    if (d !== 0) return d;
  }
  return aLength - bLength;
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
 * Lines `user_id,bucket_start,count,amount` for a table's non-zero (user, bucket) entries, in entry order: a batch
 * view's bucket parts are read in any order (as Spark writes them), and entry order reads each column front to back
 * where key order would miss the cache on every entry.
 */
export function formatBucketLines(table: UserAggTable, bucketSeconds: number): { readonly bytes: Buffer; readonly lines: number } {
  const { arena, keyStart } = table.keyColumns();
  const out = new ViewLineWriter(keyStart[table.size]! + 52 * table.size);
  let lines = 0;
  for (let e = 0; e < table.size; e++) {
    const bucket = table.bucketAt(e);
    const count = table.countAt(e);
    const cents = table.centsAt(e);
    if (bucket === ALL_TIME || (count === 0 && cents === 0)) continue;
    out.line(arena, keyStart[e]!, keyStart[e + 1]!, count, cents, bucket * bucketSeconds);
    lines++;
  }
  return { bytes: out.bytes(), lines };
}

/** A batch reduce's output: the all-time part and the bucket part, with what they hold. */
export interface BatchParts {
  /** `user_id,count,amount` per user, summed over its buckets, in id order. */
  readonly users: Buffer;
  /** `user_id,bucket_start,count,amount` per (user, bucket), in the table's order. */
  readonly buckets: Buffer;
  readonly userCount: number;
  readonly bucketCount: number;
  readonly purchases: number;
  readonly cents: number;
}

/** The two parts of a batch view from a partition's (user, bucket) table. */
export function batchPartsOf(table: UserAggTable, bucketSeconds: number): BatchParts {
  // Sized for a few buckets a user: one growth at most for most data, little room left over.
  const users = table.overAllTime(Math.ceil(table.liveSize / 2));
  const order = sortedEntries(users);
  const buckets = formatBucketLines(table, bucketSeconds);
  let purchases = 0;
  let cents = 0;
  for (const e of order) {
    purchases += users.countAt(e);
    cents += users.centsAt(e);
  }
  return { users: formatEntries(users, order), buckets: buckets.bytes, userCount: order.length, bucketCount: buckets.lines, purchases, cents };
}

/** A bucketed table's entries written as a batch view: each user's all-time line, and a line per (user, bucket). */
export interface BucketedLines {
  /** `user_id,count,amount`: the users' totals over all their buckets. */
  readonly users: Buffer;
  /** `user_id,bucket_start,count,amount`. */
  readonly buckets: Buffer;
  readonly userCount: number;
  readonly bucketCount: number;
}

/**
 * Formats entries in sortedEntries order (a user's buckets adjacent, in bucket order) as both layouts at once. A user
 * whose buckets sum to zero (a refund that cancels a purchase) keeps its bucket lines but has no all-time line, as
 * in a view without buckets. Entries over all time (ALL_TIME) have no bucket line.
 */
export function formatBucketedEntries(table: UserAggTable, order: Uint32Array, bucketSeconds: number): BucketedLines {
  const { arena, keyStart } = table.keyColumns();
  let capacity = 0;
  for (const e of order) capacity += keyStart[e + 1]! - keyStart[e]! + 2 + 40;
  const users = new ViewLineWriter(capacity);
  const buckets = new ViewLineWriter(capacity + 12 * order.length);
  let userCount = 0;
  let bucketCount = 0;
  for (let i = 0; i < order.length;) {
    const first = order[i]!;
    const start = keyStart[first]!;
    const length = keyStart[first + 1]! - start;
    let count = 0;
    let cents = 0;
    for (; i < order.length; i++) {
      const e = order[i]!;
      if (keyStart[e + 1]! - keyStart[e]! !== length || !equalBytes(arena, keyStart[e]!, arena, start, length)) break;
      count += table.countAt(e);
      cents += table.centsAt(e);
      const bucket = table.bucketAt(e);
      if (bucket === ALL_TIME) continue;
      buckets.line(arena, start, start + length, table.countAt(e), table.centsAt(e), bucket * bucketSeconds);
      bucketCount++;
    }
    if (count === 0 && cents === 0) continue;
    users.line(arena, start, start + length, count, cents);
    userCount++;
  }
  return { users: users.bytes(), buckets: buckets.bytes(), userCount, bucketCount };
}
