// A table's users in the merged view's order, found from the key bytes: no string, no object per user.
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

/** Compares two keys (in any arenas) in compareUserIds order. */
export function compareKeyBytes(a: Uint8Array, aStart: number, aLength: number, b: Uint8Array, bStart: number, bLength: number): number {
  const n = Math.min(aLength, bLength);
  for (let i = 0; i < n; i++) {
    const d = RANK[a[aStart + i]!]! - RANK[b[bStart + i]!]!;
    if (d !== 0) return d;
  }
  return aLength - bLength;
}
