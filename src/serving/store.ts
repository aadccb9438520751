// The serving store: the merged view in memory as versioned snapshots — an immutable batch base plus a realtime
// overlay changed in O(changed users) per update — with point lookups, top-N and frozen copies for exports.
//
//   merged(user) = base(user) + overlay(user)        base: the batch view (watermark S_B), never changed
//                                                    overlay: every logged seq in (S_B, N], per user
//
// With NATS partition streams, each stream s has its own seqs, watermark S_B[s] and through-seq N[s]: the overlay is
// the sum over streams of their seqs (S_B[s], N[s]], and every rule below holds per stream.
//
// A new realtime state adds its per-seq deltas to the overlay (seqs must follow N without a gap). A new batch view
// swaps the base and subtracts from the overlay exactly the seqs it absorbed (src/core/exact-merge.ts); the deltas
// for that come from the loader (read off the hot path) and from the recent seqs this store applied itself.
// Each change makes a new version. Reads on the main thread are synchronous, so a response is computed from one
// version; anything that outlives a version (an export) reads a frozen copy.

import { type AggBlock, type AggTableState, UserAggTable, compareUserIds } from '../core/agg-table.js';
import { type Clock } from '../core/clock.js';
import { LambdaflowError } from '../core/errors.js';
import { type DeltaRange, checkDeltasFound, planExactMerge } from '../core/exact-merge.js';
import { DEFAULT_STREAM } from '../io/layout.js';
import { fnv1a } from '../core/hash.js';
import { type BatchBase, type BatchViewMeta, EMPTY_BASE } from './batch-base.js';

export interface SnapshotStatus {
  /** Increases by one with every change. */
  readonly version: number;
  readonly batchView: string | null;
  readonly batchWatermark: number;
  /** N: the last ingest seq reflected. */
  readonly throughSeq: number;
  readonly users: number;
  readonly purchases: number;
  readonly cents: number;
  readonly builtAtMs: number;
  /** Ingest time of the newest stream file reflected (null when unknown, e.g. only a batch view). */
  readonly lastIngestedAtMs: number | null;
  /** Users whose totals this version changed (all of them for a batch swap). */
  readonly changedUsers: number;
  readonly kind: 'load' | 'realtime' | 'batch';
  /** NATS partition streams (`p0`, …): the batch view's watermark and the last ingest seq reflected of each; empty without. */
  readonly streams: Readonly<Record<string, StreamPosition>>;
}

export interface StreamPosition {
  readonly batchWatermark: number;
  readonly throughSeq: number;
}

/** One seq's per-user totals. */
export interface SeqBlock {
  readonly seq: number;
  readonly block: AggBlock;
}

/** Deltas of seqs (afterSeq, throughSeq] summed, read by the loader for a batch swap. */
export interface AbsorbedDeltas {
  readonly afterSeq: number;
  readonly throughSeq: number;
  readonly block: AggBlock;
}

export interface UserTotals {
  readonly userId: string;
  readonly count: number;
  readonly cents: number;
}

export type TopBy = 'amount' | 'count';
export const TOP_MAX = 1_000;

/** A copy of one version that later changes never touch: for exports that take longer than a version lives. */
export interface FrozenView {
  readonly status: SnapshotStatus;
  readonly base: BatchBase;
  /** The overlay's arrays (a private copy, transferable). */
  readonly overlay: AggTableState;
}

/** How many recently applied seqs are kept, to subtract the ones a batch absorbed after its loader read deltas. */
const RECENT_SEQS = 4_096;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const isZero = (count: number, cents: number): boolean => count === 0 && cents === 0;

const watermarkOf = (base: BatchBase, stream: string): number =>
  stream === DEFAULT_STREAM ? (base.view?.watermark ?? 0) : (base.view?.streamWatermarks?.[stream] ?? 0);

export class ServingStore {
  private base: BatchBase = EMPTY_BASE;
  private baseTable = UserAggTable.fromState(EMPTY_BASE.table);
  private overlay = new UserAggTable();
  /** Per stream: recently applied seqs' blocks. */
  private readonly recent = new Map<string, Map<number, AggBlock>>();
  private info: SnapshotStatus | undefined;
  private readonly topCache = new Map<TopBy, { version: number; users: UserTotals[] }>();

  constructor(private readonly clock: Clock) {}

  /** The current version's status; undefined until the first load (a store that cannot say what it holds serves nothing). */
  get current(): SnapshotStatus | undefined {
    return this.info;
  }

  /** The batch view served (undefined: none). */
  get batchView(): BatchViewMeta | undefined {
    return this.base.view;
  }

