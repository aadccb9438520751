// The batch layer's coordinator: plan byte ranges, map them on a piscina pool, shuffle by user hash, reduce, publish.

import fs from 'node:fs';
import path from 'node:path';
import { Piscina } from 'piscina';
import { stateTransferList } from '../core/agg-table.js';
import { type Clock } from '../core/clock.js';
import { LambdaflowError } from '../core/errors.js';
import { type BadRow, type BadRowMode, type ParseCounts, addCounts, emptyCounts, totalBad } from '../core/event-parser.js';
import { type ByteRange, findLineStart, planTasks } from '../core/partition-plan.js';
import { DirectoryPublisher, removeStaleTemps } from '../io/files/atomic.js';
import { readCompactions } from '../io/logs/compactions.js';
import { type DataLayout } from '../io/files/layout.js';
import { type Logger } from '../io/runtime/logger.js';
import { writeQuarantine } from '../io/logs/quarantine.js';
import { type BatchManifest, MANIFEST_FILE, batchManifestText, batchPartName, readBatchManifest } from '../io/views/manifest.js';
import { BUCKETS_FOLDER, listBatchViews, pruneViews } from '../io/views/views.js';
import { openRegularFile } from '../io/files/read-range.js';
import { runTask } from '../io/threads/thread-rpc.js';
import { workerUrl } from '../io/threads/worker-url.js';
import type { MapResult, MapTask, ParsePoolData, ReduceResult, ReduceTask } from '../messages.js';
import { type InputFile, collectBatchInputs } from './inputs.js';

export interface BatchConfig {
  readonly layout: DataLayout;
  readonly threads: number;
  readonly mode: BadRowMode;
  /** R: reduce partitions, one `part-` file each. Output depends on it, never on threads. */
  readonly partitions: number;
  /** The data folder's event-time bucket size (src/core/event-time.ts). */
  readonly bucketSeconds: number;
  /** Complete batch views kept after publishing (older ones are removed). */
  readonly keepViews: number;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Called once the master dataset is listed, before any of it is read (tests run a compaction there). */
  readonly onListed?: () => Promise<void>;
  /** While the map runs, every PROGRESS_POLL_MS: the bytes of the master dataset read so far (an estimate) and in all. */
  readonly onMapProgress?: (bytesRead: number, bytesTotal: number) => void;
}

export interface BatchResult {
  readonly dir: string;
  readonly manifest: BatchManifest;
}

/**
 * One map task per thread, each building one set of tables (more tables cost more to build and merge), and ranges
 * of about 1/RANGES_PER_THREAD of a thread's share that the tasks pull from one shared queue: equal bytes do not
 * take equal time (JIT, page cache, rows per byte), and a thread that runs ahead takes more ranges instead of
 * waiting for the slower one.
 */
const RANGES_PER_THREAD = 12;
const ALIGN_WINDOW_BYTES = 64 * 1024;
const PROGRESS_POLL_MS = 200;

function lineStartFinder(inputs: readonly InputFile[]): (fileIndex: number, offset: number) => number {
  return (fileIndex, offset) => {
    const input = inputs[fileIndex]!;
    const fd = openRegularFile(input.path);
    try {
      const window = Buffer.allocUnsafe(ALIGN_WINDOW_BYTES);
      for (let position = offset - 1; ;) {
        const length = fs.readSync(fd, window, 0, Math.min(window.length, input.size - position), position);
        const atEnd = position + length >= input.size;
        const found = length === 0 ? -1 : findLineStart(window.subarray(0, length), 1, atEnd);
        if (found >= 0) return Math.min(position + found, input.size);
        if (atEnd || length === 0) return input.size;
        // The window's last byte is the next window's first: it decides whether the byte after it starts a line.
        position += length - 1;
      }
    } finally {
      fs.closeSync(fd);
    }
  };
}

