// A batch view's users as the serving layer holds them: read-only, in user-id order. A UserAggTable without what only
// a growing table needs (each key's hash: 4 bytes a user, held twice while a swap has the old view and the new one).

import { type Column, type ColumnKind, EMPTY_SLOT, type TableMemory, type UserAggTable, column, equalBytes, firstSlot } from './agg-table.js';
import { fnv1a } from './hash.js';

/** Plain typed arrays (shared or not), so it crosses threads without a copy. */
export interface SortedTableState {
  /** A UserAggTable's hash slots for these entries: an entry, or EMPTY_SLOT. */
  readonly slots: Int32Array;
  /** The keys' bytes, in entry order. */
  readonly arena: Uint8Array;
  /** Entry e's key is arena[keyStart[e], keyStart[e + 1]) (see KeyColumns): one more than the entries. */
  readonly keyStart: Uint32Array;
  readonly countOf: Float64Array;
  readonly centsOf: Float64Array;
}

/** The first `length` elements in `memory`: a view of them when they are there already, else a copy. */
function inMemory<T extends Column>(array: T, length: number, memory: TableMemory): T {
  if (memory === 'local' || array.buffer instanceof SharedArrayBuffer) return array.subarray(0, length) as T;
  const copy = column(array.constructor as ColumnKind<T>, length, memory);
  copy.set(array.subarray(0, length));
  return copy;
}

/**
 * The state of a table whose entries are in the order wanted (see UserAggTable.reorder), in `memory` (its arrays
 * are taken as they are when they are there already). The table is left as it was.
 */
export function sortedTableState(table: UserAggTable, memory: TableMemory): SortedTableState {
  const state = table.toState();
  const n = table.size;
  return {
    slots: inMemory(state.slots, state.slots.length, memory),
    arena: inMemory(state.arena, state.arenaUsed, memory),
    keyStart: inMemory(state.keyStart, n + 1, memory),
    countOf: inMemory(state.countOf, n, memory),
    centsOf: inMemory(state.centsOf, n, memory),
  };
}

export class SortedUserTable {
  private readonly shift: number;
  private readonly mask: number;

  constructor(readonly state: SortedTableState) {
    this.shift = 32 - Math.log2(state.slots.length);
    this.mask = state.slots.length - 1;
  }

  get size(): number {
    return this.state.keyStart.length - 1;
  }

  /** Entry e's user id bytes (a view into the arena). */
  keyAt(e: number): Uint8Array {
    return this.state.arena.subarray(this.state.keyStart[e], this.state.keyStart[e + 1]);
  }

  countAt(e: number): number {
    return this.state.countOf[e]!;
  }

  centsAt(e: number): number {
    return this.state.centsOf[e]!;
  }

  /** The entry of the user whose id is bytes[start, end), or −1. */
  find(bytes: Uint8Array, start: number, end: number, hash = fnv1a(bytes, start, end)): number {
    const { slots, arena, keyStart } = this.state;
    const length = end - start;
    for (let slot = firstSlot(hash, this.shift); ; slot = (slot + 1) & this.mask) {
      const e = slots[slot]!;
      if (e === EMPTY_SLOT) return -1;
      if (keyStart[e + 1]! - keyStart[e]! === length && equalBytes(arena, keyStart[e]!, bytes, start, length)) return e;
    }
  }
}