  private get loaded(): SnapshotStatus {
    if (!this.info) throw new LambdaflowError('E_STATE', 'the serving store has not loaded a consistent view yet');
    return this.info;
  }

  /** A new version after a change of base or overlay as a whole: totals recounted, every user counted as changed. */
  private recounted(throughSeq: number, lastIngestedAtMs: number | null, kind: SnapshotStatus['kind'], streamThroughSeqs: Readonly<Record<string, number>>): SnapshotStatus {
    const totals = this.totals();
    const streams: Record<string, StreamPosition> = {};
    for (const [stream, seq] of Object.entries(streamThroughSeqs)) streams[stream] = Object.freeze({ batchWatermark: watermarkOf(this.base, stream), throughSeq: seq });
    return Object.freeze({
      version: (this.info?.version ?? 0) + 1,
      batchView: this.base.view?.name ?? null,
      batchWatermark: this.base.view?.watermark ?? 0,
      throughSeq,
      ...totals,
      builtAtMs: this.clock.now(),
      lastIngestedAtMs,
      changedUsers: totals.users,
      kind,
      streams: Object.freeze(streams),
    });
  }

  /** Users, purchases and cents of base + overlay: O(overlay), for loads and swaps (updates adjust them instead). */
  private totals(): { users: number; purchases: number; cents: number } {
    let { users, purchases, cents } = this.base;
    for (let e = 0; e < this.overlay.size; e++) {
      const count = this.overlay.countAt(e);
      const amount = this.overlay.centsAt(e);
      if (isZero(count, amount)) continue;
      const b = this.baseTable.find(this.overlay.keyAt(e), 0, this.overlay.keyAt(e).length, this.overlay.hashAt(e));
      const baseCount = b < 0 ? 0 : this.baseTable.countAt(b);
      const baseCents = b < 0 ? 0 : this.baseTable.centsAt(b);
      users += (isZero(baseCount + count, baseCents + amount) ? 0 : 1) - (b < 0 ? 0 : 1);
      purchases += count;
      cents += amount;
    }
    return { users, purchases, cents };
  }

  /**
   * Replaces everything: a base, and an overlay holding exactly the seqs (S_B, throughSeq] of the default stream and
   * (S_B[s], streamThroughSeqs[s]] of each partition stream s.
   */
  load(base: BatchBase, overlay: UserAggTable, throughSeq: number, lastIngestedAtMs: number | null, streamThroughSeqs: Readonly<Record<string, number>> = {}): SnapshotStatus {
    this.base = base;
    this.baseTable = UserAggTable.fromState(base.table);
    this.overlay = overlay.compacted();
    this.recent.clear();
    const streams = Object.fromEntries(Object.entries(streamThroughSeqs).map(([stream, seq]) => [stream, Math.max(seq, watermarkOf(base, stream))]));
    this.info = this.recounted(Math.max(throughSeq, base.view?.watermark ?? 0), lastIngestedAtMs, 'load', streams);
    return this.info;
  }

  /** The last ingest seq of a stream reflected (its batch watermark for a stream the store has not seen). */
  throughSeqOf(stream: string): number {
    const info = this.loaded;
    if (stream === DEFAULT_STREAM) return info.throughSeq;
    return info.streams[stream]?.throughSeq ?? watermarkOf(this.base, stream);
  }

  /**
   * Adds the deltas of new seqs. Seqs at or below N are skipped (already reflected); the rest must continue N
   * without a gap, or nothing is applied and E_STATE says what is missing (the caller reloads).
   */
  apply(items: readonly SeqBlock[], lastIngestedAtMs: number | null, stream = DEFAULT_STREAM): SnapshotStatus | undefined {
    const info = this.loaded;
    let expected = this.throughSeqOf(stream) + 1;
    const fresh = items.filter((item) => item.seq >= expected).sort((a, b) => a.seq - b.seq);
    if (fresh.length === 0) return undefined;
    for (const item of fresh) {
      const where = stream === DEFAULT_STREAM ? '' : ` of stream ${stream}`;
      if (item.seq !== expected) throw new LambdaflowError('E_STATE', `realtime deltas${where} jump from seq ${expected - 1} to seq ${item.seq}`);
      expected++;
    }
    const change = new UserAggTable(64);
    for (const item of fresh) {
      change.mergeBlock(item.block);
      this.remember(stream, item.seq, item.block);
    }
    const last = fresh.at(-1)!.seq;
    let { users, purchases, cents } = info;
    for (let e = 0; e < change.size; e++) {
      const key = change.keyAt(e);
      const hash = change.hashAt(e);
      const dCount = change.countAt(e);
      const dCents = change.centsAt(e);
      const [count, amount] = this.lookup(key, hash);
      users += (isZero(count + dCount, amount + dCents) ? 0 : 1) - (isZero(count, amount) ? 0 : 1);
      purchases += dCount;
      cents += dCents;
      this.overlay.add(key, 0, key.length, dCount, dCents, hash);
    }
    this.info = Object.freeze({
      ...info,
      version: info.version + 1,
      throughSeq: stream === DEFAULT_STREAM ? last : info.throughSeq,
      streams: stream === DEFAULT_STREAM ? info.streams : Object.freeze({ ...info.streams, [stream]: Object.freeze({ batchWatermark: watermarkOf(this.base, stream), throughSeq: last }) }),
      users,
      purchases,
      cents,
      builtAtMs: this.clock.now(),
      lastIngestedAtMs: lastIngestedAtMs ?? info.lastIngestedAtMs,
      changedUsers: change.liveSize,
      kind: 'realtime',
    });
    return this.info;
  }

