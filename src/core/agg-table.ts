// The one aggregation contract: (purchase count, cents) per (user, event-time bucket) in a byte-keyed table, merged
// and inverted exactly.
//
// Keys are the UTF-8 bytes of user ids, stored in one arena, each with a bucket number (src/core/event-time.ts; ALL_TIME
// for a total over all time); lookups hash bytes and never build a string per row (a string Map key costs ~350 ns a
// lookup against ~40 ns here). A key's hash is its user id's, so every bucket of a user lands in the same partition;
// the bucket is mixed in only where the key is placed in the slots. Tables move between threads as AggBlocks: flat
// typed arrays that are transferred, not cloned.

import { LambdaflowError } from './errors.js';
import { fnv1a, partitionOfHash } from './hash.js';

/** A table's contents as flat arrays, transferable between threads: key i is keys[keyEnds[i-1] ?? 0 .. keyEnds[i]). */
export interface AggBlock {
  readonly keys: Uint8Array;
  readonly keyEnds: Uint32Array;
  readonly hashes: Uint32Array;
  /** Each key's bucket (ALL_TIME: over all time). */
  readonly buckets: Uint32Array;
  readonly counts: Float64Array;
  readonly cents: Float64Array;
}

/** A UserAggTable's arrays, transferable between threads. */
export interface AggTableState {
  readonly slots: Int32Array;
  readonly arena: Uint8Array;
  readonly arenaUsed: number;
  /** Where each key starts; one more than the entries: a key ends where the next starts (see KeyColumns). */
  readonly keyStart: Uint32Array;
  readonly keyHash: Uint32Array;
  readonly keyBucket: Uint32Array;
  readonly countOf: Float64Array;
  readonly centsOf: Float64Array;
  readonly entries: number;
  readonly zeroEntries: number;
}

/**
 * Key columns: entry e's user id is arena[keyStart[e], keyStart[e + 1]). Keys lie back to back in entry order (a new
 * key goes at the arena's end; a reorder writes them again in the new order), so no entry needs its key's length.
 */
export type KeyColumns = Pick<AggTableState, 'arena' | 'keyStart'>;

/** Buffers a table state owns, for a transfer list. */
export function stateTransferList(state: AggTableState): ArrayBuffer[] {
  return [state.slots, state.arena, state.keyStart, state.keyHash, state.keyBucket, state.countOf, state.centsOf].map((a) => a.buffer as ArrayBuffer);
}

/** Anything rows can be added to: a table, or tables split by partition. */
export interface AggSink {
  add(bytes: Uint8Array, start: number, end: number, count: number, cents: number, hash: number, bucket: number): void;
}

/** One user's totals, as written to views. */
export interface UserTotal {
  readonly userId: string;
  readonly count: number;
  readonly cents: number;
}

/** One user's totals in one bucket (ALL_TIME: over all time). */
export interface UserBucketTotal extends UserTotal {
  readonly bucket: number;
}

/** The bucket of a key that is a total over all time (2^32 − 1: never a bucket number, see src/core/event-time.ts). */
export const ALL_TIME = 0xffff_ffff;

/** A hash slot no entry holds. */
export const EMPTY_SLOT = -1;
const MIN_CAPACITY = 1024;
const GOLDEN = 0x9e3779b1;
const BUCKET_MIX = 0x85ebca6b;

/** The first slot a key with this hash is looked for in, in slots of 2 ** (32 − shift): the one placement rule. */
export const firstSlot = (hash: number, shift: number): number => Math.imul(hash, GOLDEN) >>> shift;

/**
 * The hash a (user, bucket) key is placed by: the user's hash, with the bucket mixed in so that a user's buckets do
 * not share one probe run. ALL_TIME mixes in nothing (ALL_TIME + 1 is 2^32, which Math.imul takes as 0): a table of
 * all-time totals places its users exactly by their hashes, as the batch view's table does.
 */
export const keyHashOf = (hash: number, bucket: number): number => (hash ^ Math.imul(bucket + 1, BUCKET_MIX)) >>> 0;

export function equalBytes(a: Uint8Array, aStart: number, b: Uint8Array, bStart: number, length: number): boolean {
  for (let i = 0; i < length; i++) if (a[aStart + i] !== b[bStart + i]) return false;
  return true;
}

