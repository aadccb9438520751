// `lambdaflow bench`: the whole batch job per thread count, K times each as a separate process; how a user tunes --threads.

import os from 'node:os';
import { Option } from 'commander';
import { type CommandSpec } from '../cli/cli.js';
import { count, seconds } from '../cli/format.js';
import { type RawOptions, integerOption, optionError, stringOf } from '../cli/options.js';
import { writeFileAtomically } from '../io/atomic.js';
import { type BatchRun, checkTotals, runBatchProcess } from './batch-runs.js';
import { prepareDataset } from './dataset.js';
import { formatTable, machineDescription, median } from './report.js';

export const BENCH_DEFAULTS = Object.freeze({ rows: 10_000_000, users: 100_000, repeat: 3 });
const MAX_THREADS = 256;
/** Medians closer than this to the fastest count as a tie, and the fewer threads win it: noise is not a reason. */
const TIE_FRACTION = 0.02;

export interface BenchConfig {
  readonly rows: number;
  readonly users: number;
  /** Ascending, without repeats. */
  readonly threads: readonly number[];
  readonly repeat: number;
  readonly json: string | undefined;
  /** The --data folder when given; otherwise a shared temp folder is used. */
  readonly data: string | undefined;
}

/** `1,2` plus the available parallelism when it is larger. */
export function defaultThreadCounts(): number[] {
  const available = os.availableParallelism();
  return available > 2 ? [1, 2, available] : [1, 2];
}

/** A comma-separated list of thread counts, e.g. `1,2,4`: each from 1 to MAX_THREADS; sorted, repeats dropped. */
export function threadListOption(raw: RawOptions): number[] {
  const text = stringOf(raw, 'threads', 'threads');
  if (text === undefined) return defaultThreadCounts();
  const items = text.split(',').map((item) => item.trim());
  if (items.some((item) => !/^\d+$/.test(item))) throw optionError('threads', `expected thread counts like 1,2,4, got "${text}"`);
  const counts = items.map(Number);
  const outOfRange = counts.find((n) => n < 1 || n > MAX_THREADS);
  if (outOfRange !== undefined) throw optionError('threads', `each thread count must be between 1 and ${MAX_THREADS}, got ${outOfRange}`);
  return [...new Set(counts)].sort((a, b) => a - b);
}

export function resolveBench(raw: RawOptions): BenchConfig {
  return Object.freeze({
    rows: integerOption(raw, 'rows', 'rows', BENCH_DEFAULTS.rows),
    users: integerOption(raw, 'users', 'users', BENCH_DEFAULTS.users),
    threads: Object.freeze(threadListOption(raw)),
    repeat: integerOption(raw, 'repeat', 'repeat', BENCH_DEFAULTS.repeat, 1, 100),
    json: stringOf(raw, 'json', 'json'),
    data: stringOf(raw, 'data', 'data'),
  });
}

export interface ThreadResult {
  readonly threads: number;
  readonly medianSeconds: number;
  readonly rowsPerSecond: number;
  readonly megabytesPerSecond: number;
  /** Against the fewest threads measured (1 unless --threads left it out). */
  readonly speedup: number;
  /** Highest peak RSS of the runs, in MiB; null when it could not be measured. */
  readonly peakRssMiB: number | null;
  readonly runSeconds: readonly number[];
}

function summarize(threads: number, runs: readonly BatchRun[], baselineSeconds: number | undefined): ThreadResult {
  const medianSeconds = median(runs.map((r) => r.wallMs)) / 1000;
  const { rowsRead } = runs[0]!.totals;
  const rss = runs.map((r) => r.peakRssBytes);
  return {
    threads,
    medianSeconds,
    rowsPerSecond: rowsRead / medianSeconds,
    megabytesPerSecond: runs[0]!.inputBytes / 1e6 / medianSeconds,
    speedup: (baselineSeconds ?? medianSeconds) / medianSeconds,
    peakRssMiB: rss.every((b) => b !== undefined) ? Math.max(...(rss as number[])) / 2 ** 20 : null,
    runSeconds: runs.map((r) => r.wallMs / 1000),
  };
}