  private remember(stream: string, seq: number, block: AggBlock): void {
    let recent = this.recent.get(stream);
    if (!recent) this.recent.set(stream, (recent = new Map()));
    recent.set(seq, block);
    recent.delete(seq - RECENT_SEQS);
  }

  /**
   * Swaps in a batch view with a higher watermark S_new, subtracting from the overlay exactly the seqs it absorbed:
   * `absorbed` (read by the loader up to some seq K) and the recent seqs after K — per stream, the default stream's in
   * `absorbed` and each partition stream's in `streamAbsorbed`. A view with a lower watermark (of any stream) is
   * refused (undefined); missing deltas are E_STATE (nothing changes; the caller reloads).
   */
  swapBatch(base: BatchBase, absorbed: AbsorbedDeltas | undefined, streamAbsorbed: Readonly<Record<string, AbsorbedDeltas>> = {}): SnapshotStatus | undefined {
    const info = this.loaded;
    if (base.view === undefined) return undefined;
    const streams = [DEFAULT_STREAM, ...new Set([...Object.keys(info.streams), ...Object.keys(base.view.streamWatermarks ?? {})])];
    if (streams.some((stream) => watermarkOf(base, stream) < watermarkOf(this.base, stream))) return undefined;
    const overlay = this.overlay.clone();
    const throughSeqs = new Map<string, number>();
    let anyRealtime = false;
    for (const stream of streams) {
      const oldWatermark = watermarkOf(this.base, stream);
      const newWatermark = watermarkOf(base, stream);
      const realtimeThroughSeq = stream === DEFAULT_STREAM ? info.throughSeq : (info.streams[stream]?.throughSeq ?? oldWatermark);
      const fromLoader = stream === DEFAULT_STREAM ? absorbed : streamAbsorbed[stream];
      const recent = this.recent.get(stream);
      const fetch = (range: DeltaRange): Set<number> => {
        const found = new Set<number>();
        let from = range.afterSeq;
        if (fromLoader && fromLoader.afterSeq === range.afterSeq && fromLoader.throughSeq <= range.throughSeq) {
          overlay.mergeBlock(fromLoader.block, range.sign);
          for (let seq = fromLoader.afterSeq + 1; seq <= fromLoader.throughSeq; seq++) found.add(seq);
          from = fromLoader.throughSeq;
        }
        for (let seq = from + 1; seq <= range.throughSeq; seq++) {
          const block = recent?.get(seq);
          if (!block) continue;
          overlay.mergeBlock(block, range.sign);
          found.add(seq);
        }
        return found;
      };
      const watermarks = { batchWatermark: newWatermark, realtimeWatermark: oldWatermark, realtimeThroughSeq };
      const plan = planExactMerge(watermarks);
      // The batch absorbed all this stream holds: its part of the overlay is subtracted (the whole overlay is dropped
      // when that is so for every stream, as with one stream).
      const range: DeltaRange | undefined = plan.useRealtime ? plan.correction : realtimeThroughSeq > oldWatermark ? { afterSeq: oldWatermark, throughSeq: realtimeThroughSeq, sign: -1 } : undefined;
      if (plan.useRealtime) anyRealtime = true;
      if (range && (plan.useRealtime || streams.length > 1)) checkDeltasFound(range, fetch(range));
      throughSeqs.set(stream, plan.throughSeq);
    }
    this.base = base;
    this.baseTable = UserAggTable.fromState(base.table);
    this.overlay = anyRealtime ? overlay.compacted() : new UserAggTable();
    for (const [stream, recent] of this.recent) {
      const watermark = watermarkOf(base, stream);
      for (const seq of recent.keys()) if (seq <= watermark) recent.delete(seq);
    }
    const { [DEFAULT_STREAM]: throughSeq, ...others } = Object.fromEntries(throughSeqs);
    const partitionStreams = Object.fromEntries(Object.entries(others).filter(([stream]) => stream in info.streams || (base.view!.streamWatermarks?.[stream] ?? 0) > 0));
    this.info = this.recounted(throughSeq!, info.lastIngestedAtMs, 'batch', partitionStreams);
    return this.info;
  }

