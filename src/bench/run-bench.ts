// `lambdaflow bench`: the whole batch job as a separate process per user count and thread count, each timed run
// followed by DuckDB on the same files (when @duckdb/node-api is installed) with its answer checked user by user;
// `--speed`: the speed layer's `speed --once` on staged stream files, against the batch job on the same files.
// Its options are resolved by src/cli/options.ts.

import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserAggTable, type UserTotal } from '../core/agg-table.js';
import { LambdaflowError } from '../core/errors.js';
import { count, seconds } from '../core/summary-format.js';
import { mergeViewText } from '../core/view-format.js';
import { writeFileAtomically } from '../io/files/atomic.js';
import { dataLayout } from '../io/files/layout.js';
import { readIngestLog } from '../io/logs/ingest-log.js';
import { type Logger } from '../io/runtime/logger.js';
import { BUCKETS_FOLDER, mergeViewDirectory, readRealtimeHead } from '../io/views/views.js';
import { type BatchRun, checkTotals, runBatchProcess } from './batch-runs.js';
import { firstDifference } from './compare-totals.js';
import { type BenchDataset, prepareDataset } from './dataset.js';
import { type MeasuredRun, mainScriptPath, runMeasured } from './measure.js';
import { formatTable, machineDescription, median, ratio } from './report.js';
import { type DuckdbQueryKind } from './script-options.js';

/** Medians closer than this to the fastest count as a tie, and the fewer threads win it: noise is not a reason. */
const TIE_FRACTION = 0.02;
/** The speed benchmark's staged stream: 200 files of 50,000 rows (10 M events at the default --rows). */
const STREAM_FILES = 200;

export interface BenchConfig {
  readonly rows: number;
  /** The ladder of user counts, ascending. */
  readonly users: readonly number[];
  /** Ascending, without repeats. */
  readonly threads: readonly number[];
  readonly repeat: number;
  readonly json: string | undefined;
  /** The --data folder when given; otherwise shared temp folders are used. */
  readonly data: string | undefined;
  /** Measure the speed layer (`speed --once`) instead of the batch layer. */
  readonly speed: boolean;
}

/** Where a benchmark reports: progress to the logger (and the runs done, to onProgress), results as lines. */
export interface BenchOutput {
  readonly logger: Logger;
  readonly print: (line: string) => void;
  /** After each process run (warm-ups too): the runs done and the runs the benchmark makes in all. */
  readonly onProgress?: (runsDone: number, runsTotal: number) => void;
}

/** Counts the benchmark's process runs for onProgress: call the returned function after each one. */
function runTally(output: BenchOutput, runsTotal: number): () => void {
  let runsDone = 0;
  output.onProgress?.(runsDone, runsTotal);
  return () => output.onProgress?.(++runsDone, runsTotal);
}

interface Engine {
  readonly medianSeconds: number;
  readonly minSeconds: number;
  readonly maxSeconds: number;
  readonly rowsPerSecond: number;
  /** Highest peak RSS of the runs, in MiB; null when it could not be measured. */
  readonly peakRssMiB: number | null;
  readonly runSeconds: readonly number[];
}

/**
 * DuckDB's queries, each timed after each of our runs (src/bench/duckdb-query.ts): `fastest`, its fastest honest
 * all-time query (the targets are judged against it); `hourly`, per (user, hour) as our bucket parts; `decimal`, the
 * exact DECIMAL(18,2) one with default sniffing.
 */
const DUCKDB_QUERIES = ['fastest', 'hourly', 'decimal'] as const satisfies readonly DuckdbQueryKind[];
type DuckdbQuery = (typeof DUCKDB_QUERIES)[number];

export interface LadderRow {
  readonly users: number;
  readonly usersWithPurchases: number;
  readonly threads: number;
  readonly ours: Engine;
  readonly duckdb: Readonly<Record<DuckdbQuery, Engine>> | null;
  /** Our throughput over each DuckDB query's. */
  readonly vsDuckdb: Readonly<Record<DuckdbQuery, number>> | null;
  /** Against the fewest threads measured on the same dataset. */
  readonly speedup: number;
}