/** Where a table's arrays live: this thread's memory, or shared memory (posted to other threads without a copy). */
export type TableMemory = 'local' | 'shared';

export type Column = Float64Array | Uint32Array | Int32Array | Uint8Array;

/** A column type's constructor. */
export interface ColumnKind<T extends Column> {
  new (length: number): T;
  new (buffer: SharedArrayBuffer): T;
  readonly BYTES_PER_ELEMENT: number;
}

/** A new column of `length` elements (zeros) in `memory`. */
export function column<T extends Column>(Kind: ColumnKind<T>, length: number, memory: TableMemory): T {
  return memory === 'shared' ? new Kind(new SharedArrayBuffer(length * Kind.BYTES_PER_ELEMENT)) : new Kind(length);
}

/** A new array of `length` elements starting with a copy of `array`. */
export function grownCopy<T extends Float64Array | Uint32Array | Int32Array | Uint8Array>(array: T, length: number): T {
  const next = new (array.constructor as new (n: number) => T)(length);
  next.set(array);
  return next;
}

function checkExact(total: number): number {
  if (total > Number.MAX_SAFE_INTEGER || total < -Number.MAX_SAFE_INTEGER) {
    throw new LambdaflowError('E_OVERFLOW', `a per-user total (${total} cents) left the exact integer range`);
  }
  return total;
}

export class UserAggTable implements AggSink {
  private slots: Int32Array;
  private shift: number;
  private mask: number;
  private arena: Uint8Array;
  private arenaUsed = 0;
  /** Entry capacity + 1 elements (see KeyColumns). */
  private keyStart: Uint32Array;
  private keyHash: Uint32Array;
  private keyBucket: Uint32Array;
  private countOf: Float64Array;
  private centsOf: Float64Array;
  private entries = 0;
  private zeroEntries = 0;

  /**
   * `memory: 'shared'` puts the arrays in shared memory (what the table grows into later is local); `expectedKeyBytes`
   * sizes the key arena when the caller knows better than 16 bytes a user.
   */
  constructor(expectedUsers = MIN_CAPACITY, memory: TableMemory = 'local', expectedKeyBytes?: number) {
    let capacity = MIN_CAPACITY;
    while (capacity < expectedUsers * 2) capacity *= 2;
    this.slots = column(Int32Array, capacity, memory).fill(EMPTY_SLOT);
    this.shift = 32 - Math.log2(capacity);
    this.mask = capacity - 1;
    // Room for the users expected, not for all the slots could take: room given up front may well be touched memory
    // (an allocator reusing freed pages clears them), and tables are sized here for views of a million users.
    const entryCapacity = Math.max(expectedUsers, MIN_CAPACITY / 2);
    this.arena = column(Uint8Array, Math.max(expectedKeyBytes ?? entryCapacity * 16, 1024), memory);
    this.keyStart = column(Uint32Array, entryCapacity + 1, memory);
    this.keyHash = column(Uint32Array, entryCapacity, memory);
    this.keyBucket = column(Uint32Array, entryCapacity, memory);
    this.countOf = column(Float64Array, entryCapacity, memory);
    this.centsOf = column(Float64Array, entryCapacity, memory);
  }

  /**
   * An independent copy (typed arrays copied, no rehashing). Only the used part of each column is copied: room made
   * by reserve stays untouched (zero pages) in the copy too.
   */
  clone(): UserAggTable {
    const copy = new UserAggTable(0);
    copy.slots = this.slots.slice();
    copy.shift = this.shift;
    copy.mask = this.mask;
    copy.arena = grownCopy(this.arena.subarray(0, this.arenaUsed), this.arena.length);
    copy.arenaUsed = this.arenaUsed;
    copy.keyStart = grownCopy(this.keyStart.subarray(0, this.entries + 1), this.keyStart.length);
    copy.keyHash = grownCopy(this.keyHash.subarray(0, this.entries), this.keyHash.length);
    copy.keyBucket = grownCopy(this.keyBucket.subarray(0, this.entries), this.keyBucket.length);
    copy.countOf = grownCopy(this.countOf.subarray(0, this.entries), this.countOf.length);
    copy.centsOf = grownCopy(this.centsOf.subarray(0, this.entries), this.centsOf.length);
    copy.entries = this.entries;
    copy.zeroEntries = this.zeroEntries;
    return copy;
  }

