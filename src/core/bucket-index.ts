// A batch view's totals per (user, event-time bucket) as the serving layer reads them: read-only columns in shared
// memory, laid out two ways over the same (user, bucket) pairs.
//
//   by user   pairStart[e] .. pairStart[e + 1]   entry e's pairs, in bucket order   → one user's range or series
//   by bucket bucketFirst[k] .. bucketFirst[k+1]  pairs of bucket buckets[k]          → everyone's range (top N)
//             (indices into the pairs, in byBucket)
//
// Entries are the batch view's (its users in id order); every pair's user is one of them, and a user's pairs sum to
// its all-time totals — a view whose buckets say otherwise is damaged, not served.

import { type TableMemory, column } from './agg-table.js';
import { LambdaflowError } from './errors.js';

/** Plain typed arrays (shared or not), so it crosses threads without a copy. */
export interface BucketIndexState {
  /** Per entry (users + 1): where its pairs start. */
  readonly pairStart: Uint32Array;
  /** Per pair: bucket number, purchases, cents, and its entry. */
  readonly pairBucket: Uint32Array;
  readonly pairCount: Uint32Array;
  readonly pairCents: Float64Array;
  readonly pairEntry: Uint32Array;
  /** The distinct buckets, ascending; bucket k's pairs are byBucket[bucketFirst[k] .. bucketFirst[k + 1]). */
  readonly buckets: Uint32Array;
  readonly bucketFirst: Uint32Array;
  readonly byBucket: Uint32Array;
  /** Per distinct bucket: purchases and cents of all users. */
  readonly bucketCount: Float64Array;
  readonly bucketCents: Float64Array;
}

/** (User entry, bucket, count, cents) rows, gathered in any order, then laid out as a BucketIndexState. */
export class BucketIndexBuilder {
  private entry = new Uint32Array(1024);
  private bucket = new Uint32Array(1024);
  private count = new Uint32Array(1024);
  private cents = new Float64Array(1024);
  private size = 0;

  constructor(private readonly file: string) {}

  add(entry: number, bucket: number, count: number, cents: number): void {
    if (count > 0xffff_ffff)
      throw new LambdaflowError('E_OVERFLOW', `${this.file}: a (user, bucket) count of ${count} purchases is more than 2^32 − 1`, { file: this.file });
    if (this.size === this.entry.length) this.grow();
    this.entry[this.size] = entry;
    this.bucket[this.size] = bucket;
    this.count[this.size] = count;
    this.cents[this.size] = cents;
    this.size++;
  }

  private grow(): void {
    const grown = <T extends Uint32Array | Float64Array>(a: T): T => {
      const next = new (a.constructor as new (n: number) => T)(a.length * 2);
      next.set(a);
      return next;
    };
    this.entry = grown(this.entry);
    this.bucket = grown(this.bucket);
    this.count = grown(this.count);
    this.cents = grown(this.cents);
  }