function engine(runs: readonly { wallMs: number; peakRssBytes: number | undefined }[], rows: number): Engine {
  const runSeconds = runs.map((r) => r.wallMs / 1000);
  const medianSeconds = median(runSeconds);
  const rss = runs.map((r) => r.peakRssBytes);
  return {
    medianSeconds,
    minSeconds: Math.min(...runSeconds),
    maxSeconds: Math.max(...runSeconds),
    rowsPerSecond: rows / medianSeconds,
    peakRssMiB: rss.every((b) => b !== undefined) ? Math.max(...rss) / 2 ** 20 : null,
    runSeconds,
  };
}

/** The fastest median; within TIE_FRACTION of it, the fewest threads. */
export function recommendThreads(results: readonly { threads: number; ours: Engine }[]): number {
  const fastest = Math.min(...results.map((r) => r.ours.medianSeconds));
  return results.filter((r) => r.ours.medianSeconds <= fastest * (1 + TIE_FRACTION)).reduce((a, b) => (b.threads < a.threads ? b : a)).threads;
}

const DUCKDB_SCRIPT = fileURLToPath(new URL('../../bench/duckdb-query.js', import.meta.url));

/** DuckDB is a devDependency: the comparison runs where it is installed. */
function duckdbInstalled(): boolean {
  try {
    createRequire(import.meta.url).resolve('@duckdb/node-api');
    return fs.existsSync(DUCKDB_SCRIPT);
  } catch {
    return false;
  }
}

function sortedTotals(read: (table: UserAggTable) => void): UserTotal[] {
  const table = new UserAggTable();
  read(table);
  return table.toSortedTotals();
}

/** What DuckDB's answers are checked against: our all-time totals and our bucket parts' lines, sorted. */
interface OurAnswer {
  readonly totals: readonly UserTotal[];
  readonly bucketLines: readonly string[];
}

/** A file's lines without a header, sorted (bucket parts are written in no particular order). */
function sortedLines(texts: readonly string[]): string[] {
  return texts.flatMap((text) => text.split('\n').filter((line) => line !== '' && !line.startsWith('user_id,'))).sort();
}

function ourAnswer(viewDir: string): OurAnswer {
  const buckets = path.join(viewDir, BUCKETS_FOLDER);
  const parts = fs.existsSync(buckets) ? fs.readdirSync(buckets).filter((n) => n.startsWith('part-')) : [];
  return {
    totals: sortedTotals((table) => mergeViewDirectory(viewDir, table)),
    bucketLines: sortedLines(parts.map((n) => fs.readFileSync(path.join(buckets, n), 'utf8'))),
  };
}

/** One DuckDB query over the dataset's batch_input/*.csv, as its own process, its answer checked against ours. */
async function runDuckdb(dataDir: string, threads: number, query: DuckdbQuery, ours: OurAnswer): Promise<MeasuredRun> {
  const output = path.join(os.tmpdir(), `lambdaflow-bench-duckdb-${process.pid}.csv`);
  try {
    const glob = path.join(dataLayout(dataDir).batchInput, '*.csv');
    const run = await runMeasured(
      process.execPath,
      [DUCKDB_SCRIPT, '--input', glob, '--threads', String(threads), '--output', output, '--query', query],
      `duckdb-query --query ${query}`,
    );
    if (query === 'hourly') {
      const theirs = sortedLines([fs.readFileSync(output, 'utf8')]);
      const at = theirs.findIndex((line, i) => line !== ours.bucketLines[i]);
      if (at !== -1 || theirs.length !== ours.bucketLines.length) {
        throw new LambdaflowError(
          'E_STATE',
          `our bucket parts and DuckDB's hourly query disagree (${ours.bucketLines.length} vs ${theirs.length} lines; first difference: ${ours.bucketLines[at] ?? 'none'} vs ${theirs[at] ?? 'none'})`,
        );
      }
    } else {
      const difference = firstDifference(
        ours.totals,
        sortedTotals((table) => mergeViewText(fs.readFileSync(output), output, table)),
      );
      if (difference !== undefined) throw new LambdaflowError('E_STATE', `our batch view and DuckDB's ${query} query disagree at ${difference} (ours first)`);
    }
    return run;
  } finally {
    fs.rmSync(output, { force: true });
  }
}