/** The fastest median; within TIE_FRACTION of it, the fewest threads. */
export function recommendThreads(results: readonly ThreadResult[]): number {
  const fastest = Math.min(...results.map((r) => r.medianSeconds));
  return results.filter((r) => r.medianSeconds <= fastest * (1 + TIE_FRACTION)).reduce((a, b) => (b.threads < a.threads ? b : a)).threads;
}

export const benchCommand: CommandSpec = {
  name: 'bench',
  ownsThreadsOption: true,
  description:
    'time the whole batch job as a separate process for each thread count in --threads (a list like 1,2,4; default: 1,2 and ' +
    'the available parallelism), --repeat times each, and recommend a --threads value for this machine; the input is ' +
    "--data's batch_input/ (generated there when empty) or, without --data, a generated dataset cached in the temp folder",
  options: [
    new Option('--rows <n>', 'rows to generate (default: 10,000,000)'),
    new Option('--users <n>', 'distinct users to generate (default: 100,000)'),
    new Option('--repeat <k>', 'timed runs per thread count; the median is reported (default: 3)'),
    new Option('--json <file>', 'also write the results as JSON to this file'),
  ],
  async run({ logger, print }, raw) {
    const config = resolveBench(raw);
    print(`machine: ${machineDescription()}`);
    const dataset = await prepareDataset({ rows: config.rows, users: config.users, dataDir: config.data }, print);
    print(`dataset: ${dataset.description}`);

    // An untimed run first: it warms the page cache and gives the totals every timed run must match.
    const warmup = await runBatchProcess(dataset.dataDir, config.threads.at(-1)!);
    checkTotals(warmup, warmup.totals, dataset.expected);
    const reference = warmup.totals;
    print(
      `reference totals: ${count(reference.rowsRead)} rows (${count(reference.badRowsTotal)} bad), ${count(reference.purchases)} purchases, ` +
        `${count(reference.users)} users, ${count(reference.purchaseCentsTotal)} cents`,
    );

    const results: ThreadResult[] = [];
    for (const threads of config.threads) {
      const runs: BatchRun[] = [];
      for (let k = 1; k <= config.repeat; k++) {
        const run = await runBatchProcess(dataset.dataDir, threads);
        checkTotals(run, reference, dataset.expected);
        logger.info(`bench: ${threads} threads, run ${k}/${config.repeat}: ${seconds(run.wallMs)}`);
        runs.push(run);
      }
      results.push(summarize(threads, runs, results[0]?.medianSeconds));
    }

    const baseline = config.threads[0]!;
    const header = ['threads', 'median s', 'rows/s', 'MB/s', `speed-up vs ${baseline} thread${baseline === 1 ? '' : 's'}`, 'peak RSS MiB'];
    const rows = results.map((r) => [
      String(r.threads),
      r.medianSeconds.toFixed(2),
      count(r.rowsPerSecond),
      r.megabytesPerSecond.toFixed(1),
      `${r.speedup.toFixed(2)}×`,
      r.peakRssMiB === null ? 'unknown' : r.peakRssMiB.toFixed(0),
    ]);
    print(`all ${config.threads.length * config.repeat + 1} runs agree on the totals; median of ${config.repeat} timed run${config.repeat === 1 ? '' : 's'}, process start to exit:`);
    for (const line of formatTable(header, rows)) print(line);
    const recommended = recommendThreads(results);
    print(`recommended: --threads ${recommended} (the fastest median; within ${TIE_FRACTION * 100} % of it, fewer threads win)`);

    if (config.json !== undefined) {
      const report = {
        machine: machineDescription(),
        dataset: dataset.description,
        dataDir: dataset.dataDir,
        repeat: config.repeat,
        totals: reference,
        results,
        recommendedThreads: recommended,
      };
      await writeFileAtomically(config.json, JSON.stringify(report, null, 2) + '\n');
      print(`results written to ${config.json}`);
    }
  },
};
