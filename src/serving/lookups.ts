// Reads of the serving store's current version: one user's merged totals, and the top N users by amount or by count
// (computed once per version). Synchronous, so an answer is computed from one version.

import { type UserAggTable, type UserTotal, compareUserIds, userIdDecoder } from '../core/agg-table.js';
import { fnv1a } from '../core/hash.js';
import { type SortedUserTable } from '../core/sorted-table.js';
import { type CurrentVersion } from './current-version.js';
import { isZero } from './overlay.js';

export type TopBy = 'amount' | 'count';
export const TOP_MAX = 1_000;

const topValue = (by: TopBy): ((t: UserTotal) => number) => (by === 'amount' ? (t) => t.cents : (t) => t.count);

/** The order of a top-N: by amount or count descending, ties by user id ascending. */
function topOrder(by: TopBy): (a: UserTotal, b: UserTotal) => number {
  const value = topValue(by);
  return (a, b) => value(b) - value(a) || compareUserIds(a.userId, b.userId);
}

const encoder = new TextEncoder();

/** A key's merged totals: its base totals plus its overlay totals. */
function mergedAt(baseTable: SortedUserTable, overlay: UserAggTable, key: Uint8Array, hash: number, length = key.length): [count: number, cents: number] {
  const b = baseTable.find(key, 0, length, hash);
  const o = overlay.find(key, 0, length, hash);
  return [(b < 0 ? 0 : baseTable.countAt(b)) + (o < 0 ? 0 : overlay.countAt(o)), (b < 0 ? 0 : baseTable.centsAt(b)) + (o < 0 ? 0 : overlay.centsAt(o))];
}

export class Lookups {
  private readonly topCache = new Map<TopBy, { version: number; users: UserTotal[] }>();
  private keyScratch = new Uint8Array(256);

  constructor(private readonly version: CurrentVersion) {}

  /** One user's totals in the current version, or undefined when the user is not in the view. */
  get(userId: string): UserTotal | undefined {
    // Encoded into one reused buffer: a new one per lookup is an ArrayBuffer per request for the collector to sweep,
    // which showed in the lookups' p99. At most 3 bytes per UTF-16 unit.
    if (userId.length * 3 > this.keyScratch.length) this.keyScratch = new Uint8Array(userId.length * 3);
    const { written } = encoder.encodeInto(userId, this.keyScratch);
    const [count, cents] = mergedAt(this.version.baseTable, this.version.overlay, this.keyScratch, fnv1a(this.keyScratch, 0, written), written);
    return isZero(count, cents) ? undefined : { userId, count, cents };
  }

  /** The top n users by amount or count (descending, ties by user id ascending) in the current version. */
  top(by: TopBy, n: number): UserTotal[] {
    const cached = this.topCache.get(by);
    const { version } = this.version.loaded;
    if (cached?.version === version) return cached.users.slice(0, n);
    const users = this.computeTop(by);
    this.topCache.set(by, { version, users });
    return users.slice(0, n);
  }

  /**
   * Overlay users (merged with their base totals) compete with base users the overlay does not touch; the latter
   * come in the base's precomputed order, so only the first TOP_MAX of them are looked at.
   */
  private computeTop(by: TopBy): UserTotal[] {
    const { base, baseTable, overlay } = this.version;
    const fromOverlay = new BoundedBest(TOP_MAX, by);
    for (let e = 0; e < overlay.size; e++) {
      const key = overlay.keyAt(e);
      const [count, cents] = mergedAt(baseTable, overlay, key, overlay.hashAt(e));
      if (isZero(count, cents)) continue;
      fromOverlay.offer(by === 'amount' ? cents : count, () => ({ userId: userIdDecoder.decode(key), count, cents }));
    }
    const fromBase: UserTotal[] = [];
    const order = by === 'amount' ? base.byCents : base.byCount;
    for (let i = 0; i < order.length && fromBase.length < TOP_MAX; i++) {
      const e = order[i]!;
      const key = baseTable.keyAt(e);
      if (overlay.find(key, 0, key.length) >= 0) continue;
      fromBase.push({ userId: userIdDecoder.decode(key), count: baseTable.countAt(e), cents: baseTable.centsAt(e) });
    }
    return [...fromOverlay.sorted(), ...fromBase].sort(topOrder(by)).slice(0, TOP_MAX);
  }
}

/** Keeps the best `limit` users offered in a top-N's order: a value floor first, so most offers cost one comparison and no object. */
export class BoundedBest {
  private items: UserTotal[] = [];
  private floor = -Infinity;
  private readonly value: (t: UserTotal) => number;
  private readonly better: (a: UserTotal, b: UserTotal) => number;

  constructor(
    private readonly limit: number,
    by: TopBy,
  ) {
    this.value = topValue(by);
    this.better = topOrder(by);
  }

  /** Whether an offer of this value could be kept (so a caller can skip making the user). */
  wants(value: number): boolean {
    return value >= this.floor;
  }

  offer(value: number, make: () => UserTotal): void {
    if (value < this.floor) return;
    this.items.push(make());
    if (this.items.length >= this.limit * 2) this.trim();
  }

  private trim(): void {
    this.items.sort(this.better);
    this.items.length = this.limit;
    this.floor = this.value(this.items.at(-1)!);
  }

  sorted(): UserTotal[] {
    this.items.sort(this.better);
    if (this.items.length > this.limit) this.items.length = this.limit;
    return this.items;
  }
}
