// The serving store: the merged view in memory as versioned snapshots — an immutable batch base plus a realtime
// overlay changed in O(changed users) per update — with point lookups, top-N and the views exports read.
//
//   merged(user) = base(user) + overlay(user)        base: the batch view (watermark S_B), never changed
//                                                    overlay: every logged seq in (S_B, N], per user
//
// With NATS partition streams, each stream s has its own seqs, watermark S_B[s] and through-seq N[s]: the overlay is
// the sum over streams of their seqs (S_B[s], N[s]], and every rule below holds per stream.
//
// A new realtime state adds its per-seq deltas to the overlay (seqs must follow N without a gap). A new batch view
// swaps the base and keeps of the overlay exactly the seqs it did not absorb (src/core/exact-merge.ts): the loader
// prepares that overlay off the hot path from the delta files, and the store adds the seqs it applied since (it keeps
// their blocks only while a swap is being prepared, so memory does not grow with the seqs between batch views).
// Each change makes a new version. Reads on the serving thread are synchronous, so a response is computed from one
// version; an export, written in steps while the store goes on, reads one version through the overlay's change log
// (src/serving/change-log.ts: what changed since an export last cut it, with the totals from then).

import { type AggBlock, type AggTableState, UserAggTable, compareUserIds, userIdDecoder } from '../core/agg-table.js';
import { type Clock } from '../core/clock.js';
import { LambdaflowError } from '../core/errors.js';
import { type DeltaRange, type MergeWatermarks, type ExactMergePlan, checkDeltasFound, planExactMerge } from '../core/exact-merge.js';
import { DEFAULT_STREAM } from '../io/layout.js';
import { batchWatermarkOf } from '../io/views.js';
import { fnv1a } from '../core/hash.js';
import { SortedUserTable } from '../core/sorted-table.js';
import { type BatchBase, type BatchViewMeta, EMPTY_BASE } from './batch-base.js';
import { ChangeLog } from './change-log.js';

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

/**
 * The overlay a batch swap keeps, built by the loader off the hot path: per stream (the default one under
 * DEFAULT_STREAM) its seqs (afterSeq, throughSeq], afterSeq being the new view's watermark; with the totals of the new
 * view plus this overlay. The store adds the seqs it applied after throughSeq itself.
 */
export interface PreparedOverlay {
  readonly ranges: Readonly<Record<string, { readonly afterSeq: number; readonly throughSeq: number }>>;
  readonly overlay: AggTableState;
  readonly totals: ViewTotals;
}

export interface ViewTotals {
  readonly users: number;
  readonly purchases: number;
  readonly cents: number;
}

export interface UserTotals {
  readonly userId: string;
  readonly count: number;
  readonly cents: number;
}

export type TopBy = 'amount' | 'count';
export const TOP_MAX = 1_000;

/** One version's parts: its status, its base, and its overlay's arrays. */
export interface StoreView {
  readonly status: SnapshotStatus;
  readonly base: BatchBase;
  readonly overlay: AggTableState;
  /** Changes when the store replaces its overlay (entries renumbered); updates only add to it. */
  readonly overlayGeneration: number;
  /** The overlay's changes since an export last cut the log. */
  readonly changes: ChangeLog;
}

/** Consecutive runs of seqs, in seq order, of at most `maxUsers` users in all (a seq with more is a run of its own). */
export function sliceByUsers(items: readonly SeqBlock[], maxUsers: number): SeqBlock[][] {
  const slices: SeqBlock[][] = [];
  let slice: SeqBlock[] = [];
  let users = 0;
  for (const item of [...items].sort((a, b) => a.seq - b.seq)) {
    const n = item.block.counts.length;
    if (slice.length > 0 && users + n > maxUsers) {
      slices.push(slice);
      slice = [];
      users = 0;
    }
    slice.push(item);
    users += n;
  }
  if (slice.length > 0) slices.push(slice);
  return slices;
}

const encoder = new TextEncoder();

const isZero = (count: number, cents: number): boolean => count === 0 && cents === 0;

/** A batch view's watermark of a stream (0: it read nothing of it). */
export const watermarkOf = (base: BatchBase, stream: string): number => batchWatermarkOf(base.view, stream);

