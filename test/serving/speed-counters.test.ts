// events/s as the serving layer reports it (/status, each SSE event, the page, /metrics): rows read over the time
// between the speed layer's heads, the same figure whenever a version is read; 0 once a stream stops.

import { describe, expect, it } from 'vitest';
import { SpeedCounters } from '../../src/serving/speed-counters.js';
import { ManualClock } from '../helpers/manual-clock.js';

/** Heads seen at these times with these row counts, 200 rows/s with some jitter in when the serving layer saw them. */
const HEADS = [
  { atMs: 0, rows: 0 },
  { atMs: 10_100, rows: 2_000 },
  { atMs: 19_900, rows: 4_000 },
] as const;

function countersAfterHeads(clock: ManualClock): SpeedCounters {
  const counters = new SpeedCounters(clock);
  for (const head of HEADS) {
    clock.set(head.atMs);
    counters.sample('default', { rows: head.rows, badRows: 0, startedAtMs: 0 });
  }
  return counters;
}

describe('events per second', () => {
  it('is rows over the time they took, the same at the new version and when read seconds later', () => {
    const clock = new ManualClock();
    const counters = countersAfterHeads(clock);
    // Independent: 4,000 rows between the heads at 0 and 19.9 s (it used to be 400: 4,000 rows over the 10 s window).
    const expected = (4_000 * 1000) / 19_900;
    expect(counters.eventsPerSecond).toBeCloseTo(expected, 6);
    clock.set(25_000);
    expect(counters.eventsPerSecond).toBeCloseTo(expected, 6);
  });

  it('is 0 once no head has brought rows for 10 s, and null before two heads', () => {
    const clock = new ManualClock();
    const counters = countersAfterHeads(clock);
    clock.set(29_900);
    expect(counters.eventsPerSecond).toBe(0);
    expect(new SpeedCounters(clock).eventsPerSecond).toBeNull();
  });
});
