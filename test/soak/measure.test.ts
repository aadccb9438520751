// The soak's memory figures: growth from minute 10 to the end, and the mean of each minute.
import { describe, expect, it } from 'vitest';
import { growthFrom, meanPerMinute } from '../../src/soak/measure.js';

/** One value a second for `minutes`, from `value(s)`. */
function perSecond(minutes: number, value: (second: number) => number): { atMs: number; value: number }[] {
  return Array.from({ length: minutes * 60 }, (_, s) => ({ atMs: (s + 1) * 1000, value: value(s + 1) }));
}

describe('growthFrom', () => {
  it('compares the minute from minute 10 with the last minute', () => {
    // 100 until minute 10, then 1 more each second: minute 10 averages 129.5, the last minute (50..60 min) 3,100-ish.
    const values = perSecond(60, (s) => (s < 600 ? 100 : 100 + (s - 600)));
    const g = growthFrom(values, 600_000)!;
    expect(g.from).toBeCloseTo(129.5, 5);
    expect(g.end).toBeCloseTo(100 + (3541 + 3600) / 2 - 600, 5);
    expect(g.percent).toBeCloseTo(((g.end - g.from) / g.from) * 100, 9);
  });

  it('leaves out the warm-up: a climb before minute 10 is not growth', () => {
    const values = perSecond(20, (s) => (s < 600 ? s : 700));
    expect(growthFrom(values, 600_000)).toEqual({ from: 700, end: 700, percent: 0 });
  });

  it('is undefined until there is a whole minute after the first one', () => {
    expect(
      growthFrom(
        perSecond(11, () => 1),
        600_000,
      ),
    ).toBeUndefined();
    expect(
      growthFrom(
        perSecond(12, () => 1),
        600_000,
      ),
    ).toEqual({ from: 1, end: 1, percent: 0 });
    expect(growthFrom([], 600_000)).toBeUndefined();
  });
});

describe('meanPerMinute', () => {
  it('averages each minute, a minute without samples as 0', () => {
    expect(
      meanPerMinute([
        { atMs: 0, value: 2 },
        { atMs: 59_999, value: 4 },
        { atMs: 120_000, value: 9 },
      ]),
    ).toEqual([3, 0, 9]);
    expect(meanPerMinute([])).toEqual([]);
  });
});