/** Users, purchases and cents of a batch view plus an overlay: O(overlay). */
export function mergedTotals(base: BatchBase, baseTable: SortedUserTable, overlay: UserAggTable): ViewTotals {
  let { users, purchases, cents } = base;
  for (let e = 0; e < overlay.size; e++) {
    const count = overlay.countAt(e);
    const amount = overlay.centsAt(e);
    if (isZero(count, amount)) continue;
    const key = overlay.keyAt(e);
    const b = baseTable.find(key, 0, key.length, overlay.hashAt(e));
    const baseCount = b < 0 ? 0 : baseTable.countAt(b);
    const baseCents = b < 0 ? 0 : baseTable.centsAt(b);
    users += (isZero(baseCount + count, baseCents + amount) ? 0 : 1) - (b < 0 ? 0 : 1);
    purchases += count;
    cents += amount;
  }
  return { users, purchases, cents };
}

/**
 * Gives an overlay its hash slots up front: the users changed since a batch view are at most about the users it holds,
 * and an overlay outgrowing its slots on the serving thread rehashes every user at once (~200 ms at 800 k users, every
 * lookup waiting). Its columns get room for twice the users it holds (at most the batch view's): they grow as they fill
 * later (a copy, no rehash), but not in the seconds after a load or swap, when the serving thread has the most to do.
 */
export function reserveOverlay(overlay: UserAggTable, base: BatchBase): UserAggTable {
  overlay.reserveSlots(base.users);
  overlay.reserveEntries(Math.min(2 * overlay.size, Math.max(overlay.size, base.users)));
  return overlay;
}

/**
 * Adds a change to an overlay on a base (through its change log, when exports read it); returns the merged view's
 * totals adjusted by what it changed (O(users changed)). Keys are read in place and looked up once per table: this
 * loop is the cost of every realtime update.
 */
function addChange(baseTable: SortedUserTable, overlay: UserAggTable, changes: ChangeLog | undefined, change: UserAggTable, totals: ViewTotals): ViewTotals {
  let { users, purchases, cents } = totals;
  const { arena, keyStart } = change.keyColumns();
  for (let e = 0; e < change.size; e++) {
    const start = keyStart[e]!;
    const end = keyStart[e + 1]!;
    const hash = change.hashAt(e);
    const dCount = change.countAt(e);
    const dCents = change.centsAt(e);
    const b = baseTable.find(arena, start, end, hash);
    const o = overlay.find(arena, start, end, hash);
    const count = (b < 0 ? 0 : baseTable.countAt(b)) + (o < 0 ? 0 : overlay.countAt(o));
    const amount = (b < 0 ? 0 : baseTable.centsAt(b)) + (o < 0 ? 0 : overlay.centsAt(o));
    users += (isZero(count + dCount, amount + dCents) ? 0 : 1) - (isZero(count, amount) ? 0 : 1);
    purchases += dCount;
    cents += dCents;
    if (o >= 0 && changes) changes.addAt(overlay, o, dCount, dCents);
    else if (o >= 0) overlay.addAt(o, dCount, dCents);
    else overlay.add(arena, start, end, dCount, dCents, hash);
  }
  return { users, purchases, cents };
}

/** One stream's part of a batch swap. */
interface StreamSwap {
  readonly stream: string;
  readonly watermarks: MergeWatermarks;
  readonly plan: ExactMergePlan;
}

/**
 * The seqs a swap takes out of a stream's part of the overlay: the plan's correction, or — when the new batch view
 * absorbed all the stream holds — every seq the overlay has of it.
 */
function removedRange({ watermarks, plan }: StreamSwap): DeltaRange | undefined {
  if (plan.useRealtime) return plan.correction;
  const { realtimeWatermark, realtimeThroughSeq } = watermarks;
  return realtimeThroughSeq > realtimeWatermark ? { afterSeq: realtimeWatermark, throughSeq: realtimeThroughSeq, sign: -1 } : undefined;
}

export class ServingStore {
  private base: BatchBase = EMPTY_BASE;
  private baseTable = new SortedUserTable(EMPTY_BASE.table);
  private overlay = new UserAggTable();
  private overlayGeneration = 0;
  private changes = new ChangeLog();
  /** Per stream: the blocks of seqs applied since keepRecent(true). */
  private readonly recent = new Map<string, Map<number, AggBlock>>();
  private keepingRecent = false;
  private info: SnapshotStatus | undefined;
  private readonly topCache = new Map<TopBy, { version: number; users: UserTotals[] }>();
  private keyScratch = new Uint8Array(256);

  constructor(private readonly clock: Clock) {}