const mib = (value: number | null): string => (value === null ? 'unknown' : value.toFixed(0));
/** An engine's seconds as min / median / max. */
const spread = (e: Engine): string => `${e.minSeconds.toFixed(2)} / ${e.medianSeconds.toFixed(2)} / ${e.maxSeconds.toFixed(2)}`;

/** Process runs of one rung of the ladder: a warm-up and --repeat runs per thread count, each engine. */
function rungRuns(config: BenchConfig, duckdb: boolean): number {
  return (1 + config.threads.length * config.repeat) * (duckdb ? 1 + DUCKDB_QUERIES.length : 1);
}

async function ladderRung(
  output: BenchOutput,
  config: BenchConfig,
  dataset: BenchDataset,
  users: number,
  duckdb: boolean,
  ran: () => void,
): Promise<LadderRow[]> {
  const { logger, print } = output;
  // Untimed: warms the page cache for both engines and gives the totals every run must match.
  const warmup = await runBatchProcess(dataset.dataDir, config.threads.at(-1)!);
  ran();
  checkTotals(warmup, warmup.totals, dataset.expected);
  const ours = ourAnswer(warmup.viewDir);
  if (duckdb) {
    for (const query of DUCKDB_QUERIES) {
      await runDuckdb(dataset.dataDir, config.threads.at(-1)!, query, ours);
      ran();
    }
  }
  const rows: LadderRow[] = [];
  for (const threads of config.threads) {
    const ourRuns: BatchRun[] = [];
    const duckdbRuns = Object.fromEntries(DUCKDB_QUERIES.map((q) => [q, [] as MeasuredRun[]])) as Record<DuckdbQuery, MeasuredRun[]>;
    // Alternating runs, so drift in the machine's load falls on every engine alike.
    for (let k = 1; k <= config.repeat; k++) {
      const run = await runBatchProcess(dataset.dataDir, threads);
      ran();
      checkTotals(run, warmup.totals, dataset.expected);
      ourRuns.push(run);
      if (duckdb) {
        for (const query of DUCKDB_QUERIES) {
          duckdbRuns[query].push(await runDuckdb(dataset.dataDir, threads, query, ours));
          ran();
        }
      }
      const theirs = duckdb ? `, DuckDB ${DUCKDB_QUERIES.map((q) => `${q} ${seconds(duckdbRuns[q].at(-1)!.wallMs)}`).join(', ')}` : '';
      logger.info(`bench: ${count(users)} users, ${threads} threads, run ${k}: ours ${seconds(run.wallMs)}${theirs}`);
    }
    const oursEngine = engine(ourRuns, warmup.totals.rowsRead);
    const duckdbEngines = duckdb
      ? (Object.fromEntries(DUCKDB_QUERIES.map((q) => [q, engine(duckdbRuns[q], warmup.totals.rowsRead)])) as Record<DuckdbQuery, Engine>)
      : null;
    rows.push({
      users,
      usersWithPurchases: warmup.totals.users,
      threads,
      ours: oursEngine,
      duckdb: duckdbEngines,
      vsDuckdb: duckdbEngines
        ? (Object.fromEntries(DUCKDB_QUERIES.map((q) => [q, oursEngine.rowsPerSecond / duckdbEngines[q].rowsPerSecond])) as Record<DuckdbQuery, number>)
        : null,
      speedup: (rows[0]?.ours.medianSeconds ?? oursEngine.medianSeconds) / oursEngine.medianSeconds,
    });
  }
  print(
    `${count(users)}-user space: ${count(warmup.totals.users)} users with purchases; every run's totals agree${duckdb ? ", and each DuckDB query's answer equals ours (all-time totals user by user, hourly lines one by one)" : ''}`,
  );
  return rows;
}