  /** The table's arrays, to move it to another thread without rebuilding it (see fromState). */
  toState(): AggTableState {
    return {
      slots: this.slots,
      arena: this.arena,
      arenaUsed: this.arenaUsed,
      keyStart: this.keyStart,
      keyHash: this.keyHash,
      keyBucket: this.keyBucket,
      countOf: this.countOf,
      centsOf: this.centsOf,
      entries: this.entries,
      zeroEntries: this.zeroEntries,
    };
  }

  /** The table whose arrays toState gave (they are taken over, not copied). */
  static fromState(state: AggTableState): UserAggTable {
    const table = new UserAggTable(0);
    table.slots = state.slots;
    table.shift = 32 - Math.log2(state.slots.length);
    table.mask = state.slots.length - 1;
    table.arena = state.arena;
    table.arenaUsed = state.arenaUsed;
    table.keyStart = state.keyStart;
    table.keyHash = state.keyHash;
    table.keyBucket = state.keyBucket;
    table.countOf = state.countOf;
    table.centsOf = state.centsOf;
    table.entries = state.entries;
    table.zeroEntries = state.zeroEntries;
    return table;
  }

  /** The entry of the user whose id is bytes[start, end), in that bucket, or -1. */
  find(bytes: Uint8Array, start: number, end: number, hash = fnv1a(bytes, start, end), bucket = ALL_TIME): number {
    const length = end - start;
    let slot = firstSlot(keyHashOf(hash, bucket), this.shift);
    for (;;) {
      const entry = this.slots[slot]!;
      if (entry === EMPTY_SLOT) return -1;
      if (this.matches(entry, bytes, start, length, hash, bucket)) return entry;
      slot = (slot + 1) & this.mask;
    }
  }

  private matches(entry: number, bytes: Uint8Array, start: number, length: number, hash: number, bucket: number): boolean {
    return (
      this.keyHash[entry] === hash &&
      this.keyBucket[entry] === bucket &&
      this.keyStart[entry + 1]! - this.keyStart[entry]! === length &&
      equalBytes(this.arena, this.keyStart[entry]!, bytes, start, length)
    );
  }

  /** The key columns, for code that scans every key. */
  keyColumns(): KeyColumns {
    return { arena: this.arena, keyStart: this.keyStart };
  }

  /** Entry i's purchase count (entries are 0 … size-1, in insertion order). */
  countAt(entry: number): number {
    return this.countOf[entry]!;
  }

  centsAt(entry: number): number {
    return this.centsOf[entry]!;
  }

  hashAt(entry: number): number {
    return this.keyHash[entry]!;
  }

  /** Entry i's bucket (ALL_TIME for a total over all time). */
  bucketAt(entry: number): number {
    return this.keyBucket[entry]!;
  }

  /** Entry i's user id bytes (a view into the table, valid until it grows). */
  keyAt(entry: number): Uint8Array {
    return this.arena.subarray(this.keyStart[entry], this.keyStart[entry + 1]);
  }

  /** Number of users held, including users whose totals returned to zero (see compacted()). */
  get size(): number {
    return this.entries;
  }

  /** Number of users with a non-zero total. */
  get liveSize(): number {
    return this.entries - this.zeroEntries;
  }

  /** Adds count and cents to the user whose id is bytes[start, end), in that bucket (ALL_TIME: over all time). */
  add(bytes: Uint8Array, start: number, end: number, count: number, cents: number, hash = fnv1a(bytes, start, end), bucket = ALL_TIME): void {
    this.addEntry(bytes, start, end, count, cents, hash, bucket);
  }

  /** What add does; returns the entry added to (a new one when the key was not held). */
  addEntry(bytes: Uint8Array, start: number, end: number, count: number, cents: number, hash = fnv1a(bytes, start, end), bucket = ALL_TIME): number {
    const length = end - start;
    let slot = firstSlot(keyHashOf(hash, bucket), this.shift);
    for (;;) {
      const entry = this.slots[slot]!;
      if (entry === EMPTY_SLOT) break;
      if (this.matches(entry, bytes, start, length, hash, bucket)) {
        this.addAt(entry, count, cents);
        return entry;
      }
      slot = (slot + 1) & this.mask;
    }
    return this.insert(slot, bytes, start, length, hash, bucket, count, checkExact(cents));
  }