/** Keys ((user, bucket) pairs, else users) in the newest batch view (0 without one): the best guess of how many this run will see. */
function previousKeys(servingBatch: string, logger: Logger): number {
  const latest = listBatchViews(servingBatch, logger).at(-1);
  if (!latest) return 0;
  const { userBuckets, users } = readBatchManifest(latest.dir);
  return userBuckets || users || 0;
}

function uniqueViewDir(servingBatch: string, ms: number): { dir: string; createdAtMs: number } {
  let createdAtMs = ms;
  while (fs.existsSync(path.join(servingBatch, `batch-${createdAtMs}`))) createdAtMs++;
  return { dir: path.join(servingBatch, `batch-${createdAtMs}`), createdAtMs };
}

/** The batch job's threads, for a pipeline that recomputes again and again (`all --batch-every`) to keep. */
export class BatchPool {
  readonly pool: Piscina;

  constructor(readonly threads: number) {
    this.pool = new Piscina({
      filename: workerUrl('batch-worker').href,
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: 1000,
      workerData: { background: true } satisfies ParsePoolData,
    });
  }

  close(): Promise<void> {
    return this.pool.destroy();
  }
}

/**
 * Runs the whole batch job and publishes `serving/batch/batch-<ms>/` atomically, on `pool` when given (kept warm
 * between recomputes), else on threads of its own.
 */
export async function runBatch(config: BatchConfig, shared?: BatchPool): Promise<BatchResult> {
  const startedAt = performance.now();
  const { layout } = config;
  try {
    await fs.promises.mkdir(layout.servingBatch, { recursive: true });
  } catch (cause) {
    throw new LambdaflowError('E_WRITE', `cannot create ${layout.servingBatch}: ${(cause as Error).message}`, { file: layout.servingBatch }, { cause });
  }
  await removeStaleTemps(layout.servingBatch);
  if (shared) return readAgainAfterCompaction(config, shared.pool, startedAt);
  // Workers start while the inputs are listed and planned.
  const own = new BatchPool(config.threads);
  try {
    return await readAgainAfterCompaction(config, own.pool, startedAt);
  } finally {
    await own.close();
  }
}

/** Attempts of one batch job, each after a compaction moved files it was reading. */
const MAX_ATTEMPTS = 4;

/**
 * A compaction running next to the batch (`all --compact-every`, or `compact` in another process) may remove stream
 * files and replace the newest compacted file after this job listed them; it records the move before removing
 * anything, so a job whose read failed while compactions.jsonl changed lists the master dataset again and starts
 * over. Any other failure, or one with no compaction since the listing, is the job's error.
 */
async function readAgainAfterCompaction(config: BatchConfig, pool: Piscina, startedAt: number): Promise<BatchResult> {
  for (let attempt = 1; ; attempt++) {
    const recorded = readCompactions(config.layout.compactions).validBytes;
    try {
      return await mapReducePublish(config, pool, startedAt);
    } catch (error) {
      const moved =
        error instanceof LambdaflowError &&
        (error.code === 'E_INPUT' || error.code === 'E_STATE') &&
        readCompactions(config.layout.compactions).validBytes !== recorded;
      if (!moved || attempt === MAX_ATTEMPTS) throw error;
      config.logger.warn(`batch: a compaction moved master files while they were read (${error.message}); listing the master dataset again`);
    }
  }
}

