// The one exact merge: every combination of batch watermark S_B, realtime watermark S_R and through-seq N, gaps in
// the deltas, and the result checked against a recount of seqs (every seq exactly once).

import { describe, expect, it } from 'vitest';
import { type DeltaRange, exactMerge, planExactMerge } from '../../src/core/exact-merge.js';
import { LambdaflowError } from '../../src/core/errors.js';

/** Each seq s contributes 2^s to a "total", so any seq counted twice or missed shows in the sum. */
const weight = (seq: number): number => 2 ** seq;
const sumOf = (from: number, through: number): number => {
  let sum = 0;
  for (let seq = from + 1; seq <= through; seq++) sum += weight(seq);
  return sum;
};

describe('planExactMerge', () => {
  it.each([
    { name: 'same watermark', sB: 5, sR: 5, n: 9, useRealtime: true, correction: undefined, through: 9 },
    { name: 'same watermark, empty realtime view', sB: 5, sR: 5, n: 5, useRealtime: false, correction: undefined, through: 5 },
    { name: 'no batch view yet', sB: 0, sR: 0, n: 3, useRealtime: true, correction: undefined, through: 3 },
    { name: 'nothing at all', sB: 0, sR: 0, n: 0, useRealtime: false, correction: undefined, through: 0 },
    { name: 'batch absorbed the start of R', sB: 7, sR: 5, n: 9, useRealtime: true, correction: { afterSeq: 5, throughSeq: 7, sign: -1 }, through: 9 },
    { name: 'batch absorbed all of R exactly', sB: 9, sR: 5, n: 9, useRealtime: false, correction: undefined, through: 9 },
    { name: 'realtime view older than the batch (batch ahead of R)', sB: 12, sR: 5, n: 9, useRealtime: false, correction: undefined, through: 12 },
    { name: 'R rebased on a newer batch view than B', sB: 3, sR: 5, n: 9, useRealtime: true, correction: { afterSeq: 3, throughSeq: 5, sign: 1 }, through: 9 },
    { name: 'R rebased, no batch view served', sB: 0, sR: 5, n: 5, useRealtime: true, correction: { afterSeq: 0, throughSeq: 5, sign: 1 }, through: 5 },
  ])('$name', ({ sB, sR, n, useRealtime, correction, through }) => {
    const plan = planExactMerge({ batchWatermark: sB, realtimeWatermark: sR, realtimeThroughSeq: n });
    expect(plan).toEqual({ useRealtime, correction, throughSeq: through });
  });

  it('refuses a realtime view that ends before its watermark', () => {
    expect(() => planExactMerge({ batchWatermark: 0, realtimeWatermark: 5, realtimeThroughSeq: 4 })).toThrow(RangeError);
  });
});

describe('exactMerge', () => {
  /** B + R (+ correction) over every small combination equals the sum of seqs 1..max(S_B, N), each once. */
  it('counts every seq exactly once for every S_B, S_R ≤ N up to 8', () => {
    for (let sB = 0; sB <= 8; sB++) {
      for (let n = 0; n <= 8; n++) {
        for (let sR = 0; sR <= n; sR++) {
          let total = sumOf(0, sB);
          const plan = exactMerge({ batchWatermark: sB, realtimeWatermark: sR, realtimeThroughSeq: n }, (range: DeltaRange) => {
            total += range.sign * sumOf(range.afterSeq, range.throughSeq);
            return new Set(Array.from({ length: range.throughSeq - range.afterSeq }, (_, i) => range.afterSeq + 1 + i));
          });
          if (plan.useRealtime) total += sumOf(sR, n);
          expect(total, `S_B=${sB} S_R=${sR} N=${n}`).toBe(sumOf(0, Math.max(sB, n)));
          expect(plan.throughSeq).toBe(Math.max(sB, n));
        }
      }
    }
  });

  it.each([
    { name: 'one seq missing', present: [6, 8], message: /seq 6\.\.8 are incomplete \(missing seq 7\)/ },
    { name: 'a run missing', present: [8], message: /missing seqs 6\.\.7/ },
    { name: 'everything missing', present: [], message: /missing seqs 6\.\.8/ },
  ])('reports a gap in the deltas as E_STATE naming it ($name)', ({ present, message }) => {
    const merge = (): unknown => exactMerge({ batchWatermark: 8, realtimeWatermark: 5, realtimeThroughSeq: 10 }, () => new Set(present));
    expect(merge).toThrow(LambdaflowError);
    expect(merge).toThrow(message);
    try {
      merge();
    } catch (error) {
      expect((error as LambdaflowError).code).toBe('E_STATE');
    }
  });

  it('does not ask for deltas when none are needed', () => {
    let asked = 0;
    exactMerge({ batchWatermark: 4, realtimeWatermark: 4, realtimeThroughSeq: 9 }, () => {
      asked++;
      return new Set();
    });
    expect(asked).toBe(0);
  });
});