  /** Adds count and cents to an entry found before (by find), without looking its key up again. */
  addAt(entry: number, count: number, cents: number): void {
    const wasZero = this.countOf[entry] === 0 && this.centsOf[entry] === 0;
    const nextCount = this.countOf[entry]! + count;
    const nextCents = checkExact(this.centsOf[entry]! + cents);
    this.countOf[entry] = nextCount;
    this.centsOf[entry] = nextCents;
    const isZero = nextCount === 0 && nextCents === 0;
    if (wasZero !== isZero) this.zeroEntries += isZero ? 1 : -1;
  }

  private insert(slot: number, bytes: Uint8Array, start: number, length: number, hash: number, bucket: number, count: number, cents: number): number {
    const entry = this.entries;
    if (entry === this.keyHash.length) this.growEntries();
    if (this.arenaUsed + length > this.arena.length) {
      let next = this.arena.length * 2;
      while (next < this.arenaUsed + length) next *= 2;
      this.arena = grownCopy(this.arena.subarray(0, this.arenaUsed), next);
    }
    for (let k = 0; k < length; k++) this.arena[this.arenaUsed + k] = bytes[start + k]!;
    // keyStart[entry] is the arena's end already.
    this.keyStart[entry + 1] = this.arenaUsed + length;
    this.keyHash[entry] = hash;
    this.keyBucket[entry] = bucket;
    this.countOf[entry] = count;
    this.centsOf[entry] = cents;
    if (count === 0 && cents === 0) this.zeroEntries++;
    this.arenaUsed += length;
    this.slots[slot] = entry;
    this.entries++;
    if (this.entries * 2 > this.slots.length) this.growSlots();
    return entry;
  }

  private growEntries(): void {
    const next = this.keyHash.length * 2;
    this.keyStart = grownCopy(this.keyStart, next + 1);
    this.keyHash = grownCopy(this.keyHash, next);
    this.keyBucket = grownCopy(this.keyBucket, next);
    this.countOf = grownCopy(this.countOf, next);
    this.centsOf = grownCopy(this.centsOf, next);
  }

  /**
   * Makes room in the hash slots for `users` users now, so that adding up to that many never rehashes: a rehash
   * places every user again at once, which a table updated on a latency-critical thread pays up front, at a moment it
   * chooses. The entry columns are reserved apart (reserveEntries), and only as far as needed soon: room made for them
   * up front is memory, not just address space (the allocator may hand out reused pages, cleared, so touched).
   */
  reserveSlots(users: number): void {
    let capacity = this.slots.length;
    while (capacity < users * 2) capacity *= 2;
    if (capacity > this.slots.length) this.growSlots(capacity);
  }

  /** Room in the entry columns for `users` users: their copy now, not when they fill (see reserveSlots). */
  reserveEntries(users: number): void {
    while (this.keyHash.length < users) this.growEntries();
  }

  private growSlots(capacity = this.slots.length * 2): void {
    this.slots = new Int32Array(capacity);
    this.shift = 32 - Math.log2(capacity);
    this.mask = capacity - 1;
    this.rehash();
  }

  /** Fills the slots again from the entries. */
  private rehash(): void {
    this.slots.fill(EMPTY_SLOT);
    for (let entry = 0; entry < this.entries; entry++) {
      let slot = firstSlot(keyHashOf(this.keyHash[entry]!, this.keyBucket[entry]!), this.shift);
      while (this.slots[slot] !== EMPTY_SLOT) slot = (slot + 1) & this.mask;
      this.slots[slot] = entry;
    }
  }

  /**
   * Merges a block into this table; sign -1 subtracts it (the exact inverse used by sliding windows). `overAllTime`
   * adds each key's totals to its user's all-time total instead of its bucket.
   */
  mergeBlock(block: AggBlock, sign: 1 | -1 = 1, overAllTime = false): void {
    const { keys, keyEnds, hashes, buckets, counts, cents } = block;
    let start = 0;
    for (let i = 0; i < keyEnds.length; i++) {
      const end = keyEnds[i]!;
      this.add(keys, start, end, sign * counts[i]!, sign * cents[i]!, hashes[i], overAllTime ? ALL_TIME : buckets[i]!);
      start = end;
    }
  }