async function mapReducePublish(config: BatchConfig, pool: Piscina, startedAt: number): Promise<BatchResult> {
  const { layout, logger } = config;
  const { inputs, watermark, watermarks } = collectBatchInputs(layout, logger);
  await config.onListed?.();
  // The previous view's key count sizes the map tables, so they rarely grow (each growth rehashes every key).
  const expectedKeys = previousKeys(layout.servingBatch, logger);
  const ranges = planTasks(inputs, config.threads * RANGES_PER_THREAD, lineStartFinder(inputs)).flat();
  logger.debug(
    `batch: planned ${ranges.length} ranges over ${inputs.length} input files at ${Math.round(performance.now() - startedAt)} ms (${config.threads} threads, watermark ${watermark})`,
  );
  // The shared queue: the next range to take, advanced atomically by the map tasks.
  const next = new Int32Array(new SharedArrayBuffer(4));

  const { dir, createdAtMs } = uniqueViewDir(layout.servingBatch, config.clock.now());
  const publisher = await DirectoryPublisher.begin(dir);
  try {
    const task: MapTask = {
      ranges: ranges.map((r) => ({ ...r, path: inputs[r.fileIndex]!.path })),
      next,
      partitions: config.partitions,
      expectedUsersEach: Math.ceil(expectedKeys / config.partitions),
      mode: config.mode,
      bucketSeconds: config.bucketSeconds,
    };
    const tasks = Math.min(config.threads, ranges.length) || 1;
    const mapping = settleAll(Array.from({ length: tasks }, () => runTask<MapResult>(pool, task, { name: 'map' })));
    if (config.onMapProgress) await reportMapProgress(ranges, next, tasks, mapping, config.clock, config.onMapProgress);
    const mapResults = await mapping;
    logger.debug(`batch: map done at ${Math.round(performance.now() - startedAt)} ms`);
    const { counts, badRowsByFile } = numberBadRows(inputs, mapResults);
    if (config.mode === 'failfast') failOnFirstBadRow(inputs, badRowsByFile);

    const buckets = await publisher.subfolder(BUCKETS_FOLDER);
    const reduceResults = await settleAll(
      Array.from({ length: config.partitions }, (_, partition) => {
        const tables = mapResults.map((r) => r.tables[partition]!);
        const part = batchPartName(partition);
        const task: ReduceTask = {
          partition,
          tables,
          outputPath: publisher.pathOf(part),
          bucketsPath: path.join(buckets, part),
          bucketSeconds: config.bucketSeconds,
        };
        return runTask<ReduceResult>(pool, task, { name: 'reduce', transferList: tables.flatMap(stateTransferList) });
      }),
    );
    logger.debug(`batch: reduce done at ${Math.round(performance.now() - startedAt)} ms`);
    if (config.mode === 'permissive') {
      for (const [fileIndex, rows] of badRowsByFile) await writeQuarantine(layout, inputs[fileIndex]!.name, rows);
    }
    const manifest: BatchManifest = {
      createdAtMs,
      streamWatermark: watermark,
      ...(Object.keys(watermarks).length > 0 ? { streamWatermarks: watermarks } : {}),
      inputs: inputs.map((i) => ({ name: i.name, source: i.source, size: i.size })),
      bucketSeconds: config.bucketSeconds,
      userBuckets: reduceResults.reduce((n, r) => n + r.userBuckets, 0),
      firstEventSecond: Number.isFinite(counts.minEventSecond) ? counts.minEventSecond : null,
      lastEventSecond: Number.isFinite(counts.maxEventSecond) ? counts.maxEventSecond : null,
      rowsRead: counts.rows,
      purchases: counts.purchases,
      views: counts.views,
      badRows: counts.bad,
      badRowsTotal: totalBad(counts),
      users: reduceResults.reduce((n, r) => n + r.users, 0),
      purchaseCentsTotal: reduceResults.reduce((n, r) => n + r.cents, 0),
      threads: config.threads,
      partitions: config.partitions,
      mapTasks: mapResults.length,
      mapRanges: ranges.length,
      elapsedMs: Math.round(performance.now() - startedAt),
      parts: Object.fromEntries(
        reduceResults.flatMap((r) => [
          [batchPartName(r.partition), r.checks.users],
          [`${BUCKETS_FOLDER}/${batchPartName(r.partition)}`, r.checks.buckets],
        ]),
      ),
    };
    await publisher.write(MANIFEST_FILE, batchManifestText(manifest));
    await publisher.commit();
    pruneViews(
      listBatchViews(layout.servingBatch, logger).sort((a, b) => a.createdAtMs - b.createdAtMs),
      config.keepViews,
    );
    return { dir, manifest };
  } catch (error) {
    // Every task has settled (settleAll), so nothing writes into the temp folder while it is removed; a failure to
    // remove it must not hide the error that matters (the next run removes it).
    await publisher.abort().catch(() => undefined);
    if (error instanceof LambdaflowError) throw error;
    throw new LambdaflowError('E_WORKER', `batch worker failed: ${error instanceof Error ? error.message : String(error)}`, {}, { cause: error });
  }
}