/** The batch ladder: per user count and thread count, ours and (when installed) DuckDB's queries. */
async function runLadder(output: BenchOutput, config: BenchConfig): Promise<Record<string, unknown>> {
  const { print } = output;
  const duckdb = duckdbInstalled();
  if (!duckdb) print('DuckDB (@duckdb/node-api, a devDependency) is not installed here: only our runs are timed');
  const results: LadderRow[] = [];
  const datasets: string[] = [];
  const ran = runTally(output, config.users.length * rungRuns(config, duckdb));
  for (const users of config.users) {
    const dataset = await prepareDataset({ rows: config.rows, users, dataDir: config.data }, print);
    print(`dataset: ${dataset.description}`);
    datasets.push(dataset.description);
    results.push(...(await ladderRung(output, config, dataset, users, duckdb, ran)));
  }
  print(
    `${config.repeat} timed run${config.repeat === 1 ? '' : 's'} each, seconds min / median / max, process start to exit (ours: to the published view with its bucket parts; DuckDB: to its written result); "vs" is our throughput over the query's at the median:`,
  );
  const header = [
    'users',
    'threads',
    'ours s',
    'rows/s',
    ...(duckdb ? DUCKDB_QUERIES.flatMap((q) => [`DuckDB ${q} s`, `vs ${q}`]) : []),
    `speed-up vs ${config.threads[0]} thr.`,
    'RSS MiB',
    ...(duckdb ? DUCKDB_QUERIES.map((q) => `${q} RSS`) : []),
  ];
  const table = results.map((r) => [
    `${count(r.users)} (${count(r.usersWithPurchases)})`,
    String(r.threads),
    spread(r.ours),
    count(r.ours.rowsPerSecond),
    ...(r.duckdb ? DUCKDB_QUERIES.flatMap((q) => [spread(r.duckdb![q]), ratio(r.ours.rowsPerSecond, r.duckdb![q].rowsPerSecond)]) : []),
    `${r.speedup.toFixed(2)}×`,
    mib(r.ours.peakRssMiB),
    ...(r.duckdb ? DUCKDB_QUERIES.map((q) => mib(r.duckdb![q].peakRssMiB)) : []),
  ]);
  for (const line of formatTable(header, table)) print(line);
  for (const users of config.users) {
    const rung = results.filter((r) => r.users === users);
    print(
      `recommended for ${count(users)} users: --threads ${recommendThreads(rung)} (the fastest median; within ${TIE_FRACTION * 100} % of it, fewer threads win)`,
    );
  }
  return { datasets, repeat: config.repeat, duckdb, duckdbQueries: duckdb ? DUCKDB_QUERIES : [], results };
}

/**
 * The speed benchmark's staged files: a dataset of STREAM_FILES files generated once (src/bench/dataset.ts), linked
 * into a fresh data folder's stream_input/ for each run (the speed layer ingests them) or batch_input/ (the batch
 * job reads the same bytes).
 */
function stagedFolder(source: BenchDataset, as: 'stream_input' | 'batch_input'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lambdaflow-bench-speed-'));
  const from = dataLayout(source.dataDir).batchInput;
  const to = path.join(dir, as);
  fs.mkdirSync(to, { recursive: true });
  for (const name of fs.readdirSync(from).filter((n) => n.endsWith('.csv'))) fs.linkSync(path.join(from, name), path.join(to, name));
  return dir;
}

