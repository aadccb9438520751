// `all`: the whole Lambda Architecture in one process — batch at start (and every --batch-every), the stream
// generator, the speed layer and the merger — with a status line per slide and a clean stop.

import { historyEndingAt } from '../core/event-generator.js';
import path from 'node:path';
import { BatchPool, runBatch } from '../batch/batch-job.js';
import { listCsvFiles } from '../batch/inputs.js';
import { count, eventWatermarkText, lagText, seconds } from '../core/summary-format.js';
import { type GenBatchConfig, generateBatchFiles } from '../generate/gen-batch.js';
import { type LogLevel, silentLogger } from '../io/runtime/logger.js';
import { type GenStreamConfig, type StreamChunk, runStreamGenerator } from '../generate/gen-stream.js';
import { type SnapshotStatus } from '../serving/current-version.js';
import { type SpeedStatus } from '../speed/speed-layer.js';
import { type BatchOptions, type LayerEnvironment, type SpeedOptions } from './layer-config.js';
import { type ServeOptions, openServing } from './serving.js';
import { type CompactOptions, compactOnThread } from './compaction.js';
import { type CompactionResult } from '../batch/compaction.js';
import { runSpeedLayer } from './speed.js';

export interface AllOptions {
  /** Undefined: until stopped. */
  readonly durationMs: number | undefined;
  /** Undefined: batch only at start. */
  readonly batchEveryMs: number | undefined;
  /** Undefined: no compaction. */
  readonly compactEveryMs: number | undefined;
  readonly compact: CompactOptions;
  readonly stream: GenStreamConfig;
  readonly speed: SpeedOptions;
  /** The serving layer: merged_view.csv cadence, view kind, HTTP address (or none). */
  readonly serve: ServeOptions;
  readonly batch: BatchOptions;
  /** Sample history written when batch_input/ holds no CSV file, over the span that ends at the hour before now. */
  readonly sampleHistory: Omit<GenBatchConfig, 'force' | 'startSeconds'>;
}

/** Observers for tools that measure a running pipeline (soak, bench). */
export interface AllHooks {
  readonly onChunk?: (chunk: StreamChunk) => void;
  /** After merged_view.csv is written, with the version it holds. */
  readonly onCsvWritten?: (status: SnapshotStatus, writtenAtMs: number) => void;
  readonly onListening?: (url: string) => void;
  readonly onCompacted?: (result: CompactionResult) => void;
  readonly onSlide?: (status: SpeedStatus) => void;
}

/** How one run of `all` is stopped and where it reports. */
export interface AllRun {
  /** Aborted (SIGINT/SIGTERM): every part stops cleanly. */
  readonly signal: AbortSignal;
  /** Status lines. */
  readonly print: (line: string) => void;
  /** The compaction thread logs on its own, at this level. */
  readonly logLevel: LogLevel;
}

export interface AllSummary {
  readonly streamRows: number;
}

