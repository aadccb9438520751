// Event time: bucket sizes, aligned ranges with their errors, and the event clock's watermark.
import { describe, expect, it } from 'vitest';
import {
  ALL_TIME,
  EVENT_CLOCK_START,
  MIN_BUCKET_SECONDS,
  SECONDS_PER_DAY,
  advanceEventClock,
  bucketOf,
  bucketOfStart,
  bucketRange,
  bucketSecondsProblem,
  bucketStart,
  formatSeconds,
  type UnitLateness,
  unitLateness,
  watermarkOf,
} from '../../src/core/event-time.js';
import { MAX_TIMESTAMP_SECONDS } from '../../src/core/event-parser.js';

describe('bucket sizes', () => {
  it.each([60, 120, 300, 900, 1_800, 3_600, 7_200, 10_800, 21_600, 43_200, 86_400])('%i s divides a day: accepted', (seconds) => {
    expect(bucketSecondsProblem(seconds)).toBeUndefined();
  });
  it.each([
    [30, /at least 1m/],
    [0, /at least 1m/],
    [90.5, /whole number/],
    [7 * 60, /must divide one day.*7m/],
    [2 * SECONDS_PER_DAY, /must divide one day.*2d/],
  ])('%s s is refused', (seconds, message) => {
    expect(bucketSecondsProblem(seconds)).toMatch(message);
  });
  it('formats in the largest unit that divides', () => {
    expect([60, 90, 900, 3_600, 86_400].map(formatSeconds)).toEqual(['1m', '90s', '15m', '1h', '1d']);
  });
  it('numbers every accepted second with a Uint32 that is never ALL_TIME, even at 1m buckets', () => {
    expect(bucketOf(MAX_TIMESTAMP_SECONDS, MIN_BUCKET_SECONDS)).toBeLessThan(ALL_TIME);
  });
});

describe('buckets of event seconds', () => {
  it('floors to the epoch-aligned bucket', () => {
    expect(bucketOf(0, 3_600)).toBe(0);
    expect(bucketOf(3_599, 3_600)).toBe(0);
    expect(bucketOf(3_600, 3_600)).toBe(1);
    expect(bucketStart(bucketOf(1_700_000_123, 3_600), 3_600)).toBe(1_699_999_200);
  });
  it('reads back only aligned, in-range bucket starts', () => {
    expect(bucketOfStart(7_200, 3_600)).toBe(2);
    expect(bucketOfStart(7_201, 3_600)).toBeUndefined();
    expect(bucketOfStart(-3_600, 3_600)).toBeUndefined();
    expect(bucketOfStart(1.5, 60)).toBeUndefined();
  });
});

describe('bucketRange', () => {
  it('gives the buckets of an aligned half-open range', () => {
    expect(bucketRange(3_600, 4 * 3_600, 3_600)).toEqual({ first: 1, end: 4 });
  });
  it('names the bucket size and the nearest aligned bounds of a bound that is not aligned', () => {
    expect(() => bucketRange(3_601, 7_200, 3_600)).toThrow(
      /from=3601 is not aligned to the 1h buckets: the nearest aligned bounds are 3600 \(1970-01-01T01:00:00Z\) and 7200 \(1970-01-01T02:00:00Z\)/,
    );
    expect(() => bucketRange(0, 100, 60)).toThrow(/to=100 .* 1m buckets: .* 60 \(1970-01-01T00:01:00Z\) and 120 \(1970-01-01T00:02:00Z\)/);
  });
  it('refuses an empty or reversed range', () => {
    expect(() => bucketRange(7_200, 7_200, 3_600)).toThrow(RangeError);
    expect(() => bucketRange(7_200, 3_600, 3_600)).toThrow(/from \(7200\) must be before to \(3600\)/);
  });
});

describe('the event clock', () => {
  it('starts at −∞ and keeps the largest second less the allowed lateness', () => {
    expect(watermarkOf(EVENT_CLOCK_START, 10)).toBe(-Infinity);
    let clock = EVENT_CLOCK_START;
    for (const unit of [
      { maxEventSecond: 100, lateRows: 0 },
      { maxEventSecond: 90, lateRows: 2 },
      { maxEventSecond: -Infinity, lateRows: 0 },
      { maxEventSecond: 120, lateRows: 1 },
    ]) {
      clock = advanceEventClock(clock, unit);
    }
    expect(clock).toEqual({ maxEventSecond: 120, lateRows: 3 });
    expect(watermarkOf(clock, 10)).toBe(110);
  });
});

describe('unitLateness', () => {
  it('gives unit n the watermark of units 1..n−1, and flags only units whose smallest second is below it', () => {
    const units = [
      { minEventSecond: 100, maxEventSecond: 200 },
      { minEventSecond: 185, maxEventSecond: 190 },
      { minEventSecond: 189, maxEventSecond: 250 },
      { minEventSecond: Infinity, maxEventSecond: -Infinity },
      { minEventSecond: 240, maxEventSecond: 241 },
    ];
    expect(unitLateness(EVENT_CLOCK_START, units, 10)).toEqual([
      { threshold: -Infinity, mayHaveLateRows: false },
      { threshold: 190, mayHaveLateRows: true },
      { threshold: 190, mayHaveLateRows: true },
      { threshold: 240, mayHaveLateRows: false },
      { threshold: 240, mayHaveLateRows: false },
    ]);
  });

  it('gives the same thresholds whatever the units are grouped into (micro-batches)', () => {
    const units = Array.from({ length: 50 }, (_, i) => ({ minEventSecond: 1_000 + ((i * 37) % 23), maxEventSecond: 1_000 + i * 3 + ((i * 11) % 17) }));
    const whole = unitLateness(EVENT_CLOCK_START, units, 5);
    for (const size of [1, 3, 7]) {
      let clock = EVENT_CLOCK_START;
      const grouped: UnitLateness[] = [];
      for (let i = 0; i < units.length; i += size) {
        const group = units.slice(i, i + size);
        grouped.push(...unitLateness(clock, group, 5));
        for (const unit of group) clock = advanceEventClock(clock, { maxEventSecond: unit.maxEventSecond, lateRows: 0 });
      }
      expect(grouped).toEqual(whole);
    }
  });
});
