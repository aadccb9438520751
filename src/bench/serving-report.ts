// bench:serving's report: the issue's figures, each with its baseline from the same run and its target, and the
// tables it prints.

import { count } from '../core/summary-format.js';
import { formatDurationMs } from '../core/option-values.js';
import { formatMegabytes, formatMs, formatTable, ratio } from './report.js';
import { type ServingBenchOptions } from './script-options.js';
import { type FreshnessResult } from './serving-freshness.js';
import { type LatencySummary } from './http-load.js';
import { type LookupResult } from './serving-lookups.js';
import { type RangeReadsResult } from './serving-ranges.js';
import { PHASES, type Phase, RSS_SAMPLE_MS } from './serving-memory.js';
import { CSV_INTERVAL } from './serving-service.js';
import { SWAP_QUIET_MS, SWAP_WINDOW_MS, type SwapResult } from './serving-swap.js';
import { OBSERVERS, OBSERVER_NAMES } from './stream-freshness.js';

/** The issue's targets for the serving layer on 2 cores. */
const TARGET = {
  apiFreshnessP99Ms: 250,
  csvFreshnessP99Ms: 1_000,
  lookupP99Ratio: 1.5,
  lookupsPerSecond: 20_000,
  peakRssBytes: 300e6,
  swapBlockMs: 50,
  rangeLookupP99Ratio: 2,
  rangeTopP99Ms: 100,
  lookupWhileTopP99Ms: 50,
} as const;

export interface ServingReport {
  readonly machine: string;
  readonly options: ServingBenchOptions;
  readonly dataset: string;
  readonly batch: { readonly users: number; readonly purchases: number; readonly seconds: number };
  readonly lookups: LookupResult;
  readonly ranges: RangeReadsResult;
  readonly freshness: FreshnessResult;
  readonly rss: {
    readonly afterLoadBytes: number | null;
    readonly peakBytes: number | null;
    readonly highestSampleBytesByPhase: Partial<Record<Phase, number>>;
  };
  readonly swap: SwapResult;
}

export interface Verdict {
  readonly figure: string;
  readonly value: string;
  readonly baseline: string;
  readonly relative: string;
  readonly target: string;
  readonly pass: boolean;
}