  /** The window view (the original demo's arithmetic): the overlay is replaced by the current window. */
  replaceOverlay(window: UserAggTable): SnapshotStatus {
    const info = this.loaded;
    this.overlay = window.compacted();
    this.info = this.recounted(info.throughSeq, info.lastIngestedAtMs, 'realtime', Object.fromEntries(Object.entries(info.streams).map(([s, p]) => [s, p.throughSeq])));
    return this.info;
  }

  private lookup(key: Uint8Array, hash: number): [count: number, cents: number] {
    const b = this.baseTable.find(key, 0, key.length, hash);
    const o = this.overlay.find(key, 0, key.length, hash);
    return [
      (b < 0 ? 0 : this.baseTable.countAt(b)) + (o < 0 ? 0 : this.overlay.countAt(o)),
      (b < 0 ? 0 : this.baseTable.centsAt(b)) + (o < 0 ? 0 : this.overlay.centsAt(o)),
    ];
  }

  /** One user's totals in the current version, or undefined when the user is not in the view. */
  get(userId: string): UserTotals | undefined {
    const key = encoder.encode(userId);
    const [count, cents] = this.lookup(key, fnv1a(key, 0, key.length));
    return isZero(count, cents) ? undefined : { userId, count, cents };
  }

  /** The top n users by amount or count (descending, ties by user id ascending) in the current version. */
  top(by: TopBy, n: number): UserTotals[] {
    const cached = this.topCache.get(by);
    const { version } = this.loaded;
    if (cached?.version === version) return cached.users.slice(0, n);
    const users = this.computeTop(by);
    this.topCache.set(by, { version, users });
    return users.slice(0, n);
  }

  /**
   * Overlay users (merged with their base totals) compete with base users the overlay does not touch; the latter
   * come in the base's precomputed order, so only the first TOP_MAX of them are looked at.
   */
  private computeTop(by: TopBy): UserTotals[] {
    const value = (t: UserTotals): number => (by === 'amount' ? t.cents : t.count);
    const better = (a: UserTotals, b: UserTotals): number => value(b) - value(a) || compareUserIds(a.userId, b.userId);
    const fromOverlay = new BoundedBest(TOP_MAX, value, better);
    for (let e = 0; e < this.overlay.size; e++) {
      const key = this.overlay.keyAt(e);
      const [count, cents] = this.lookup(key, this.overlay.hashAt(e));
      if (isZero(count, cents)) continue;
      fromOverlay.offer(by === 'amount' ? cents : count, () => ({ userId: decoder.decode(key), count, cents }));
    }
    const fromBase: UserTotals[] = [];
    const order = by === 'amount' ? this.base.byCents : this.base.byCount;
    for (let i = 0; i < order.length && fromBase.length < TOP_MAX; i++) {
      const e = order[i]!;
      const key = this.baseTable.keyAt(e);
      if (this.overlay.find(key, 0, key.length, this.baseTable.hashAt(e)) >= 0) continue;
      fromBase.push({ userId: decoder.decode(key), count: this.baseTable.countAt(e), cents: this.baseTable.centsAt(e) });
    }
    return [...fromOverlay.sorted(), ...fromBase].sort(better).slice(0, TOP_MAX);
  }

  /** A copy of the current version for exports (the base is immutable and shared; the overlay is copied). */
  freeze(): FrozenView {
    return { status: this.loaded, base: this.base, overlay: this.overlay.clone().toState() };
  }
}

/** Keeps the best `limit` items offered: a value floor first, so most offers cost one comparison and no object. */
class BoundedBest {
  private items: UserTotals[] = [];
  private floor = -Infinity;

  constructor(
    private readonly limit: number,
    private readonly value: (t: UserTotals) => number,
    private readonly better: (a: UserTotals, b: UserTotals) => number,
  ) {}

  offer(value: number, make: () => UserTotals): void {
    if (value < this.floor) return;
    this.items.push(make());
    if (this.items.length >= this.limit * 2) this.trim();
  }

  private trim(): void {
    this.items.sort(this.better);
    this.items.length = this.limit;
    this.floor = this.value(this.items.at(-1)!);
  }

  sorted(): UserTotals[] {
    this.items.sort(this.better);
    if (this.items.length > this.limit) this.items.length = this.limit;
    return this.items;
  }
}