  /** Merges another table into this one (see mergeBlock): all its entries, or only `entries` when given. */
  mergeTable(other: UserAggTable, sign: 1 | -1 = 1, overAllTime = false, entries?: Uint32Array): void {
    const n = entries?.length ?? other.entries;
    for (let i = 0; i < n; i++) {
      const entry = entries === undefined ? i : entries[i]!;
      const bucket = overAllTime ? ALL_TIME : other.keyBucket[entry]!;
      this.add(
        other.arena,
        other.keyStart[entry]!,
        other.keyStart[entry + 1]!,
        sign * other.countOf[entry]!,
        sign * other.centsOf[entry]!,
        other.keyHash[entry],
        bucket,
      );
    }
  }

  /** Each user's totals over all its buckets, as a table of all-time totals (ALL_TIME keys) sized for `expectedUsers`. */
  overAllTime(expectedUsers = Math.min(this.liveSize, 1 << 16)): UserAggTable {
    const table = new UserAggTable(expectedUsers);
    table.mergeTable(this, 1, true);
    return table.compacted();
  }

  /** A copy without the users whose totals are zero; cheap to call when few are. */
  compacted(): UserAggTable {
    if (this.zeroEntries === 0) return this;
    const table = new UserAggTable(this.liveSize);
    for (let entry = 0; entry < this.entries; entry++) {
      if (this.countOf[entry] === 0 && this.centsOf[entry] === 0) continue;
      table.add(
        this.arena,
        this.keyStart[entry]!,
        this.keyStart[entry + 1]!,
        this.countOf[entry]!,
        this.centsOf[entry]!,
        this.keyHash[entry],
        this.keyBucket[entry],
      );
    }
    return table;
  }

  /**
   * Puts the given entries in that order, in place (entry i becomes old entry order[i]; entries not given are dropped):
   * the columns and slots keep their memory, the keys move to a new arena of the same kind, in that order. A copy in
   * that order would hold the table twice for a moment; this needs one column of scratch (8 bytes an entry given, which
   * a caller may lend).
   */
  reorder(order: Uint32Array, scratchBuffer: ArrayBufferLike = new ArrayBuffer(8 * order.length)): void {
    const n = order.length;
    let keyBytes = 0;
    for (const entry of order) keyBytes += this.keyStart[entry + 1]! - this.keyStart[entry]!;
    const arena = column(Uint8Array, Math.max(keyBytes, 16), this.arena.buffer instanceof SharedArrayBuffer ? 'shared' : 'local');
    const scratch = new Float64Array(scratchBuffer, 0, n);
    // The keys in the new order, and (in scratch) where each ends: the key starts then.
    let at = 0;
    for (let i = 0; i < n; i++) {
      const entry = order[i]!;
      arena.set(this.arena.subarray(this.keyStart[entry], this.keyStart[entry + 1]), at);
      at += this.keyStart[entry + 1]! - this.keyStart[entry]!;
      scratch[i] = at;
    }
    this.keyStart[0] = 0;
    for (let i = 0; i < n; i++) this.keyStart[i + 1] = scratch[i]!;
    for (const values of [this.keyHash, this.keyBucket, this.countOf, this.centsOf]) {
      for (let i = 0; i < n; i++) scratch[i] = values[order[i]!]!;
      for (let i = 0; i < n; i++) values[i] = scratch[i]!;
    }
    this.zeroEntries = 0;
    for (let i = 0; i < n; i++) if (this.countOf[i] === 0 && this.centsOf[i] === 0) this.zeroEntries++;
    this.arena = arena;
    this.arenaUsed = keyBytes;
    this.entries = n;
    this.rehash();
  }