/** The issue's figures, each with its baseline from the same run and its target. */
export function verdictsOf({ batch, lookups, ranges, freshness, rss, swap }: ServingReport): Verdict[] {
  const { api, csv, head } = freshness.steady;
  const { afterLoadBytes, peakBytes } = rss;
  return [
    {
      figure: 'API freshness p99 (rename → /users/:id)',
      value: `${formatMs(api.p99Ms)} ms`,
      baseline: `${formatMs(head.p99Ms)} ms head.json`,
      relative: ratio(api.p99Ms, head.p99Ms),
      target: `≤ ${TARGET.apiFreshnessP99Ms} ms`,
      pass: api.p99Ms <= TARGET.apiFreshnessP99Ms,
    },
    {
      figure: `merged_view.csv freshness p99 (--interval ${CSV_INTERVAL})`,
      value: `${formatMs(csv.p99Ms)} ms`,
      baseline: `${formatMs(head.p99Ms)} ms head.json`,
      relative: ratio(csv.p99Ms, head.p99Ms),
      target: `≤ ${count(TARGET.csvFreshnessP99Ms)} ms`,
      pass: csv.p99Ms <= TARGET.csvFreshnessP99Ms,
    },
    {
      figure: 'lookup p99',
      value: `${formatMs(lookups.serve.p99Ms)} ms`,
      baseline: `${formatMs(lookups.bare.p99Ms)} ms bare`,
      relative: ratio(lookups.serve.p99Ms, lookups.bare.p99Ms),
      target: `≤ ${TARGET.lookupP99Ratio.toFixed(2)}× bare`,
      pass: lookups.serve.p99Ms <= TARGET.lookupP99Ratio * lookups.bare.p99Ms,
    },
    {
      figure: 'lookups/s',
      value: count(lookups.serve.requestsPerSecond),
      baseline: `${count(lookups.bare.requestsPerSecond)} bare`,
      relative: ratio(lookups.serve.requestsPerSecond, lookups.bare.requestsPerSecond),
      target: `≥ ${count(TARGET.lookupsPerSecond)}`,
      pass: lookups.serve.requestsPerSecond >= TARGET.lookupsPerSecond,
    },
    {
      figure: '/users/:id?from&to (24 h) p99',
      value: `${formatMs(ranges.ranged.p99Ms)} ms`,
      baseline: `${formatMs(ranges.plain.p99Ms)} ms plain`,
      relative: ratio(ranges.ranged.p99Ms, ranges.plain.p99Ms),
      target: `≤ ${TARGET.rangeLookupP99Ratio}× plain`,
      pass: ranges.ranged.p99Ms <= TARGET.rangeLookupP99Ratio * ranges.plain.p99Ms,
    },
    {
      figure: '/top over 24 h p99 (computed, sequential)',
      value: `${formatMs(ranges.topComputed.p99Ms)} ms`,
      baseline: `${formatMs(ranges.topKept.p99Ms)} ms kept`,
      relative: ratio(ranges.topComputed.p99Ms, ranges.topKept.p99Ms),
      target: `≤ ${TARGET.rangeTopP99Ms} ms`,
      pass: ranges.topComputed.p99Ms <= TARGET.rangeTopP99Ms,
    },
    {
      figure: 'lookup p99 while /top is hammered',
      value: `${formatMs(ranges.lookupsWhileTop.p99Ms)} ms`,
      baseline: `${formatMs(ranges.plain.p99Ms)} ms alone`,
      relative: ratio(ranges.lookupsWhileTop.p99Ms, ranges.plain.p99Ms),
      target: `≤ ${TARGET.lookupWhileTopP99Ms} ms`,
      pass: ranges.lookupsWhileTop.p99Ms <= TARGET.lookupWhileTopP99Ms,
    },
    peakBytes !== null && afterLoadBytes !== null
      ? {
          figure: `serve peak RSS (${count(batch.users)} users)`,
          value: `${formatMegabytes(peakBytes)} MB`,
          baseline: `${formatMegabytes(afterLoadBytes)} MB after load`,
          relative: ratio(peakBytes, afterLoadBytes),
          target: `≤ ${formatMegabytes(TARGET.peakRssBytes)} MB`,
          pass: peakBytes <= TARGET.peakRssBytes,
        }
      : {
          figure: 'serve peak RSS',
          value: 'unknown (no /proc)',
          baseline: '-',
          relative: '-',
          target: `≤ ${formatMegabytes(TARGET.peakRssBytes)} MB`,
          pass: false,
        },
    {
      figure: `serve's longest stall ±${formatDurationMs(SWAP_WINDOW_MS)} around a batch swap`,
      value: `≤ ${formatMs(swap.aroundSwapStallMs)} ms`,
      baseline: `≤ ${formatMs(swap.quietStallMs)} ms without batch`,
      relative: ratio(swap.aroundSwapStallMs, swap.quietStallMs),
      target: `≤ ${TARGET.swapBlockMs} ms`,
      pass: swap.aroundSwapStallMs <= TARGET.swapBlockMs,
    },
    {
      figure: `max lookup ±${formatDurationMs(SWAP_WINDOW_MS)} around a batch swap`,
      value: `${formatMs(swap.aroundSwap.maxMs)} ms`,
      baseline: `${formatMs(swap.quiet.maxMs)} ms without batch`,
      relative: ratio(swap.aroundSwap.maxMs, swap.quiet.maxMs),
      target: `≤ ${TARGET.swapBlockMs} ms`,
      pass: swap.aroundSwap.maxMs <= TARGET.swapBlockMs,
    },
  ];
}

