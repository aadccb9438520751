// ViewLineWriter writes numbers as String() and formatCents do.

import { describe, expect, it } from 'vitest';
import { ViewLineWriter } from '../../src/core/view-lines.js';

describe('ViewLineWriter: numbers', () => {
  it('writes counts, bucket starts and amounts as String() does, around every digit count and past 2^31', () => {
    const values = [0, 1, 9, 10, 99, 100, 101, 999, 1_000, 65_535, 99_999, 100_000, 2 ** 31 - 1, 2 ** 31, 2 ** 32 + 5, 1e15 + 7, Number.MAX_SAFE_INTEGER];
    for (let d = 1; d <= 10; d++) values.push(10 ** d - 1, 10 ** d, 10 ** d + 1, 1_796_000_000 + d * 3_600);
    const money = (cents: number): string =>
      `${cents < 0 ? '-' : ''}${String(Math.floor(Math.abs(cents) / 100))}.${String(Math.abs(cents) % 100).padStart(2, '0')}`;
    const writer = new ViewLineWriter(16);
    const key = Buffer.from('u');
    const expected: string[] = [];
    for (const v of values) {
      writer.line(key, 0, 1, v, v, v);
      writer.line(key, 0, 1, -v, -v);
      expected.push(`u,${v},${v},${money(v)}`, `u,${v === 0 ? '' : '-'}${v},${money(-v)}`);
    }
    expect(writer.bytes().toString().trim().split('\n')).toEqual(expected);
  });
});