  private replaceOverlayTable(overlay: UserAggTable): void {
    this.overlay = overlay;
    this.overlayGeneration++;
    this.changes = new ChangeLog();
  }

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
  private recounted(
    throughSeq: number,
    lastIngestedAtMs: number | null,
    kind: SnapshotStatus['kind'],
    streamThroughSeqs: Readonly<Record<string, number>>,
    // Loads and swaps recount (O(overlay)) unless given them; updates adjust the totals instead.
    totals: ViewTotals = mergedTotals(this.base, this.baseTable, this.overlay),
  ): SnapshotStatus {
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

  /**
   * Replaces everything: a base, and an overlay holding exactly the seqs (S_B, throughSeq] of the default stream and
   * (S_B[s], streamThroughSeqs[s]] of each partition stream s.
   */
  load(base: BatchBase, overlay: UserAggTable, throughSeq: number, lastIngestedAtMs: number | null, streamThroughSeqs: Readonly<Record<string, number>> = {}): SnapshotStatus {
    this.base = base;
    this.baseTable = new SortedUserTable(base.table);
    this.replaceOverlayTable(reserveOverlay(overlay.compacted(), base));
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
    const { users, purchases, cents } = this.addToOverlay(change, info);
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

  /** Adds a change to the overlay; returns the totals adjusted by what it changed (O(users changed)). */
  private addToOverlay(change: UserAggTable, totals: ViewTotals): ViewTotals {
    return addChange(this.baseTable, this.overlay, this.changes, change, totals);
  }

  /**
   * Whether to keep the blocks of the seqs applied from now on, for a swap: on while the loader prepares one (it reads
   * the seqs up to here from the delta files), off otherwise — which forgets those kept. At ~300 KB a seq at 100 k
   * events/s, keeping every seq between two batch views would cost hundreds of MB. While on, every seq is kept: the
   * swap must find each one it needs, however long the load takes.
   */
  keepRecent(keep: boolean): void {
    this.keepingRecent = keep;
    if (!keep) this.recent.clear();
  }

  private remember(stream: string, seq: number, block: AggBlock): void {
    if (!this.keepingRecent) return;
    let recent = this.recent.get(stream);
    if (!recent) this.recent.set(stream, (recent = new Map()));
    recent.set(seq, block);
  }

  /**
   * Swaps in a batch view with a higher watermark S_new, keeping of the overlay exactly the seqs it did not absorb
   * (per stream): the prepared overlay plus the recent seqs after it, or — when none fits — the overlay less the
   * absorbed seqs, or the seqs it keeps, taken from the recent ones. A view with a lower watermark (of any stream) is
   * refused (undefined); seqs found nowhere are E_STATE (nothing changes; the caller reloads).
   */
  swapBatch(base: BatchBase, prepared?: PreparedOverlay): SnapshotStatus | undefined {
    const info = this.loaded;
    if (base.view === undefined) return undefined;
    const streams = [DEFAULT_STREAM, ...new Set([...Object.keys(info.streams), ...Object.keys(base.view.streamWatermarks ?? {})])];
    if (streams.some((stream) => watermarkOf(base, stream) < watermarkOf(this.base, stream))) return undefined;
    const plans: StreamSwap[] = streams.map((stream) => {
      const watermarks = { batchWatermark: watermarkOf(base, stream), realtimeWatermark: watermarkOf(this.base, stream), realtimeThroughSeq: this.throughSeqOf(stream) };
      return { stream, watermarks, plan: planExactMerge(watermarks) };
    });
    const others = plans.filter(({ stream }) => stream !== DEFAULT_STREAM && (stream in info.streams || (base.view!.streamWatermarks?.[stream] ?? 0) > 0));
    const streamThroughSeqs = Object.fromEntries(others.map(({ stream, plan }) => [stream, plan.throughSeq]));
    const after = prepared && this.afterPrepared(plans, prepared);
    if (after) {
      // The loader built the kept overlay and its totals: only the seqs applied since it read them are added here.
      this.base = base;
      this.baseTable = new SortedUserTable(base.table);
      // Its room was made by the loader (reserveOverlay), off this thread.
      this.replaceOverlayTable(UserAggTable.fromState(prepared.overlay));
      const totals = this.addToOverlay(after, prepared.totals);
      this.forgetAbsorbed(base);
      this.info = this.recounted(plans[0]!.plan.throughSeq, info.lastIngestedAtMs, 'batch', streamThroughSeqs, totals);
      return this.info;
    }
    let overlay: UserAggTable;
    if (!plans.some(({ plan }) => plan.useRealtime)) overlay = new UserAggTable();
    else if (!plans.some(removedRange)) overlay = this.overlay; // the same seqs on a recomputed base
    else overlay = this.fromRecent(plans) ?? this.subtracted(plans);
    this.base = base;
    this.baseTable = new SortedUserTable(base.table);
    this.replaceOverlayTable(reserveOverlay(overlay, base));
    this.forgetAbsorbed(base);
    this.info = this.recounted(plans[0]!.plan.throughSeq, info.lastIngestedAtMs, 'batch', streamThroughSeqs);
    return this.info;
  }

  /**
   * Moves a prepared overlay (for the batch view `base`) closer to what the store reflects: adds the next recent seqs
   * past its ranges, at most about `maxUsers` users of them, and returns it with its ranges and totals updated — or
   * undefined once what is left is within `maxUsers` (the swap adds that) or it cannot be extended (seqs no longer
   * recent, a range not starting at the view's watermark: the swap decides). The loader prepares an overlay while
   * the store goes on applying seqs; adding those in slices between lookups keeps the swap itself short. It takes
   * over the prepared overlay's arrays: only the returned one may be used after.
   */
  advancePrepared(base: BatchBase, prepared: PreparedOverlay, maxUsers: number): PreparedOverlay | undefined {
    const pending: { stream: string; blocks: AggBlock[] }[] = [];
    let users = 0;
    for (const [stream, range] of Object.entries(prepared.ranges)) {
      if (range.afterSeq !== watermarkOf(base, stream)) return undefined;
      const blocks = this.recentBlocks(stream, range.throughSeq, this.throughSeqOf(stream));
      if (!blocks) return undefined;
      for (const block of blocks) users += block.counts.length;
      pending.push({ stream, blocks });
    }
    if (users <= maxUsers) return undefined;
    const change = new UserAggTable(64);
    const ranges = { ...prepared.ranges };
    let taken = 0;
    for (const { stream, blocks } of pending) {
      let through = ranges[stream]!.throughSeq;
      for (const block of blocks) {
        if (taken > 0 && taken + block.counts.length > maxUsers) break;
        change.mergeBlock(block);
        taken += block.counts.length;
        through++;
      }
      ranges[stream] = { afterSeq: ranges[stream]!.afterSeq, throughSeq: through };
    }
    const overlay = UserAggTable.fromState(prepared.overlay);
    // Not the store's overlay yet: no export has read it, so no log.
    const totals = addChange(new SortedUserTable(base.table), overlay, undefined, change, prepared.totals);
    return { ranges, overlay: overlay.toState(), totals };
  }

  /** The recent blocks of a stream's seqs (afterSeq, throughSeq], in order, or undefined when one is no longer recent. */
  private recentBlocks(stream: string, afterSeq: number, throughSeq: number): AggBlock[] | undefined {
    const recent = this.recent.get(stream);
    const blocks: AggBlock[] = [];
    for (let seq = afterSeq + 1; seq <= throughSeq; seq++) {
      const block = recent?.get(seq);
      if (!block) return undefined;
      blocks.push(block);
    }
    return blocks;
  }

  /** Recent seqs a batch view absorbed are never needed again. */
  private forgetAbsorbed(base: BatchBase): void {
    for (const [stream, recent] of this.recent) {
      const watermark = watermarkOf(base, stream);
      for (const seq of recent.keys()) if (seq <= watermark) recent.delete(seq);
    }
  }

  /**
   * The seqs to add to a prepared overlay — per stream that keeps realtime seqs, those after the prepared range
   * through N, from the recent seqs — or undefined when it does not fit (a range not starting at the new watermark,
   * reaching past N, or seqs no longer recent): the swap then works from the store's own overlay.
   */
  private afterPrepared(plans: readonly StreamSwap[], prepared: PreparedOverlay): UserAggTable | undefined {
    const planned = new Set(plans.map(({ stream }) => stream));
    if (Object.entries(prepared.ranges).some(([stream, range]) => !planned.has(stream) && range.throughSeq > range.afterSeq)) return undefined;
    const change = new UserAggTable(64);
    for (const { stream, watermarks, plan } of plans) {
      const range = prepared.ranges[stream] ?? { afterSeq: watermarks.batchWatermark, throughSeq: watermarks.batchWatermark };
      if (range.afterSeq !== watermarks.batchWatermark) return undefined;
      if (!plan.useRealtime) {
        if (range.throughSeq > range.afterSeq) return undefined;
        continue;
      }
      if (range.throughSeq > plan.throughSeq) return undefined;
      const blocks = this.recentBlocks(stream, range.throughSeq, plan.throughSeq);
      if (!blocks) return undefined;
      for (const block of blocks) change.mergeBlock(block);
    }
    return change;
  }

  /**
   * The overlay after a swap summed from the recent seqs this store applied — per stream that keeps realtime seqs,
   * (S_new, N] — or undefined when some is not among them. A batch view usually absorbs all but the last seconds of
   * the realtime view, so this costs what those seconds changed, not what the overlay holds.
   */
  private fromRecent(plans: readonly StreamSwap[]): UserAggTable | undefined {
    const blocks: AggBlock[] = [];
    for (const { stream, watermarks, plan } of plans) {
      if (!plan.useRealtime) continue;
      const found = this.recentBlocks(stream, watermarks.batchWatermark, plan.throughSeq);
      if (!found) return undefined;
      blocks.push(...found);
    }
    const overlay = new UserAggTable(blocks.reduce((users, block) => users + block.counts.length, 0));
    for (const block of blocks) overlay.mergeBlock(block);
    return overlay.compacted();
  }

  /** The overlay less the seqs a batch absorbed, per stream, from the recent ones; E_STATE when some are not among them. */
  private subtracted(plans: readonly StreamSwap[]): UserAggTable {
    const overlay = this.overlay.clone();
    for (const swap of plans) {
      const range = removedRange(swap);
      if (!range) continue;
      const recent = this.recent.get(swap.stream);
      const found = new Set<number>();
      for (let seq = range.afterSeq + 1; seq <= range.throughSeq; seq++) {
        const block = recent?.get(seq);
        if (!block) continue;
        overlay.mergeBlock(block, range.sign);
        found.add(seq);
      }
      checkDeltasFound(range, found);
    }
    return overlay.compacted();
  }

  /** The window view (the original demo's arithmetic): the overlay is replaced by the current window. */
  replaceOverlay(window: UserAggTable): SnapshotStatus {
    const info = this.loaded;
    this.replaceOverlayTable(window.compacted());
    this.info = this.recounted(info.throughSeq, info.lastIngestedAtMs, 'realtime', Object.fromEntries(Object.entries(info.streams).map(([s, p]) => [s, p.throughSeq])));
    return this.info;
  }

  private lookup(key: Uint8Array, hash: number, length = key.length): [count: number, cents: number] {
    const b = this.baseTable.find(key, 0, length, hash);
    const o = this.overlay.find(key, 0, length, hash);
    return [
      (b < 0 ? 0 : this.baseTable.countAt(b)) + (o < 0 ? 0 : this.overlay.countAt(o)),
      (b < 0 ? 0 : this.baseTable.centsAt(b)) + (o < 0 ? 0 : this.overlay.centsAt(o)),
    ];
  }

  /** One user's totals in the current version, or undefined when the user is not in the view. */
  get(userId: string): UserTotals | undefined {
    // Encoded into one reused buffer: a new one per lookup is an ArrayBuffer per request for the collector to sweep,
    // which showed in the lookups' p99. At most 3 bytes per UTF-16 unit.
    if (userId.length * 3 > this.keyScratch.length) this.keyScratch = new Uint8Array(userId.length * 3);
    const { written } = encoder.encodeInto(userId, this.keyScratch);
    const [count, cents] = this.lookup(this.keyScratch, fnv1a(this.keyScratch, 0, written), written);
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
      fromOverlay.offer(by === 'amount' ? cents : count, () => ({ userId: userIdDecoder.decode(key), count, cents }));
    }
    const fromBase: UserTotals[] = [];
    const order = by === 'amount' ? this.base.byCents : this.base.byCount;
    for (let i = 0; i < order.length && fromBase.length < TOP_MAX; i++) {
      const e = order[i]!;
      const key = this.baseTable.keyAt(e);
      if (this.overlay.find(key, 0, key.length) >= 0) continue;
      fromBase.push({ userId: userIdDecoder.decode(key), count: this.baseTable.countAt(e), cents: this.baseTable.centsAt(e) });
    }
    return [...fromOverlay.sorted(), ...fromBase].sort(better).slice(0, TOP_MAX);
  }

  /**
   * The current version's base and overlay, not copied: valid until the next change (the overlay's entries only
   * grow or change totals until overlayGeneration changes).
   */
  view(): StoreView {
    return { status: this.loaded, base: this.base, overlay: this.overlay.toState(), overlayGeneration: this.overlayGeneration, changes: this.changes };
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