/**
 * Reports the map's progress until it settles, and once more when it has read everything (not when it failed). Ranges are taken from the
 * shared queue in order and each task reads one at a time, so all but the last `tasks` ranges taken are read: the
 * estimate the workers allow without reporting back.
 */
async function reportMapProgress(
  ranges: readonly ByteRange[],
  next: Int32Array,
  tasks: number,
  mapping: Promise<unknown>,
  clock: Clock,
  report: (bytesRead: number, bytesTotal: number) => void,
): Promise<void> {
  const readBefore = [0];
  for (const range of ranges) readBefore.push(readBefore.at(-1)! + range.end - range.start);
  const total = readBefore.at(-1)!;
  const settled = new AbortController();
  const succeeded = mapping.then(
    () => true,
    () => false,
  );
  void succeeded.then(() => settled.abort());
  while (!settled.signal.aborted) {
    report(readBefore[Math.max(0, Math.min(Atomics.load(next, 0), ranges.length) - tasks)]!, total);
    await clock.sleep(PROGRESS_POLL_MS, settled.signal);
  }
  if (await succeeded) report(total, total);
}

/**
 * Waits for every task (so none is still writing when the job fails), then returns the results or throws the first
 * failure: a task's error rebuilt as its LambdaflowError, a crash as it came.
 */
async function settleAll<T>(tasks: readonly Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(tasks);
  return settled.map((outcome) => {
    if (outcome.status === 'rejected') throw outcome.reason;
    return outcome.value;
  });
}

/** Sums counts and turns range-relative bad-row line numbers into file line numbers. */
function numberBadRows(inputs: readonly InputFile[], results: readonly MapResult[]): { counts: ParseCounts; badRowsByFile: Map<number, BadRow[]> } {
  const counts = emptyCounts();
  const ranges = results.flatMap((r) => r.ranges).sort((a, b) => a.fileIndex - b.fileIndex || a.start - b.start);
  const badRowsByFile = new Map<number, BadRow[]>();
  let fileIndex = -1;
  let linesBefore = 0;
  for (const range of ranges) {
    if (range.fileIndex !== fileIndex) {
      fileIndex = range.fileIndex;
      linesBefore = 0;
    }
    addCounts(counts, range.counts);
    if (range.truncated) {
      throw new LambdaflowError('E_INPUT', `${inputs[fileIndex]!.path} shrank while it was being read`, { file: inputs[fileIndex]!.path });
    }
    if (range.badRows.length > 0) {
      const rows = badRowsByFile.get(fileIndex) ?? [];
      for (const row of range.badRows) rows.push({ ...row, line: row.line + linesBefore });
      badRowsByFile.set(fileIndex, rows);
    }
    linesBefore += range.lineCount;
  }
  return { counts, badRowsByFile };
}

function failOnFirstBadRow(inputs: readonly InputFile[], badRowsByFile: Map<number, BadRow[]>): void {
  const first = [...badRowsByFile.entries()].sort((a, b) => a[0] - b[0])[0];
  if (first === undefined) return;
  const input = inputs[first[0]]!;
  const row = first[1][0]!;
  throw new LambdaflowError('E_BAD_ROW', `bad row in ${input.path} at line ${row.line}: ${row.reason}`, {
    file: input.path,
    line: row.line,
    reason: row.reason,
  });
}
