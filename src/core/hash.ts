// Deterministic hashing of user ids: one FNV-1a function for partitioning (map, reduce, speed workers) and tables.

export const FNV_OFFSET = 0x811c9dc5;
export const FNV_PRIME = 0x01000193;

/** FNV-1a 32-bit over bytes [start, end), as an unsigned integer. */
export function fnv1a(bytes: Uint8Array, start: number, end: number): number {
  let hash = FNV_OFFSET;
  for (let i = start; i < end; i++) {
    hash ^= bytes[i]!;
    hash = Math.imul(hash, FNV_PRIME);
  }
  return hash >>> 0;
}

const encoder = new TextEncoder();

/** FNV-1a of a user id's UTF-8 bytes: the same value fnv1a gives for the bytes it was parsed from. */
export function fnv1aString(userId: string): number {
  const bytes = encoder.encode(userId);
  return fnv1a(bytes, 0, bytes.length);
}

/** The partition that owns a hash, like Spark's HashPartitioner (non-negative modulo). */
export function partitionOfHash(hash: number, partitions: number): number {
  return (hash >>> 0) % partitions;
}

/** The partition that owns a user id. */
export function partitionOf(userId: string, partitions: number): number {
  return partitionOfHash(fnv1aString(userId), partitions);
}
