// `lambdaflow bench`: the whole batch job per thread count, K times each as a separate process; how a user tunes --threads.
// Its options are resolved by src/cli/options.ts.

import { count, seconds } from '../core/summary-format.js';
import { writeFileAtomically } from '../io/atomic.js';
import { type CommandContext } from '../pipeline/context.js';
import { type BatchRun, checkTotals, runBatchProcess } from './batch-runs.js';
import { prepareDataset } from './dataset.js';
import { formatTable, machineDescription, median } from './report.js';

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

/** Times the batch job per thread count, checks every run's totals, prints the table and recommends a --threads value. */
export async function runBench({ logger, print }: Pick<CommandContext, 'logger' | 'print'>, config: BenchConfig): Promise<void> {
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
}
