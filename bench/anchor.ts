// The anchor: our whole batch job against DuckDB on the same files and threads, each a separate process, answers checked.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { UserAggTable, type UserTotal } from '../src/core/agg-table.js';
import { LambdaflowError } from '../src/core/errors.js';
import { integerOption } from '../src/core/option-values.js';
import { count } from '../src/core/summary-format.js';
import { mergeViewText } from '../src/core/view-format.js';
import { dataLayout } from '../src/io/layout.js';
import { mergeViewDirectory } from '../src/io/views.js';
import { type BatchRun, checkTotals, runBatchProcess } from '../src/bench/batch-runs.js';
import { firstDifference } from '../src/bench/compare-totals.js';
import { prepareDataset } from '../src/bench/dataset.js';
import { type MeasuredRun, runMeasured } from '../src/bench/measure.js';
import { formatTable, machineDescription, median, ratio } from '../src/bench/report.js';
import { runScript } from '../src/bench/script.js';

const DUCKDB_SCRIPT = fileURLToPath(new URL('./duckdb-query.js', import.meta.url));

function totalsOfView(dir: string): UserTotal[] {
  const table = new UserAggTable();
  mergeViewDirectory(dir, table);
  return table.toSortedTotals();
}

function totalsOfFile(file: string): UserTotal[] {
  const table = new UserAggTable();
  mergeViewText(fs.readFileSync(file), file, table);
  return table.toSortedTotals();
}

/** Median seconds, rows/s and the table cells of one engine's runs. */
function summarize(wallMs: readonly number[], rssBytes: readonly (number | undefined)[], rows: number, bytes: number): { rate: number; cells: string[] } {
  const seconds = median(wallMs) / 1000;
  const peak = rssBytes.every((b) => b !== undefined) ? (Math.max(...(rssBytes as number[])) / 2 ** 20).toFixed(0) : 'unknown';
  return { rate: rows / seconds, cells: [seconds.toFixed(2), count(rows / seconds), (bytes / 1e6 / seconds).toFixed(1), peak] };
}

runScript('bench:anchor', async () => {
  const { values } = parseArgs({ options: { rows: { type: 'string' }, users: { type: 'string' }, threads: { type: 'string' }, repeat: { type: 'string' } } });
  const rows = integerOption(values, 'rows', 'rows', 10_000_000);
  const users = integerOption(values, 'users', 'users', 100_000);
  const threads = integerOption(values, 'threads', 'threads', 2, 1, 256);
  const repeat = integerOption(values, 'repeat', 'repeat', 3, 1, 100);

  console.log(`machine: ${machineDescription()}`);
  const dataset = await prepareDataset({ rows, users }, (line) => console.log(line));
  console.log(`dataset: ${dataset.description}`);
  const glob = path.join(dataLayout(dataset.dataDir).batchInput, '*.csv');
  const duckdbOutput = path.join(os.tmpdir(), `lambdaflow-anchor-duckdb-${process.pid}.csv`);
  const duckdbArgs = [DUCKDB_SCRIPT, '--input', glob, '--threads', String(threads), '--output', duckdbOutput];

  // Untimed: warms the page cache for both engines and gives the totals every run must match.
  const warmup = await runBatchProcess(dataset.dataDir, threads);
  checkTotals(warmup, warmup.totals, dataset.expected);
  const ours = totalsOfView(warmup.viewDir);

  const ourRuns: BatchRun[] = [];
  const duckdbRuns: MeasuredRun[] = [];
  try {
    // Alternating runs, so drift in the machine's load falls on both engines alike.
    for (let k = 1; k <= repeat; k++) {
      const run = await runBatchProcess(dataset.dataDir, threads);
      checkTotals(run, warmup.totals, dataset.expected);
      ourRuns.push(run);
      fs.rmSync(duckdbOutput, { force: true });
      duckdbRuns.push(await runMeasured(process.execPath, duckdbArgs, 'duckdb-query'));
      const difference = firstDifference(ours, totalsOfFile(duckdbOutput));
      if (difference !== undefined) throw new LambdaflowError('E_STATE', `our batch view and DuckDB disagree at ${difference} (ours first)`);
    }
  } finally {
    fs.rmSync(duckdbOutput, { force: true });
  }
  const duckdbVersion = duckdbRuns[0]!.stdout.trim();
  console.log(`verified: DuckDB ${duckdbVersion} and our batch view give each of ${count(ours.length)} users the same purchase count and cents, in all ${repeat} runs`);

  const { rowsRead } = warmup.totals;
  const duckdb = summarize(duckdbRuns.map((r) => r.wallMs), duckdbRuns.map((r) => r.peakRssBytes), rowsRead, warmup.inputBytes);
  const batch = summarize(ourRuns.map((r) => r.wallMs), ourRuns.map((r) => r.peakRssBytes), rowsRead, warmup.inputBytes);
  console.log(`median of ${repeat} runs each, process start to exit, ${threads} thread${threads === 1 ? '' : 's'}:`);
  const table = [
    [`DuckDB ${duckdbVersion} (@duckdb/node-api)`, ...duckdb.cells, '1.00× (baseline)'],
    ['lambdaflow batch', ...batch.cells, ratio(batch.rate, duckdb.rate)],
  ];
  for (const line of formatTable(['engine', 'median s', 'rows/s', 'MB/s', 'peak RSS MiB', 'Relative'], table)) console.log(line);
  console.log(`ratio of our throughput to DuckDB's: ${ratio(batch.rate, duckdb.rate)} (${count(rowsRead)} rows, ${threads} threads)`);
});
