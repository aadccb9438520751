// `all`: the whole Lambda Architecture in one process — batch at start (and every --batch-every), the stream
// generator, the speed layer and the merger — with a status line per slide and a clean stop.

import fs from 'node:fs';
import path from 'node:path';
import { runBatch } from '../batch/batch-job.js';
import { listCsvFiles } from '../batch/inputs.js';
import { count, seconds } from '../core/summary-format.js';
import { type GenBatchConfig, generateBatchFiles } from '../generate/gen-batch.js';
import { type GenStreamConfig, type StreamChunk, runStreamGenerator } from '../generate/gen-stream.js';
import { sleep } from '../io/sleep.js';
import { systemClock } from '../io/system-clock.js';
import { mergeLoopOnThread } from '../serving/merge-thread.js';
import { type MergeResult } from '../serving/merge.js';
import { type SpeedStatus, runSpeedLayer } from '../speed/speed-layer.js';
import { type CommandContext } from './context.js';
import { type BatchOptions, type MergeOptions, type SpeedOptions, layerEnvironment, speedLayerConfig } from './layer-config.js';

export interface AllOptions {
  /** Undefined: until stopped. */
  readonly durationMs: number | undefined;
  /** Undefined: batch only at start. */
  readonly batchEveryMs: number | undefined;
  readonly stream: GenStreamConfig;
  readonly speed: SpeedOptions;
  readonly merge: MergeOptions;
  readonly batch: BatchOptions;
  /** Sample history written when batch_input/ holds no CSV file. */
  readonly sampleHistory: Omit<GenBatchConfig, 'force'>;
}

/** Observers for tools that measure a running pipeline (soak, bench). */
export interface AllHooks {
  readonly onChunk?: (chunk: StreamChunk) => void;
  readonly onMerged?: (result: MergeResult, mergedAtMs: number) => void;
  readonly onSlide?: (status: SpeedStatus) => void;
}

export interface AllSummary {
  readonly streamRows: number;
}

export async function runAll(context: CommandContext, options: AllOptions, hooks: AllHooks = {}): Promise<AllSummary> {
  const { global, layout, logger, print } = context;
  const environment = layerEnvironment(context);
  if (listCsvFiles(layout.batchInput, logger).length === 0) {
    const generated = generateBatchFiles(layout.batchInput, { ...options.sampleHistory, force: false });
    print(`all: batch_input/ was empty: generated ${count(generated.rows)} sample rows in ${generated.files.length} files`);
  }
  const batchOnce = async (): Promise<void> => {
    const { dir, manifest } = await runBatch({ ...environment, ...options.batch });
    print(`all: batch view ${path.basename(dir)}: ${count(manifest.rowsRead)} rows, ${count(manifest.users)} users, watermark ${manifest.streamWatermark}, ${seconds(manifest.elapsedMs)}`);
  };
  await batchOnce();

  const started = Date.now();
  const stopGenerator = new AbortController();
  const stopBatches = new AbortController();
  const stopSpeed = new AbortController();
  const stopMerge = new AbortController();
  const onSlide = (s: SpeedStatus): void => {
    hooks.onSlide?.(s);
    const at = new Date(s.windowEndMs).toISOString().slice(11, 19);
    print(
      `all: ${at} +${seconds(Date.now() - started)} | ${count(s.eventsPerSecond)} events/s | window ${count(s.windowUsers)} users | ` +
        `realtime ${count(s.realtimeUsers)} users (seq ${s.batchWatermark + 1}..${s.throughSeq}) | lag ${count(s.maxLagMs)} ms | batch watermark ${s.batchWatermark}`,
    );
  };

  const generator = runStreamGenerator(layout.streamInput, options.stream, systemClock, stopGenerator.signal, hooks.onChunk);
  const speed = runSpeedLayer(speedLayerConfig(environment, options.speed, { signal: stopSpeed.signal, onSlide }));
  const merger = mergeLoopOnThread({
    layout,
    logger,
    logLevel: global.logLevel,
    signal: stopMerge.signal,
    intervalMs: options.merge.intervalMs,
    view: options.merge.view,
    onMerged: hooks.onMerged,
  });
  const recomputes = (async () => {
    if (options.batchEveryMs === undefined) return;
    while (!stopBatches.signal.aborted) {
      await sleep(options.batchEveryMs, stopBatches.signal);
      if (!stopBatches.signal.aborted) await batchOnce();
    }
  })();

  const until = new AbortController();
  const finished = sleep(options.durationMs ?? Infinity, AbortSignal.any([context.signal, until.signal]));
  const parts = [generator, speed, merger, recomputes];
  // Any part failing stops the whole pipeline; otherwise run until the duration or a signal.
  try {
    await Promise.race([finished, ...parts.map((p) => p.then(() => new Promise<never>(() => {})))]);
  } finally {
    until.abort();
    stopGenerator.abort();
    stopBatches.abort();
    await Promise.allSettled([generator, recomputes]);
    stopSpeed.abort();
    await Promise.allSettled([speed]);
    stopMerge.abort();
    await Promise.allSettled([merger]);
  }
  for (const part of parts) await part; // surfaces the first failure
  const generated = await generator;
  const merged = fs.existsSync(layout.mergedView) ? fs.readFileSync(layout.mergedView, 'utf8').split('\n').length - 2 : 0;
  print(`all: stopped after ${seconds(Date.now() - started)}; generated ${count(generated.rows)} stream rows; merged view has ${count(merged)} users → ${layout.mergedView}`);
  return { streamRows: generated.rows };
}
