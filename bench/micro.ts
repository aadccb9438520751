// Micro-benchmarks (tinybench): each core step head to head with its obvious alternative on identical input, checked first.

import { parse } from 'csv-parse/sync';
import { Bench } from 'tinybench';
import { type AggBlock, UserAggTable, tableFromBlocks } from '../src/core/agg-table.js';
import { EventGenerator, HISTORY_START_SECONDS, type GeneratedCounts } from '../src/core/event-generator.js';
import { HEADER_LINE, parseWhole, parserOptionsFor, totalBad } from '../src/core/event-parser.js';
import { formatCents } from '../src/core/money.js';
import { count } from '../src/core/summary-format.js';
import { MERGED_VIEW_HEADER, formatTotals } from '../src/core/view-format.js';
import { SlideRing } from '../src/core/window.js';
import { batchPartsOf } from '../src/core/batch-parts.js';
import { sortedEntries } from '../src/core/key-order.js';
import { formatBucketLines } from '../src/core/view-lines.js';
import { firstDifference, totalsFromMap } from '../src/bench/compare-totals.js';
import { formatTable, machineDescription, ratio } from '../src/bench/report.js';
import { runScript } from '../src/bench/script.js';
import { resolveMicroBench } from '../src/bench/script-options.js';
import { buildBatchBase } from '../src/serving/batch-base.js';
import { ChangeLog } from '../src/serving/change-log.js';
import { type SnapshotStatus } from '../src/serving/current-version.js';
import { applyExportPlan, formatMergedView, planExportNow, writeWholeExport } from '../src/serving/export.js';

/** Partial aggregates the reduce merges: one per map task. */
const MAP_TASKS = 8;
/** Distinct slides pushed round and round into the ring. */
const SLIDES = 12;
/** 60 s window / 10 s slide: the speed layer's default. */
const SLIDES_PER_WINDOW = 6;
const SEED = 42;
const HOUR = 3_600;

type Totals = Map<string, { count: number; cents: number }>;

/** Purchase rows with user ids packed in one Buffer: the input of aggregation once parsing is done. */
interface PurchaseRows {
  readonly keys: Buffer;
  readonly starts: Uint32Array;
  readonly ends: Uint32Array;
  readonly cents: Float64Array;
}

interface Variant {
  readonly name: string;
  readonly run: () => unknown;
}

interface Group {
  readonly title: string;
  /** What one call of a variant processes, e.g. 200,000 rows. */
  readonly unitsPerCall: number;
  readonly unit: string;
  /** The first variant is the baseline the others are compared against. */
  readonly variants: readonly Variant[];
}

function addTotal(totals: Totals, user: string, cents: number): void {
  const t = totals.get(user);
  if (t === undefined) totals.set(user, { count: 1, cents });
  else {
    t.count++;
    t.cents += cents;
  }
}

function mergeTotals(into: Totals, from: Totals): void {
  for (const [user, t] of from) {
    const m = into.get(user);
    if (m === undefined) into.set(user, { count: t.count, cents: t.cents });
    else {
      m.count += t.count;
      m.cents += t.cents;
    }
  }
}

/** The obvious program: csv-parse records, amounts through Number, string keys. Independent of our parser. */
function recordsToTotals(records: readonly string[][]): Totals {
  const totals: Totals = new Map();
  for (const [user, type, amount] of records) if (type === 'purchase') addTotal(totals, user!, Math.round(Number(amount) * 100));
  return totals;
}

function purchaseRowsOf(records: readonly string[][]): PurchaseRows {
  const purchases = records.filter((r) => r[1] === 'purchase');
  const keys = Buffer.from(purchases.map((r) => r[0]).join(''));
  const starts = new Uint32Array(purchases.length);
  const ends = new Uint32Array(purchases.length);
  const cents = new Float64Array(purchases.length);
  let at = 0;
  purchases.forEach((r, i) => {
    starts[i] = at;
    at += Buffer.byteLength(r[0]!);
    ends[i] = at;
    cents[i] = Math.round(Number(r[2]) * 100);
  });
  return { keys, starts, ends, cents };
}

