// The speed layer driven in memory with a manual clock: hundreds of micro-batches, batch views appearing, failed
// writes and crashes, with every published realtime view and window checked against a recomputation from the log.

import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { type AggBlock, type UserAggTable } from '../../src/core/agg-table.js';
import { seededRandom } from '../../src/core/event-generator.js';
import { type WindowSpec, slideClosedBy, slideOfTick, windowSpec } from '../../src/core/window.js';
import { SpeedLayer, type SpeedStatus, UNREADABLE_REPORTED_AFTER_MS } from '../../src/speed/speed-layer.js';
import { settle } from '../helpers/manual-clock.js';
import { memoryPorts, tableOfParts } from '../helpers/speed-harness.js';

type Totals = Map<string, { count: number; cents: number }>;

/** What each generated file holds, written down by the generator (independent of every parser). */
const fileTotals = new Map<string, Totals>();
/** Each generated file's rows as [line number, event second]. */
const fileSeconds = new Map<string, [number, number][]>();
const ALLOWED_LATENESS = 10;

/**
 * The lateness rule recounted over files in log order: a row of file n is late when its second is below
 * max(seconds of files 1..n−1) − L. Gives each file's late rows and the total.
 */
function lateByRule(names: readonly string[]): { perFile: Map<string, [number, number][]>; total: number } {
  let max = -Infinity;
  let total = 0;
  const perFile = new Map<string, [number, number][]>();
  for (const name of names) {
    const rows = fileSeconds.get(name)!;
    const late = rows.filter(([, second]) => second < max - ALLOWED_LATENESS);
    if (late.length > 0) perFile.set(name, late);
    total += late.length;
    for (const [, second] of rows) max = Math.max(max, second);
  }
  return { perFile, total };
}

function addTo(into: Totals, from: Totals): void {
  for (const [user, t] of from) {
    const sum = into.get(user) ?? { count: 0, cents: 0 };
    into.set(user, { count: sum.count + t.count, cents: sum.cents + t.cents });
  }
}

function withoutZeros(totals: Totals): Record<string, { count: number; cents: number }> {
  return Object.fromEntries([...totals].filter(([, t]) => t.count !== 0 || t.cents !== 0).sort(([a], [b]) => (a < b ? -1 : 1)));
}

function tableToTotals(table: UserAggTable): Record<string, { count: number; cents: number }> {
  return blocksToTotals([table.toBlock()]);
}

function blocksToTotals(blocks: readonly AggBlock[]): Record<string, { count: number; cents: number }> {
  const totals: Totals = new Map();
  const decoder = new TextDecoder();
  for (const block of blocks) {
    let start = 0;
    block.keyEnds.forEach((end, i) => {
      const user = decoder.decode(block.keys.subarray(start, end));
      expect(totals.has(user), `${user} appears in two partitions`).toBe(false);
      totals.set(user, { count: block.counts[i]!, cents: block.cents[i]! });
      start = end;
    });
  }
  return withoutZeros(totals);
}

/**
 * A stream chunk of random views, purchases and refunds, stamped a few seconds out of order around a time that grows
 * with the file's number, one row in twenty far back (late); its totals and seconds are recorded as it is written.
 */
function chunk(random: () => number, name: string): string {
  const totals: Totals = new Map();
  const seconds: [number, number][] = [];
  const lines: string[] = [];
  const rows = Math.floor(random() * 12);
  const now = 1_700_000_000 + 3 * Number(/\d+/.exec(name)![0]);
  for (let i = 0; i < rows; i++) {
    const user = `u${Math.floor(random() ** 2 * 40)}`;
    const second = now - Math.floor(random() * 8) - (random() < 0.05 ? Math.floor(random() * 200) : 0);
    seconds.push([i + 1, second]);
    if (random() < 0.4) {
      lines.push(`${user},view,0,${second}`);
      continue;
    }
    const cents = Math.floor(random() * 20_000) - (random() < 0.1 ? 20_000 : 0);
    const sign = cents < 0 ? '-' : '';
    const abs = Math.abs(cents);
    lines.push(`${user},purchase,${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')},${second}`);
    addTo(totals, new Map([[user, { count: 1, cents }]]));
  }
  fileTotals.set(name, totals);
  fileSeconds.set(name, seconds);
  return lines.map((l) => `${l}\n`).join('');
}

function recount(names: readonly string[]): Record<string, { count: number; cents: number }> {
  const totals: Totals = new Map();
  for (const name of names) addTo(totals, fileTotals.get(name)!);
  return withoutZeros(totals);
}

