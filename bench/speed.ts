// The speed layer's two figures, each checked before it is reported: sustained events/s when pre-generated chunk
// files arrive all at once, and its own part of freshness (a chunk's rename to the realtime head that reaches it:
// its rows counted, its deltas written) at a steady rate.

import { DEFAULT_BUCKET_SECONDS } from '../src/core/event-time.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UserAggTable } from '../src/core/agg-table.js';
import { LambdaflowError } from '../src/core/errors.js';
import { type GeneratedCounts, IN_ORDER } from '../src/core/event-generator.js';
import { count } from '../src/core/summary-format.js';
import { type GenStreamConfig, StreamWriter } from '../src/generate/gen-stream.js';
import { writeFileAtomically } from '../src/io/files/atomic.js';
import { type IngestEntry, readIngestLog } from '../src/io/logs/ingest-log.js';
import { type DataLayout, dataLayout } from '../src/io/files/layout.js';
import { createLogger, silentLogger } from '../src/io/runtime/logger.js';
import { sleep } from '../src/io/runtime/sleep.js';
import { systemClock } from '../src/io/runtime/system-clock.js';
import { listSpeedViews, mergeViewDirectory, readRealtimeHead } from '../src/io/views/views.js';
import { mergeOnce } from '../src/pipeline/serving.js';
import { type SpeedOptions } from '../src/pipeline/layer-config.js';
import { runSpeedLayer } from '../src/pipeline/speed.js';
import { differences, readMergedViewTable, recountMasterDataset } from '../src/soak/recount.js';
import { percentile } from '../src/soak/measure.js';
import { IngestLogTail } from '../src/bench/ingest-log-tail.js';
import { formatTable, machineDescription, ratio } from '../src/bench/report.js';
import { runScript } from '../src/bench/script.js';
import { type SpeedBenchOptions, resolveSpeedBench, speedBenchWindow } from '../src/bench/script-options.js';

/** The targets for the speed layer on 2 cores: throughput (issue 4), freshness at 100 k events/s (issue 10). */
const TARGET_EVENTS_PER_SECOND = 1_000_000;
const TARGET_FRESHNESS_P99_MS = 150;
/** Freshness: a chunk is renamed into stream_input/ every CHUNK_INTERVAL_MS; micro-batches every 100 ms. */
const CHUNK_INTERVAL_MS = 100;
const FRESHNESS_BATCH_INTERVAL_MS = 100;
/** The speed layer re-stats files modified less than 1 s ago before ingesting them; staged files are left older. */
const SETTLED_FILE_AGE_MS = 1_100;
/** How often the throughput run looks for the realtime view covering every file. */
const POLL_MS = 5;
/** Longest wait for the speed layer to start, or for the last chunks to show up after input stops. */
const READY_TIMEOUT_MS = 30_000;
const DRAIN_TIMEOUT_MS = 60_000;
const SEED = 42;

interface ThroughputResult {
  readonly events: number;
  readonly files: number;
  readonly users: number;
  readonly threads: number;
  readonly batchIntervalMs: number;
  readonly seconds: number;
  readonly eventsPerSecond: number;
  readonly microBatches: number;
  readonly msPerMicroBatch: number;
  readonly targetRatio: number;
}

interface FreshnessResult {
  readonly rate: number;
  readonly seconds: number;
  readonly threads: number;
  readonly batchIntervalMs: number;
  readonly chunks: number;
  readonly events: number;
  readonly achievedEventsPerSecond: number;
  readonly maxRenameLateMs: number;
  readonly samples: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Each chunk's freshness, in rename order (for plots: spikes at slide boundaries, growth with users). */
  readonly samplesMs: readonly number[];
}