  /**
   * The index over `users` entries; `totalsOf(e)` gives entry e's all-time totals, which its pairs must sum to. A pair
   * seen twice (the same user and bucket on two lines) is damage, as is a sum that differs: E_STATE naming `userOf(e)`.
   */
  build(
    users: number,
    totalsOf: (entry: number) => readonly [count: number, cents: number],
    userOf: (entry: number) => string,
    memory: TableMemory,
  ): BucketIndexState {
    const n = this.size;
    const pairStart = column(Uint32Array, users + 1, memory);
    for (let i = 0; i < n; i++) pairStart[this.entry[i]! + 1]!++;
    for (let e = 0; e < users; e++) pairStart[e + 1]! += pairStart[e]!;
    const fill = Uint32Array.from(pairStart.subarray(0, users));
    const pairBucket = column(Uint32Array, n, memory);
    const pairCount = column(Uint32Array, n, memory);
    const pairCents = column(Float64Array, n, memory);
    const pairEntry = column(Uint32Array, n, memory);
    for (let i = 0; i < n; i++) {
      const at = fill[this.entry[i]!]!++;
      pairBucket[at] = this.bucket[i]!;
      pairCount[at] = this.count[i]!;
      pairCents[at] = this.cents[i]!;
      pairEntry[at] = this.entry[i]!;
    }
    for (let e = 0; e < users; e++) {
      sortSegmentByBucket(pairBucket, pairCount, pairCents, pairStart[e]!, pairStart[e + 1]!);
      let count = 0;
      let cents = 0;
      for (let p = pairStart[e]!; p < pairStart[e + 1]!; p++) {
        if (p > pairStart[e]! && pairBucket[p] === pairBucket[p - 1]) throw damaged(this.file, userOf(e), `bucket ${pairBucket[p]} twice`);
        count += pairCount[p]!;
        cents += pairCents[p]!;
      }
      const [wantCount, wantCents] = totalsOf(e);
      if (count !== wantCount || cents !== wantCents) {
        throw damaged(this.file, userOf(e), `its buckets sum to ${count} purchases and ${cents} cents, its all-time totals are ${wantCount} and ${wantCents}`);
      }
    }
    return { pairStart, pairBucket, pairCount, pairCents, pairEntry, ...indexByBucket(pairBucket, pairCount, pairCents, memory) };
  }
}

function damaged(file: string, user: string, problem: string): LambdaflowError {
  return new LambdaflowError('E_STATE', `damaged batch view ${file}: user ${JSON.stringify(user)}: ${problem}`, { file });
}

/** Insertion sort of a user's pairs by bucket: a user has few, and they come mostly in order. */
function sortSegmentByBucket(bucket: Uint32Array, count: Uint32Array, cents: Float64Array, from: number, to: number): void {
  for (let i = from + 1; i < to; i++) {
    const b = bucket[i]!;
    const c = count[i]!;
    const a = cents[i]!;
    let j = i - 1;
    for (; j >= from && bucket[j]! > b; j--) {
      bucket[j + 1] = bucket[j]!;
      count[j + 1] = count[j]!;
      cents[j + 1] = cents[j]!;
    }
    bucket[j + 1] = b;
    count[j + 1] = c;
    cents[j + 1] = a;
  }
}

/** The pairs grouped by bucket (pairs of a bucket in entry order), with each bucket's totals. */
function indexByBucket(
  pairBucket: Uint32Array,
  pairCount: Uint32Array,
  pairCents: Float64Array,
  memory: TableMemory,
): Pick<BucketIndexState, 'buckets' | 'bucketFirst' | 'byBucket' | 'bucketCount' | 'bucketCents'> {
  const distinct = Uint32Array.from(new Set(pairBucket)).sort();
  const buckets = column(Uint32Array, distinct.length, memory);
  buckets.set(distinct);
  const rank = new Map<number, number>();
  distinct.forEach((b, k) => rank.set(b, k));
  const bucketFirst = column(Uint32Array, distinct.length + 1, memory);
  const bucketCount = column(Float64Array, distinct.length, memory);
  const bucketCents = column(Float64Array, distinct.length, memory);
  const rankOf = new Uint32Array(pairBucket.length);
  for (let p = 0; p < pairBucket.length; p++) {
    const k = rank.get(pairBucket[p]!)!;
    rankOf[p] = k;
    bucketFirst[k + 1]!++;
    bucketCount[k]! += pairCount[p]!;
    bucketCents[k]! += pairCents[p]!;
  }
  for (let k = 0; k < distinct.length; k++) bucketFirst[k + 1]! += bucketFirst[k]!;
  const fill = Uint32Array.from(bucketFirst.subarray(0, distinct.length));
  const byBucket = column(Uint32Array, pairBucket.length, memory);
  for (let p = 0; p < pairBucket.length; p++) byBucket[fill[rankOf[p]!]!++] = p;
  return { buckets, bucketFirst, byBucket, bucketCount, bucketCents };
}

/** The first index of `sorted` whose value is at least `value` (sorted.length when none is). */
export function lowerBound(sorted: Uint32Array, value: number, from = 0, to = sorted.length): number {
  let lo = from;
  let hi = to;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
