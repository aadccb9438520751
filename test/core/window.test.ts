// Sliding-window arithmetic: incremental add/subtract equals recomputation from scratch.
import { describe, expect, it } from 'vitest';
import { UserAggTable, type UserTotal } from '../../src/core/agg-table.js';
import { SlideRing, SlidingWindow, windowSpec } from '../../src/core/window.js';
import { seeded } from '../helpers/prng.js';

type Slide = readonly (readonly [user: string, count: number, cents: number])[];

function table(rows: Slide): UserAggTable {
  const t = new UserAggTable();
  for (const [user, count, cents] of rows) {
    const bytes = Buffer.from(user);
    t.add(bytes, 0, bytes.length, count, cents);
  }
  return t;
}

/** The window recomputed from scratch: the sum of the last n slides. */
function recompute(slides: readonly Slide[], n: number): UserTotal[] {
  const t = new UserAggTable();
  for (const slide of slides.slice(Math.max(0, slides.length - n))) t.mergeTable(table(slide));
  return t.toSortedTotals();
}

describe('windowSpec', () => {
  it('accepts multiples and derives the ring size', () => {
    expect(windowSpec(10_000, 60_000, 10_000)).toMatchObject({ slidesPerWindow: 6, batchesPerSlide: 1 });
    expect(windowSpec(250, 1_000, 500)).toMatchObject({ slidesPerWindow: 2, batchesPerSlide: 2 });
  });
  it('names both values when the window is not a multiple of the slide', () => {
    expect(() => windowSpec(1_000, 25_000, 10_000)).toThrow(/window \(25000 ms\) must be a multiple of the slide \(10000 ms\)/);
  });
  it('names both values when the slide is not a multiple of the batch interval', () => {
    expect(() => windowSpec(3_000, 60_000, 10_000)).toThrow(/slide \(10000 ms\) must be a multiple of the batch interval \(3000 ms\)/);
  });
  it('rejects non-positive values', () => {
    expect(() => windowSpec(0, 60_000, 10_000)).toThrow(RangeError);
  });
});

describe('SlideRing', () => {
  const cases: { name: string; slidesPerWindow: number; slides: Slide[]; expected: [string, number, number][] }[] = [
    {
      name: 'key added',
      slidesPerWindow: 3,
      slides: [[['a', 1, 100]], [['b', 2, 50]]],
      expected: [
        ['a', 1, 100],
        ['b', 2, 50],
      ],
    },
    { name: 'key removed when its slide expires', slidesPerWindow: 2, slides: [[['a', 1, 100]], [['b', 1, 5]], [['b', 1, 5]]], expected: [['b', 2, 10]] },
    { name: 'empty slides empty the window', slidesPerWindow: 2, slides: [[['a', 1, 100]], [], []], expected: [] },
    { name: 'tumbling window (one slide)', slidesPerWindow: 1, slides: [[['a', 1, 1]], [['a', 2, 2]]], expected: [['a', 2, 2]] },
    { name: 'refund to zero cents keeps the user (count > 0)', slidesPerWindow: 2, slides: [[['a', 1, 500]], [['a', 1, -500]]], expected: [['a', 2, 0]] },
  ];
  it.each(cases)('$name', ({ slidesPerWindow, slides, expected }) => {
    const ring = new SlideRing(slidesPerWindow);
    for (const slide of slides) ring.push(table(slide));
    expect(ring.window.toSortedTotals()).toEqual(expected.map(([userId, count, cents]) => ({ userId, count, cents })));
    expect(ring.window.toSortedTotals()).toEqual(recompute(slides, slidesPerWindow));
  });

  it('matches recomputation after every slide of a long random run', () => {
    const random = seeded(7).next;
    for (const slidesPerWindow of [1, 2, 6]) {
      const ring = new SlideRing(slidesPerWindow);
      const slides: Slide[] = [];
      for (let s = 0; s < 300; s++) {
        const rows: [string, number, number][] = [];
        const size = random() < 0.2 ? 0 : Math.floor(random() * 40);
        for (let i = 0; i < size; i++) rows.push([`u${Math.floor(random() ** 2 * 200)}`, 1, Math.floor(random() * 100_000) - 10_000]);
        slides.push(rows);
        ring.push(table(rows));
        expect(ring.window.toSortedTotals()).toEqual(recompute(slides, slidesPerWindow));
      }
    }
  });

  it('keeps memory to the users in the window after many users vanish', () => {
    const ring = new SlideRing(2);
    for (let s = 0; s < 50; s++) ring.push(table(Array.from({ length: 500 }, (_, i) => [`s${s}-u${i}`, 1, 1] as const)));
    expect(ring.window.liveSize).toBe(1000);
    expect(ring.window.size).toBeLessThanOrEqual(4000);
  });
});

describe('SlidingWindow', () => {
  it('assigns rows to slides and closes skipped slides as empty', () => {
    const w = new SlidingWindow(3);
    w.add(10, table([['a', 1, 100]]));
    w.add(11, table([['b', 1, 200]]));
    expect(w.windowBefore(12).toSortedTotals()).toEqual([
      { userId: 'a', count: 1, cents: 100 },
      { userId: 'b', count: 1, cents: 200 },
    ]);
    // Slides 12 and 13 are empty; slide 10 leaves the window [11, 14).
    expect(w.windowBefore(14).toSortedTotals()).toEqual([{ userId: 'b', count: 1, cents: 200 }]);
    // A long gap empties the window.
    expect(w.windowBefore(100).toSortedTotals()).toEqual([]);
  });
  it('refuses slides that go back in time', () => {
    const w = new SlidingWindow(3);
    w.add(5, table([['a', 1, 1]]));
    expect(() => w.add(4, table([['a', 1, 1]]))).toThrow(RangeError);
  });
});