function tableOf(p: PurchaseRows, from: number, to: number): UserAggTable {
  const table = new UserAggTable();
  for (let i = from; i < to; i++) table.add(p.keys, p.starts[i]!, p.ends[i]!, 1, p.cents[i]!);
  return table;
}

/** The purchases per (user, hour), spread over the 30 days history covers: the reduce's table with buckets. */
function bucketedTableOf(p: PurchaseRows): UserAggTable {
  const table = new UserAggTable();
  const firstHour = Math.floor(HISTORY_START_SECONDS / HOUR);
  for (let i = 0; i < p.cents.length; i++) table.add(p.keys, p.starts[i]!, p.ends[i]!, 1, p.cents[i]!, undefined, firstHour + ((i * 7919) % (30 * 24)));
  return table;
}

/** The obvious way to write the bucket part: objects sorted by string id, lines as template strings. */
function bucketLinesAsStrings(table: UserAggTable): string {
  return table
    .toSortedBucketTotals()
    .map((t) => `${t.userId},${t.bucket * HOUR},${t.count},${formatCents(t.cents)}\n`)
    .join('');
}

function mapOf(p: PurchaseRows, from: number, to: number): Totals {
  const totals: Totals = new Map();
  for (let i = from; i < to; i++) addTotal(totals, p.keys.toString('utf8', p.starts[i], p.ends[i]), p.cents[i]!);
  return totals;
}

/** [from, to) bounds of `parts` nearly equal pieces of n. */
function pieces(n: number, parts: number): [number, number][] {
  return Array.from({ length: parts }, (_, k) => [Math.floor((n * k) / parts), Math.floor((n * (k + 1)) / parts)]);
}

function recompute(slides: readonly UserAggTable[], newest: number): UserAggTable {
  const window = new UserAggTable();
  for (let k = Math.max(0, newest - SLIDES_PER_WINDOW + 1); k <= newest; k++) window.mergeTable(slides[k % slides.length]!);
  return window;
}

function verify(what: string, left: Parameters<typeof firstDifference>[0], right: Parameters<typeof firstDifference>[1]): void {
  const difference = firstDifference(left, right);
  if (difference !== undefined) throw new Error(`verification failed, ${what}: ${difference}`);
  console.log(`verified: ${what} (${count(left.length)} users)`);
}