/** `speed --once` on the staged files as a separate process; checks every file was logged and the head reached them. */
async function runSpeedOnce(source: BenchDataset, files: number, threads: number): Promise<MeasuredRun> {
  const dir = stagedFolder(source, 'stream_input');
  try {
    const run = await runMeasured(
      process.execPath,
      [mainScriptPath(), 'speed', '--once', '--data', dir, '--threads', String(threads), '--log-level', 'warn'],
      `speed --once --threads ${threads}`,
    );
    const layout = dataLayout(dir);
    const logged = readIngestLog(layout.ingestLog).lastSeq;
    const head = readRealtimeHead(layout.realtimeHead);
    if (logged !== files || head?.throughSeq !== files) {
      throw new LambdaflowError('E_STATE', `speed --once logged ${logged} of ${files} files; its head reaches seq ${head?.throughSeq ?? 'none'}`);
    }
    return run;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function runSpeed(output: BenchOutput, config: BenchConfig): Promise<Record<string, unknown>> {
  const { logger, print } = output;
  const source = await prepareDataset({ rows: config.rows, users: config.users[0]!, files: STREAM_FILES }, print);
  print(`staged stream: ${source.description}`);
  const rows = source.expected?.rows ?? 0;
  // Warm-up and --repeat runs of the batch job, then of speed --once at each thread count after its own warm-up.
  const ran = runTally(output, 1 + config.repeat + 1 + config.threads.length * config.repeat);
  // The batch job on the same files, at the most threads measured: the speed layer's target is a share of its rate.
  const batchDir = stagedFolder(source, 'batch_input');
  const batchRuns: BatchRun[] = [];
  try {
    await runBatchProcess(batchDir, config.threads.at(-1)!); // warm-up
    ran();
    for (let k = 0; k < config.repeat; k++) {
      batchRuns.push(await runBatchProcess(batchDir, config.threads.at(-1)!));
      ran();
    }
  } finally {
    fs.rmSync(batchDir, { recursive: true, force: true });
  }
  const batch = engine(batchRuns, rows);
  const results: { threads: number; speed: Engine; speedup: number; vsBatch: number }[] = [];
  await runSpeedOnce(source, STREAM_FILES, config.threads.at(-1)!); // warm-up
  ran();
  for (const threads of config.threads) {
    const runs: MeasuredRun[] = [];
    for (let k = 1; k <= config.repeat; k++) {
      runs.push(await runSpeedOnce(source, STREAM_FILES, threads));
      ran();
      logger.info(`bench --speed: ${threads} threads, run ${k}: ${seconds(runs.at(-1)!.wallMs)}`);
    }
    const speed = engine(runs, rows);
    results.push({
      threads,
      speed,
      speedup: (results[0]?.speed.medianSeconds ?? speed.medianSeconds) / speed.medianSeconds,
      vsBatch: speed.rowsPerSecond / batch.rowsPerSecond,
    });
  }
  print(
    `speed --once on ${STREAM_FILES} staged files (${count(rows)} events), ${config.repeat} runs each, seconds min / median / max, process start to exit; batch on the same files at ${config.threads.at(-1)} threads: ${spread(batch)} s, ${count(batch.rowsPerSecond)} rows/s`,
  );
  const table = results.map((r) => [
    String(r.threads),
    spread(r.speed),
    count(r.speed.rowsPerSecond),
    `${r.speedup.toFixed(2)}×`,
    `${r.vsBatch.toFixed(2)}×`,
    mib(r.speed.peakRssMiB),
  ]);
  for (const line of formatTable(['threads', 'speed --once s', 'events/s', `speed-up vs ${config.threads[0]} thr.`, 'vs batch rows/s', 'RSS MiB'], table))
    print(line);
  return { dataset: source.description, repeat: config.repeat, batch, results };
}

/** Runs the benchmark the config asks for, prints its tables, and writes them as JSON when asked. */
export async function runBench(output: BenchOutput, config: BenchConfig): Promise<void> {
  output.print(`machine: ${machineDescription()}`);
  const report = config.speed ? await runSpeed(output, config) : await runLadder(output, config);
  if (config.json !== undefined) {
    await writeFileAtomically(config.json, JSON.stringify({ machine: machineDescription(), ...report }, null, 2) + '\n');
    output.print(`results written to ${config.json}`);
  }
}
