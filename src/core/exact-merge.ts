// The one exact merge of a batch view with a realtime view: which per-seq deltas correct their sum, or a gap error.
//
// B is a batch view that absorbed ingest seqs (0, S_B]; R is a realtime view holding the stream files with seqs in
// (S_R, N] (S_R: the batch watermark R was built against, N: its through-seq). What is served is every seq once:
//
//   S_R = S_B            B + R
//   S_R < S_B < N        B + R − deltas(S_R, S_B]     the batch absorbed the start of R
//   S_R < N ≤ S_B        B                            the batch absorbed all of R (R − deltas(S_R, N] = 0)
//   S_R > S_B            B + R + deltas(S_B, S_R]     R was rebased on a newer batch view than B
//
// The same function serves the speed layer's rebase (R moves onto a newer batch view) and every merge.

import { LambdaflowError } from './errors.js';

export interface MergeWatermarks {
  /** S_B: the last ingest seq the batch view absorbed (0 without a batch view). */
  readonly batchWatermark: number;
  /** S_R: the batch watermark the realtime view was built against. */
  readonly realtimeWatermark: number;
  /** N: the last ingest seq the realtime view holds (S_R when it holds none). */
  readonly realtimeThroughSeq: number;
}

/** Seqs (afterSeq, throughSeq] of per-seq deltas to add (sign 1) or subtract (sign -1). */
export interface DeltaRange {
  readonly afterSeq: number;
  readonly throughSeq: number;
  readonly sign: 1 | -1;
}

export interface ExactMergePlan {
  /** False when the batch view alone is the answer (it absorbed everything the realtime view holds). */
  readonly useRealtime: boolean;
  /** The deltas to apply on top of B + R, if any. */
  readonly correction: DeltaRange | undefined;
  /** The last ingest seq the merged result reflects. */
  readonly throughSeq: number;
}

/** Applies a delta range to whatever is being merged and returns the seqs it found. */
export type DeltaFetch = (range: DeltaRange) => ReadonlySet<number>;

/** Which deltas make B + R exact (no I/O: see exactMerge for applying them). */
export function planExactMerge(w: MergeWatermarks): ExactMergePlan {
  const { batchWatermark: sB, realtimeWatermark: sR, realtimeThroughSeq: n } = w;
  if (n < sR) throw new RangeError(`a realtime view cannot end (seq ${n}) before its watermark (seq ${sR})`);
  if (n <= sB && sR <= sB) return { useRealtime: false, correction: undefined, throughSeq: sB };
  if (sR === sB) return { useRealtime: true, correction: undefined, throughSeq: n };
  if (sR < sB) return { useRealtime: true, correction: { afterSeq: sR, throughSeq: sB, sign: -1 }, throughSeq: n };
  return { useRealtime: true, correction: { afterSeq: sB, throughSeq: sR, sign: 1 }, throughSeq: n };
}

/** Plans the merge and applies its correction through `fetch`; a missing seq is an E_STATE error naming the gap. */
export function exactMerge(w: MergeWatermarks, fetch: DeltaFetch): ExactMergePlan {
  const plan = planExactMerge(w);
  if (plan.correction) checkDeltasFound(plan.correction, fetch(plan.correction));
  return plan;
}

/** Throws E_STATE naming the gap unless every seq of the range was found (for callers that fetch asynchronously). */
export function checkDeltasFound(range: DeltaRange, found: ReadonlySet<number>): void {
  const missing = missingSeqs(range, found);
  if (missing.length > 0) {
    throw new LambdaflowError(
      'E_STATE',
      `realtime deltas for ingest seq ${range.afterSeq + 1}..${range.throughSeq} are incomplete (missing ${describeSeqs(missing)})`,
    );
  }
}

function missingSeqs(range: DeltaRange, found: ReadonlySet<number>): number[] {
  const missing: number[] = [];
  for (let seq = range.afterSeq + 1; seq <= range.throughSeq; seq++) if (!found.has(seq)) missing.push(seq);
  return missing;
}

/** `3, 5..9` style, at most a few runs. */
function describeSeqs(seqs: readonly number[]): string {
  const runs: string[] = [];
  let start = seqs[0]!;
  for (let i = 1; i <= seqs.length; i++) {
    if (i < seqs.length && seqs[i] === seqs[i - 1]! + 1) continue;
    const end = seqs[i - 1]!;
    runs.push(start === end ? `seq ${start}` : `seqs ${start}..${end}`);
    if (i < seqs.length) start = seqs[i]!;
  }
  return runs.length > 4 ? `${runs.slice(0, 4).join(', ')} and ${runs.length - 4} more runs` : runs.join(', ');
}