describe('speed layer in memory (manual clock)', () => {
  it.each([
    { name: '100 ms batches, 500 ms slides, 2 s window, 3 partitions', spec: windowSpec(100, 2_000, 500), partitions: 3, seed: 1 },
    { name: 'tumbling window, 1 partition', spec: windowSpec(250, 500, 500), partitions: 1, seed: 2 },
    { name: 'slide = batch interval, 4 partitions', spec: windowSpec(100, 600, 100), partitions: 4, seed: 3 },
  ])('keeps the realtime view, every window and the late rows equal to a recomputation over 600 micro-batches ($name)', async ({ spec, partitions, seed }) => {
    const random = seededRandom(seed);
    const world = memoryPorts(partitions, spec.slidesPerWindow);
    const { clock, stream, log, deltas, outputs, partitionsNow } = world;
    const start = 1_700_000_000_000;
    clock.set(start);
    let speed = new SpeedLayer(world.ports(), spec, {}, ALLOWED_LATENESS);
    await speed.recover([]);
    let fileNo = 0;
    let lateChecked = 0;
    let tickMs = start;
    let windowsChecked = 0;
    let realtimeChecked = 0;
    let restarts = 0;
    let rebasesSeen = 0;
    let checkpointsChecked = 0;
    for (let i = 0; i < 600; i++) {
      tickMs += spec.batchIntervalMs * (random() < 0.03 ? 1 + Math.floor(random() * 40) : 1);
      const arriving = random() < 0.3 ? 0 : Math.floor(random() * 4);
      for (let f = 0; f < arriving; f++) {
        const name = `chunk-${String(++fileNo).padStart(6, '0')}.csv`;
        stream.put(name, chunk(random, name), tickMs - 20);
      }
      if (random() < 0.05) {
        // A batch view appears; it may have started a few files ago, so it absorbed only part of the realtime view.
        const watermark = Math.max(outputs.watermarks.at(-1) ?? 0, log.entries.length - Math.floor(random() * 6));
        outputs.watermarks = [...outputs.watermarks, watermark].slice(-3);
      }
      if (random() < 0.03) deltas.failWrites = 1 + Math.floor(random() * 2);
      if (random() < 0.03) outputs.failHead = 1;
      if (random() < 0.02) log.failNext = true;
      clock.set(tickMs);
      if (random() < 0.02) {
        // A crash: everything in memory is lost; files, the log, written deltas and batch views remain.
        restarts++;
        speed = new SpeedLayer(world.ports(), spec, {}, ALLOWED_LATENESS);
        await speed.recover(log.entries);
      }
      const before = outputs.head;
      const checkpointsBefore = outputs.checkpoints.length;
      await speed.tick(tickMs);

      const head = outputs.head!;
      if (head !== before) {
        // The head says which seqs the realtime view holds; the workers' totals must be exactly those seqs.
        realtimeChecked++;
        expect(head.throughSeq).toBe(log.entries.length);
        expect(head.watermark).toBeLessThanOrEqual(outputs.watermarks.at(-1) ?? 0);
        if (head.watermark > 0) rebasesSeen++;
        const names = log.entries.filter((e) => e.seq > head.watermark).map((e) => e.name);
        const parts = await partitionsNow().realtimeParts();
        expect(tableToTotals(tableOfParts(parts.map((p) => p.bytes)))).toEqual(recount(names));
        // Lateness is the rule's over the whole log, whatever the micro-batches, failed writes and crashes were.
        const late = lateByRule(log.entries.map((e) => e.name));
        expect(head.eventTime.lateRows).toBe(late.total);
        const set = new Map([...world.late].map(([name, { rows }]) => [name, rows.map((row) => [row.line, row.second])]));
        expect(set).toEqual(late.perFile);
        if (late.total > 0) lateChecked++;
      }
      for (const checkpoint of outputs.checkpoints.slice(checkpointsBefore)) {
        checkpointsChecked++;
        const names = log.entries.filter((e) => e.seq > checkpoint.watermark && e.seq <= checkpoint.throughSeq).map((e) => e.name);
        expect(tableToTotals(tableOfParts(checkpoint.parts))).toEqual(recount(names));
      }
      const closed = slideClosedBy(spec, tickMs);
      const published = closed === undefined ? undefined : outputs.windows.get(closed * spec.slideMs);
      if (closed !== undefined && published) {
        windowsChecked++;
        const inWindow = (e: { ingestedAtMs: number }): boolean => {
          const slide = slideOfTick(spec, e.ingestedAtMs);
          return slide >= closed - spec.slidesPerWindow && slide < closed;
        };
        expect(tableToTotals(tableOfParts(published))).toEqual(recount(log.entries.filter(inWindow).map((e) => e.name)));
      }
    }
    expect(realtimeChecked).toBeGreaterThan(200);
    expect(windowsChecked).toBeGreaterThan(600 / spec.batchesPerSlide / 2);
    expect(restarts).toBeGreaterThan(3);
    expect(lateChecked).toBeGreaterThan(100);
    expect(rebasesSeen).toBeGreaterThan(0);
    expect(checkpointsChecked).toBeGreaterThanOrEqual(4); // one per 10 s of clock, and at each recovery
  });

  it('runs micro-batches on the clock until stopped, then ingests what is complete and publishes the open slide', async () => {
    const spec: WindowSpec = windowSpec(100, 1_000, 500);
    const world = memoryPorts(2, spec.slidesPerWindow);
    const { clock, stream, log, outputs } = world;
    clock.set(10_050);
    const speed = new SpeedLayer(world.ports(), spec);
    await speed.recover([]);
    const stop = new AbortController();
    const running = speed.run(stop.signal);
    await settle();
    stream.put('a.csv', 'u1,purchase,1.00,1\n', 10_000);
    await clock.advanceTo(10_100); // first tick at 10 100
    expect(log.entries.map((e) => [e.name, e.ingestedAtMs])).toEqual([['a.csv', 10_100]]);
    stream.put('b.csv', 'u1,purchase,2.00,1\nu2,purchase,3.00,1\n', 10_150);
    await clock.advanceTo(10_500); // ticks 10 200 … 10 500; 10 500 closes slide 20
    expect(log.entries.map((e) => [e.name, e.ingestedAtMs])).toEqual([
      ['a.csv', 10_100],
      ['b.csv', 10_200],
    ]);
    expect(tableToTotals(tableOfParts(outputs.windows.get(10_500)!))).toEqual({ u1: { count: 2, cents: 300 }, u2: { count: 1, cents: 300 } });
    stream.put('c.csv', 'u3,purchase,4.00,1\n', 10_520);
    await clock.advanceTo(10_550);
    stop.abort();
    await running;
    // The stop ingests c.csv and publishes the window with the open slide (ending at 11 000).
    expect(log.entries.map((e) => e.name)).toEqual(['a.csv', 'b.csv', 'c.csv']);
    expect(tableToTotals(tableOfParts(outputs.windows.get(11_000)!))).toEqual({
      u1: { count: 2, cents: 300 },
      u2: { count: 1, cents: 300 },
      u3: { count: 1, cents: 400 },
    });
    expect(tableToTotals(tableOfParts(outputs.checkpoints.at(-1)!.parts))).toEqual({
      u1: { count: 2, cents: 300 },
      u2: { count: 1, cents: 300 },
      u3: { count: 1, cents: 400 },
    });
    expect(outputs.head).toMatchObject({ watermark: 0, throughSeq: 3 });
    expect(clock.sleepers).toBe(0);
  });

  it('regression: every tick left a listener on the stop signal (Node warned of a leak past 10 ticks)', async () => {
    const spec: WindowSpec = windowSpec(100, 1_000, 500);
    const world = memoryPorts(1, spec.slidesPerWindow);
    const { clock } = world;
    clock.set(10_050);
    const speed = new SpeedLayer(world.ports(), spec);
    await speed.recover([]);
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning);
    process.on('warning', onWarning);
    const stop = new AbortController();
    const running = speed.run(stop.signal);
    try {
      await clock.advanceTo(10_050 + 200 * spec.batchIntervalMs);
      expect(getEventListeners(stop.signal, 'abort').length, 'listeners on the stop signal after 200 ticks').toBeLessThanOrEqual(1);
      stop.abort();
      await running;
      await settle();
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.map((w) => w.name)).not.toContain('MaxListenersExceededWarning');
  });

  it('regression: a source that could not read stalled silently; past a few seconds the head and the status line say since when', async () => {
    const spec: WindowSpec = windowSpec(100, 1_000, 500);
    const world = memoryPorts(1, spec.slidesPerWindow);
    const { clock, stream, outputs } = world;
    clock.set(10_050);
    const statuses: SpeedStatus[] = [];
    const speed = new SpeedLayer(world.ports(), spec, { onSlide: (status) => statuses.push(status) });
    await speed.recover([]);
    const stop = new AbortController();
    const running = speed.run(stop.signal);
    await settle();
    stream.put('a.csv', 'u1,purchase,1.00,1\n', 10_000);
    await clock.advanceTo(10_100);
    stream.unreadableSince = 10_150;
    // A short outage (a server restarting) is not reported.
    await clock.advanceTo(10_150 + UNREADABLE_REPORTED_AFTER_MS - 50);
    expect(outputs.head?.sourceUnreadableSinceMs).toBeNull();
    expect(statuses.length).toBeGreaterThan(0);
    expect(statuses.every((s) => s.sourceUnreadableMs === null)).toBe(true);
    // The first micro-batch past it publishes the head (nothing else changed), the next slide's status says how long.
    await clock.advanceTo(10_150 + UNREADABLE_REPORTED_AFTER_MS + 50);
    expect(outputs.head).toMatchObject({ throughSeq: 1, sourceUnreadableSinceMs: 10_150 });
    await clock.advanceTo(13_500);
    expect(statuses.at(-1)).toMatchObject({ windowEndMs: 13_500, sourceUnreadableMs: 13_500 - 10_150 });
    // Reading again: cleared at the next micro-batch, and what arrived is counted.
    stream.unreadableSince = null;
    stream.put('b.csv', 'u2,purchase,2.00,1\n', 13_550);
    await clock.advanceTo(13_600);
    expect(outputs.head).toMatchObject({ throughSeq: 2, sourceUnreadableSinceMs: null });
    await clock.advanceTo(14_000);
    expect(statuses.at(-1)).toMatchObject({ windowEndMs: 14_000, sourceUnreadableMs: null });
    stop.abort();
    await running;
  });
});