/** A fresh data folder with a staging folder beside stream_input/, removed when `body` is done. */
async function withDataFolder<T>(body: (layout: DataLayout, staging: string) => Promise<T>): Promise<T> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'lambdaflow-bench-speed-'));
  try {
    return await body(dataLayout(root), path.join(root, 'staging'));
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

/** Writes `events` rows as chunk files of `chunkRows` rows (the last may be shorter) into `dir`, names in creation order. */
function stageChunks(dir: string, events: number, chunkRows: number, users: number): { names: string[]; totals: GeneratedCounts } {
  const chunks = Math.ceil(events / chunkRows);
  const config: GenStreamConfig = { intervalMs: 0, rowsPerChunk: chunkRows, chunks, users, seed: SEED, stamps: IN_ORDER };
  const writer = new StreamWriter(dir, config, systemClock);
  const names = Array.from({ length: chunks }, (_, i) => writer.writeChunk(Math.min(chunkRows, events - i * chunkRows)).name);
  return { names, totals: writer.totals };
}

/**
 * Runs the speed layer in this process while `work` runs, then stops it and waits for its final micro-batch;
 * `onHead` sees each realtime head it publishes. A layer that fails or stops early ends the run with its error.
 */
async function withPipeline<T>(
  layout: DataLayout,
  threads: number,
  speed: SpeedOptions,
  onHead: ((throughSeq: number, publishedAtMs: number) => void) | undefined,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const environment = { layout, threads, mode: 'permissive' as const, logger: createLogger('warn'), clock: systemClock, bucketSeconds: DEFAULT_BUCKET_SECONDS };
  const speedRun = runSpeedLayer(environment, speed, { signal: controller.signal, onRealtime: onHead && ((head) => onHead(head.throughSeq, Date.now())) });
  try {
    const stoppedEarly = speedRun.then(() => {
      throw new LambdaflowError('E_STATE', 'the speed layer stopped before the benchmark was done');
    });
    return await Promise.race([work(controller.signal), stoppedEarly]);
  } finally {
    controller.abort();
    await speedRun;
  }
}

/** Polls until the realtime head reaches ingest seq `throughSeq`; returns when it was seen. */
async function realtimeViewCovering(layout: DataLayout, throughSeq: number, timeoutMs: number, signal: AbortSignal): Promise<number> {
  const started = performance.now();
  for (;;) {
    const head = readRealtimeHead(layout.realtimeHead);
    if (head !== undefined && head.throughSeq >= throughSeq) return performance.now();
    if (performance.now() - started > timeoutMs) {
      throw new LambdaflowError(
        'E_STATE',
        `the realtime head did not reach ingest seq ${throughSeq} within ${timeoutMs / 1000} s (it is at ${head?.throughSeq ?? 'none'})`,
      );
    }
    await sleep(POLL_MS, signal);
  }
}

/**
 * The checks both measurements end with: every file logged once, the newest realtime view through the last of them,
 * and merged_view.csv (merged again now that the layers have stopped) equal to an independent recount.
 */
async function verifyExact(layout: DataLayout, files: number, purchases: number): Promise<{ entries: IngestEntry[]; recount: UserAggTable; detail: string }> {
  const entries = readIngestLog(layout.ingestLog).entries;
  if (entries.length !== files) throw new LambdaflowError('E_STATE', `the ingest log lists ${entries.length} files, ${files} were renamed into stream_input/`);
  const throughSeq = readRealtimeHead(layout.realtimeHead)?.throughSeq;
  if (throughSeq !== files) throw new LambdaflowError('E_STATE', `the realtime head is through ingest seq ${throughSeq ?? 'none'}, not ${files}`);
  await mergeOnce({ layout, threads: 1, mode: 'permissive', logger: silentLogger, clock: systemClock, bucketSeconds: DEFAULT_BUCKET_SECONDS }, 'exact');
  const recount = recountMasterDataset(layout);
  const diffs = differences(readMergedViewTable(layout), recount);
  if (diffs.length > 0) throw new LambdaflowError('E_STATE', `merged_view.csv differs from a recount of the ingested files: ${diffs.join('; ')}`);
  const totals = recount.toSortedTotals();
  const recounted = totals.reduce((n, t) => n + t.count, 0);
  if (recounted !== purchases) throw new LambdaflowError('E_STATE', `the recount found ${recounted} purchases, the generator wrote ${purchases}`);
  const detail = `realtime head through seq ${throughSeq} = ${files} files; merged_view.csv equals a recount (${count(totals.length)} users, ${count(purchases)} purchases)`;
  return { entries, recount, detail };
}

/** Throughput: every staged file renamed into stream_input/ at once; time until a realtime view covers them all. */
async function measureThroughput(options: SpeedBenchOptions, print: (line: string) => void): Promise<ThroughputResult> {
  const { speed, threads } = options;
  const files = Math.ceil(options.events / options.chunkRows);
  return withDataFolder(async (layout, staging) => {
    print(
      `throughput: staging ${count(options.events)} events in ${files} files of up to ${count(options.chunkRows)} rows (${count(options.users)} users) ...`,
    );
    const { names, totals } = stageChunks(staging, options.events, options.chunkRows, options.users);
    const stagedAtMs = Date.now();
    const { elapsedMs, stopMs } = await withPipeline(layout, threads, speed, undefined, async (signal) => {
      await realtimeViewCovering(layout, 0, READY_TIMEOUT_MS, signal); // published once recovery is done
      await sleep(Math.max(speed.window.batchIntervalMs * 3, stagedAtMs + SETTLED_FILE_AGE_MS - Date.now()), signal);
      const started = performance.now();
      for (const name of names) fs.renameSync(path.join(staging, name), path.join(layout.streamInput, name));
      const seen = await realtimeViewCovering(layout, files, DRAIN_TIMEOUT_MS, signal);
      return { elapsedMs: seen - started, stopMs: Date.now() };
    });
    const { entries, recount, detail } = await verifyExact(layout, files, totals.purchases);
    print(`verified: ${detail}; ${windowCheck(layout, entries, speed, stopMs, recount)}`);
    const microBatches = new Set(entries.map((e) => e.ingestedAtMs)).size;
    const eventsPerSecond = (totals.rows * 1000) / elapsedMs;
    return {
      events: totals.rows,
      files,
      users: options.users,
      threads,
      batchIntervalMs: speed.window.batchIntervalMs,
      seconds: elapsedMs / 1000,
      eventsPerSecond,
      microBatches,
      msPerMicroBatch: elapsedMs / microBatches,
      targetRatio: eventsPerSecond / TARGET_EVENTS_PER_SECOND,
    };
  });
}

/** The final 60 s window must hold every file too, when all were ingested within it (always, unless the run is long). */
function windowCheck(layout: DataLayout, entries: readonly IngestEntry[], speed: SpeedOptions, stopMs: number, recount: UserAggTable): string {
  const firstIngestMs = entries[0]?.ingestedAtMs ?? stopMs;
  if (stopMs - firstIngestMs >= speed.window.windowMs - speed.window.slideMs) return 'window not checked (files ingested longer ago than the window holds)';
  const newest = listSpeedViews(layout.servingSpeed).at(-1);
  if (newest === undefined) throw new LambdaflowError('E_STATE', 'the speed layer published no window');
  const window = new UserAggTable();
  mergeViewDirectory(newest.dir, window);
  const diffs = differences(window, recount);
  if (diffs.length > 0) throw new LambdaflowError('E_STATE', `the final window ${path.basename(newest.dir)} differs from the recount: ${diffs.join('; ')}`);
  return `the final ${speed.window.windowMs / 1000} s window equals it too`;
}

/** Freshness: a chunk renamed every 100 ms at `rate` events/s; each realtime head records its time minus newly covered chunks' renames. */
async function measureFreshness(options: SpeedBenchOptions, print: (line: string) => void): Promise<FreshnessResult> {
  const { threads, rate, seconds } = options;
  const speed = speedBenchWindow(FRESHNESS_BATCH_INTERVAL_MS);
  const chunks = Math.round((seconds * 1000) / CHUNK_INTERVAL_MS);
  const rows = Math.max(1, Math.round((rate * CHUNK_INTERVAL_MS) / 1000));
  return withDataFolder(async (layout, staging) => {
    print(`freshness: staging ${chunks} chunks of ${count(rows)} rows (${count(rate)} events/s for ${seconds} s, ${count(options.users)} users) ...`);
    const { names, totals } = stageChunks(staging, chunks * rows, rows, options.users);
    const renamedAtMs = new Map<string, number>();
    const freshnessMs: number[] = [];
    const tail = new IngestLogTail(layout.ingestLog);
    let coveredSeq = 0;
    let allCovered: () => void = () => {};
    const covered = new Promise<void>((resolve) => (allCovered = resolve));
    const onHead = (throughSeq: number, publishedAtMs: number): void => {
      for (; coveredSeq < throughSeq; coveredSeq++) {
        const name = tail.nameOf(coveredSeq + 1);
        freshnessMs.push(publishedAtMs - renamedAtMs.get(name)!);
      }
      if (coveredSeq >= chunks) allCovered();
    };
    let maxLateMs = 0;
    let firstRenameMs = 0;
    let lastRenameMs = 0;
    await withPipeline(layout, threads, speed, onHead, async (signal) => {
      await realtimeViewCovering(layout, 0, READY_TIMEOUT_MS, signal);
      await sleep(speed.window.batchIntervalMs * 2, signal);
      const startMs = Date.now();
      for (const [i, name] of names.entries()) {
        await sleep(startMs + i * CHUNK_INTERVAL_MS - Date.now(), signal);
        // A producer writes a chunk just before renaming it: give the staged file that fresh a modification time.
        const staged = path.join(staging, name);
        const now = new Date();
        fs.utimesSync(staged, now, now);
        fs.renameSync(staged, path.join(layout.streamInput, name));
        lastRenameMs = Date.now();
        renamedAtMs.set(name, lastRenameMs);
        maxLateMs = Math.max(maxLateMs, lastRenameMs - (startMs + i * CHUNK_INTERVAL_MS));
        if (i === 0) firstRenameMs = lastRenameMs;
      }
      const timeout = sleep(DRAIN_TIMEOUT_MS, signal).then(() => {
        if (signal.aborted) return;
        throw new LambdaflowError(
          'E_STATE',
          `the realtime head did not reach all ${chunks} chunks within ${DRAIN_TIMEOUT_MS / 1000} s of the last rename (through ${coveredSeq})`,
        );
      });
      await Promise.race([covered, timeout]);
    });
    const { detail } = await verifyExact(layout, chunks, totals.purchases);
    print(`verified: ${detail}; every chunk has a freshness sample (${freshnessMs.length})`);
    if (freshnessMs.length !== chunks) throw new LambdaflowError('E_STATE', `${freshnessMs.length} freshness samples for ${chunks} chunks`);
    const at = (p: number): number => percentile(freshnessMs, p)!;
    return {
      rate,
      seconds,
      threads,
      batchIntervalMs: speed.window.batchIntervalMs,
      chunks,
      events: totals.rows,
      achievedEventsPerSecond: (totals.rows * 1000) / (lastRenameMs - firstRenameMs + CHUNK_INTERVAL_MS),
      maxRenameLateMs: maxLateMs,
      samples: freshnessMs.length,
      p50Ms: at(50),
      p90Ms: at(90),
      p99Ms: at(99),
      maxMs: Math.max(...freshnessMs),
      samplesMs: freshnessMs,
    };
  });
}

runScript('bench:speed', async () => {
  const options = resolveSpeedBench(process.argv.slice(2));
  const print = (line: string): void => console.log(line);
  const machine = machineDescription();
  print(`machine: ${machine}`);
  let throughput: ThroughputResult | undefined;
  let freshness: FreshnessResult | undefined;

  if (options.only !== 'freshness') {
    throughput = await measureThroughput(options, print);
    const t = throughput;
    print(
      `sustained: all files renamed into stream_input/ at once until a realtime view covers them, ${t.threads} speed threads, ` +
        `batch interval ${t.batchIntervalMs} ms, window ${options.speed.window.windowMs / 1000} s / slide ${options.speed.window.slideMs / 1000} s:`,
    );
    const header = ['threads', 'events', 'files', 'seconds', 'events/s', 'micro-batches', 'ms/micro-batch', `vs ${count(TARGET_EVENTS_PER_SECOND)}/s target`];
    const row = [
      String(t.threads),
      count(t.events),
      String(t.files),
      t.seconds.toFixed(2),
      count(t.eventsPerSecond),
      String(t.microBatches),
      t.msPerMicroBatch.toFixed(0),
      ratio(t.eventsPerSecond, TARGET_EVENTS_PER_SECOND),
    ];
    for (const line of formatTable(header, [row], 0)) print(line);
  }

  if (options.only !== 'throughput') {
    freshness = await measureFreshness(options, print);
    const f = freshness;
    print(
      `freshness: chunk renamed → realtime head reaching it (rows counted, deltas written), a chunk every ${CHUNK_INTERVAL_MS} ms, ` +
        `speed batch interval ${f.batchIntervalMs} ms, ${f.threads} speed threads (renames up to ${f.maxRenameLateMs} ms late):`,
    );
    const header = [
      'target events/s',
      'achieved events/s',
      'chunks',
      'p50 ms',
      'p90 ms',
      'p99 ms',
      'max ms',
      `${count(TARGET_FRESHNESS_P99_MS)} ms target / p99`,
    ];
    const row = [
      count(f.rate),
      count(f.achievedEventsPerSecond),
      String(f.samples),
      String(f.p50Ms),
      String(f.p90Ms),
      String(f.p99Ms),
      String(f.maxMs),
      ratio(TARGET_FRESHNESS_P99_MS, f.p99Ms),
    ];
    for (const line of formatTable(header, [row], 0)) print(line);
  }

  if (options.json !== undefined) {
    await writeFileAtomically(options.json, JSON.stringify({ machine, throughput: throughput ?? null, freshness: freshness ?? null }, null, 2) + '\n');
    print(`wrote ${options.json}`);
  }
});