export async function runAll(environment: LayerEnvironment, options: AllOptions, run: AllRun, hooks: AllHooks = {}): Promise<AllSummary> {
  const { layout, logger, clock } = environment;
  const { print } = run;
  // Silent here: the batch run just below warns about the entries it skips, once.
  if (listCsvFiles(layout.batchInput, silentLogger).length === 0) {
    const startSeconds = historyEndingAt(clock.now(), options.sampleHistory.spanSeconds);
    const generated = generateBatchFiles(layout.batchInput, { ...options.sampleHistory, startSeconds, force: false });
    print(`all: batch_input/ was empty: generated ${count(generated.rows)} sample rows in ${generated.files.length} files`);
  }
  // One pool for every recompute: threads started once, not per batch (their start-up cost and memory churn).
  const batchPool = new BatchPool(environment.threads);
  const batchOnce = async (): Promise<void> => {
    const { dir, manifest } = await runBatch({ ...environment, ...options.batch }, batchPool);
    print(
      `all: batch view ${path.basename(dir)}: ${count(manifest.rowsRead)} rows, ${count(manifest.users)} users, watermark ${manifest.streamWatermark}, ${seconds(manifest.elapsedMs)}`,
    );
  };
  const started = clock.now();
  const stopGenerator = new AbortController();
  const stopBatches = new AbortController();
  const stopSpeed = new AbortController();
  const stopServing = new AbortController();
  const onSlide = (s: SpeedStatus): void => {
    hooks.onSlide?.(s);
    const at = new Date(s.windowEndMs).toISOString().slice(11, 19);
    print(
      `all: ${at} +${seconds(clock.now() - started)} | ${count(s.eventsPerSecond)} events/s | window ${count(s.windowUsers)} users | ` +
        `realtime ${count(s.realtimeUsers)} users (seq ${s.batchWatermark + 1}..${s.throughSeq}) | ${lagText(s.maxLagMs, options.speed.window.batchIntervalMs)} | batch watermark ${s.batchWatermark} | ` +
        `event time ${eventWatermarkText(s.eventWatermark)}, ${count(s.lateRows)} late` +
        (s.sourceUnreadableMs === null ? '' : ` | source unreadable for ${seconds(s.sourceUnreadableMs)}`),
    );
  };

  // The service listens first (a port in use stops `all` before any work) and serves while the first batch runs.
  const serving = openServing(environment, options.serve, {
    onCsvWritten: hooks.onCsvWritten,
    onListening: (url) => {
      print(`all: serving the merged view at ${url} (open it in a browser; the API is described at ${url}/openapi.json)`);
      hooks.onListening?.(url);
    },
  });
  await serving.listen();
  const served = serving.serve(stopServing.signal);
  try {
    await batchOnce();
  } catch (error) {
    stopServing.abort();
    await Promise.allSettled([served, batchPool.close()]);
    throw error;
  }
  const generator = runStreamGenerator(layout.streamInput, options.stream, clock, stopGenerator.signal, hooks.onChunk, logger);
  const speed = runSpeedLayer(environment, options.speed, { signal: stopSpeed.signal, onSlide, onRealtime: () => serving.layer.nudge() });
  const every = async (periodMs: number | undefined, work: () => Promise<void>): Promise<void> => {
    if (periodMs === undefined) return;
    while (!stopBatches.signal.aborted) {
      await clock.sleep(periodMs, stopBatches.signal);
      if (!stopBatches.signal.aborted) await work();
    }
  };
  const recomputes = every(options.batchEveryMs, batchOnce);
  const compactions = every(options.compactEveryMs, async () => {
    const result = await compactOnThread(environment, options.compact, run.logLevel);
    hooks.onCompacted?.(result);
    if (result.seqs > 0)
      print(
        `all: compacted ${count(result.seqs)} stream files (${count(result.bytes)} bytes) into master/stream/; seqs 1..${result.compactedThrough} compacted`,
      );
  });

  const until = new AbortController();
  const finished = clock.sleep(options.durationMs ?? Infinity, AbortSignal.any([run.signal, until.signal]));
  const parts = [generator, speed, served, recomputes, compactions];
  // Any part failing stops the whole pipeline; otherwise run until the duration or a signal.
  try {
    await Promise.race([finished, ...parts.map((p) => p.then(() => new Promise<never>(() => {})))]);
  } finally {
    until.abort();
    stopGenerator.abort();
    stopBatches.abort();
    await Promise.allSettled([generator, recomputes, compactions]);
    stopSpeed.abort();
    await Promise.allSettled([speed]);
    stopServing.abort();
    await Promise.allSettled([served, batchPool.close()]);
  }
  for (const part of parts) await part; // surfaces the first failure
  const generated = await generator;
  const users = serving.layer.store.current?.users ?? 0;
  print(
    `all: stopped after ${seconds(clock.now() - started)}; generated ${count(generated.rows)} stream rows; merged view has ${count(users)} users → ${layout.mergedView}`,
  );
  return { streamRows: generated.rows };
}