  /** The non-zero users, split into `partitions` blocks by partitionOfHash. */
  toPartitionedBlocks(partitions: number): AggBlock[] {
    const users = new Uint32Array(partitions);
    const bytes = new Uint32Array(partitions);
    const owner = new Uint32Array(this.entries);
    for (let entry = 0; entry < this.entries; entry++) {
      if (this.countOf[entry] === 0 && this.centsOf[entry] === 0) continue;
      const p = partitionOfHash(this.keyHash[entry]!, partitions);
      owner[entry] = p;
      users[p]!++;
      bytes[p]! += this.keyStart[entry + 1]! - this.keyStart[entry]!;
    }
    const blocks = Array.from({ length: partitions }, (_, p) => ({
      keys: new Uint8Array(bytes[p]!),
      keyEnds: new Uint32Array(users[p]!),
      hashes: new Uint32Array(users[p]!),
      buckets: new Uint32Array(users[p]!),
      counts: new Float64Array(users[p]!),
      cents: new Float64Array(users[p]!),
    }));
    const filledUsers = new Uint32Array(partitions);
    const filledBytes = new Uint32Array(partitions);
    for (let entry = 0; entry < this.entries; entry++) {
      if (this.countOf[entry] === 0 && this.centsOf[entry] === 0) continue;
      const p = owner[entry]!;
      const block = blocks[p]!;
      const i = filledUsers[p]!++;
      const start = this.keyStart[entry]!;
      const length = this.keyStart[entry + 1]! - start;
      block.keys.set(this.arena.subarray(start, start + length), filledBytes[p]);
      filledBytes[p]! += length;
      block.keyEnds[i] = filledBytes[p]!;
      block.hashes[i] = this.keyHash[entry]!;
      block.buckets[i] = this.keyBucket[entry]!;
      block.counts[i] = this.countOf[entry]!;
      block.cents[i] = this.centsOf[entry]!;
    }
    return blocks;
  }

  /** The non-zero users as one block. */
  toBlock(): AggBlock {
    return this.toPartitionedBlocks(1)[0]!;
  }

  /** The non-zero users' totals over all their buckets, decoded and sorted by user id. */
  toSortedTotals(): UserTotal[] {
    return blockToSortedTotals(this.overAllTime().toBlock());
  }

  /** The non-zero (user, bucket) totals, decoded, sorted by user id then bucket. */
  toSortedBucketTotals(): UserBucketTotal[] {
    const block = this.toBlock();
    const totals = new Array<UserBucketTotal>(block.counts.length);
    let start = 0;
    for (let i = 0; i < block.counts.length; i++) {
      const end = block.keyEnds[i]!;
      totals[i] = { userId: userIdDecoder.decode(block.keys.subarray(start, end)), bucket: block.buckets[i]!, count: block.counts[i]!, cents: block.cents[i]! };
      start = end;
    }
    return totals.sort((x, y) => compareUserIds(x.userId, y.userId) || x.bucket - y.bucket);
  }
}

/**
 * R tables, one per reduce partition, filled row by row: the batch map builds the reduce's inputs directly, each
 * table holding only its partition's users, instead of one table split afterwards.
 */
export class PartitionedTables implements AggSink {
  readonly tables: UserAggTable[];

  constructor(partitions: number, expectedUsersEach = 0) {
    this.tables = Array.from({ length: partitions }, () => new UserAggTable(expectedUsersEach));
  }

  add(bytes: Uint8Array, start: number, end: number, count: number, cents: number, hash: number, bucket: number): void {
    this.tables[partitionOfHash(hash, this.tables.length)]!.add(bytes, start, end, count, cents, hash, bucket);
  }
}

/** Buffers a block owns, for a transfer list. */
export function blockTransferList(block: AggBlock): ArrayBuffer[] {
  return [block.keys.buffer, block.keyEnds.buffer, block.hashes.buffer, block.buckets.buffer, block.counts.buffer, block.cents.buffer] as ArrayBuffer[];
}

/** A table holding one block, ready to merge more into. */
export function tableFromBlocks(blocks: readonly AggBlock[], expectedUsers = 0): UserAggTable {
  const table = new UserAggTable(
    Math.max(
      expectedUsers,
      blocks.reduce((n, b) => Math.max(n, b.counts.length), 0),
    ),
  );
  for (const block of blocks) table.mergeBlock(block);
  return table;
}

/** The one ordering of user ids used by every output. */
export function compareUserIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Decodes user ids. ignoreBOM: an id may begin with U+FEFF, which a default decoder would drop. */
export const userIdDecoder = new TextDecoder('utf-8', { ignoreBOM: true });

export function blockToSortedTotals(block: AggBlock): UserTotal[] {
  const totals = new Array<UserTotal>(block.counts.length);
  let start = 0;
  for (let i = 0; i < block.counts.length; i++) {
    const end = block.keyEnds[i]!;
    totals[i] = { userId: userIdDecoder.decode(block.keys.subarray(start, end)), count: block.counts[i]!, cents: block.cents[i]! };
    start = end;
  }
  return totals.sort((a, b) => compareUserIds(a.userId, b.userId));
}