runScript('bench', async () => {
  const { rows, users, timeMs } = resolveMicroBench(process.argv.slice(2));

  // ---- input, identical for every variant ----
  const generated: GeneratedCounts = { rows: 0, purchases: 0 };
  const text = `${HEADER_LINE}\n${new EventGenerator(SEED, users).lines(rows, HISTORY_START_SECONDS, 100, 0, generated)}`;
  const bytes = Buffer.from(text);
  if (text.includes('"')) throw new Error('the generated input has quotes: the fast path would not be measured alone');
  console.log(`machine: ${machineDescription()}`);
  console.log(
    `input: ${count(rows)} rows (${count(generated.purchases)} purchases), ${count(users)} users, ${count(bytes.length)} bytes; tinybench ${timeMs} ms a variant`,
  );

  // ---- verification, before any time is taken ----
  const records = parse(bytes, { from_line: 2 });
  if (records.length !== rows) throw new Error(`csv-parse read ${records.length} records, expected ${rows}`);
  const reference = totalsFromMap(recordsToTotals(records));
  const parsedTotals = new UserAggTable();
  const parsed = parseWhole(bytes, parsedTotals, parserOptionsFor('permissive', true, 0)).counts;
  if (parsed.rows !== rows || parsed.purchases !== generated.purchases || totalBad(parsed) > 0) {
    throw new Error(`EventParser counted ${parsed.rows} rows, ${parsed.purchases} purchases, ${totalBad(parsed)} bad`);
  }
  verify('EventParser totals equal csv-parse totals', parsedTotals.toSortedTotals(), reference);

  const purchases = purchaseRowsOf(records);
  const n = purchases.cents.length;
  verify('UserAggTable.add equals Map<string>', tableOf(purchases, 0, n).toSortedTotals(), totalsFromMap(mapOf(purchases, 0, n)));

  const blocks: AggBlock[] = pieces(n, MAP_TASKS).map(([from, to]) => tableOf(purchases, from, to).toBlock());
  const mapPartials: Totals[] = pieces(n, MAP_TASKS).map(([from, to]) => mapOf(purchases, from, to));
  const mergedMaps: Totals = new Map();
  for (const partial of mapPartials) mergeTotals(mergedMaps, partial);
  verify('mergeBlock of partial blocks equals the whole', tableFromBlocks(blocks).toSortedTotals(), reference);
  verify('merged Map partials equal the whole', totalsFromMap(mergedMaps), reference);

  const slides = pieces(n, SLIDES).map(([from, to]) => tableOf(purchases, from, to));
  const ring = new SlideRing(SLIDES_PER_WINDOW);
  for (let k = 0; k < 2 * SLIDES; k++) {
    ring.push(slides[k % SLIDES]!);
    const difference = firstDifference(ring.window.toSortedTotals(), recompute(slides, k).toSortedTotals());
    if (difference !== undefined) throw new Error(`verification failed, SlideRing after ${k + 1} pushes: ${difference}`);
  }
  console.log(`verified: SlideRing add/subtract equals recomputing the window over ${2 * SLIDES} pushes`);
  const usersPerSlide = Math.round(slides.reduce((m, s) => m + s.size, 0) / SLIDES);

  const bucketed = bucketedTableOf(purchases);
  if (formatBucketLines(bucketed, HOUR, sortedEntries(bucketed)).bytes.toString() !== bucketLinesAsStrings(bucketed)) {
    throw new Error('verification failed: the bucket part written from key bytes differs from the one written as strings');
  }
  const parts = batchPartsOf([bucketed], HOUR);
  const sortedLines = (bytes: Buffer): string => bytes.toString().split('\n').filter(Boolean).sort().join('\n');
  if (sortedLines(parts.buckets) !== sortedLines(Buffer.from(bucketLinesAsStrings(bucketed)))) {
    throw new Error('verification failed: the batch reduce bucket part holds other lines than the one written as strings');
  }
  console.log(
    `verified: the bucket part written from key bytes equals the one written as strings (${count(bucketed.size)} (user, hour) pairs), in key order and in table order`,
  );

  // The serving layer's merged view: a batch view of the first 90 % of purchases plus an overlay of the rest.
  const batchPart = Math.floor(n * 0.9);
  const baseTable = tableOf(purchases, 0, batchPart);
  const overlayTable = tableOf(purchases, batchPart, n);
  const storeView = {
    status: {} as SnapshotStatus,
    base: buildBatchBase(baseTable, undefined),
    overlay: overlayTable.toState(),
    overlayGeneration: 0,
    changes: new ChangeLog(),
  };
  const mergedStrings = (): string => {
    const merged = baseTable.clone();
    merged.mergeTable(overlayTable);
    return `${MERGED_VIEW_HEADER}\n${formatTotals(merged.toSortedTotals())}`;
  };
  if (Buffer.from(formatMergedView(storeView)).toString() !== mergedStrings())
    throw new Error('verification failed: formatMergedView differs from formatting the merged totals as strings');
  console.log(`verified: formatMergedView equals the merged totals formatted as strings (${count(reference.length)} users)`);
  // The serving layer's way: each export planned from the last one's layout, after ~1 % of the view's users changed
  // (a cent more), and applied to the last export's bytes (the service splices files instead).
  let lastBytes: Uint8Array = formatMergedView(storeView);
  const layout = writeWholeExport(storeView, () => undefined);
  const overlayInPlace = UserAggTable.fromState(storeView.overlay);
  const stride = Math.max(1, Math.round(overlayInPlace.size / (reference.length / 100)));
  let changeRound = 0;
  const exportChanges = (): Uint8Array => {
    for (let e = changeRound++ % stride; e < overlayInPlace.size; e += stride) storeView.changes.addAt(overlayInPlace, e, 0, 1);
    lastBytes = applyExportPlan(lastBytes, planExportNow(layout, storeView)!);
    return lastBytes;
  };
  if (Buffer.compare(Buffer.from(exportChanges()), Buffer.from(formatMergedView(storeView))) !== 0)
    throw new Error('verification failed: an export planned from the last one differs from a whole export');
  console.log('verified: an export planned from the last one after a change equals a whole export');

  // ---- timing ----
  let nextSlide = 2 * SLIDES;
  let recomputed = 2 * SLIDES;
  const groups: Group[] = [
    {
      title: 'parse',
      unit: 'rows/s',
      unitsPerCall: rows,
      variants: [
        { name: 'csv-parse sync → records', run: () => parse(bytes, { from_line: 2 }) },
        {
          name: 'EventParser fast path → UserAggTable (parse + aggregate)',
          run: () => parseWhole(bytes, new UserAggTable(), parserOptionsFor('permissive', true, 0)),
        },
      ],
    },
    {
      title: 'partial aggregation',
      unit: 'purchases/s',
      unitsPerCall: n,
      variants: [
        { name: 'Map<string> with a decoded key per row', run: () => mapOf(purchases, 0, n) },
        { name: 'UserAggTable.add (byte keys)', run: () => tableOf(purchases, 0, n) },
      ],
    },
    {
      title: `reduce merge of ${MAP_TASKS} partials`,
      unit: 'entries/s',
      unitsPerCall: blocks.reduce((m, b) => m + b.counts.length, 0),
      variants: [
        {
          name: 'Map<string> partials merged',
          run: () => {
            const merged: Totals = new Map();
            for (const partial of mapPartials) mergeTotals(merged, partial);
            return merged;
          },
        },
        { name: 'tableFromBlocks (mergeBlock)', run: () => tableFromBlocks(blocks) },
      ],
    },
    {
      title: 'batch part per (user, hour): sort and write',
      unit: 'pairs/s',
      unitsPerCall: bucketed.size,
      variants: [
        { name: 'toSortedBucketTotals, template strings', run: () => bucketLinesAsStrings(bucketed) },
        { name: 'sortedEntries + formatBucketLines (bytes)', run: () => formatBucketLines(bucketed, HOUR, sortedEntries(bucketed)) },
        { name: 'batchPartsOf: users summed and sorted, bucket lines in table order', run: () => batchPartsOf([bucketed], HOUR) },
      ],
    },
    {
      title: 'merged view CSV (batch view + overlay)',
      unit: 'users/s',
      unitsPerCall: reference.length,
      variants: [
        { name: 'merge tables, decode and sort ids, format strings', run: mergedStrings },
        { name: 'formatMergedView (id-ordered base, bytes)', run: () => formatMergedView(storeView) },
        { name: 'export planned from the last and applied, ~1 % of users changed since', run: exportChanges },
      ],
    },
    {
      title: `window slide (${SLIDES_PER_WINDOW} slides, ~${count(usersPerSlide)} users a slide)`,
      unit: 'slides/s',
      unitsPerCall: 1,
      variants: [
        { name: 'recompute the window from its slides', run: () => recompute(slides, recomputed++) },
        { name: 'SlideRing.push (add newest, subtract oldest)', run: () => ring.push(slides[nextSlide++ % SLIDES]!) },
      ],
    },
  ];

  const table: string[][] = [];
  for (const group of groups) {
    const bench = new Bench({ time: timeMs, iterations: 5, warmupTime: Math.min(250, timeMs), warmupIterations: 2, throws: true });
    for (const variant of group.variants) bench.add(variant.name, variant.run);
    const tasks = await bench.run();
    const rates = tasks.map((task) => {
      const latency = task.result?.latency;
      if (latency?.p50 === undefined) throw new Error(`${task.name}: no samples`);
      return { rate: (group.unitsPerCall * 1000) / latency.p50, rme: latency.rme, samples: latency.samples.length };
    });
    tasks.forEach((task, i) => {
      const { rate, rme, samples } = rates[i]!;
      table.push([
        i === 0 ? group.title : '',
        task.name,
        count(rate),
        group.unit,
        `±${rme.toFixed(1)} %`,
        String(samples),
        i === 0 ? '1.00× (baseline)' : ratio(rate, rates[0]!.rate),
      ]);
    });
  }
  console.log('median per call, as a rate:');
  for (const line of formatTable(['benchmark', 'variant', 'throughput', 'unit', 'rme', 'samples', 'Relative'], table, 2)) console.log(line);
});