export function printReport(report: ServingReport, verdicts: readonly Verdict[], print: (line: string) => void): void {
  const { freshness, lookups, swap, rss } = report;
  const table = (header: readonly string[], rows: readonly (readonly string[])[]): void => formatTable(header, rows).forEach((line) => print(line));
  print('');
  print(
    `freshness, chunk renamed → visible, ${count(freshness.chunks)} chunks over ${freshness.seconds.toFixed(1)} s ` +
      `(${count(freshness.achievedEventsPerSecond)} events/s achieved, renames up to ${formatMs(freshness.maxRenameLateMs)} ms late):`,
  );
  const steady = freshness.steady;
  table(
    ['visible in', 'chunks', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'],
    OBSERVERS.map((o) => [
      OBSERVER_NAMES[o],
      String(steady[o].samples),
      formatMs(steady[o].p50Ms),
      formatMs(steady[o].p90Ms),
      formatMs(steady[o].p99Ms),
      formatMs(steady[o].maxMs),
    ]),
  );
  print('');
  print(
    `lookups, the same client (${lookups.connections} connections, keep-alive, its own process), ${lookups.rounds} alternating rounds of ${formatDurationMs(lookups.roundMs)} each:`,
  );
  table(
    ['server', 'requests', 'requests/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'],
    (['bare', 'serve'] as const).map((server) => {
      const s = lookups[server];
      const name = server === 'bare' ? `bare node:http, fixed ${lookups.bodyBytes}-byte body (baseline)` : 'serve GET /users/:id, random users';
      return [name, count(s.samples), count(s.requestsPerSecond), formatMs(s.p50Ms), formatMs(s.p90Ms), formatMs(s.p99Ms), formatMs(s.maxMs)];
    }),
  );
  print('');
  const r = report.ranges;
  print(`range reads over the last 24 h [${new Date(r.from * 1000).toISOString()}, ${new Date(r.to * 1000).toISOString()}), the same client:`);
  const rows: [string, LatencySummary][] = [
    ['GET /users/:id (baseline)', r.plain],
    ['GET /users/:id?from&to', r.ranged],
    ['GET /users/:id while /top is hammered', r.lookupsWhileTop],
    ['GET /top over 48 ranges × 2 orders, 2 connections, meanwhile', r.topsWhileLookups],
  ];
  table(
    ['requests', 'count', 'requests/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'],
    rows.map(([name, s]) => [name, count(s.samples), count(s.requestsPerSecond), formatMs(s.p50Ms), formatMs(s.p90Ms), formatMs(s.p99Ms), formatMs(s.maxMs)]),
  );
  print(
    `/top over 24 h, sequential: first ${formatMs(r.topFirstMs)} ms; kept p50 ${formatMs(r.topKept.p50Ms)} / p99 ${formatMs(r.topKept.p99Ms)} ms; computed (a range not kept) p50 ${formatMs(r.topComputed.p50Ms)} / p99 ${formatMs(r.topComputed.p99Ms)} / max ${formatMs(r.topComputed.maxMs)} ms`,
  );
  print('');
  print(`batch swap: ${swap.batchView} (batch ${swap.batchSeconds.toFixed(1)} s) swapped in while the stream ran; sequential lookups at ${swap.lookupRate}/s:`);
  table(
    ['lookups sent', 'requests', 'p99 ms', 'max ms', "serve's longest stall"],
    [
      [
        `${formatDurationMs(SWAP_QUIET_MS)} before the batch (baseline)`,
        String(swap.quiet.samples),
        formatMs(swap.quiet.p99Ms),
        formatMs(swap.quiet.maxMs),
        `≤ ${formatMs(swap.quietStallMs)} ms`,
      ],
      [
        `±${formatDurationMs(SWAP_WINDOW_MS)} around the swap`,
        String(swap.aroundSwap.samples),
        formatMs(swap.aroundSwap.p99Ms),
        formatMs(swap.aroundSwap.maxMs),
        `≤ ${formatMs(swap.aroundSwapStallMs)} ms`,
      ],
    ],
  );
  const during = freshness.duringSwap;
  print(
    `freshness meanwhile: /users/:id p99 ${formatMs(during.api.p99Ms)} ms (max ${formatMs(during.api.maxMs)}), merged_view.csv p99 ${formatMs(during.csv.p99Ms)} ms (max ${formatMs(during.csv.maxMs)})`,
  );
  const highest = rss.highestSampleBytesByPhase;
  print(
    `serve RSS, highest of a sample every ${RSS_SAMPLE_MS} ms: ${PHASES.map((p) => `${p} ${formatMegabytes(highest[p] ?? 0)} MB`).join(', ')}; peak (VmHWM) ${formatMegabytes(rss.peakBytes ?? 0)} MB`,
  );
  print('');
  print(`the issue's figures (${report.machine}):`);
  table(
    ['figure', 'measured', 'baseline, same run', 'relative', 'target', 'result'],
    verdicts.map((v) => [v.figure, v.value, v.baseline, v.relative, v.target, v.pass ? 'PASS' : 'MISS']),
  );
}
