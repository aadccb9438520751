import { describe, expect, it } from 'vitest';
import { orderByValueDescending } from '../../src/core/value-order.js';

/** The order a comparator sort gives: value descending, then entry ascending. */
function recount(values: readonly number[]): number[] {
  return values.map((_, e) => e).sort((a, b) => values[b]! - values[a]! || a - b);
}

function order(values: readonly number[]): number[] {
  return [...orderByValueDescending(Float64Array.from(values), new Uint32Array(values.length))];
}

describe('orderByValueDescending', () => {
  it('orders nothing and one entry', () => {
    expect(order([])).toEqual([]);
    expect(order([7])).toEqual([0]);
  });

  it('orders small counts, ties by entry', () => {
    const values = [3, 1, 3, 2, 1, 3, 0];
    expect(order(values)).toEqual([0, 2, 5, 3, 1, 4, 6]);
  });

  it('agrees with a comparator sort on negatives, zeros and the ends of the safe integers', () => {
    const edges = [0, -1, 1, 2 ** 32 - 1, 2 ** 32, -(2 ** 32), 2 ** 48 + 3, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 65_535, 65_536];
    const values = [...edges, ...edges.map((v) => -v), ...edges];
    expect(order(values)).toEqual(recount(values));
  });

  it('agrees with a comparator sort on random amounts with many ties', () => {
    let seed = 12345;
    const random = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    for (const spread of [10, 100_000, 2 ** 40]) {
      const values = Array.from({ length: 5_000 }, () => Math.floor((random() - 0.3) * spread));
      expect(order(values)).toEqual(recount(values));
    }
  });

  it('writes into the array it is given', () => {
    const out = new Uint32Array(new SharedArrayBuffer(12));
    expect(orderByValueDescending(Float64Array.from([1, 5, 3]), out)).toBe(out);
    expect([...out]).toEqual([1, 2, 0]);
  });
});
