// Event-time windows: each window due once the watermark passes its end, holding the non-late purchases of its
// seconds, equal to a recount from scratch over any run of units; and a state taken midway goes on identically.
import { describe, expect, it } from 'vitest';
import { UserAggTable } from '../../src/core/agg-table.js';
import { type DueWindow, type EventWindowUnit, EventWindows, eventWindowSpec } from '../../src/core/event-window.js';
import { seeded } from '../helpers/prng.js';

const SPEC = eventWindowSpec(30_000, 10_000, 5);
type Row = readonly [user: string, type: 'purchase' | 'view', cents: number, second: number];

/** A unit as the parse pool gives it: all purchases per (user, slot), and the lines of its rows below `threshold`. */
function unit(seq: number, rows: readonly Row[], threshold: number): EventWindowUnit {
  const purchases = new UserAggTable();
  for (const [user, type, cents, second] of rows) {
    const key = Buffer.from(user);
    if (type === 'purchase') purchases.add(key, 0, key.length, 1, cents, undefined, Math.floor(second / SPEC.slideSeconds));
  }
  const line = ([user, type, cents, second]: Row): Uint8Array => Buffer.from(`${user},${type},${(cents / 100).toFixed(2)},${second}`);
  return {
    seq,
    maxEventSecond: Math.max(...rows.map((r) => r[3])),
    purchases: purchases.toBlock(),
    lateLines: rows.filter((r) => r[3] < threshold).map(line),
  };
}

/** Runs units through, returning every window made due as `end: user count cents …`. */
function run(units: readonly (readonly Row[])[], windows = new EventWindows(SPEC), firstSeq = 1): { due: string[]; windows: EventWindows } {
  const due: string[] = [];
  units.forEach((rows, i) => due.push(...windows.add(unit(firstSeq + i, rows, windows.threshold)).map(describeWindow)));
  return { due, windows };
}

const describeWindow = (w: DueWindow): string =>
  `${w.endSecond} W${w.watermark} late${w.lateRows}: ${w.totals
    .toSortedTotals()
    .map((t) => `${t.userId} ${t.count} ${t.cents}`)
    .join(', ')}`;

/** The rule from scratch: per unit in order, W and lateness; each window due at the first unit whose W reaches its end. */
function recount(units: readonly (readonly Row[])[]): string[] {
  let max = -Infinity;
  let late = 0;
  let dueThrough = -Infinity;
  const kept: Row[] = [];
  const due: string[] = [];
  for (const rows of units) {
    const threshold = max - SPEC.allowedLatenessSeconds;
    for (const row of rows) {
      if (row[3] < threshold) late++;
      else if (row[1] === 'purchase') kept.push(row);
      max = Math.max(max, row[3]);
    }
    const watermark = max - SPEC.allowedLatenessSeconds;
    const last = Math.floor(watermark / SPEC.slideSeconds) * SPEC.slideSeconds;
    const first = Number.isFinite(dueThrough)
      ? dueThrough + SPEC.slideSeconds
      : Math.min(...kept.map((r) => r[3])) - (Math.min(...kept.map((r) => r[3])) % SPEC.slideSeconds) + SPEC.slideSeconds;
    for (let end = first; end <= last; end += SPEC.slideSeconds) {
      const totals = new Map<string, [number, number]>();
      for (const [user, , cents, second] of kept) {
        if (second < end - SPEC.windowSeconds || second >= end) continue;
        const t = totals.get(user) ?? [0, 0];
        totals.set(user, [t[0] + 1, t[1] + cents]);
      }
      const users = [...totals.keys()].sort();
      if (users.length > 0) due.push(`${end} W${watermark} late${late}: ${users.map((u) => `${u} ${totals.get(u)![0]} ${totals.get(u)![1]}`).join(', ')}`);
    }
    if (last > dueThrough) dueThrough = last;
  }
  return due;
}

describe('EventWindows', () => {
  it.each<[string, (readonly Row[])[]]>([
    [
      'one unit: nothing due until the watermark passes an end',
      [
        [
          ['a', 'purchase', 100, 1000],
          ['b', 'purchase', 250, 1003],
        ],
      ],
    ],
    ['a window due after the unit that moves W past its end', [[['a', 'purchase', 100, 1000]], [['a', 'purchase', 200, 1030]]]],
    [
      'a late purchase never reaches a window',
      [
        [
          ['a', 'purchase', 100, 1000],
          ['a', 'view', 0, 1040],
        ],
        [
          ['b', 'purchase', 700, 1001],
          ['a', 'purchase', 5, 1041],
        ],
        [['c', 'view', 0, 1100]],
      ],
    ],
    [
      'views move the clock, only purchases enter windows',
      [
        [['a', 'view', 0, 1000]],
        [
          ['b', 'purchase', 300, 1012],
          ['a', 'view', 0, 1060],
        ],
      ],
    ],
    [
      'a jump of the watermark makes many windows due at once',
      [
        [
          ['a', 'purchase', 100, 1000],
          ['b', 'purchase', 100, 1015],
        ],
        [['c', 'view', 0, 2000]],
      ],
    ],
    ['windows no row falls into are skipped', [[['a', 'purchase', 100, 1000]], [['a', 'purchase', 100, 1500]], [['a', 'view', 0, 1600]]]],
  ])('%s', (_name, units) => {
    expect(run(units).due).toEqual(recount(units));
  });

  it('equals the recount over a long random run, and a state taken midway goes on identically', () => {
    const random = seeded(11);
    const units = Array.from({ length: 200 }, (_, i) =>
      Array.from({ length: 1 + random.int(6) }, (): Row => [
        `u${random.int(8)}`,
        random.chance(0.7) ? 'purchase' : 'view',
        random.int(10_000),
        1_000 + 3 * i - random.int(8) - (random.chance(0.1) ? random.int(60) : 0),
      ]),
    );
    const whole = run(units).due;
    expect(whole).toEqual(recount(units));
    expect(whole.length).toBeGreaterThan(40);
    const first = run(units.slice(0, 90));
    const state = first.windows.state;
    const resumed = run(units.slice(90), new EventWindows(SPEC, { ...state, slots: state.slots.clone() }), 91);
    expect([...first.due, ...resumed.due]).toEqual(whole);
  });

  it('refuses a unit out of order', () => {
    const windows = new EventWindows(SPEC);
    expect(() => windows.add(unit(2, [['a', 'purchase', 1, 1000]], -Infinity))).toThrow(/seq 2 counted after seq 0/);
  });

  it('starting mid-stream, the first window due is the first only later units can reach', () => {
    const windows = EventWindows.after(SPEC, 7, { maxEventSecond: 1_005, lateRows: 0 });
    const due = windows.add(
      unit(
        8,
        [
          ['a', 'purchase', 100, 1_012],
          ['a', 'purchase', 100, 1_100],
        ],
        windows.threshold,
      ),
    );
    // Units 1..7 may hold rows up to second 1005 that were never fed in: the windows ending at 1020 and 1030 would miss
    // them, so the first due starts at 1010.
    expect(due.map((w) => `${w.startSecond}-${w.endSecond}`)).toEqual(['1010-1040']);
  });
});
